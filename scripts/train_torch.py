#!/usr/bin/python3
"""Train a small 1-D CNN (or MLP) on windows of an mpilake zone with PyTorch, on 1 or more processes.

    /usr/bin/python3 scripts/train_torch.py --zone OUT/machine_learning_curated.h5 --epochs 1 --workers 2
    /usr/bin/python3 scripts/torchrun.py --nproc_per_node 2 scripts/train_torch.py --zone OUT/readings.h5

The zone is a STEDI machine_learning_curated.h5 (windows of one device's x, y, z predict the step
trainer's distanceFromObject at the window's last row) or a Deloton readings.h5 (windows of one
ride's rpm, power and resistance predict the heart rate at the window's last row); which one is
seen from its index dataset (device_offset or ride_offset). Data come from mpilake.torchdata through a
DataLoader with --workers worker processes (one item per block, split into --batch-windows batches
in the training process: 10x faster than small items from the workers); under torchrun (WORLD_SIZE > 1) it trains with
DistributedDataParallel on the gloo backend (uneven batch counts per rank handled by DDP's join()),
and every zone row is read by exactly one worker of one rank per epoch. A GPU is used when there is
one (--device).

Output: one line per epoch, then `RESULT rows_read=N samples=S loss=L`: N zone rows read in the last
epoch over all processes (the zone's row count: rows after a group's last full window are read and
counted too), S windows trained on, L their mean squared error (targets standardised).
Exit status: 0 done; 2 bad arguments or a zone that breaks the contract (one error line).
Debian's torchrun crashes on Python 3.11 with torch 1.13; scripts/torchrun.py is the same launcher
with that bug fixed.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch import nn  # noqa: E402

from mpilake import ZoneError  # noqa: E402
from mpilake.torchdata import DeviceWindows, RideWindows, iter_batches  # noqa: E402

STATS_ROWS = 1 << 16  # target mean/std from the zone's first rows (read before training)


def fail(message, rank):
    if rank == 0:
        print("train_torch.py: error: " + message, file=sys.stderr, flush=True)
    sys.exit(2)


def make_model(kind, channels, window):
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(channels * window), nn.Linear(channels * window, 64),
                             nn.ReLU(), nn.Linear(64, 1))
    return nn.Sequential(nn.BatchNorm1d(channels), nn.Conv1d(channels, 16, 5, padding=2), nn.ReLU(),
                         nn.Conv1d(16, 16, 5, padding=2), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(),
                         nn.Linear(16, 1))


def open_dataset(args, rank, world):
    if not os.path.isfile(args.zone):
        raise ZoneError(f"{args.zone}: no such zone file")
    try:
        with h5py.File(args.zone, "r") as f:
            kind = "stedi" if "device_offset" in f else "deloton" if "ride_offset" in f else None
    except OSError as error:
        raise ZoneError(f"{args.zone}: not a readable HDF5 file ({error})") from None
    if kind is None:
        raise ZoneError(f"{args.zone}: neither device_offset nor ride_offset (not machine_learning_curated.h5 "
                        "or readings.h5)")
    cls = DeviceWindows if kind == "stedi" else RideWindows
    dataset = cls(args.zone, window=args.window, stride=args.stride, block_rows=args.block_rows,
                  shuffle=not args.no_shuffle, seed=args.seed, rank=rank,
                  world_size=world)
    return kind, dataset


def target_stats(dataset):
    with h5py.File(dataset.path, "r") as f:
        column = f[dataset.target]
        raw = column[: min(STATS_ROWS, column.shape[0])]
        null = column.attrs.get("null_value")
    values = raw.astype(np.float64)
    if null is not None:
        values = values[raw != null]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    return float(values.mean()), float(values.std()) or 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--zone", required=True, help="machine_learning_curated.h5 or readings.h5")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader worker processes per rank")
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--stride", type=int, default=None, help="rows between window starts (default: window)")
    parser.add_argument("--batch-windows", type=int, default=256)
    parser.add_argument("--block-rows", type=int, default=None, help="rows per read (default: chunk-aligned ~2^18)")
    parser.add_argument("--model", choices=("cnn", "mlp"), default="cnn")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-shuffle", action="store_true", help="read spans in file order")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--ranges-out", default=None,
                        help="write each rank's row ranges read in the last epoch to PREFIX.rank<R>.npy")
    args = parser.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    for name in ("epochs", "window", "batch_windows"):
        if getattr(args, name) < 1:
            fail(f"--{name.replace('_', '-')} must be at least 1", rank)
    if args.workers < 0:
        fail("--workers must be 0 or more", rank)
    if args.device == "cuda" and not torch.cuda.is_available():
        fail("--device cuda: no CUDA device", rank)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    if world > 1:
        dist.init_process_group("gloo")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count()) if use_cuda \
        else torch.device("cpu")

    try:
        kind, dataset = open_dataset(args, rank, world)
    except (ZoneError, ValueError) as error:
        fail(str(error), rank)
    mean, std = target_stats(dataset)
    torch.manual_seed(args.seed)
    model = make_model(args.model, len(dataset.features), dataset.window).to(device)
    if world > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if use_cuda else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers, pin_memory=use_cuda)
    if rank == 0:
        print(f"zone {args.zone} ({kind}): {dataset.rows} rows, {len(dataset.offsets) - 1} groups, window "
              f"{dataset.window} stride {dataset.stride}, features {','.join(dataset.features)} -> "
              f"{dataset.target}; {world} process(es) x {args.workers} worker(s), device {device}", flush=True)

    for epoch in range(args.epochs):
        dataset.set_epoch(epoch)
        model.train()
        started = time.perf_counter()
        totals = torch.zeros(3, dtype=torch.float64)  # rows read, windows, sum of squared errors
        ranges = []
        join = model.join() if world > 1 else _NoJoin()
        with join:
            for item in iter_batches(loader, args.batch_windows):  # one item per block from the workers
                totals[0] += item["rows_read"]
                if item["rows_read"]:
                    ranges.append(item["row_range"].numpy())
                x, y = item["x"], item["y"]
                if x.shape[0] < 2:  # BatchNorm needs two windows; the rows are counted all the same
                    continue
                x = torch.nan_to_num(x).to(device, non_blocking=True)
                y = ((y - mean) / std).to(device, non_blocking=True)
                valid = torch.isfinite(y)
                prediction = model(x).squeeze(1)
                errors = torch.where(valid, prediction - torch.nan_to_num(y), torch.zeros_like(prediction)) ** 2
                count = int(valid.sum())
                loss = errors.sum() / max(count, 1)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                totals[1] += count
                totals[2] += float(errors.sum())
        if world > 1:
            dist.all_reduce(totals)
        rows_read, samples, sse = int(totals[0]), int(totals[1]), float(totals[2])
        loss = sse / samples if samples else float("nan")
        seconds = time.perf_counter() - started
        if rank == 0:
            print(f"epoch {epoch + 1}/{args.epochs} loss={loss:.6f} rows_read={rows_read} samples={samples} "
                  f"seconds={seconds:.3f} rows_per_s={rows_read / seconds:.4g}", flush=True)
    if args.ranges_out:
        np.save(f"{args.ranges_out}.rank{rank}.npy", np.array(ranges, dtype=np.int64).reshape(-1, 2))
    if rank == 0:
        print(f"RESULT rows_read={rows_read} samples={samples} loss={loss:.6f}", flush=True)
    if world > 1:
        dist.destroy_process_group()


class _NoJoin:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


if __name__ == "__main__":
    main()
