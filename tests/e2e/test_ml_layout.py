#!/usr/bin/env python3
"""The ML-ready layout of machine_learning_curated.h5: rows sorted by (serialNumber, timestamp)
across the whole file, the device index (device_serial, device_offset) pointing at each device's
slice, chunked datasets (gzip with --compress), and a byte-for-byte identical file content at every
rank count (the sort is a total order). Uses the starter data when present, else generated data."""
import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", default="1,2,3")
    args = parser.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        landing = e2e_harness.find_default_landing()
        if landing is None or not os.path.isdir(landing):
            landing = os.path.join(tmp, "landing")
            subprocess.run([args.mpiexec, "--allow-run-as-root", "-n", "1", args.mpilake, "generate", "--out", landing,
                            "--customers", "200", "--readings-per-customer", "40", "--seed", "11"], check=True,
                           capture_output=True)
        print("landing:", landing)
        contents = {}
        for index, ranks in enumerate(int(r) for r in args.ranks.split(",")):
            out = os.path.join(tmp, f"out{ranks}")
            compress = index == len(args.ranks.split(",")) - 1  # the last rank count also compresses
            extra = ["--compress", "--chunk-rows", "1000"] if compress else []
            ok, info = e2e_harness.run_mpilake(args.mpiexec, args.mpilake, ranks, landing, out, "privacy", 600, extra)
            if not ok:
                failures.append(f"ranks={ranks}: {info}")
                continue
            with h5py.File(os.path.join(out, "machine_learning_curated.h5"), "r") as f:
                data = {name: f[name][:] for name in f}
                rows = int(f.attrs["rows"])
                if compress:
                    if f["x"].compression != "gzip":
                        failures.append(f"ranks={ranks}: --compress did not compress ({f['x'].compression})")
                    if f["x"].chunks != (min(1000, rows),):
                        failures.append(f"ranks={ranks}: chunks {f['x'].chunks}, expected {(min(1000, rows),)}")
                elif rows > 0 and f["x"].chunks is None:
                    failures.append(f"ranks={ranks}: datasets are not chunked")
            serial, time = data["serialNumber"], data["timestamp"]
            keys = list(zip(serial.tolist(), time.tolist()))
            if keys != sorted(keys):
                failures.append(f"ranks={ranks}: rows are not sorted by (serialNumber, timestamp)")
            device_serial, device_offset = data["device_serial"], data["device_offset"]
            if list(device_serial) != sorted(set(serial.tolist())):
                failures.append(f"ranks={ranks}: device_serial is not the sorted distinct serials")
            if len(device_offset) != len(device_serial) + 1 or device_offset[0] != 0 or device_offset[-1] != rows:
                failures.append(f"ranks={ranks}: device_offset must start at 0, end at rows, one per device + 1")
            else:
                for i, s in enumerate(device_serial):
                    part = serial[device_offset[i]:device_offset[i + 1]]
                    if len(part) == 0 or not (part == s).all():
                        failures.append(f"ranks={ranks}: slice of device {s!r} holds other rows")
                        break
            contents[ranks] = data
        first = min(contents) if contents else None
        for ranks, data in contents.items():
            for name, values in data.items():
                if not np.array_equal(values, contents[first][name]):
                    failures.append(f"dataset {name} differs between ranks={first} and ranks={ranks}")
    for failure in failures:
        print("FAIL:", failure)
    print("test_ml_layout:", "FAILED" if failures else f"sorted, indexed and identical at ranks {args.ranks}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
