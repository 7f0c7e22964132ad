"""PyTorch datasets over mpilake's sorted zones: windows of consecutive rows inside one group (a STEDI
device in machine_learning_curated.h5, a Deloton ride in readings.h5), read in large blocks.

How it reads
    The zone is cut into *spans*: runs of whole groups of about `block_rows` rows (a group longer
    than that is a span of its own). The spans are dealt to shards, one shard per (rank, worker):
    contiguous ranges balanced by rows, or with `shuffle=True` a permutation drawn from
    (seed, epoch) that every process draws alike. A shard reads its spans in blocks of at most
    `block_rows` rows with one h5py read per column into a reused buffer, so every row of the zone
    is read exactly once per epoch over all workers of all ranks, tail rows included. The few rows
    a window needs from the previous block of its group are kept in memory, not read again. The
    HDF5 file is opened lazily, in the process that iterates (each DataLoader worker), never
    before the fork.

What it yields
    One dict per block (or per `batch_windows` windows of it), no per-window Python objects:
      x          float32 (windows, len(features), window) - ready for Conv1d; NULL -> NaN
      y          float32 (windows,) - the target column at each window's last row (if target)
      start      int64 (windows,) - the zone row of each window's first row
      group      int64 (windows,) - the group index (device i / ride_id - 1) of each window
      rows_read  int - zone rows read from the file for this item (0 on the later items of a block)
      row_range  int64 (2,) - [first, end) zone rows read for this item ([0, 0] when none)
    Use DataLoader(dataset, batch_size=None, num_workers=W). A block whose groups are all shorter
    than a window yields zero windows but still reports its rows_read.

Windows
    Inside group g (rows d0 .. d1-1): starts d0, d0 + stride, ... with start + window <= d1. A window
    never crosses a group. Rows after the last full window (and groups shorter than a window) are
    read and counted in rows_read but give no window.
"""

import os

import h5py
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .zones import ZoneError, check_zone

DEFAULT_BLOCK_ROWS = 1 << 18


def _dist_rank_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def make_spans(offsets, block_rows):
    """Span boundaries (row offsets, increasing, 0 .. rows) that fall on group boundaries, one
    about every block_rows rows."""
    rows = int(offsets[-1])
    if rows == 0:
        return np.zeros(1, dtype=np.int64)
    targets = np.arange(0, rows, block_rows, dtype=np.int64)
    starts = offsets[np.searchsorted(offsets, targets, side="left")]
    return np.unique(np.concatenate([starts, [0, rows]])).astype(np.int64)


def assign_shards(spans, shards, shuffle, seed, epoch):
    """The spans (indices into spans[:-1]) of each shard: lists balanced by rows."""
    count = len(spans) - 1
    rows = int(spans[-1]) if count else 0
    order = np.arange(count)
    if shuffle:
        order = np.random.default_rng([seed, epoch]).permutation(count)
    lengths = np.diff(spans)[order]
    begin = np.cumsum(lengths) - lengths
    owner = (begin * shards) // max(rows, 1)
    return [order[owner == s] for s in range(shards)]


def window_starts(offsets, c0, end, window, stride):
    """Starts of the windows that lie in rows [c0, end) and whose start is >= c0, and the first
    start of the last group touching `end` that is not in that list (where the next block resumes)."""
    g_lo = max(int(np.searchsorted(offsets, c0, side="right")) - 1, 0)
    g_hi = int(np.searchsorted(offsets, end, side="left"))
    d0 = offsets[g_lo:g_hi]
    d1 = offsets[g_lo + 1 : g_hi + 1]
    lo = np.maximum(d0, c0)
    k_lo = (lo - d0 + stride - 1) // stride
    k_hi = (np.minimum(d1, end) - window - d0) // stride
    count = np.maximum(k_hi - k_lo + 1, 0)
    total = int(count.sum())
    first = d0 + stride * k_lo
    base = np.repeat(first, count)
    skip = np.repeat(np.cumsum(count) - count, count)
    starts = base + stride * (np.arange(total, dtype=np.int64) - skip)
    groups = np.repeat(np.arange(g_lo, g_hi, dtype=np.int64), count)
    resume = end
    if g_hi > g_lo and d1[-1] > end:  # the last group goes on past this block
        resume = int(d0[-1] + stride * max(k_lo[-1], k_hi[-1] + 1))
    return starts, groups, resume


class MappedColumn:
    """An unfiltered (not compressed) HDF5 column read straight from the file's bytes: HDF5's chunk
    index (H5Dget_chunk_info) gives each chunk's byte offset once, and a block is then a few slices of
    a read-only memory map of the file, converted to float32 as they are copied out: one pass over
    the bytes instead of an HDF5 read into a buffer and a second copy. None (use h5py) for compressed
    or filtered datasets, other byte orders, or chunks not all allocated."""

    @staticmethod
    def make(dataset, file_map):
        if dataset.dtype.byteorder not in ("<", "=") or not np.little_endian or dataset.ndim != 1:
            return None
        rows, item = dataset.shape[0], dataset.dtype.itemsize
        dsid = dataset.id
        if dataset.chunks is None:
            offset = dsid.get_offset()
            if offset is None:
                return None
            return MappedColumn(dataset.dtype, file_map, np.array([0]), np.array([offset]), rows, rows)
        if dsid.get_create_plist().get_nfilters() != 0:
            return None
        chunk = dataset.chunks[0]
        count = -(-rows // chunk)
        if dsid.get_num_chunks() != count:
            return None
        starts, offsets = np.empty(count, np.int64), np.empty(count, np.int64)
        for i in range(count):
            info = dsid.get_chunk_info(i)
            if info.size != chunk * item or info.filter_mask != 0:
                return None
            starts[i], offsets[i] = info.chunk_offset[0], info.byte_offset
        order = np.argsort(starts)
        if not np.array_equal(starts[order], np.arange(count) * chunk):
            return None
        return MappedColumn(dataset.dtype, file_map, starts[order], offsets[order], chunk, rows)

    def __init__(self, dtype, file_map, starts, offsets, chunk, rows):
        self.dtype, self.map, self.starts, self.offsets, self.chunk, self.rows = dtype, file_map, starts, offsets, \
            chunk, rows

    def pieces(self, a, b):
        """(lo, hi, values): rows a+lo .. a+hi-1 as a NumPy view of the mapped file."""
        item = self.dtype.itemsize
        for i in range(a // self.chunk, (b - 1) // self.chunk + 1):
            r0, r1 = max(a, i * self.chunk), min(b, (i + 1) * self.chunk)
            byte = int(self.offsets[i]) + (r0 - i * self.chunk) * item
            yield r0 - a, r1 - a, self.map[byte : byte + (r1 - r0) * item].view(self.dtype)


class ZoneWindows(IterableDataset):
    """Windows of `features` inside the groups of a sorted zone (see the module docstring).

    path       the zone file (machine_learning_curated.h5, readings.h5, ...)
    index      the group index dataset (device_offset, ride_offset)
    features   columns stacked as channels of x (int64 NULL and float NaN -> NaN)
    target     a column read at each window's last row as y, or None
    window, stride      window length and step in rows (stride defaults to window)
    block_rows rows per read (default: the datasets' chunk size times the number of chunks that
               make at least 2^18 rows)
    batch_windows       split a block's windows into items of at most this many windows
    shuffle, seed       deal spans to shards in an order drawn from (seed, epoch), and shuffle the
               windows inside each block; call set_epoch(e) before each epoch
    rank, world_size    the training process; default: torch.distributed's, else RANK/WORLD_SIZE
    mapped     read unfiltered columns through the file's chunk index and a memory map (MappedColumn,
               the default); False: every read through h5py
    """

    def __init__(self, path, index, features, target=None, window=32, stride=None, block_rows=None,
                 batch_windows=None, shuffle=False, seed=0, rank=None, world_size=None, mapped=True):
        super().__init__()
        self.path = os.fspath(path)
        self.index = index
        self.features = list(features)
        self.target = target
        self.window = int(window)
        self.stride = int(stride) if stride is not None else self.window
        if self.window < 1 or self.stride < 1:
            raise ValueError("window and stride must be at least 1")
        self.batch_windows = batch_windows
        self.mapped = mapped
        self.shuffle = shuffle
        self.seed = seed
        self.epoch = 0
        default_rank, default_world = _dist_rank_world()
        self.rank = default_rank if rank is None else rank
        self.world_size = default_world if world_size is None else world_size
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} not in 0 .. {self.world_size - 1}")

        _, self.rows, columns = check_zone(self.path)
        self.columns = self.features + ([target] if target is not None else [])
        with h5py.File(self.path, "r") as f:
            if index not in f:
                raise ZoneError(f"{self.path}: no index dataset {index!r} (is this the right zone?)")
            self.offsets = f[index][:].astype(np.int64)
            self.null_values, chunk = [], None
            for column in self.columns:
                if column not in columns:
                    raise ZoneError(f"{self.path}: no column {column!r} (columns: {', '.join(columns)})")
                dataset = f[column]
                if dataset.dtype not in (np.int64, np.float64):
                    raise ZoneError(f"{self.path}: column {column!r} is {dataset.dtype}, not a number")
                null = dataset.attrs.get("null_value")
                self.null_values.append(None if null is None else np.int64(null))
                chunk = chunk or (dataset.chunks[0] if dataset.chunks else None)
            self.dtypes = [f[c].dtype for c in self.columns]
        if block_rows is None:
            chunk = chunk or DEFAULT_BLOCK_ROWS
            block_rows = chunk * max(1, -(-DEFAULT_BLOCK_ROWS // chunk))
        self.block_rows = int(block_rows)
        self.spans = make_spans(self.offsets, self.block_rows)
        self._file = None
        self._pid = None

    def set_epoch(self, epoch):
        self.epoch = int(epoch)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"], state["_pid"] = None, None  # never an open h5py file across a fork/pickle
        return state

    def _open(self):
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
        return self._file

    def _columns(self):
        f = self._open()
        datasets = [f[c] for c in self.columns]
        if self.mapped:
            file_map = np.memmap(self.path, dtype=np.uint8, mode="r")
            return [MappedColumn.make(d, file_map) or d for d in datasets]
        return datasets

    def shard(self):
        """(shard id, shard count) of the calling process: one shard per (rank, worker)."""
        info = get_worker_info()
        workers, worker = (1, 0) if info is None else (info.num_workers, info.id)
        return self.rank * workers + worker, self.world_size * workers

    def my_spans(self):
        shard, shards = self.shard()
        return assign_shards(self.spans, shards, self.shuffle, self.seed, self.epoch)[shard]

    def __iter__(self):
        datasets = self._columns()
        channels = len(self.columns)
        buffers = [np.empty(self.block_rows, dtype=d) for d in self.dtypes]
        blocks = [torch.empty((channels, self.block_rows + self.window), dtype=torch.float32) for _ in range(2)]
        turn = 0
        generator = torch.Generator()
        shard, _ = self.shard()
        generator.manual_seed(hash((self.seed, self.epoch, shard)) & 0x7FFFFFFF)
        for span in self.my_spans():
            begin, end = int(self.spans[span]), int(self.spans[span + 1])
            carry = None  # rows [c0, a) of the previous block that windows still need
            a = begin
            while a < end:
                b = min(a + self.block_rows, end)
                n = b - a
                m = 0 if carry is None else carry.shape[1]
                c0 = a - m
                # Two reused block buffers, taking turns: the block is never handed out (windows are
                # copied from it), and the carry, a view of the previous one, is copied in first.
                # A fresh 4 MB tensor per block cost more in page faults than the whole read.
                turn = 1 - turn
                block = blocks[turn][:, : m + n]
                if m:
                    block[:, :m] = carry
                out = block.numpy()
                for c, dataset in enumerate(datasets):
                    null = self.null_values[c]
                    if isinstance(dataset, MappedColumn):
                        for lo, hi, raw in dataset.pieces(a, b):
                            np.copyto(out[c, m + lo : m + hi], raw, casting="unsafe")
                            if null is not None:
                                out[c, m + lo : m + hi][raw == null] = np.nan
                        continue
                    raw = buffers[c][:n]
                    self._read(dataset, raw, a, b)
                    np.copyto(out[c, m:], raw, casting="unsafe")
                    if null is not None:
                        out[c, m:][raw == null] = np.nan
                starts, groups, resume = window_starts(self.offsets, c0, b, self.window, self.stride)
                carry = block[:, resume - c0 :] if resume < b else None
                yield from self._items(block, c0, starts, groups, a, b, generator)
                a = b

    @staticmethod
    def _read(dataset, out, a, b):
        """Rows a .. b-1 of one column into `out` (one HDF5 read, no temporary array)."""
        dataset.read_direct(out, np.s_[a:b], np.s_[0 : b - a])

    def _items(self, block, c0, starts, groups, a, b, generator):
        features = len(self.features)
        index = torch.from_numpy(starts - c0)
        starts_t, groups_t = torch.from_numpy(starts), torch.from_numpy(groups)
        if self.shuffle and len(starts) > 1:
            perm = torch.randperm(len(starts), generator=generator)
            index, starts_t, groups_t = index[perm], starts_t[perm], groups_t[perm]
        # In a DataLoader worker the windows are written straight into shared memory, so handing them
        # to the training process copies nothing more.
        shared = get_worker_info() is not None
        x = torch.empty((len(starts), features, self.window), dtype=torch.float32)
        y = torch.empty(len(starts), dtype=torch.float32) if self.target is not None else None
        if shared and len(starts):
            x.share_memory_()
            if y is not None:
                y.share_memory_()
        if len(starts):
            views = block[:features].unfold(1, self.window, 1).permute(1, 0, 2)
            torch.index_select(views, 0, index, out=x)
            if y is not None:
                torch.index_select(block[features], 0, index + (self.window - 1), out=y)
        step = self.batch_windows or max(len(starts), 1)
        for i in range(0, max(len(starts), 1), step):
            item = {"x": x[i : i + step], "start": starts_t[i : i + step], "group": groups_t[i : i + step],
                    "rows_read": b - a if i == 0 else 0,
                    "row_range": torch.tensor([a, b] if i == 0 else [0, 0], dtype=torch.int64)}
            if y is not None:
                item["y"] = y[i : i + step]
            yield item


def iter_batches(items, batch_windows):
    """Splits the items of a DataLoader(ZoneWindows(..., batch_windows=None), batch_size=None) into
    training batches of at most batch_windows windows, in the training process: workers hand over one
    item per block (few, large transfers) and the batches are views of it. rows_read and row_range
    stay on the first batch of each block; a block without windows still gives one (empty) batch."""
    for item in items:
        count = item["x"].shape[0]
        for i in range(0, max(count, 1), batch_windows):
            batch = {k: (v[i : i + batch_windows] if k not in ("rows_read", "row_range") else v)
                     for k, v in item.items()}
            if i:
                batch["rows_read"], batch["row_range"] = 0, torch.zeros(2, dtype=torch.int64)
            yield batch


class DeviceWindows(ZoneWindows):
    """STEDI machine_learning_curated.h5: windows of one device's readings (device index
    `device_offset`; group i is device_serial[i]). Default: x, y, z as channels, the step trainer's
    distanceFromObject at the window's last row as target."""

    def __init__(self, path, features=("x", "y", "z"), target="distanceFromObject", **kwargs):
        super().__init__(path, "device_offset", features, target, **kwargs)


class RideWindows(ZoneWindows):
    """Deloton readings.h5: windows of one ride's readings (index `ride_offset`; group k is
    ride_id k + 1). Default: rpm, power_w and resistance as channels, the heart rate at the
    window's last row as target (NaN where the bike read no heart rate)."""

    def __init__(self, path, features=("rpm", "power_w", "resistance"), target="heart_rate", **kwargs):
        super().__init__(path, "ride_offset", features, target, **kwargs)
