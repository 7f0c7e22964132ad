#!/usr/bin/python3
"""Rows/s read into PyTorch tensors from machine_learning_curated.h5 (python/mpilake's DeviceWindows)
beside other ways to read the same rows.

    /usr/bin/python3 bench/torch_bench.py --zone OUT/machine_learning_curated.h5 [--workers 0,2,4]

The same four columns every time (x, y, z as the window's channels, distanceFromObject as target),
one epoch over the whole zone, best of --repeat, the file in the page cache (a warm-up epoch first):
- `numpy memmap, raw slice`: .npy copies of the four columns (written once to --npy-dir), each block
  one slice per column copied into a tensor (torch.from_numpy(np.array(mm[a:b]))): the floor, bytes
  moved and nothing else.
- `hdf5 read stage`: the reader's block reads alone (HDF5 chunk index + memory map), into tensors as
  stored (the same work as the raw slice) and into the reader's float32 block.
- `numpy memmap -> same windows`: DeviceWindows with its HDF5 read swapped for a memmap slice: the same
  float32 blocks, NULL decoding and windows as the HDF5 reader, from the raw bytes.
- `hdf5 DeviceWindows, W workers`: the dataset through DataLoader(batch_size=None, num_workers=W),
  unfiltered columns read through the chunk index and a memory map (the default), and once with
  every read through h5py (mapped=False).
  With persistent workers the workers start once, before the timed epochs; without, every epoch
  starts its workers (fork, dataset pickled) and that is timed. `iter_batches`: items of one block
  from the workers, split into batches of 256 windows in the training process.
- `h5py row at a time`: the naive loop, ds[i] per row and column, on the first --naive-rows rows.
- `pyarrow parquet`: the same columns from a Parquet file into the same tensors, when pyarrow is
  importable (Debian 12 has no python3-pyarrow package).
"""
import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from mpilake.torchdata import DeviceWindows, MappedColumn, iter_batches  # noqa: E402

COLUMNS = ("x", "y", "z", "distanceFromObject")


class MemmapWindows(DeviceWindows):
    """DeviceWindows reading the raw .npy bytes through np.load(mmap_mode='r') instead of HDF5."""

    def __init__(self, path, npy_dir, **kwargs):
        super().__init__(path, **kwargs)
        self.npy_dir = npy_dir

    def _columns(self):
        return [np.load(os.path.join(self.npy_dir, c + ".npy"), mmap_mode="r") for c in self.columns]

    @staticmethod
    def _read(dataset, out, a, b):
        out[:] = dataset[a:b]


def epoch_rate(make_loader, repeat):
    best, rows = None, 0
    for _ in range(repeat + 1):  # the first is the warm-up
        started = time.perf_counter()
        rows = 0
        for item in make_loader():
            rows += item["rows_read"]
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
    return rows, best


def raw_slices(npy_dir, rows, block_rows):
    maps = [np.load(os.path.join(npy_dir, c + ".npy"), mmap_mode="r") for c in COLUMNS]
    for a in range(0, rows, block_rows):
        b = min(a + block_rows, rows)
        tensors = [torch.from_numpy(np.array(m[a:b])) for m in maps]
        yield {"rows_read": b - a, "x": tensors}


def hdf5_blocks(zone, rows, block_rows, float32):
    """The reader's read stage alone: each block of the four columns from HDF5 (chunk index + memory
    map) into a tensor, as stored (like the raw slice) or into one float32 (4, n) tensor, NULL -> NaN."""
    with h5py.File(zone, "r") as f:
        file_map = np.memmap(zone, dtype=np.uint8, mode="r")
        columns = [MappedColumn.make(f[c], file_map) for c in COLUMNS]
        nulls = [f[c].attrs.get("null_value") for c in COLUMNS]
    for a in range(0, rows, block_rows):
        b = min(a + block_rows, rows)
        if float32:
            block = torch.empty((len(COLUMNS), b - a), dtype=torch.float32)
            out = block.numpy()
            for c, column in enumerate(columns):
                for lo, hi, raw in column.pieces(a, b):
                    np.copyto(out[c, lo:hi], raw, casting="unsafe")
                    if nulls[c] is not None:
                        out[c, lo:hi][raw == nulls[c]] = np.nan
            yield {"rows_read": b - a, "x": block}
        else:
            tensors = []
            for column in columns:
                t = torch.empty(b - a, dtype=torch.float64 if column.dtype == np.float64 else torch.int64)
                for lo, hi, raw in column.pieces(a, b):
                    t.numpy()[lo:hi] = raw
                tensors.append(t)
            yield {"rows_read": b - a, "x": tensors}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--zone", required=True)
    parser.add_argument("--workers", default="0,2,4")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--block-rows", type=int, default=None)
    parser.add_argument("--batch-windows", default="none,4096,256",
                        help="item sizes to compare (none: one item per block)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-rows", type=int, default=20000)
    parser.add_argument("--npy-dir", default=None)
    args = parser.parse_args()

    probe = DeviceWindows(args.zone, window=args.window, block_rows=args.block_rows)
    rows, block_rows = probe.rows, probe.block_rows
    print(f"zone {args.zone}: {rows} rows, {len(probe.offsets) - 1} devices, chunk-aligned block {block_rows} rows, "
          f"window {args.window}, columns {','.join(COLUMNS)}; torch {torch.__version__}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    table = []

    def add(name, rows_, seconds):
        table.append((name, rows_, seconds))
        print(f"| {name} | {rows_} | {seconds:.3f} | {rows_ / seconds:.3g} |", flush=True)

    print("| reader | rows | seconds | rows/s |\n|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="torch-bench-", dir=args.npy_dir) as npy_dir:
        with h5py.File(args.zone, "r") as f:
            for c in COLUMNS:
                np.save(os.path.join(npy_dir, c + ".npy"), f[c][:])
        add("numpy memmap, raw slice per column", *epoch_rate(lambda: raw_slices(npy_dir, rows, block_rows),
                                                              args.repeat))
        add("hdf5 read stage: chunk index + memmap, raw block per column",
            *epoch_rate(lambda: hdf5_blocks(args.zone, rows, block_rows, False), args.repeat))
        add("hdf5 read stage: into one float32 (4, n) tensor, NULL -> NaN",
            *epoch_rate(lambda: hdf5_blocks(args.zone, rows, block_rows, True), args.repeat))
        memmap = MemmapWindows(args.zone, npy_dir, window=args.window, block_rows=block_rows)
        add("numpy memmap -> same float32 windows", *epoch_rate(lambda: iter(memmap), args.repeat))
        plain = DeviceWindows(args.zone, window=args.window, block_rows=block_rows, mapped=False)
        add("hdf5 DeviceWindows, 0 workers, h5py reads (mapped=False)", *epoch_rate(lambda: iter(plain), args.repeat))
        for batch in args.batch_windows.split(","):
            batch_windows = None if batch == "none" else int(batch)
            dataset = DeviceWindows(args.zone, window=args.window, block_rows=block_rows, batch_windows=batch_windows)
            for workers in (int(w) for w in args.workers.split(",")):
                if batch_windows is not None and workers not in (0, 2):
                    continue

                def loader(dataset=dataset, workers=workers):
                    return torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers)

                add(f"hdf5 DeviceWindows, {workers} workers, items of {batch} windows",
                    *epoch_rate(loader, args.repeat))
                if workers:
                    persistent = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=workers,
                                                             persistent_workers=True)
                    add(f"hdf5 DeviceWindows, {workers} persistent workers, items of {batch} windows",
                        *epoch_rate(lambda: iter(persistent), args.repeat))
        blocks = DeviceWindows(args.zone, window=args.window, block_rows=block_rows)
        for workers in (0, 2):
            split = torch.utils.data.DataLoader(blocks, batch_size=None, num_workers=workers,
                                                persistent_workers=workers > 0)
            add(f"hdf5 DeviceWindows, {workers} {'persistent ' if workers else ''}workers, blocks split into 256 "
                "windows by iter_batches", *epoch_rate(lambda: iter_batches(split, 256), args.repeat))

        with h5py.File(args.zone, "r") as f:
            datasets = [f[c] for c in COLUMNS]
            n = min(args.naive_rows, rows)
            started = time.perf_counter()
            for i in range(n):
                torch.tensor([float(d[i]) for d in datasets])
            add(f"h5py row at a time (first {n} rows)", n, time.perf_counter() - started)
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            print("| pyarrow parquet | - | - | not importable: Debian 12 has no python3-pyarrow |")
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            path = os.path.join(npy_dir, "zone.parquet")
            with h5py.File(args.zone, "r") as f:
                pq.write_table(pa.table({c: f[c][:] for c in COLUMNS}), path, row_group_size=block_rows)

            def parquet():
                reader = pq.ParquetFile(path)
                for batch in reader.iter_batches(batch_size=block_rows, columns=list(COLUMNS)):
                    yield {"rows_read": batch.num_rows,
                           "x": [torch.from_numpy(c.to_numpy(zero_copy_only=False)) for c in batch.columns]}

            add("pyarrow parquet, raw columns", *epoch_rate(parquet, args.repeat))
    floor = table[0][1] / table[0][2]
    for name, rows_, seconds in table[1:]:
        print(f"{name}: {floor / (rows_ / seconds):.2f}x the raw memmap slice's time per row")


if __name__ == "__main__":
    main()
