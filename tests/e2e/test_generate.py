#!/usr/bin/env python3
"""`mpilake generate` is deterministic across rank counts (byte-identical files at 1, 2 and 4
ranks), and a run on its output accounts for every line: the reference parser and mpilake agree on
accepted / quarantined per source, and the zones equal the reference implementation's."""
import argparse
import filecmp
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        dirs = {}
        for ranks in (1, 2, 4):
            out = os.path.join(tmp, f"landing{ranks}")
            result = subprocess.run([args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks),
                                     args.mpilake, "generate", "--out", out, "--customers", "120",
                                     "--readings-per-customer", "30", "--seed", "7", "--bad-line-rate", "0.01",
                                     "--shared-serial-fraction", "0.1"],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode != 0 or not os.path.isdir(out):
                failures.append(f"generate at {ranks} ranks failed: {result.stderr.strip()}")
                continue
            dirs[ranks] = out
        if 1 in dirs:
            for ranks in (2, 4):
                if ranks not in dirs:
                    continue
                for source in ("customer", "accelerometer", "step_trainer"):
                    a, b = os.path.join(dirs[1], source), os.path.join(dirs[ranks], source)
                    names = sorted(os.listdir(a))
                    if names != sorted(os.listdir(b)):
                        failures.append(f"{source}: file names differ between 1 and {ranks} ranks")
                        continue
                    match, mismatch, errors = filecmp.cmpfiles(a, b, names, shallow=False)
                    if mismatch or errors:
                        failures.append(f"{source}: files differ between 1 and {ranks} ranks: {mismatch + errors}")
            for rules in ("privacy", "rubric"):
                problems = e2e_harness.compare_run_with_reference(args.mpilake, args.mpiexec, dirs[1], rules, 2,
                                                                  os.path.join(tmp, f"out-{rules}"))
                failures += [f"{rules}: {p}" for p in problems]
    for failure in failures:
        print("FAIL:", failure)
    print("test_generate:", "FAILED" if failures else "deterministic at 1/2/4 ranks and matches the reference")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
