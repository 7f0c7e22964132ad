#!/usr/bin/env python3
"""The command line as a user meets it: help texts, one clear error line and a non-zero exit for a
wrong flag, an abbreviated flag, a stray argument, a missing landing folder, an unknown rule set or
pipeline, or an output folder that already holds zones (with nothing written), --overwrite replacing
zones, `generate` refusing to replace landing data or to take two size flags, `inspect` on a written
zone, and `generate` / `inspect` errors as one line with exit code 2 under mpirun -np 2."""
import argparse
import json
import os
import subprocess
import sys
import tempfile

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message)


def write_landing(root):
    rows = {
        "customer": ['{"customerName":"A B","email":"a@test.com","serialNumber":"s1","shareWithResearchAsOfDate":10}'],
        "accelerometer": ['{"user":"a@test.com","timestamp":20,"x":1,"y":2,"z":3}'],
        "step_trainer": ['{"sensorReadingTime":20,"serialNumber":"s1","distanceFromObject":5}'],
    }
    for source, lines in rows.items():
        os.makedirs(os.path.join(root, source))
        with open(os.path.join(root, source, source + "-1.json"), "w") as f:
            f.write("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2", args.mpilake]

    def run(*extra):
        return subprocess.run(mpirun + list(extra), capture_output=True, text=True, timeout=120)

    def error_lines(result):
        return [l for l in result.stderr.splitlines() if l.startswith("mpilake: error")]

    with tempfile.TemporaryDirectory() as tmp:
        landing = os.path.join(tmp, "landing")
        out = os.path.join(tmp, "out")
        write_landing(landing)

        for command in ([], ["run"], ["generate"], ["inspect"], ["audit"]):
            result = run(*(command + ["--help"]))
            check(result.returncode == 0 and "usage" in result.stdout, f"{command} --help prints usage and exits 0")
            check(result.stdout.count("usage") == 1, f"{command} --help is printed once (rank 0), got {result.stdout!r}")
        result = run("--help")
        for command in ("run", "generate", "audit", "inspect", "stedi"):
            check(f"  {command} " in result.stdout, f"mpilake --help lists {command}")
        result = run("run", "--help")
        check("--rules" in result.stdout and "privacy" in result.stdout, "run --help lists --rules")
        usage = result.stdout.split("\n\n")[0]
        for flag in ("--pipeline", "--landing", "--out", "--rules", "--overwrite", "--quiet", "--results",
                     "--compress", "--chunk-rows", "--max-round-mb", "--memory-limit", "--progress-interval"):
            check(flag in usage, f"run's usage line names {flag}: {usage!r}")
        result = run("inspect")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "FILE.h5" in error_lines(result)[0]
              and "--file" not in result.stderr, f"inspect without a file: one line naming FILE.h5, got {result.stderr!r}")

        # Flags are never guessed from a prefix, and stray words are errors.
        for flags, word in ((["--rule", "privacy"], "--rule"), (["--land", landing], "--land"),
                            (["--rules", "privacy", "extra", "junk"], "junk")):
            result = run("run", "--landing", landing, "--out", out, *flags)
            check(result.returncode == 2 and len(error_lines(result)) == 1 and word in error_lines(result)[0],
                  f"run {flags}: one line naming {word!r}, exit 2, got {result.returncode} {result.stderr!r}")
            check(not os.path.exists(out), f"run {flags} writes nothing")
        result = run("run", "--pipeline", "nope", "--landing", landing, "--out", out)
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "stedi" in error_lines(result)[0],
              f"unknown pipeline: one line listing the pipelines, got {result.stderr!r}")

        # generate: errors are one line with exit 2 (not one per rank and an abort), existing landing
        # data is replaced only with --overwrite, and only one size flag at a time.
        generated = os.path.join(tmp, "generated")
        result = run("generate", "--out", generated, "--consent-fraction", "2")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "--consent-fraction" in error_lines(result)[0],
              f"bad --consent-fraction: one line, exit 2, got {result.returncode} {result.stderr!r}")
        result = run("generate", "--out", generated, "--readings-per-customer", "5", "--target-bytes", "100000")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "--target-bytes" in error_lines(result)[0],
              f"both size flags: one line, exit 2, got {result.returncode} {result.stderr!r}")
        check(not os.path.exists(generated), "refused generate writes nothing")
        result = run("generate", "--out", generated, "--customers", "20", "--seed", "1")
        check(result.returncode == 0, f"generate succeeds: {result.stderr}")
        first = open(os.path.join(generated, "customer", "customer-000000.json"), "rb").read()
        result = run("generate", "--out", generated, "--customers", "20", "--seed", "2")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "--overwrite" in error_lines(result)[0],
              f"generate over existing data: one line naming --overwrite, got {result.returncode} {result.stderr!r}")
        check(open(os.path.join(generated, "customer", "customer-000000.json"), "rb").read() == first,
              "refused generate leaves the landing data as it was")
        result = run("generate", "--out", generated, "--customers", "20", "--seed", "2", "--overwrite")
        check(result.returncode == 0, f"generate --overwrite succeeds: {result.stderr}")
        check(open(os.path.join(generated, "customer", "customer-000000.json"), "rb").read() != first,
              "generate --overwrite replaced the data")

        result = run("run", "--landing", landing, "--out", out, "--no-such-flag")
        check(result.returncode != 0, "wrong flag exits non-zero")
        check(len(error_lines(result)) == 1 and "no-such-flag" in error_lines(result)[0],
              f"wrong flag gives one clear line, got {result.stderr!r}")
        check(not os.path.exists(out), "wrong flag writes nothing")

        result = run("run", "--landing", os.path.join(tmp, "missing"), "--out", out)
        check(result.returncode != 0, "missing landing exits non-zero")
        check(len(error_lines(result)) == 1 and "missing" in error_lines(result)[0],
              f"missing landing gives one clear line, got {result.stderr!r}")
        check(not os.path.exists(out), "missing landing writes nothing")

        result = run("run", "--landing", landing, "--out", out, "--rules", "nonsense")
        check(result.returncode != 0 and len(error_lines(result)) == 1, "unknown rules: one line, non-zero")

        # The memory budget: a budget too small even for the spill path stops before any work, with
        # one line saying what the budget leaves and the least that would do (larger budgets spill:
        # test_budget.py); a bad --memory-limit is a usage error.
        result = run("run", "--landing", landing, "--out", out, "--memory-limit", "1M")
        check(result.returncode == 2 and len(error_lines(result)) == 1
              and "--memory-limit is too small for this run: 1 MB per rank" in error_lines(result)[0]
              and "give at least" in error_lines(result)[0],
              f"a run over --memory-limit: one clear line, exit 2, got {result.returncode} {result.stderr!r}")
        check(not os.path.exists(out), "a run over --memory-limit writes nothing")
        result = run("run", "--landing", landing, "--out", out, "--memory-limit", "lots")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "--memory-limit" in error_lines(result)[0],
              f"bad --memory-limit: one clear line, got {result.stderr!r}")

        # --target-bytes takes what the bench scripts take: 2e6, 2M; anything else is one clear line.
        # (Deloton's generator cannot go below about a day of its default fleet: 2M is only accepted.)
        for pipeline, size, low, high in (("stedi", "2e6", 1.9e6, 2.3e6), ("stedi", "3M", 2.9 * 2**20, 3.4 * 2**20),
                                          ("deloton", "2M", 1, 1e9)):
            sized = os.path.join(tmp, f"sized-{pipeline}-{size}")
            result = run("generate", "--pipeline", pipeline, "--out", sized, "--target-bytes", size)
            total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(sized) for f in fs)
            check(result.returncode == 0 and low <= total <= high,
                  f"generate --target-bytes {size} ({pipeline}): exit {result.returncode}, {total} bytes "
                  f"{result.stderr[-300:]!r}")
        result = run("generate", "--out", os.path.join(tmp, "sized-bad"), "--target-bytes", "lots")
        check(result.returncode == 2 and len(error_lines(result)) == 1 and "--target-bytes" in error_lines(result)[0],
              f"bad --target-bytes: one clear line, got {result.stderr!r}")

        result = run("run", "--landing", landing, "--out", out, "--quiet", "--memory-limit", "64G")
        check(result.returncode == 0, f"first run succeeds: {result.stderr}")
        zone = os.path.join(out, "machine_learning_curated.h5")
        check(os.path.exists(zone), "first run writes the ML zone")
        before = os.stat(zone).st_mtime_ns if os.path.exists(zone) else None

        result = run("run", "--landing", landing, "--out", out)
        check(result.returncode != 0, "existing zones without --overwrite exit non-zero")
        check(len(error_lines(result)) == 1 and "--overwrite" in error_lines(result)[0],
              f"existing zones: one line naming --overwrite, got {result.stderr!r}")
        check(os.path.exists(zone) and os.stat(zone).st_mtime_ns == before, "refused run leaves zones untouched")

        result = run("run", "--landing", landing, "--out", out, "--overwrite", "--rules", "serial")
        check(result.returncode == 0, f"--overwrite run succeeds: {result.stderr}")
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        check(summary["rules"] == "serial", "--overwrite replaced the summary")
        check(summary["zones"]["machine_learning_curated"]["rows"] == 1, "one ML row in the tiny landing set")
        check(not [n for n in os.listdir(out) if n.endswith(".tmp")], "no temporary files left")

        result = subprocess.run([args.mpilake, "inspect", zone], capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, f"inspect exits 0: {result.stderr}")
        for text in ("rules = serial", "rows = 1", "sensorReadingTime  int64", "serialNumber  string", "a@test.com"):
            check(text in result.stdout, f"inspect shows {text!r}")
        result = subprocess.run([args.mpilake, "inspect", os.path.join(tmp, "nope.h5")], capture_output=True, text=True)
        check(result.returncode != 0 and "nope.h5" in result.stderr, "inspect of a missing file: clear error")
        not_hdf5 = os.path.join(tmp, "not.h5")
        with open(not_hdf5, "w") as f:
            f.write("not HDF5\n")
        for path in (os.path.join(tmp, "nope.h5"), not_hdf5):
            result = run("inspect", path)
            check(result.returncode == 2 and len(error_lines(result)) == 1 and os.path.basename(path) in error_lines(result)[0],
                  f"inspect {os.path.basename(path)} under -np 2: one line, exit 2, got {result.returncode} {result.stderr!r}")

    if FAILURES:
        print(f"test_cli: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_cli: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
