#!/usr/bin/python3
"""Shared helpers of the end-to-end tests: run mpilake under mpiexec, read its
HDF5 zones and summary.json, compare with the reference, check the contract."""

import collections
import json
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

import stedi_reference as ref  # noqa: E402

ROOT_ATTRIBUTES = ("zone", "rules", "rows", "columns", "schema_version",
                   "created_utc", "mpilake_version")


class Failures:
    """Collects failure messages; the tests print them and exit 1."""

    def __init__(self):
        self.messages = []
        self.seen_keys = set()
        self.suppressed = 0

    def add(self, message, key=None):
        """key: failures with a key already seen are counted, not printed
        again (the same contract problem in every run)."""
        self.messages.append(message)
        if key is not None:
            if key in self.seen_keys:
                self.suppressed += 1
                return
            self.seen_keys.add(key)
        print("FAIL: " + message, flush=True)

    def summary_line(self):
        if self.suppressed:
            return " (%d repeated contract failures not printed again)" % self.suppressed
        return ""

    def __bool__(self):
        return bool(self.messages)

    def __len__(self):
        return len(self.messages)


def find_shared_data(*parts, start=None):
    """<ancestor>/shared/data/<parts...>, walking up from this file (None when there is none)."""
    d = os.path.abspath(start or os.path.dirname(__file__))
    while True:
        candidate = os.path.join(d, "shared", "data", *parts)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def find_default_landing(start=None):
    """<ancestor>/shared/data/stedi/landing, walking up from this file."""
    return find_shared_data("stedi", "landing", start=start)


def parse_list(text, convert=str):
    return [convert(item) for item in text.split(",") if item.strip()]


# ---------------------------------------------------------------------------
# Running the program
# ---------------------------------------------------------------------------
def mpi_env():
    env = dict(os.environ)
    # Shared-memory single-copy via CMA fails in many containers; harmless elsewhere.
    env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    return env


def run_mpilake(mpiexec, mpilake, ranks, landing, out, rules, timeout, extra=()):
    """Runs the program; returns (ok, description). ok means exit 0 and all
    zone files and summary.json exist."""
    cmd = [mpiexec, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe",
           mpilake, "run", "--landing", landing, "--out", out, "--rules", rules]
    cmd += list(extra)
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=mpi_env())
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stderr or b"")[-2000:].decode("utf-8", "replace")
        return False, "timed out after %ss: %s\n%s" % (timeout, " ".join(cmd), tail)
    output = (proc.stdout + proc.stderr)[-3000:].decode("utf-8", "replace")
    if proc.returncode != 0:
        return False, "exit code %d: %s\n%s" % (proc.returncode, " ".join(cmd), output)
    missing = [z + ".h5" for z in ref.ZONES if not os.path.isfile(os.path.join(out, z + ".h5"))]
    if not os.path.isfile(os.path.join(out, "summary.json")):
        missing.append("summary.json")
    if missing:
        return False, ("exit code 0 but missing outputs %s (mpiexec may have refused to run): %s\n%s"
                       % (", ".join(missing), " ".join(cmd), output))
    return True, output


# ---------------------------------------------------------------------------
# Reading the output
# ---------------------------------------------------------------------------
def _attr_scalar(value):
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError("expected a scalar, got array of shape %s" % (value.shape,))
        value = value.reshape(-1)[0]
    if isinstance(value, (bytes, np.bytes_)):
        value = bytes(value).decode("utf-8")
    if isinstance(value, np.generic):
        value = value.item()
    return value


def attr_string_list(value):
    """`columns` attribute -> list of str (array of strings; a single
    comma-separated string is tolerated)."""
    if isinstance(value, np.ndarray):
        items = value.reshape(-1).tolist()
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    out = []
    for item in items:
        if isinstance(item, (bytes, np.bytes_)):
            item = bytes(item).decode("utf-8")
        out.append(str(item))
    if len(out) == 1 and "," in out[0]:
        out = [s.strip() for s in out[0].split(",")]
    return out


def read_zone(path, zone):
    """-> (rows as contract tuples, rows attribute, lengths dict). Raises on
    missing datasets."""
    columns = ref.ZONE_COLUMNS[zone]
    with h5py.File(path, "r") as f:
        rows_attr = _attr_scalar(f.attrs["rows"]) if "rows" in f.attrs else None
        data, lengths = [], {}
        for name, kind in columns:
            if name not in f:
                raise KeyError("dataset %r missing in %s" % (name, path))
            arr = f[name][()]
            lengths[name] = len(arr)
            if kind == "str":
                values = [bytes(v).rstrip(b"\x00").decode("utf-8") for v in arr.tolist()]
            elif kind == "int":
                values = [int(v) for v in arr.tolist()]
            else:
                values = [float(v) for v in arr.tolist()]
            data.append(values)
    n = min(lengths.values()) if lengths else 0
    rows = [tuple(col[i] for col in data) for i in range(n)]
    return rows, rows_attr, lengths


def read_summary(out):
    with open(os.path.join(out, "summary.json"), "r", encoding="utf-8") as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# Budgeted runs (issue 20): what test_budget.py and test_budget_deloton.py both look at
# ---------------------------------------------------------------------------
SCRATCH = ".mpilake.scratch"  # the folder under --scratch (default --out) that a budgeted run spills into


def tail(text, n=1500):
    return text[-n:] if text else ""


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("mpilake: error")]


def temp_files(out):
    """The hidden temporary files (.NAME.tmp) a run left in OUT."""
    return sorted(n for n in os.listdir(out) if n.endswith(".tmp")) if os.path.isdir(out) else []


def scratch_folder(root):
    return os.path.join(root, SCRATCH)


def landing_size(landing):
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(landing) for n in names)


# The test knob that makes a budgeted run's quarantine spill sorted runs of this many bytes.
QUARANTINE_KNOB = "MPILAKE_QUARANTINE_MEMORY_BYTES"
QUARANTINE_RUNS = re.compile(r"^\[mpilake\] quarantine: (\d+) records, (\d+) sorted runs? spilled; "
                             r"merging them into quarantine\.jsonl and quarantine\.h5$", re.M)


def check_quarantine_runs(check, stderr, out, knobs, label):
    """A budgeted run's quarantine line: with QUARANTINE_KNOB in `knobs`, one line whose record count is
    quarantine.jsonl's line count, with several runs; without it (small data), no line."""
    lines = QUARANTINE_RUNS.findall(stderr)
    if QUARANTINE_KNOB not in knobs:
        check(not lines, f"{label}: a quarantine runs line without {QUARANTINE_KNOB}: {lines}")
        return None
    if not check(len(lines) == 1, f"{label}: expected one 'quarantine: N records, M sorted runs spilled' line with "
                 f"{QUARANTINE_KNOB}={knobs[QUARANTINE_KNOB]}, got {lines}\n{tail(stderr)}"):
        return None
    records, runs = int(lines[0][0]), int(lines[0][1])
    with open(os.path.join(out, "quarantine.jsonl"), "rb") as f:
        written = sum(1 for _ in f)
    check(records == written, f"{label}: the quarantine line counts {records} records, quarantine.jsonl has {written}")
    check(runs >= 2, f"{label}: {runs} sorted quarantine runs, expected several with "
          f"{QUARANTINE_KNOB}={knobs[QUARANTINE_KNOB]}")
    return runs


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
def fmt_row(row):
    return "(" + ", ".join(repr(v) for v in row) + ")"


def compare_multisets(failures, label, expected_rows, actual_rows, show=5):
    """expected/actual: lists of contract tuples. Returns True when equal."""
    exp = collections.Counter(expected_rows)
    act = collections.Counter(actual_rows)
    if exp == act:
        return True
    missing = exp - act   # in the reference, not in the program's output
    extra = act - exp     # in the program's output, not in the reference
    lines = ["%s: content differs (expected %d rows, got %d; %d missing, %d unexpected)"
             % (label, sum(exp.values()), sum(act.values()),
                sum(missing.values()), sum(extra.values()))]
    for title, counter in (("missing (reference has, program lacks)", missing),
                           ("unexpected (program has, reference lacks)", extra)):
        if counter:
            lines.append("    " + title + ":")
            for row in sorted(counter, key=ref.sort_key)[:show]:
                lines.append("      %s x%d" % (fmt_row(row), counter[row]))
            if len(counter) > show:
                lines.append("      ... %d more distinct rows" % (len(counter) - show))
    failures.add("\n".join(lines))
    return False


def check_zone_contract(failures, path, zone, rules, label):
    """Detailed HDF5 contract check of one zone file."""
    columns = ref.ZONE_COLUMNS[zone]
    names = [n for n, _ in columns]
    problems = []
    try:
        with h5py.File(path, "r") as f:
            for attr in ROOT_ATTRIBUTES:
                if attr not in f.attrs:
                    problems.append("root attribute %r missing" % attr)
            if "zone" in f.attrs and _attr_scalar(f.attrs["zone"]) != zone:
                problems.append("attribute zone = %r, expected %r" % (_attr_scalar(f.attrs["zone"]), zone))
            if "rules" in f.attrs and _attr_scalar(f.attrs["rules"]) != rules:
                problems.append("attribute rules = %r, expected %r" % (_attr_scalar(f.attrs["rules"]), rules))
            if "columns" in f.attrs:
                got = attr_string_list(f.attrs["columns"])
                if got != names:
                    problems.append("attribute columns = %r, expected %r" % (got, names))
            for attr in ("schema_version", "created_utc", "mpilake_version"):
                if attr in f.attrs:
                    try:
                        value = _attr_scalar(f.attrs[attr])
                        if value == "" or value is None:
                            problems.append("attribute %s is empty" % attr)
                    except ValueError as exc:
                        problems.append("attribute %s: %s" % (attr, exc))
            rows_attr = None
            if "rows" in f.attrs:
                rows_attr = _attr_scalar(f.attrs["rows"])
                if not isinstance(rows_attr, int):
                    problems.append("attribute rows is %r, not an integer" % (rows_attr,))
            for name, kind in columns:
                if name not in f:
                    problems.append("dataset %r missing" % name)
                    continue
                ds = f[name]
                if not isinstance(ds, h5py.Dataset):
                    problems.append("%r is not a dataset" % name)
                    continue
                if len(ds.shape) != 1:
                    problems.append("dataset %r has shape %s, expected 1-D" % (name, ds.shape))
                if isinstance(rows_attr, int) and ds.shape and ds.shape[0] != rows_attr:
                    problems.append("dataset %r has %d elements, rows attribute says %d"
                                    % (name, ds.shape[0], rows_attr))
                dt = ds.dtype
                if kind == "int":
                    if dt != np.dtype("<i8") and dt != np.dtype(">i8"):
                        problems.append("dataset %r dtype %s, expected int64" % (name, dt))
                    if "null_value" not in ds.attrs:
                        problems.append("int64 dataset %r lacks attribute null_value" % name)
                    else:
                        try:
                            nv = _attr_scalar(ds.attrs["null_value"])
                            if nv != ref.INT64_MIN:
                                problems.append("dataset %r null_value = %r, expected INT64_MIN" % (name, nv))
                        except ValueError as exc:
                            problems.append("dataset %r null_value: %s" % (name, exc))
                elif kind == "float":
                    if dt != np.dtype("<f8") and dt != np.dtype(">f8"):
                        problems.append("dataset %r dtype %s, expected float64" % (name, dt))
                else:
                    if dt.kind != "S":
                        problems.append("dataset %r dtype %s, expected fixed-length bytes (S)"
                                        % (name, dt))
                    else:
                        tid = ds.id.get_type()
                        if tid.is_variable_str():
                            problems.append("dataset %r is a variable-length string" % name)
                        elif tid.get_strpad() != h5py.h5t.STR_NULLPAD:
                            problems.append("dataset %r string padding is %d, expected NULLPAD"
                                            % (name, tid.get_strpad()))
                        values = ds[()]
                        longest = max((len(bytes(v).rstrip(b"\x00")) for v in values.tolist()),
                                      default=0)
                        if longest > 0 and dt.itemsize != longest:
                            problems.append("dataset %r width %d, expected the longest value %d"
                                            % (name, dt.itemsize, longest))
    except (OSError, KeyError) as exc:
        problems.append("cannot read: %s" % exc)
    for p in problems:
        failures.add("%s: %s contract: %s" % (label, zone, p), key=(zone, p))
    return not problems


def check_h5dump(failures, path, label):
    exe = shutil.which("h5dump")
    if exe is None:
        failures.add("%s: h5dump not found on PATH (install hdf5-tools)" % label)
        return False
    proc = subprocess.run([exe, "-H", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if proc.returncode != 0:
        failures.add("%s: h5dump -H %s exited %d: %s" % (label, path, proc.returncode,
                     proc.stderr.decode("utf-8", "replace")[-500:]), key=("h5dump", os.path.basename(path)))
        return False
    return True


def reference_quarantine(landing):
    """{(source, file basename, byte offset of the line start in the file):
    (reason, line)} for every line the reference quarantines (a BOM belongs
    to the first line, which starts at offset 0)."""
    out = {}
    for source in ref.SOURCES:
        for path in ref.source_files(landing, source):
            with open(path, "rb") as f:
                data = f.read()
            pos = 0
            for piece in data.split(b"\n"):
                line = piece[3:] if pos == 0 and piece.startswith(b"\xef\xbb\xbf") else piece
                if line.endswith(b"\r"):
                    line = line[:-1]
                if not ref.is_blank(line):
                    try:
                        ref.parse_line(source, line)
                    except ref.BadLine as exc:
                        out[(source, os.path.basename(path), pos)] = (str(exc), line)
                pos += len(piece) + 1
    return out


def explain_quarantine_diff(landing, out, limit=6):
    """Best-effort diagnostic (the quarantine record's format is not part of
    the contract): lines quarantined by only one side, from OUT/quarantine.jsonl
    records with source / file / byte_offset / reason."""
    path = os.path.join(out, "quarantine.jsonl")
    if not os.path.isfile(path):
        return "    (no OUT/quarantine.jsonl to compare line by line)"
    prog = {}
    try:
        with open(path, "r", encoding="utf-8") as f:
            for text in f:
                if text.strip():
                    d = json.loads(text)
                    prog[(d["source"], os.path.basename(d["file"]), int(d["byte_offset"]))] = d.get("reason", "")
    except (ValueError, KeyError, TypeError) as exc:
        return "    (quarantine.jsonl not in the expected shape: %s)" % exc
    mine = reference_quarantine(landing)
    lines = []
    ref_only = sorted(set(mine) - set(prog))
    prog_only = sorted(set(prog) - set(mine))
    # Offsets of a BOM file's first line may be counted after the BOM: pair them up.
    for key in list(ref_only):
        alt = (key[0], key[1], 3)
        if key[2] == 0 and alt in prog_only:
            ref_only.remove(key)
            prog_only.remove(alt)
    for key in ref_only[:limit]:
        reason, line = mine[key]
        lines.append("    reference quarantines, program accepts: %s %s @%d (%s): %s"
                     % (key[0], key[1], key[2], reason, line[:220].decode("utf-8", "replace")))
    for key in prog_only[:limit]:
        lines.append("    program quarantines, reference accepts: %s %s @%d (%s)"
                     % (key[0], key[1], key[2], prog[key]))
    if len(ref_only) > limit or len(prog_only) > limit:
        lines.append("    ... %d + %d lines in all" % (len(ref_only), len(prog_only)))
    return "\n".join(lines) if lines else "    (quarantine.jsonl agrees with the reference line by line)"


def check_summary_sources(failures, summary, label, expected=None, explain=None):
    """lines == accepted + quarantined per source; optionally equal to
    expected {source: (accepted, quarantined, lines)}. explain: callable
    returning extra diagnostic text, shown once per failing check call."""
    sources = summary.get("sources") if isinstance(summary, dict) else None
    if not isinstance(sources, dict):
        failures.add("%s: summary.json has no 'sources' object" % label)
        return
    for source in ref.SOURCES:
        entry = sources.get(source)
        if not isinstance(entry, dict) or not all(
                isinstance(entry.get(k), int) for k in ("lines", "accepted", "quarantined")):
            failures.add("%s: summary.json sources.%s lacks integer lines/accepted/quarantined: %r"
                         % (label, source, entry))
            continue
        if entry["lines"] != entry["accepted"] + entry["quarantined"]:
            failures.add("%s: summary.json sources.%s: lines %d != accepted %d + quarantined %d"
                         % (label, source, entry["lines"], entry["accepted"], entry["quarantined"]))
        if expected is not None:
            accepted, quarantined, lines = expected[source]
            got = (entry["accepted"], entry["quarantined"], entry["lines"])
            if got != (accepted, quarantined, lines):
                msg = ("%s: summary.json sources.%s accepted/quarantined/lines = %d/%d/%d, "
                       "reference %d/%d/%d" % ((label, source) + got + (accepted, quarantined, lines)))
                if explain is not None:
                    msg += "\n" + explain()
                    explain = None
                failures.add(msg)


def check_summary_zones(failures, summary, label, expected_counts):
    zones = summary.get("zones") if isinstance(summary, dict) else None
    if not isinstance(zones, dict):
        failures.add("%s: summary.json has no 'zones' object" % label)
        return
    for zone, count in expected_counts.items():
        entry = zones.get(zone)
        rows = entry.get("rows") if isinstance(entry, dict) else None
        if rows != count:
            failures.add("%s: summary.json zones.%s.rows = %r, expected %d" % (label, zone, rows, count))


def check_output(failures, out, rules, label, expected_zones, expected_counts=None):
    """Reads every zone of OUT, compares with expected_zones {zone: contract
    multiset}. Returns {zone: sorted actual rows} (None for unreadable)."""
    actual = {}
    for zone in ref.ZONES:
        path = os.path.join(out, zone + ".h5")
        try:
            rows, rows_attr, lengths = read_zone(path, zone)
        except (OSError, KeyError, UnicodeDecodeError) as exc:
            failures.add("%s: %s: cannot read: %s" % (label, zone, exc))
            actual[zone] = None
            continue
        if len(set(lengths.values())) > 1:
            failures.add("%s: %s: datasets have different lengths %r" % (label, zone, lengths))
        n = len(rows)
        if rows_attr != n:
            failures.add("%s: %s: rows attribute %r != dataset length %d" % (label, zone, rows_attr, n))
        if expected_counts is not None and zone in expected_counts and n != expected_counts[zone]:
            failures.add("%s: %s: %d rows, DESIGN.md says %d" % (label, zone, n, expected_counts[zone]))
        compare_multisets(failures, "%s: %s" % (label, zone), expected_zones[zone], rows)
        actual[zone] = sorted(rows, key=ref.sort_key)
    return actual


def compare_run_with_reference(mpilake, mpiexec, landing, rules, ranks, out, timeout=600):
    """Runs mpilake on LANDING and compares every zone, the zone contract and the per-source
    accounting with the reference implementation. Returns a list of problems (empty when equal)."""
    failures = Failures()
    label = "rules=%s ranks=%d" % (rules, ranks)
    parsed = ref.parse_landing(landing, keep_rejects=True)
    zones = ref.compute_zones(parsed["customer"][0], parsed["accelerometer"][0], parsed["step_trainer"][0], rules)
    ok, info = run_mpilake(mpiexec, mpilake, ranks, landing, out, rules, timeout)
    if not ok:
        return ["%s: run failed: %s" % (label, info)]
    check_output(failures, out, rules, label, {z: ref.contract_multiset(z, rows) for z, rows in zones.items()})
    for zone in ref.ZONES:
        check_zone_contract(failures, os.path.join(out, zone + ".h5"), zone, rules, label)
    summary = read_summary(out)
    check_summary_sources(failures, summary, label,
                          {s: (len(parsed[s][0]), parsed[s][1], parsed[s][2]) for s in ref.SOURCES})
    check_summary_zones(failures, summary, label, {z: len(rows) for z, rows in zones.items()})
    return list(failures.messages)


# ---------------------------------------------------------------------------
# Two output folders of the same landing (moved here from test_multihost.py; test_budget.py uses it too)
# ---------------------------------------------------------------------------
VOLATILE_ATTRIBUTES = {"created_utc"}


def attribute_bytes(value):
    if isinstance(value, np.ndarray):
        return (value.dtype.str, value.shape, value.tobytes())
    if isinstance(value, bytes):
        return value
    return repr(value)


def zone_datasets(path):
    """{dataset path: numpy array}, root attributes {name: comparable value} (every attribute but
    created_utc; each dataset's own attributes as 'dataset@name')."""
    datasets, attributes = {}, {}
    with h5py.File(path, "r") as f:
        for name, value in f.attrs.items():
            if name not in VOLATILE_ATTRIBUTES:
                attributes[name] = attribute_bytes(value)

        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                datasets[name] = obj[()]
                for a, v in obj.attrs.items():
                    attributes[name + "@" + a] = attribute_bytes(v)
        f.visititems(visit)
    return datasets, attributes


def compare_zone_files(check, expected_path, actual_path, label):
    """One zone file against another: every attribute but created_utc, every dataset's dtype, shape
    and bytes (in stored order). check(condition, message) records a failure."""
    zone_file = os.path.basename(expected_path)
    exp_data, exp_attrs = zone_datasets(expected_path)
    act_data, act_attrs = zone_datasets(actual_path)
    check(exp_attrs == act_attrs, f"{label}: {zone_file} attributes differ: " +
          ", ".join(sorted(k for k in set(exp_attrs) | set(act_attrs) if exp_attrs.get(k) != act_attrs.get(k))))
    check(sorted(exp_data) == sorted(act_data), f"{label}: {zone_file} datasets differ")
    for name in exp_data:
        if name not in act_data:
            continue
        e, a = exp_data[name], act_data[name]
        check(e.dtype == a.dtype and e.shape == a.shape,
              f"{label}: {zone_file}/{name} is {a.dtype}{a.shape}, expected {e.dtype}{e.shape}")
    for name in exp_data:
        if name in act_data and exp_data[name].shape == act_data[name].shape:
            check(exp_data[name].tobytes() == act_data[name].tobytes(),
                  f"{label}: {zone_file}/{name} differs byte for byte")


def compare_output_folders(check, expected_dir, actual_dir, label, baseline="the baseline run",
                           expect_quarantine=True):
    """Every OUT/*.h5 of ACTUAL equals EXPECTED's (compare_zone_files) and quarantine.jsonl is equal
    byte for byte. expect_quarantine: the baseline must have quarantined lines (data with bad
    lines). Returns the zone file names compared."""
    zones = sorted(n for n in os.listdir(expected_dir) if n.endswith(".h5"))
    check(zones, f"{label}: {baseline} wrote no zones")
    actual_zones = sorted(n for n in os.listdir(actual_dir) if n.endswith(".h5"))
    check(zones == actual_zones, f"{label}: zone files differ: {zones} vs {actual_zones}")
    for zone_file in zones:
        if zone_file in actual_zones:
            compare_zone_files(check, os.path.join(expected_dir, zone_file), os.path.join(actual_dir, zone_file),
                               label)
    with open(os.path.join(expected_dir, "quarantine.jsonl"), "rb") as f:
        expected = f.read()
    actual = None
    if check(os.path.isfile(os.path.join(actual_dir, "quarantine.jsonl")), f"{label}: no quarantine.jsonl"):
        with open(os.path.join(actual_dir, "quarantine.jsonl"), "rb") as f:
            actual = f.read()
    if expect_quarantine:
        check(expected, f"{label}: {baseline} quarantined nothing (the data should have bad lines)")
    if actual is not None:
        check(expected == actual,
              f"{label}: quarantine.jsonl differs ({len(actual)} bytes, expected {len(expected)})")
        lines = expected.count(b"\n")
        print(f"{label}: quarantine.jsonl {len(expected)} bytes, {lines} lines: "
              f"{'equal' if expected == actual else 'DIFFERENT'}", flush=True)
    return zones


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now (for the servers a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
