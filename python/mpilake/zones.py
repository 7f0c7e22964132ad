"""Reading a finished mpilake run: `open_run(OUT)` checks `summary.json` against the zones and gives
each zone's columns as h5py datasets (lazy) or NumPy arrays with the NULL conventions decoded.

The HDF5 contract (README.md, "Outputs (HDF5 contract)"): one 1-D dataset per column at the file
root; int64 and float64 numbers; strings are fixed-length UTF-8 byte strings, NUL-padded, and the
empty string is NULL; an int64 NULL is INT64_MIN and every int64 dataset carries `null_value`. Root
attributes `zone`, `rows`, `columns`. Index datasets beside the columns: `device_serial` /
`device_offset` in STEDI's machine_learning_curated, `ride_offset` in Deloton's readings.
"""

import json
import os

import h5py
import numpy as np

NULL_INT64 = np.iinfo(np.int64).min

# Index datasets that are not columns: dataset name -> what it indexes.
INDEX_DATASETS = {"device_serial", "device_offset", "ride_offset"}


class ZoneError(Exception):
    """A run folder or zone that does not keep the contract. str(error) is one line naming the file."""


def _attr_text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _attr_list(value):
    if isinstance(value, (str, bytes)):
        return [_attr_text(value)]
    return [_attr_text(v) for v in value]


def decode(raw, null_value=None, nulls="mask"):
    """Decodes one column read from a zone.

    nulls="mask": int64 -> numpy.ma.MaskedArray masked where NULL; strings -> object array of str,
                  None where NULL; float64 as stored.
    nulls="nan":  int64 -> float64 with NaN where NULL; strings as for "mask".
    nulls="raw":  the stored values (INT64_MIN, NUL-padded bytes).
    """
    if nulls not in ("mask", "nan", "raw"):
        raise ValueError(f"nulls must be 'mask', 'nan' or 'raw', not {nulls!r}")
    if nulls == "raw":
        return raw
    if raw.dtype.kind == "S":
        out = np.empty(raw.shape, dtype=object)
        for i, value in enumerate(raw.tolist()):
            out[i] = value.decode("utf-8") if value else None
        return out
    if raw.dtype == np.int64 and null_value is not None:
        missing = raw == null_value
        if nulls == "nan":
            out = raw.astype(np.float64)
            out[missing] = np.nan
            return out
        return np.ma.MaskedArray(raw, mask=missing)
    return raw


class Zone:
    """One zone file. Opens the HDF5 file on first use (not at construction), so a Zone can be made
    before DataLoader workers fork; `close()` or `with` closes it."""

    def __init__(self, path, name=None, expected_rows=None):
        self.path = os.fspath(path)
        self.name = name or os.path.basename(self.path)[: -len(".h5")]
        self._file = None
        self.attrs, self.rows, self.columns = check_zone(self.path, expected_rows)

    def _h5(self):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def __getitem__(self, column):
        """The column (or index dataset) as an h5py dataset: slicing reads only the rows asked for."""
        f = self._h5()
        if column not in f:
            raise KeyError(f"{self.path}: no dataset {column!r} (columns: {', '.join(self.columns)})")
        return f[column]

    def __contains__(self, column):
        return column in self._h5()

    def null_value(self, column):
        value = self[column].attrs.get("null_value")
        return None if value is None else int(value)

    def array(self, column, rows=slice(None), nulls="mask"):
        """The column's rows (all by default, or a slice) as NumPy, NULLs decoded (see decode())."""
        dataset = self[column]
        return decode(dataset[rows], self.null_value(column), nulls)

    def arrays(self, columns=None, rows=slice(None), nulls="mask"):
        return {c: self.array(c, rows, nulls) for c in (columns or self.columns)}

    def close(self):
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"Zone({self.path!r}, rows={self.rows}, columns={self.columns})"


def check_zone(path, expected_rows=None):
    """Checks a zone file against the contract; returns (attrs, rows, columns) or raises ZoneError."""
    if not os.path.isfile(path):
        raise ZoneError(f"{path}: no such zone file")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise ZoneError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        attrs = {k: f.attrs[k] for k in f.attrs}
        for required in ("rows", "columns"):
            if required not in attrs:
                raise ZoneError(f"{path}: root attribute {required!r} missing (not an mpilake zone)")
        rows = int(attrs["rows"])
        columns = _attr_list(attrs["columns"])
        if expected_rows is not None and rows != expected_rows:
            raise ZoneError(f"{path}: {rows} rows, but summary.json says {expected_rows}")
        for column in columns:
            if column not in f or not isinstance(f[column], h5py.Dataset):
                raise ZoneError(f"{path}: column {column!r} listed in 'columns' has no dataset")
            dataset = f[column]
            if dataset.ndim != 1 or dataset.shape[0] != rows:
                raise ZoneError(f"{path}: column {column!r} has shape {dataset.shape}, expected ({rows},)")
            if dataset.dtype == np.int64 and "null_value" not in dataset.attrs:
                raise ZoneError(f"{path}: int64 column {column!r} lacks its 'null_value' attribute")
        if "device_offset" in f:
            serials = f["device_serial"].shape[0] if "device_serial" in f else None
            _check_offsets(path, "device_offset", f["device_offset"][:], rows, serials)
        if "ride_offset" in f:
            _check_offsets(path, "ride_offset", f["ride_offset"][:], rows, None)
    return attrs, rows, columns


def _check_offsets(path, name, offsets, rows, groups):
    if offsets.ndim != 1 or offsets.shape[0] < 1:
        raise ZoneError(f"{path}: index {name!r} is empty")
    if groups is not None and offsets.shape[0] != groups + 1:
        raise ZoneError(f"{path}: index {name!r} has {offsets.shape[0]} entries, expected {groups + 1}")
    if offsets[0] != 0 or offsets[-1] != rows or np.any(np.diff(offsets) < 0):
        raise ZoneError(f"{path}: index {name!r} is not 0 .. {rows} in increasing order")


def read_offsets(path, name):
    """A zone's group index (device_offset or ride_offset), checked; raises ZoneError."""
    _, _, _ = check_zone(path)
    with h5py.File(path, "r") as f:
        if name not in f:
            raise ZoneError(f"{path}: no index dataset {name!r} (is this the right zone?)")
        return f[name][:]


class Run:
    """A finished run folder: `summary` (the parsed summary.json), `pipeline` and its zones."""

    def __init__(self, out, summary, zones):
        self.out = out
        self.summary = summary
        self.pipeline = summary.get("pipeline", "stedi")
        self.zones = zones

    def __getitem__(self, name):
        if name not in self.zones:
            raise KeyError(f"{self.out}: no zone {name!r} (zones: {', '.join(self.zones)})")
        return self.zones[name]

    def __iter__(self):
        return iter(self.zones)

    def path(self, name):
        return self[name].path

    def close(self):
        for zone in self.zones.values():
            zone.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_run(out):
    """Opens a finished run folder: reads OUT/summary.json and checks every zone it lists (file there,
    `rows` attribute equal to summary.json's count, every column a 1-D dataset of that length, int64
    columns with `null_value`, group indexes from 0 to rows). Raises ZoneError with one line."""
    out = os.fspath(out)
    summary_path = os.path.join(out, "summary.json")
    if not os.path.isdir(out):
        raise ZoneError(f"{out}: no such run folder")
    try:
        with open(summary_path, encoding="utf-8") as handle:
            summary = json.load(handle)
    except FileNotFoundError:
        raise ZoneError(f"{summary_path}: missing (not a finished mpilake run)") from None
    except (OSError, ValueError) as error:
        raise ZoneError(f"{summary_path}: unreadable ({error})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("zones"), dict):
        raise ZoneError(f"{summary_path}: no 'zones' object")
    zones = {}
    for name, info in summary["zones"].items():
        rows = info.get("rows") if isinstance(info, dict) else None
        if not isinstance(rows, int):
            raise ZoneError(f"{summary_path}: zone {name!r} has no row count")
        zones[name] = Zone(os.path.join(out, name + ".h5"), name, rows)
    return Run(out, summary, zones)
