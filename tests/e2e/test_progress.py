#!/usr/bin/env python3
"""Progress as a user of a long job sees it in a log file (a Slurm job's output: stderr is not a
terminal): rank 0 prints plain `[mpilake] parse: NN% (X of Y)` lines every --progress-interval
seconds while a stage runs, and nothing of the kind with --quiet."""
import argparse
import os
import re
import subprocess
import sys
import tempfile

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--bytes", type=int, default=300_000_000, help="landing size: the run must take seconds")
    args = parser.parse_args()
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    with tempfile.TemporaryDirectory() as tmp:
        landing = os.path.join(tmp, "landing")
        result = subprocess.run(mpirun + ["-n", "2", args.mpilake, "generate", "--out", landing, "--customers", "2000",
                                          "--target-bytes", str(args.bytes)], capture_output=True, text=True, timeout=300)
        check(result.returncode == 0, f"generate: {result.stderr}")
        run = mpirun + ["-n", "1", args.mpilake, "run", "--landing", landing, "--overwrite", "--progress-interval", "0.05"]
        with open(os.path.join(tmp, "job.log"), "w+") as log:  # a file, as in a Slurm job
            result = subprocess.run(run + ["--out", os.path.join(tmp, "out")], stdout=log, stderr=subprocess.STDOUT,
                                    timeout=300)
            log.seek(0)
            text = log.read()
        check(result.returncode == 0, f"run succeeds: {text[-2000:]}")
        progress = re.findall(r"^\[mpilake\] parse: (\d+)% \(([\d.]+ [MGk]?B) of ([\d.]+ [MGk]?B)\)", text, re.M)
        check(len(progress) >= 2, f"at least two parse progress lines in the log, got {len(progress)}:\n{text}")
        shares = [int(share) for share, _, _ in progress]
        check(shares == sorted(shares) and all(0 <= s <= 100 for s in shares), f"shares grow: {shares}")
        check("\r" not in text and "\x1b[" not in text, "a log gets plain lines, no terminal control codes")
        check(re.search(r"^\[mpilake\] wrote machine_learning_curated\.h5: \d+ rows", text, re.M) is not None,
              "stage lines name the zones written")

        result = subprocess.run(run + ["--out", os.path.join(tmp, "quiet"), "--quiet"], capture_output=True, text=True,
                                timeout=300)
        check(result.returncode == 0, f"quiet run succeeds: {result.stderr}")
        check("[mpilake]" not in result.stderr and result.stdout == "",
              f"--quiet prints nothing: stdout {result.stdout!r} stderr {result.stderr[:500]!r}")
        check(os.path.exists(os.path.join(tmp, "quiet", "summary.json")), "--quiet still writes summary.json")
    if FAILURES:
        print(f"test_progress: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_progress: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
