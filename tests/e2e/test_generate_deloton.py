#!/usr/bin/env python3
"""`mpilake generate --pipeline deloton` writes byte-identical files at 1, 2 and 3 ranks, refuses to
write into a non-empty OUT/deloton unless --overwrite, and leaves STEDI's `generate` as the default."""
import argparse
import filecmp
import os
import subprocess
import sys
import tempfile


def generate(args, ranks, out, *extra, days=2):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks), args.mpilake, "generate",
               "--pipeline", "deloton", "--out", out, "--bikes", "9", "--days", str(days), "--streams", "4",
               "--seed", "5", "--bad-line-rate", "0.01", *extra]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def files_under(folder):
    return sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, names in os.walk(folder) for f in names)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        reports = {}
        for ranks in (1, 2, 3):
            result = generate(args, ranks, os.path.join(tmp, f"r{ranks}"))
            if result.returncode != 0:
                failures.append(f"{ranks} ranks: exit {result.returncode}: {result.stderr.strip()}")
                continue
            reports[ranks] = result.stdout.splitlines()[0].replace(f"r{ranks}/", "")
        first = os.path.join(tmp, "r1", "deloton")
        names = files_under(first) if os.path.isdir(first) else []
        if not any(name.startswith("partition=3" + os.sep + "deloton+3+") for name in names):
            failures.append(f"unexpected layout: {names[:5]}")
        for ranks in (2, 3):
            if ranks not in reports or 1 not in reports:
                continue
            other = os.path.join(tmp, f"r{ranks}", "deloton")
            if files_under(other) != names:
                failures.append(f"file names differ between 1 and {ranks} ranks")
                continue
            _, mismatch, errors = filecmp.cmpfiles(first, other, names, shallow=False)
            if mismatch or errors:
                failures.append(f"files differ between 1 and {ranks} ranks: {(mismatch + errors)[:5]}")
            if reports[ranks].split(" in ")[0] != reports[1].split(" in ")[0]:
                failures.append(f"reports differ: {reports[1]!r} vs {reports[ranks]!r}")

        again = generate(args, 2, os.path.join(tmp, "r1"))
        if again.returncode != 2 or "--overwrite" not in again.stderr:
            failures.append(f"a second run into r1 was not refused cleanly: {again.returncode} {again.stderr.strip()}")
        replaced = generate(args, 2, os.path.join(tmp, "r1"), "--overwrite", days=1)
        if replaced.returncode != 0 or len(files_under(first)) >= len(names):
            failures.append(f"--overwrite did not replace the folder: {replaced.returncode} {replaced.stderr.strip()}")

        stedi = []
        for index, extra in enumerate(([], ["--pipeline", "stedi"])):
            out = os.path.join(tmp, f"stedi{index}")
            result = subprocess.run([args.mpilake, "generate", *extra, "--out", out, "--customers", "30", "--seed", "2"],
                                    capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                failures.append(f"STEDI generate {extra}: {result.stderr.strip()}")
            stedi.append(out)
        if all(os.path.isdir(d) for d in stedi):
            names = files_under(stedi[0])
            _, mismatch, errors = filecmp.cmpfiles(stedi[0], stedi[1], names, shallow=False)
            if mismatch or errors or files_under(stedi[1]) != names:
                failures.append("generate and generate --pipeline stedi differ")
    for failure in failures:
        print("FAIL:", failure)
    print("test_generate_deloton:", "FAILED" if failures else "deterministic at 1/2/3 ranks, refuses, overwrites")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
