#!/usr/bin/env python3
"""`mpilake generate --pipeline deloton` is deterministic across rank counts (byte-identical files at
1, 2 and 3 ranks, with bad lines, re-sent lines and a root stream), its data is what it claims (the
reference reads it and finds the rides, readings, alerting rides and re-sent lines the generator
reports, and rides that cross midnight and files), and a run of mpilake on it equals the reference
at 1 and 3 ranks. It refuses to write over existing data without --overwrite."""
import argparse
import datetime
import hashlib
import os
import re
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deloton_compare  # noqa: E402
import deloton_reference as ref  # noqa: E402

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def digest(folder):
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                files[os.path.relpath(path, folder)] = hashlib.sha256(f.read()).hexdigest()
    return files


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    mpirun = [args.mpiexec, "--allow-run-as-root", "--oversubscribe"]
    options = ["--bikes", "12", "--days", "2", "--streams", "3", "--seed", "9", "--bad-line-rate", "0.002",
               "--duplicate-rate", "0.002", "--hours-per-file", "3", "--root-stream"]
    with tempfile.TemporaryDirectory() as tmp:
        digests, reports = {}, {}
        for ranks in (1, 2, 3):
            out = os.path.join(tmp, f"landing{ranks}")
            result = subprocess.run(mpirun + ["-n", str(ranks), args.mpilake, "generate", "--pipeline", "deloton",
                                              "--out", out] + options, capture_output=True, text=True, timeout=300)
            if check(result.returncode == 0, f"generate at {ranks} ranks: {result.stderr}"):
                digests[ranks] = digest(out)
                reports[ranks] = result.stdout
        check(len(digests.get(1, {})) > 3, "several files written")
        for ranks in (2, 3):
            check(digests.get(ranks) == digests.get(1), f"files at {ranks} ranks equal those at 1 rank")
        landing = os.path.join(tmp, "landing1")
        result = subprocess.run(mpirun + ["-n", "2", args.mpilake, "generate", "--pipeline", "deloton", "--out",
                                          landing] + options, capture_output=True, text=True, timeout=300)
        check(result.returncode == 2 and result.stderr.count("mpilake: error") == 1 and "--overwrite" in result.stderr,
              f"generate over existing data: one line naming --overwrite, exit 2, got {result.returncode} {result.stderr!r}")

        again = os.path.join(tmp, "landing2")
        result = subprocess.run(mpirun + ["-n", "2", args.mpilake, "generate", "--pipeline", "deloton", "--out",
                                          again, "--overwrite", "--bikes", "12", "--days", "2", "--seed", "10"],
                                capture_output=True, text=True, timeout=300)
        check(result.returncode == 0 and digest(again) != digests.get(1),
              f"generate --overwrite replaces the data: {result.returncode} {result.stderr}")

        expected = ref.compute(landing)
        counts = expected.counts()
        report = reports.get(1, "")
        print(report.strip())
        numbers = re.search(r"(\d+) rides, (\d+) readings, \d+ lines \((\d+) re-sent, (\d+) orphans, (\d+) bad\), "
                            r"(\d+) alerting rides", report)
        if check(numbers is not None, f"the generator reports its figures: {report!r}"):
            rides, readings, resent, orphans, _bad, alerting = (int(v) for v in numbers.groups())
            check(counts["rides"] == rides, f"rides: generator {rides}, reference {counts['rides']}")
            check(counts["readings"] == readings, f"readings: generator {readings}, reference {counts['readings']}")
            check(counts["heart_rate_alerts"] == alerting,
                  f"alerting rides: generator {alerting}, reference {counts['heart_rate_alerts']}")
            check(expected.data_quality["duplicate_deliveries"] == resent,
                  f"re-sent lines: generator {resent}, reference {expected.data_quality['duplicate_deliveries']}")
            check(expected.data_quality["orphan_lines"] > 0 and orphans > 0, "the dump starts mid-ride (orphans)")
        check("" in expected.streams, "a root stream")
        check(counts["daily"] >= 2, "rides on at least two days")
        midnight = [r for r in expected.rides if r.readings and
                    datetime.datetime.utcfromtimestamp(r.readings[-1][0].ts / 1e6).date() !=
                    datetime.datetime.utcfromtimestamp(r.start_time / 1e6).date()]
        check(midnight, "a ride crosses midnight")
        across_files = [r for r in expected.rides if r.readings and r.readings[-1][0].path != r.readings[0][0].path]
        check(across_files, "a ride crosses files")
        for reason in ("bad_record", "unknown_shape", "bad_timestamp", "bad_number", "negative_value",
                       "ride_line_without_telemetry", "telemetry_without_ride_line", "orphan_line"):
            check(any(s["quarantined_by_reason"].get(reason) for s in expected.streams.values()),
                  f"the data holds {reason} lines")

        for ranks in (1, 3):
            out = os.path.join(tmp, f"out{ranks}")
            result = subprocess.run(mpirun + ["-n", str(ranks), args.mpilake, "run", "--pipeline", "deloton",
                                              "--landing", landing, "--out", out, "--quiet"],
                                    capture_output=True, text=True, timeout=600)
            if check(result.returncode == 0 and os.path.exists(os.path.join(out, "summary.json")),
                     f"run at {ranks} ranks: {result.stderr}"):
                problems = deloton_compare.compare_run(out, expected)
                for problem in problems[:20]:
                    print(f"  {ranks} ranks: {problem}")
                check(not problems, f"the run at {ranks} ranks equals the reference")
    if FAILURES:
        print(f"test_deloton_generate: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_deloton_generate: deterministic at 1/2/3 ranks, as reported, and the runs equal the reference")
    return 0


if __name__ == "__main__":
    sys.exit(main())
