#!/usr/bin/python3
"""The PyTorch reader (python/mpilake) on zones the test generates: STEDI machine_learning_curated.h5
and Deloton readings.h5.

1. Windows equal a direct NumPy computation from the zone's columns and index (several window,
   stride and block sizes, blocks smaller than a device so windows straddle reads).
2. Every row is read exactly once per epoch: at 0 and 2 DataLoader workers, with 2 ranks, shuffled
   and not, and with 2 real DDP processes (scripts/torchrun.py + scripts/train_torch.py).
3. No window crosses a device (serialNumber constant) or a ride (ride_id constant).
4. A broken zone gives one clear error (open_run, the datasets, train_torch.py's single stderr line).
5. train_torch.py --epochs 1 --workers 2 ends with RESULT rows_read=<the zone's row count>.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

try:
    import torch  # noqa: F401
except ImportError:
    print("SKIP: PyTorch is not importable from", sys.executable, "(Debian: apt-get install python3-torch)")
    sys.exit(77)

from mpilake import ZoneError, open_run  # noqa: E402
from mpilake.torchdata import DeviceWindows, RideWindows, ZoneWindows  # noqa: E402

PYTHON = sys.executable
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)


def run(cmd, **kwargs):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def reference_windows(path, index, features, target, window, stride):
    """Windows from whole columns: for each group, starts d0, d0+stride, ... with start+window <= d1."""
    with h5py.File(path, "r") as f:
        offsets = f[index][:]
        columns = []
        for name in features + [target]:
            raw = f[name][:]
            values = raw.astype(np.float32)
            null = f[name].attrs.get("null_value")
            if null is not None:
                values[raw == null] = np.nan
            columns.append(values)
    starts, groups = [], []
    for g in range(len(offsets) - 1):
        for s in range(offsets[g], offsets[g + 1] - window + 1, stride):
            starts.append(s)
            groups.append(g)
    starts = np.array(starts, dtype=np.int64)
    x = np.stack([np.stack([c[s : s + window] for c in columns[:-1]]) for s in starts]) if len(starts) else \
        np.zeros((0, len(features), window), np.float32)
    y = columns[-1][starts + window - 1] if len(starts) else np.zeros(0, np.float32)
    return starts, np.array(groups, dtype=np.int64), x, y


def collect(dataset, workers=0):
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers)
    starts, groups, xs, ys, ranges, rows = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], \
        [np.zeros((0, len(dataset.features), dataset.window), np.float32)], [np.zeros(0, np.float32)], [], 0
    for item in loader:
        starts.append(item["start"].numpy())
        groups.append(item["group"].numpy())
        xs.append(item["x"].numpy())
        ys.append(item["y"].numpy())
        rows += item["rows_read"]
        if item["rows_read"]:
            ranges.append(item["row_range"].numpy())
        check(item["x"].dtype == torch.float32 and item["x"].shape[1:] == (len(dataset.features), dataset.window),
              f"x has {item['x'].dtype} {tuple(item['x'].shape)}")
    order = np.argsort(np.concatenate(starts), kind="stable")
    return (np.concatenate(starts)[order], np.concatenate(groups)[order], np.concatenate(xs)[order],
            np.concatenate(ys)[order], ranges, rows)


def exactly_once(ranges, rows, what):
    """The row ranges read partition 0 .. rows: each row read exactly once."""
    r = np.array(ranges, dtype=np.int64).reshape(-1, 2)
    r = r[np.argsort(r[:, 0])]
    ok = len(r) > 0 and r[0, 0] == 0 and r[-1, 1] == rows and np.all(r[1:, 0] == r[:-1, 1]) and \
        np.all(r[:, 1] > r[:, 0])
    check(ok, f"{what}: rows read are not 0..{rows} exactly once ({len(r)} ranges, {int((r[:, 1] - r[:, 0]).sum())} rows)")


def same_arrays(a, b):
    return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)


def check_windows(cls, path, index, group_key, what):
    probe = cls(path)
    features, target, rows = probe.features, probe.target, probe.rows
    with h5py.File(path, "r") as f:
        keys = f[group_key][:]
        offsets = f[index][:]
        serials = f["device_serial"][:] if "device_serial" in f else None
    for window, stride, block_rows, mapped in ((8, 8, 1000, True), (16, 5, 333, False), (16, 5, 333, True),
                                               (5, 1, 64, True), (32, 40, None, True), (1, 1, 7919, False)):
        kwargs = {"mapped": mapped}
        ref_s, ref_g, ref_x, ref_y = reference_windows(path, index, features, target, window, stride)
        for workers, world in ((0, 1), (2, 1), (0, 2)):
            got_s, got_g, got_x, got_y, ranges, got_rows = [], [], [], [], [], 0
            for rank in range(world):
                ds = cls(path, window=window, stride=stride, block_rows=block_rows, rank=rank, world_size=world,
                         **kwargs)
                s, g, x, y, r, n = collect(ds, workers)
                got_s.append(s), got_g.append(g), got_x.append(x), got_y.append(y), ranges.extend(r)
                got_rows += n
            order = np.argsort(np.concatenate(got_s), kind="stable")
            s, g = np.concatenate(got_s)[order], np.concatenate(got_g)[order]
            x, y = np.concatenate(got_x)[order], np.concatenate(got_y)[order]
            tag = f"{what} window={window} stride={stride} block_rows={block_rows} mapped={mapped} workers={workers} " \
                f"ranks={world}"
            check(np.array_equal(s, ref_s) and np.array_equal(g, ref_g),
                  f"{tag}: window starts/groups differ from NumPy ({len(s)} vs {len(ref_s)})")
            check(same_arrays(x, ref_x) and same_arrays(y, ref_y), f"{tag}: window values differ from NumPy")
            check(got_rows == rows, f"{tag}: rows_read {got_rows}, zone has {rows}")
            exactly_once(ranges, rows, tag)
            if len(s):  # no window crosses a group: the key column is constant inside it
                first, last = keys[s], keys[s + window - 1]
                check(np.array_equal(first, last) and np.all(offsets[g] <= s) and
                      np.all(s + window <= offsets[g + 1]), f"{tag}: a window crosses a group")
                if serials is not None:
                    check(np.array_equal(first, serials[g]), f"{tag}: group index is not the window's device")
                else:
                    check(np.array_equal(first, g + 1), f"{tag}: group index is not ride_id - 1")
    # Shuffled: other order, same windows, still exactly once, and a different order per epoch.
    orders = []
    for epoch in (0, 1):
        ranges, all_s = [], []
        for rank in range(2):
            ds = cls(path, window=8, block_rows=500, shuffle=True, seed=3, rank=rank, world_size=2)
            ds.set_epoch(epoch)
            for workers in (2,):
                loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers)
                for item in loader:
                    all_s.append(item["start"].numpy())
                    if item["rows_read"]:
                        ranges.append(item["row_range"].numpy())
        exactly_once(ranges, rows, f"{what} shuffled epoch {epoch}")
        ref_s = reference_windows(path, index, features, target, 8, 8)[0]
        check(np.array_equal(np.sort(np.concatenate(all_s)), ref_s), f"{what} shuffled epoch {epoch}: windows differ")
        orders.append(np.concatenate(all_s))
    check(not np.array_equal(orders[0], orders[1]), f"{what}: shuffle gives the same order in epochs 0 and 1")


def check_compressed(zone, compressed):
    """A --compress zone is read through h5py (no memory map) and gives the same windows."""
    with h5py.File(compressed, "r") as f:
        check(f["x"].compression == "gzip", "the --compress zone is not compressed")
    ds = DeviceWindows(compressed, window=8, stride=3, block_rows=900)
    check(not any(type(c).__name__ == "MappedColumn" for c in ds._columns()), "a compressed column was memory-mapped")
    plain = collect(DeviceWindows(zone, window=8, stride=3, block_rows=900))
    got = collect(ds, 2)
    check(all(same_arrays(a, b) for a, b in zip(plain[:4], got[:4])) and got[5] == plain[5],
          "compressed zone: windows differ from the uncompressed zone's")


def expect_error(fn, needle, what):
    try:
        fn()
    except ZoneError as error:
        text = str(error)
        check(needle in text and "\n" not in text, f"{what}: error {text!r} lacks {needle!r}")
        print(f"ok: {what}: {text}")
        return
    except Exception as error:  # noqa: BLE001
        check(False, f"{what}: {type(error).__name__} instead of ZoneError: {error}")
        return
    check(False, f"{what}: no error")


def check_broken(out, tmp):
    zone = os.path.join(out, "machine_learning_curated.h5")
    broken = os.path.join(tmp, "broken")
    shutil.copytree(out, broken)
    bzone = os.path.join(broken, "machine_learning_curated.h5")
    with h5py.File(bzone, "a") as f:
        del f["device_offset"]
    expect_error(lambda: DeviceWindows(bzone), "device_offset", "zone without its device index")
    with open(bzone, "r+b") as handle:
        handle.truncate(4096)
    expect_error(lambda: DeviceWindows(bzone), "not a readable HDF5 file", "truncated zone")
    expect_error(lambda: open_run(broken), "not a readable HDF5 file", "open_run on a truncated zone")
    result = run([PYTHON, os.path.join(ROOT, "scripts", "train_torch.py"), "--zone", bzone, "--epochs", "1"])
    lines = result.stderr.strip().splitlines()
    check(result.returncode == 2 and len(lines) == 1 and lines[0].startswith("train_torch.py: error: ") and
          "not a readable HDF5 file" in lines[0], f"train_torch.py on a truncated zone: rc {result.returncode}, "
          f"stderr {result.stderr!r}")
    shutil.copy(zone, bzone)
    with h5py.File(bzone, "a") as f:
        offsets = f["device_offset"][:]
        offsets[3] = offsets[-1] + 5
        f["device_offset"][...] = offsets
    expect_error(lambda: DeviceWindows(bzone), "device_offset", "device index out of order")
    shutil.copy(zone, bzone)
    with h5py.File(bzone, "a") as f:
        x = f["x"][:-1]
        del f["x"]
        f.create_dataset("x", data=x)
    expect_error(lambda: DeviceWindows(bzone), "x", "a column shorter than the zone")
    shutil.copy(zone, bzone)
    with h5py.File(bzone, "a") as f:
        f.attrs["rows"] = np.int64(f.attrs["rows"] + 1)
    expect_error(lambda: open_run(broken), "rows", "rows attribute differs from summary.json")
    os.remove(os.path.join(broken, "summary.json"))
    expect_error(lambda: open_run(broken), "summary.json", "run without summary.json")
    expect_error(lambda: DeviceWindows(zone, features=("x", "nope")), "nope", "unknown feature column")
    expect_error(lambda: ZoneWindows(os.path.join(out, "customer_trusted.h5"), "device_offset", ["x"]),
                 "device_offset", "a zone without an index")


def check_open_run(out):
    run_ = open_run(out)
    zone = run_["machine_learning_curated"]
    check(zone.rows == run_.summary["zones"]["machine_learning_curated"]["rows"], "open_run: rows")
    with h5py.File(zone.path, "r") as f:
        raw = f["distanceFromObject"][:]
        serial = f["serialNumber"][:]
    masked = zone.array("distanceFromObject")
    check(np.array_equal(masked.mask, raw == np.iinfo(np.int64).min), "open_run: int64 NULL mask")
    nan = zone.array("distanceFromObject", nulls="nan")
    check(np.array_equal(np.isnan(nan), raw == np.iinfo(np.int64).min), "open_run: int64 NULL as NaN")
    strings = zone.array("serialNumber", rows=slice(0, 50))
    check(all(s == (b.decode() if b else None) for s, b in zip(strings, serial[:50])), "open_run: strings decoded")
    customers = run_["customer_trusted"].array("shareWithPublicAsOfDate")
    check(isinstance(customers, np.ma.MaskedArray), "open_run: customer dates are masked int64")
    check(zone["x"].shape == (zone.rows,), "open_run: h5py dataset access")
    run_.close()


def check_train(mpilake_out, deloton_out, tmp):
    train = os.path.join(ROOT, "scripts", "train_torch.py")
    torchrun = os.path.join(ROOT, "scripts", "torchrun.py")
    for zone_path in (os.path.join(mpilake_out, "machine_learning_curated.h5"), os.path.join(deloton_out, "readings.h5")):
        with h5py.File(zone_path, "r") as f:
            rows = int(f.attrs["rows"])
        for launcher, what in (([PYTHON, train], "1 process"),
                               ([PYTHON, torchrun, "--nproc_per_node", "2", train], "2 DDP processes")):
            prefix = os.path.join(tmp, "ranges")
            for old in glob.glob(prefix + "*"):
                os.remove(old)
            env = dict(os.environ, TMPDIR=tmp)  # torchrun's torchelastic_* log folders go with the test's tmp
            result = run(launcher + ["--zone", zone_path, "--epochs", "1", "--workers", "2", "--window", "16",
                                     "--block-rows", "2000", "--ranges-out", prefix], env=env)
            lines = result.stdout.strip().splitlines()
            tag = f"train_torch.py {os.path.basename(zone_path)} {what}"
            print(f"{tag}: {lines[-1] if lines else result.stderr[-2000:]}")
            check(result.returncode == 0 and lines and lines[-1].startswith(f"RESULT rows_read={rows} samples="),
                  f"{tag}: rc {result.returncode}, last line {lines[-1] if lines else None!r}, "
                  f"stderr {result.stderr[-1500:]!r}")
            check(sum(1 for line in lines if line.startswith("epoch ")) == 1, f"{tag}: not one line per epoch")
            files = sorted(glob.glob(prefix + ".rank*.npy"))
            check(len(files) == (2 if "DDP" in what else 1), f"{tag}: {len(files)} rank range files")
            ranges = [r for name in files for r in np.load(name)]
            exactly_once(ranges, rows, tag)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="torch-reader-") as tmp:
        landing, out, cout = os.path.join(tmp, "landing"), os.path.join(tmp, "out"), os.path.join(tmp, "cout")
        dlanding, dout = os.path.join(tmp, "dlanding"), os.path.join(tmp, "dout")
        mpi = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", "2", args.mpilake]
        for cmd in (mpi + ["generate", "--out", landing, "--customers", "60", "--readings-per-customer", "200",
                           "--seed", "5"],
                    mpi + ["run", "--landing", landing, "--out", out, "--quiet", "--chunk-rows", "1000"],
                    mpi + ["run", "--landing", landing, "--out", cout, "--quiet", "--chunk-rows", "700", "--compress"],
                    mpi + ["generate", "--pipeline", "deloton", "--out", dlanding, "--bikes", "3", "--days", "1",
                           "--bad-line-rate", "0.01"],
                    mpi + ["run", "--pipeline", "deloton", "--landing", dlanding, "--out", dout, "--quiet"]):
            result = run(cmd)
            if result.returncode != 0:
                print("FAIL:", " ".join(cmd), result.stdout[-2000:], result.stderr[-2000:])
                return 1
        zone = os.path.join(out, "machine_learning_curated.h5")
        readings = os.path.join(dout, "readings.h5")
        with h5py.File(readings, "r") as f:
            heart = f["heart_rate"][:]
            check(np.any(heart == np.iinfo(np.int64).min), "the Deloton data have no NULL heart rate to decode")
        print("zones:", zone, readings)
        check_open_run(out)
        check_windows(DeviceWindows, zone, "device_offset", "serialNumber", "STEDI")
        check_windows(RideWindows, readings, "ride_offset", "ride_id", "Deloton")
        check_compressed(zone, os.path.join(cout, "machine_learning_curated.h5"))
        check_broken(out, tmp)
        check_train(out, dout, tmp)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("all PyTorch reader checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
