#!/usr/bin/env python3
"""Crashes and faults: a rank killed with SIGKILL in the middle of a shuffle or of a zone write ends
the job (no hang) and leaves no half-written zone under its final name; a rerun with --overwrite
gives zone contents identical to a clean run. A second run into the same --out while one is running
is refused by the lock and does not disturb the first. A full disk (a small tmpfs, when this machine
lets the test mount one) gives a clear error and no partial zone."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ZONES = ("customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
         "machine_learning_curated")
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)


def mpirun(args, ranks, fault=None):
    env = dict(os.environ)
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]
    if fault:
        env["MPILAKE_FAULT"] = fault
        command += ["-x", "MPILAKE_FAULT"]
    return command, env


def run(args, landing, out, ranks=2, fault=None, extra=(), wait=True):
    command, env = mpirun(args, ranks, fault)
    command += [args.mpilake, "run", "-q", "--landing", landing, "--out", out] + list(extra)
    if not wait:
        return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)


def zone_contents(out):
    """Every zone's datasets; also checks each present zone file is complete."""
    contents = {}
    for zone in ZONES:
        path = os.path.join(out, zone + ".h5")
        if not os.path.exists(path):
            continue
        with h5py.File(path, "r") as f:
            rows = int(f.attrs["rows"])
            columns = [c.decode() if isinstance(c, bytes) else c for c in f.attrs["columns"]]
            contents[zone] = {name: f[name][:] for name in f}
            for column in columns:
                check(len(contents[zone][column]) == rows, f"{path}: column {column} is not complete")
    return contents


def complete_or_absent(out, label):
    try:
        zone_contents(out)
    except (OSError, KeyError) as error:
        check(False, f"{label}: a zone under its final name is unreadable: {error}")


def same_contents(a, b, label):
    check(sorted(a) == sorted(b), f"{label}: zones differ {sorted(a)} vs {sorted(b)}")
    for zone in a:
        for name in a[zone]:
            check(name in b.get(zone, {}) and np.array_equal(a[zone][name], b[zone][name]),
                  f"{label}: {zone}/{name} differs from the clean run")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        landing = os.path.join(tmp, "landing")
        command, env = mpirun(args, 2)
        subprocess.run(command + [args.mpilake, "generate", "--out", landing, "--customers", "400",
                                  "--readings-per-customer", "150", "--seed", "5", "--bad-line-rate", "0.001"],
                       check=True, capture_output=True, env=env)
        clean_out = os.path.join(tmp, "clean")
        result = run(args, landing, clean_out)
        check(result.returncode == 0, f"clean run: {result.stderr}")
        clean = zone_contents(clean_out)
        check(len(clean) == len(ZONES), "clean run wrote every zone")

        for fault in ("exchange:1", "exchange:0", "write:0", "write:1"):
            out = os.path.join(tmp, "crash-" + fault.replace(":", "-"))
            started = time.time()
            try:
                result = run(args, landing, out, fault=fault)
                check(result.returncode != 0, f"{fault}: a killed rank must fail the job (exit {result.returncode})")
            except subprocess.TimeoutExpired:
                check(False, f"{fault}: the job hung after a rank was killed")
            print(f"{fault}: job ended in {time.time() - started:.1f} s", flush=True)
            complete_or_absent(out, fault)
            # Rerun into the same folder (the kernel dropped the dead run's lock).
            result = run(args, landing, out, extra=["--overwrite"])
            check(result.returncode == 0, f"{fault}: rerun failed: {result.stderr}")
            same_contents(clean, zone_contents(out), f"{fault} rerun")
            check(not [n for n in os.listdir(out) if n.endswith(".tmp")], f"{fault}: rerun left temporary files")

        # An error on one rank only (not rank 0): the job ends with that rank's line as the one
        # mpilake error line (the ranks the abort stops add none), naming the rank and the stage.
        for fault, stage in (("exchange:1:throw", "shuffle"), ("write:1:throw", "write")):
            out = os.path.join(tmp, "throw-" + fault.split(":")[0])
            result = run(args, landing, out, fault=fault)
            errors = [l for l in result.stderr.splitlines() if l.startswith("mpilake: error")]
            print(f"{fault}: exit {result.returncode}, error lines {errors}", flush=True)
            check(result.returncode != 0, f"{fault}: exit code 0")
            check(len(errors) == 1 and "rank 1" in errors[0] and f"stage '{stage}'" in errors[0]
                  and "injected fault" in errors[0],
                  f"{fault}: expected one error line from rank 1 in stage '{stage}', got {errors}")
            complete_or_absent(out, fault)

        # Idempotence: --overwrite twice gives identical zones.
        result = run(args, landing, clean_out, extra=["--overwrite"])
        check(result.returncode == 0, f"overwrite run: {result.stderr}")
        same_contents(clean, zone_contents(clean_out), "second --overwrite run")

        # Two runs into one --out at once: the second is refused and the first is unharmed.
        busy_out = os.path.join(tmp, "busy")
        first = run(args, landing, busy_out, fault="exchange:0:stall", wait=False)
        lock = os.path.join(busy_out, ".mpilake.lock")
        deadline = time.time() + 30
        while time.time() < deadline and not (os.path.exists(lock) and os.path.getsize(lock) > 0):
            time.sleep(0.02)
        second = run(args, landing, busy_out, extra=["--overwrite"])
        first_out, first_err = first.communicate(timeout=180)
        check(second.returncode != 0 and "in use by another mpilake run" in second.stderr,
              f"second concurrent run must be refused: {second.returncode} {second.stderr[-300:]}")
        check(first.returncode == 0, f"first concurrent run must succeed: {first_err[-500:]}")
        same_contents(clean, zone_contents(busy_out), "run that held the lock")

        # Full disk: a 3 MB tmpfs cannot hold the zones.
        small = os.path.join(tmp, "small")
        os.makedirs(small)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", small],
                                 capture_output=True).returncode == 0
        if not mounted:
            print("note: cannot mount a tmpfs here (no privilege); full-disk case skipped", flush=True)
        else:
            try:
                result = run(args, landing, os.path.join(small, "out"))
                check(result.returncode != 0, "a full disk must fail the run")
                errors = [l for l in result.stderr.splitlines() if l.startswith("mpilake: error")]
                check(errors and ".h5" in errors[0],
                      f"full disk: expected a clear error line, got {result.stderr[-400:]}")
                print("full disk:", errors[0] if errors else "(no error line)", flush=True)
                complete_or_absent(os.path.join(small, "out"), "full disk")
                leftovers = [n for n in os.listdir(os.path.join(small, "out")) if n.endswith(".h5.tmp")]
                check(not leftovers, f"full disk: partial temporary zones left: {leftovers}")
            finally:
                subprocess.run(["umount", small], capture_output=True)

    print(f"test_faults: {'FAILED' if FAILURES else 'all checks passed'} ({len(FAILURES)} problems)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
