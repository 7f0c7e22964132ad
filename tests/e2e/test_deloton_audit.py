#!/usr/bin/env python3
"""`mpilake audit --pipeline deloton`: clean on real runs (a randomised messy set at 3 ranks, and the
real samples when present); each planted violation is caught (exit 1, the zone named), each in a
fresh copy of the output:
  a personal column added to rides; a rider's email written into rides.bike; an alert row removed;
  an alert not justified by its readings (the third abnormal heart rate made normal); rides.alert
  set on a ride without a run; ride_offset shifted; rides.readings off by one; a reading's power
  changed (the ride's sums no longer agree); daily's ride count changed; summary.json's row count;
  a rider's gender written as text ("nonbinary") instead of its class.
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import numpy as np  # noqa: E402

import test_deloton  # noqa: E402

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)


def audit(args, landing, out):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2", args.mpilake, "audit", "--pipeline",
               "deloton", "--landing", landing, "--out", out, "--max-report", "50"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def rewrite(path, name, values):
    """Replaces dataset `name` (same dtype, any length) and keeps its attributes."""
    with h5py.File(path, "r+") as f:
        old = f[name]
        attrs = dict(old.attrs)
        dtype = old.dtype
        del f[name]
        if dtype.kind == "S":
            width = max([dtype.itemsize] + [len(v) for v in values])
            new = f.create_dataset(name, data=np.array(values, dtype="S%d" % width))
        else:
            new = f.create_dataset(name, data=np.array(values, dtype=dtype))
        for k, v in attrs.items():
            new.attrs[k] = v


def read(path, name):
    with h5py.File(path) as f:
        return list(f[name][()])


def plants():
    """(description, zone named in the finding, function planting the violation in a copy)."""
    def add_email_column(o):
        with h5py.File(os.path.join(o, "rides.h5"), "r+") as f:
            f.create_dataset("email", data=np.array([b"x@example.com"] * f.attrs["rows"]))

    def email_in_bike(o):
        with h5py.File(os.path.join(o, "riders.h5")) as f:
            email = f["email"][0]
        bikes = read(os.path.join(o, "rides.h5"), "bike")
        bikes[0] = email
        rewrite(os.path.join(o, "rides.h5"), "bike", bikes)

    def drop_alert(o):
        path = os.path.join(o, "heart_rate_alerts.h5")
        with h5py.File(path) as f:
            names = [n.decode() if isinstance(n, bytes) else n for n in f.attrs["columns"]]
        for name in names:
            rewrite(path, name, read(path, name)[:-1])
        with h5py.File(path, "r+") as f:
            f.attrs["rows"] = f.attrs["rows"] - 1

    def unjustify_alert(o):
        ride_id = read(os.path.join(o, "heart_rate_alerts.h5"), "ride_id")[0]
        alert_time = read(os.path.join(o, "heart_rate_alerts.h5"), "alert_time")[0]
        ids, times = read(os.path.join(o, "readings.h5"), "ride_id"), read(os.path.join(o, "readings.h5"), "time")
        hr = read(os.path.join(o, "readings.h5"), "heart_rate")
        row = next(i for i in range(len(ids)) if ids[i] == ride_id and times[i] == alert_time)
        hr[row] = 100  # normal for anyone
        rewrite(os.path.join(o, "readings.h5"), "heart_rate", hr)

    def flag_alert(o):
        flags = read(os.path.join(o, "rides.h5"), "alert")
        flags[flags.index(0)] = 1
        rewrite(os.path.join(o, "rides.h5"), "alert", flags)

    def shift_offset(o):
        offsets = read(os.path.join(o, "readings.h5"), "ride_offset")
        offsets[1] += 1
        rewrite(os.path.join(o, "readings.h5"), "ride_offset", offsets)

    def miscount_readings(o):
        counts = read(os.path.join(o, "rides.h5"), "readings")
        counts[-1] += 1
        rewrite(os.path.join(o, "rides.h5"), "readings", counts)

    def change_power(o):
        power = read(os.path.join(o, "readings.h5"), "power_w")
        power[len(power) // 2] += 1.0
        rewrite(os.path.join(o, "readings.h5"), "power_w", power)

    def change_daily(o):
        counts = read(os.path.join(o, "daily.h5"), "rides")
        counts[0] += 1
        rewrite(os.path.join(o, "daily.h5"), "rides", counts)

    def gender_as_written(o):
        genders = read(os.path.join(o, "riders.h5"), "gender")
        genders[0] = b"nonbinary"  # the text as written, not DELOTON.md's class (other)
        rewrite(os.path.join(o, "riders.h5"), "gender", genders)

    def change_summary(o):
        path = os.path.join(o, "summary.json")
        with open(path) as f:
            summary = json.load(f)
        summary["zones"]["readings"]["rows"] += 1
        with open(path, "w") as f:
            json.dump(summary, f)

    return [("a personal column in rides", "rides", add_email_column),
            ("a rider's email in rides.bike", "rides", email_in_bike),
            ("an alert row removed", "rides", drop_alert),
            ("an alert its readings do not justify", "heart_rate_alerts", unjustify_alert),
            ("rides.alert set without a run", "rides", flag_alert),
            ("ride_offset shifted", "readings", shift_offset),
            ("rides.readings off by one", "readings", miscount_readings),
            ("a reading's power changed", "rides", change_power),
            ("daily's ride count changed", "daily", change_daily),
            ("summary.json's row count", "readings", change_summary),
            ("riders.gender not male/female/other", "riders", gender_as_written)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="deloton-audit-")
    try:
        runs = []
        landing = os.path.join(tmp, "set")
        test_deloton.generate_set(random.Random(11), landing)
        runs.append(("randomised set", landing))
        samples = test_deloton.find_samples()
        if samples is not None:
            runs.append(("real samples", test_deloton.samples_landing(samples, os.path.join(tmp, "samples"))))
        for label, landing in runs:
            out = os.path.join(tmp, label.replace(" ", "-") + "-out")
            if not test_deloton.run_mpilake(args, 3, landing, out):
                continue
            result = audit(args, landing, out)
            check(result.returncode == 0 and "0 violations" in result.stdout,
                  f"{label}: audit clean, got exit {result.returncode}\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
            if label != "randomised set":
                continue
            with h5py.File(os.path.join(out, "heart_rate_alerts.h5")) as f:
                check(f.attrs["rows"] > 0, "the randomised set has alerts to plant violations in")
            for description, zone, plant in plants():
                copy = os.path.join(tmp, "planted")
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(out, copy)
                plant(copy)
                result = audit(args, landing, copy)
                lines = [l for l in result.stdout.splitlines() if l.startswith(zone + " row")]
                check(result.returncode == 1 and lines,
                      f"{description}: caught in {zone} (exit {result.returncode})\n{result.stdout[-1500:]}{result.stderr[-500:]}")
        result = audit(args, os.path.join(tmp, "set"), os.path.join(tmp, "no-such-run"))
        check(result.returncode == 2 and result.stderr.count("mpilake: error") == 1,
              f"audit of a missing folder: one line, exit 2, got {result.returncode} {result.stderr!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if FAILURES:
        print(f"test_deloton_audit: FAILED ({len(FAILURES)} problems)")
        return 1
    print("test_deloton_audit: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
