#!/usr/bin/python3
"""Compare a Deloton run of mpilake (OUT/) with the reference (deloton_reference.Result).

    problems = compare_run(out_dir, result)      # [] when everything agrees

Reads, with h5py:
  OUT/<zone>.h5        one 1-D dataset per column, named as in DELOTON.md (int64, float64,
                       fixed-length NUL-padded UTF-8 strings); readings.h5 also holds ride_offset
  OUT/summary.json     summary["streams"][stream] with the keys of Result.streams, and
                       summary["data_quality"] with the keys of Result.data_quality
  OUT/quarantine.jsonl one object per line: source, file, byte_offset, reason (raw_prefix is
                       not compared); source = source_of(stream), "deloton/<stream>" by default

Rows are compared in order, row for row; floats bit for bit (any NaN equals any NaN, -0.0 is
not 0.0); strings after dropping trailing NULs (fixed-length HDF5 strings cannot hold them).
Only the first few differences of each part are listed, with a count of the rest.

As a script:  deloton_compare.py OUT LANDING_ROOT   (exit 0 equal, 1 different)
              deloton_compare.py --self-test        (writes a Result as HDF5 and compares it with
                                                     itself, then plants differences)
"""

import collections
import json
import math
import os
import struct
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import deloton_reference as ref  # noqa: E402

SHOW = 5  # differences listed per zone / part


def default_source_of(stream):
    return "deloton/" + stream


# ---------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------
def _float_bits(value):
    return struct.pack("<d", value)


def same_value(kind, got, expected):
    if kind == "float":
        if not isinstance(got, float):
            return False
        if math.isnan(got) and math.isnan(expected):
            return True
        return _float_bits(got) == _float_bits(expected)
    if kind == "str":
        return got == expected.rstrip("\x00")
    return type(got) is int and got == expected


def show(kind, value):
    if kind == "float" and isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return "%r (%s)" % (value, value.hex())
    return repr(value)


def _read_column(ds, kind, name):
    """-> (list of Python values, problem or None)."""
    import numpy as np
    if len(ds.shape) != 1:
        return None, "dataset %r has shape %s, expected 1-D" % (name, ds.shape)
    data = ds[()]
    dt = ds.dtype
    if kind == "int":
        if dt.kind != "i" or dt.itemsize != 8:
            return None, "dataset %r has dtype %s, expected int64" % (name, dt)
        return [int(v) for v in data.tolist()], None
    if kind == "float":
        if dt.kind != "f" or dt.itemsize != 8:
            return None, "dataset %r has dtype %s, expected float64" % (name, dt)
        return [float(v) for v in np.asarray(data, dtype=np.float64).tolist()], None
    if dt.kind != "S":
        return None, "dataset %r has dtype %s, expected fixed-length byte strings" % (name, dt)
    values = []
    for i, v in enumerate(data.tolist()):
        try:
            values.append(bytes(v).rstrip(b"\x00").decode("utf-8"))
        except UnicodeDecodeError:
            return None, "dataset %r row %d is not UTF-8: %r" % (name, i, bytes(v)[:80])
    return values, None


# ---------------------------------------------------------------------------
# Zones
# ---------------------------------------------------------------------------
def _row_label(zone, row):
    """A short name for a reference row: its key column."""
    if not row:
        return ""
    key = ref.ZONE_COLUMNS[zone][0][0]
    return " (%s %r)" % (key, row[0])


def compare_zone(path, zone, expected_rows, limit=SHOW):
    import h5py
    problems = []
    columns = ref.ZONE_COLUMNS[zone]
    if not os.path.isfile(path):
        return ["%s: %s missing" % (zone, path)]
    data = {}
    try:
        with h5py.File(path, "r") as f:
            for name, kind in columns:
                if name not in f or not isinstance(f[name], h5py.Dataset):
                    problems.append("%s: dataset %r missing" % (zone, name))
                    continue
                values, problem = _read_column(f[name], kind, name)
                if problem:
                    problems.append("%s: %s" % (zone, problem))
                else:
                    data[name] = values
            extra = sorted(set(k for k in f.keys() if isinstance(f[k], h5py.Dataset))
                           - set(n for n, _ in columns) - ({"ride_offset"} if zone == "readings" else set()))
            if extra:
                problems.append("%s: unexpected datasets %s" % (zone, ", ".join(extra)))
    except OSError as exc:
        return problems + ["%s: cannot read %s: %s" % (zone, path, exc)]

    lengths = {name: len(values) for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        problems.append("%s: columns have different lengths %r" % (zone, lengths))
    n_expected = len(expected_rows)
    n_got = max(lengths.values()) if lengths else 0
    if lengths and n_got != n_expected:
        problems.append("%s: %d rows, reference %d" % (zone, n_got, n_expected))

    differences = 0
    listed = []
    for index, row in enumerate(expected_rows):
        for position, (name, kind) in enumerate(columns):
            values = data.get(name)
            if values is None or index >= len(values):
                continue
            if not same_value(kind, values[index], row[position]):
                differences += 1
                if len(listed) < limit:
                    listed.append("%s row %d%s column %s: got %s, reference %s"
                                  % (zone, index, _row_label(zone, row), name,
                                     show(kind, values[index]), show(kind, row[position])))
    problems += listed
    if differences > len(listed):
        problems.append("%s: ... %d more differing values" % (zone, differences - len(listed)))
    return problems


def compare_ride_offset(path, expected):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if "ride_offset" not in f:
                return ["readings: dataset 'ride_offset' missing"]
            values, problem = _read_column(f["ride_offset"], "int", "ride_offset")
    except OSError as exc:
        return ["readings: cannot read %s: %s" % (path, exc)]
    if problem:
        return ["readings: " + problem]
    if values == expected:
        return []
    if len(values) != len(expected):
        first = "lengths %d vs %d" % (len(values), len(expected))
    else:
        i = next(i for i, (a, b) in enumerate(zip(values, expected)) if a != b)
        first = "first difference at index %d: got %d, reference %d" % (i, values[i], expected[i])
    return ["readings: ride_offset differs (%s)" % first]


# ---------------------------------------------------------------------------
# summary.json and quarantine.jsonl
# ---------------------------------------------------------------------------
def _non_zero(mapping):
    return {k: v for k, v in (mapping or {}).items() if v != 0}


def compare_summary(path, result, limit=SHOW):
    try:
        with open(path, "r", encoding="utf-8") as f:
            summary = json.load(f)
    except (OSError, ValueError) as exc:
        return ["summary.json: cannot read: %s" % exc]
    problems = []
    streams = summary.get("streams") if isinstance(summary, dict) else None
    if not isinstance(streams, dict):
        return ["summary.json: no 'streams' object"]
    for stream in sorted(set(streams) | set(result.streams), key=lambda s: s.encode("utf-8")):
        if stream not in streams:
            problems.append("summary.json: stream %r missing" % stream)
            continue
        if stream not in result.streams:
            problems.append("summary.json: stream %r not in the reference" % stream)
            continue
        got, expected = streams[stream], result.streams[stream]
        if not isinstance(got, dict):
            problems.append("summary.json: streams[%r] is not an object" % stream)
            continue
        for key in ref.STREAM_COUNTERS:
            if got.get(key) != expected[key]:
                problems.append("summary.json: streams[%r].%s = %r, reference %d"
                                % (stream, key, got.get(key), expected[key]))
        by_reason = got.get("quarantined_by_reason")
        if not isinstance(by_reason, dict) or _non_zero(by_reason) != _non_zero(expected["quarantined_by_reason"]):
            problems.append("summary.json: streams[%r].quarantined_by_reason = %r, reference %r"
                            % (stream, by_reason, expected["quarantined_by_reason"]))
    dq = summary.get("data_quality")
    if not isinstance(dq, dict):
        problems.append("summary.json: no 'data_quality' object")
    else:
        for key, value in result.data_quality.items():
            if dq.get(key) != value:
                problems.append("summary.json: data_quality.%s = %r, reference %r" % (key, dq.get(key), value))
    if len(problems) > limit * 3:
        problems = problems[:limit * 3] + ["summary.json: ... %d more differences" % (len(problems) - limit * 3)]
    return problems


def compare_quarantine(path, result, source_of=default_source_of, limit=SHOW):
    """Compares (source, file name, byte offset) -> reason, as multisets (the order of
    quarantine.jsonl is not part of the contract)."""
    got = collections.Counter()
    try:
        with open(path, "r", encoding="utf-8") as f:
            for number, text in enumerate(f, start=1):
                if not text.strip():
                    continue
                d = json.loads(text)
                got[(d["source"], os.path.basename(d["file"]), int(d["byte_offset"]), d["reason"])] += 1
    except OSError as exc:
        return ["quarantine.jsonl: cannot read: %s" % exc]
    except (ValueError, KeyError, TypeError) as exc:
        return ["quarantine.jsonl: line %d not in the expected shape: %s" % (number, exc)]
    expected = collections.Counter((source_of(stream), os.path.basename(p), offset, reason)
                                   for stream, p, offset, reason in result.quarantine)
    if got == expected:
        return []
    problems = ["quarantine.jsonl: %d records, reference %d" % (sum(got.values()), sum(expected.values()))]
    for title, counter in (("only in the run", got - expected), ("only in the reference", expected - got)):
        items = sorted(counter.elements())
        for source, name, offset, reason in items[:limit]:
            problems.append("quarantine.jsonl %s: %s %s @%d %s" % (title, source, name, offset, reason))
        if len(items) > limit:
            problems.append("quarantine.jsonl %s: ... %d more" % (title, len(items) - limit))
    return problems


def compare_run(out_dir, result, source_of=default_source_of, limit=SHOW):
    """All differences between OUT/ and the reference Result, as readable lines."""
    problems = []
    for zone in ref.ZONES:
        problems += compare_zone(os.path.join(out_dir, zone + ".h5"), zone, result.zones[zone], limit)
    problems += compare_ride_offset(os.path.join(out_dir, "readings.h5"), result.ride_offset)
    problems += compare_summary(os.path.join(out_dir, "summary.json"), result, limit)
    problems += compare_quarantine(os.path.join(out_dir, "quarantine.jsonl"), result, source_of, limit)
    return problems


# ---------------------------------------------------------------------------
# Writing a Result the way the contract lays it out (for the self-test)
# ---------------------------------------------------------------------------
def write_zone(path, zone, rows, ride_offset=None):
    import h5py
    import numpy as np
    with h5py.File(path, "w") as f:
        f.attrs["zone"] = zone
        f.attrs["pipeline"] = "deloton"
        f.attrs["rows"] = len(rows)
        for position, (name, kind) in enumerate(ref.ZONE_COLUMNS[zone]):
            values = [row[position] for row in rows]
            if kind == "int":
                ds = f.create_dataset(name, data=np.array(values, dtype=np.int64))
                ds.attrs["null_value"] = np.int64(ref.INT64_MIN)
            elif kind == "float":
                f.create_dataset(name, data=np.array(values, dtype=np.float64))
            else:
                encoded = [v.encode("utf-8") for v in values]
                width = max([1] + [len(v) for v in encoded])
                f.create_dataset(name, data=np.array(encoded, dtype="S%d" % width))
        if ride_offset is not None:
            ds = f.create_dataset("ride_offset", data=np.array(ride_offset, dtype=np.int64))
            ds.attrs["null_value"] = np.int64(ref.INT64_MIN)


def write_run(out_dir, result, source_of=default_source_of):
    os.makedirs(out_dir, exist_ok=True)
    for zone in ref.ZONES:
        write_zone(os.path.join(out_dir, zone + ".h5"), zone, result.zones[zone],
                   result.ride_offset if zone == "readings" else None)
    with open(os.path.join(out_dir, "summary.json"), "w", encoding="utf-8") as f:
        json.dump({"pipeline": "deloton", "streams": result.streams,
                   "data_quality": result.data_quality,
                   "zones": {z: {"rows": n} for z, n in result.counts().items()}}, f, indent=1)
    with open(os.path.join(out_dir, "quarantine.jsonl"), "w", encoding="utf-8") as f:
        for stream, path, offset, reason in result.quarantine:
            f.write(json.dumps({"source": source_of(stream), "file": path, "byte_offset": offset,
                                "reason": reason, "raw_prefix": ""}) + "\n")


# ---------------------------------------------------------------------------
# Self-test
# ---------------------------------------------------------------------------
def _record(log):
    return json.dumps({"log": log + "\n"}).encode("ascii") + b"\n"


def _small_landing(root):
    """Two streams: a ride with readings and an alert, a ride with NaN averages, an unknown
    rider, quarantined lines, a duplicate."""
    user = ('{"user_id":3,"name":"Mr Al Bo","gender":"male","date_of_birth":0,'
            '"address":"1 St,Town,PC","height_cm":180}')
    lines = [_record("2023-05-01 08:00:00 bike 1: [SYSTEM] data = " + user)]
    for k in range(6):
        hrt = 230 if k >= 2 else 0  # male aged 53: limits [47, 171]; 3 high readings from k = 4
        lines.append(_record("2023-05-01 08:00:%02d.1 bike 1: [INFO]: Ride - duration = %d.0; resistance = 30"
                             % (k + 1, k + 1)))
        lines.append(_record("2023-05-01 08:00:%02d.6 bike 1: [INFO]: Telemetry - hrt = %d; rpm = 55; "
                             "power = %r" % (k + 1, hrt, 0.1 * (k + 1))))
    lines.append(lines[-1])  # duplicate delivery
    lines.append(_record("2023-05-01 08:01:00 bike 1: [INFO]: Ride - duration = 7.0; resistance = 30"))
    lines.append(b"not json\n")
    other = [_record("2023-05-01 09:00:00 bike 2: [SYSTEM] data = {\"user_id\":1.5}"),
             _record("2023-05-01 09:00:00.5 bike 2: [INFO]: Telemetry - hrt = 1; rpm = 1; power = 1"),
             _record("2023-05-02 07:00:00 bike 2: [SYSTEM] data = {\"user_id\":4}")]
    for stream, data in (("partition=0", b"".join(lines)), ("partition=1", b"".join(other))):
        os.makedirs(os.path.join(root, "deloton", stream))
        with open(os.path.join(root, "deloton", stream, "topic+0+0.json"), "wb") as f:
            f.write(data)


def _self_test():
    import h5py
    import numpy as np
    failures = []

    def expect(condition, message):
        if not condition:
            failures.append(message)
            print("FAIL: " + message, flush=True)

    with tempfile.TemporaryDirectory(prefix="deloton-compare-self-test-") as tmp:
        landing = os.path.join(tmp, "landing")
        _small_landing(landing)
        result = ref.compute(landing)
        counts = result.counts()
        expect(counts == {"riders": 2, "rides": 3, "readings": 6, "heart_rate_alerts": 1, "daily": 2},
               "self-test landing gives %r" % counts)
        expect(any(math.isnan(r[10]) for r in result.zones["rides"]), "a ride with NaN averages exists")
        out = os.path.join(tmp, "out")
        write_run(out, result)
        problems = compare_run(out, result)
        expect(problems == [], "a run written from the reference differs from it: %r" % problems)

        def planted(description, mutate, must_contain):
            # Each plant starts from a clean copy of the output.
            write_run(out, result)
            mutate()
            found = compare_run(out, result)
            ok = any(all(text in p for text in must_contain) for p in found)
            expect(ok, "planted %s not reported as %r; got %r" % (description, must_contain, found))

        def set_value(zone, column, row, value):
            with h5py.File(os.path.join(out, zone + ".h5"), "r+") as f:
                data = f[column][()]
                if data.dtype.kind == "S":  # widen: a longer string must not be cut
                    items = data.tolist()
                    items[row] = value
                    data = np.array(items, dtype="S%d" % max(len(v) for v in items))
                else:
                    data[row] = value
                del f[column]
                f.create_dataset(column, data=data)

        rides = result.zones["rides"]
        power = rides[0][13]
        next_up = struct.unpack("<d", struct.pack("<q", struct.unpack("<q", struct.pack("<d", power))[0] + 1))[0]
        planted("one-ulp float change", lambda: set_value("rides", "power_avg_w", 0, next_up),
                ["rides row 0", "power_avg_w", repr(next_up), repr(power)])
        planted("-0.0 for 0.0", lambda: set_value("rides", "energy_kj", 2, -0.0),
                ["rides row 2", "energy_kj", "-0.0"])
        planted("NaN for a number", lambda: set_value("daily", "duration_s", 0, float("nan")),
                ["daily row 0", "duration_s", "nan"])
        planted("string change", lambda: set_value("riders", "first_name", 0, b"Alf"),
                ["riders row 0", "first_name", "'Alf'", "'Al'"])
        planted("int NULL for a value", lambda: set_value("heart_rate_alerts", "age", 0, np.int64(ref.INT64_MIN)),
                ["heart_rate_alerts row 0", "age", str(ref.INT64_MIN)])
        planted("ride_offset change", lambda: set_value("readings", "ride_offset", 1, 5),
                ["ride_offset differs", "index 1"])

        def drop_last_reading():
            rows = result.zones["readings"][:-1]
            write_zone(os.path.join(out, "readings.h5"), "readings", rows, result.ride_offset)
        planted("missing row", drop_last_reading, ["readings: 5 rows, reference 6"])

        def wrong_dtype():
            with h5py.File(os.path.join(out, "rides.h5"), "r+") as f:
                data = f["readings"][()].astype(np.float64)
                del f["readings"]
                f.create_dataset("readings", data=data)
        planted("float64 for an int64 column", wrong_dtype, ["rides", "readings", "expected int64"])

        def edit_summary(change):
            def mutate():
                path = os.path.join(out, "summary.json")
                with open(path) as f:
                    summary = json.load(f)
                change(summary)
                with open(path, "w") as f:
                    json.dump(summary, f)
            return mutate
        planted("accounting change",
                edit_summary(lambda s: s["streams"]["partition=0"].__setitem__("duplicates", 0)),
                ["streams['partition=0'].duplicates = 0", "reference 1"])
        planted("data-quality change",
                edit_summary(lambda s: s["data_quality"].__setitem__("rides_with_unknown_rider", 2)),
                ["data_quality.rides_with_unknown_rider = 2"])
        write_run(out, result)
        edit_summary(lambda s: s["streams"]["partition=1"]["quarantined_by_reason"].__setitem__(
            "orphan_line", 0))()
        expect(compare_run(out, result) == [], "an explicit zero count in quarantined_by_reason is reported")

        def edit_quarantine():
            path = os.path.join(out, "quarantine.jsonl")
            with open(path) as f:
                records = [json.loads(t) for t in f]
            records[0]["reason"] = "unknown_shape"
            with open(path, "w") as f:
                f.write("".join(json.dumps(r) + "\n" for r in records))
        planted("quarantine reason change", edit_quarantine, ["quarantine.jsonl only in the run", "unknown_shape"])

    if failures:
        print("deloton_compare self-test: %d failure(s)" % len(failures))
        return 1
    print("deloton_compare self-test: ok")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return _self_test()
    if len(argv) != 2:
        print("usage: deloton_compare.py OUT LANDING_ROOT | --self-test", file=sys.stderr)
        return 2
    problems = compare_run(argv[0], ref.compute(argv[1]))
    for p in problems:
        print("DIFF: " + p)
    print("%s" % ("equal to the reference" if not problems else "%d difference(s)" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
