#!/usr/bin/python3
"""Single-process reference implementation of the STEDI rules (DESIGN.md).

Written for clarity, not speed: plain lists, dicts and sets that follow the rule
text line by line.  It is the oracle of the end-to-end tests; it shares no code
with the C++ program.

Rows are plain tuples in the column order of the HDF5 contract.  NULL is None
here; `to_contract_row` turns a row into what the HDF5 files hold (NULL string
= "", NULL int64 = INT64_MIN).

Usage as a script:  stedi_reference.py LANDING_DIR [--rules privacy,serial,rubric]
prints per-source line counts and zone row counts.
"""

import json
import math
import os
import sys

INT64_MIN = -(2 ** 63)
INT64_MAX = 2 ** 63 - 1

SOURCES = ("customer", "accelerometer", "step_trainer")
RULES = ("privacy", "serial", "rubric")
ZONES = ("customer_trusted", "accelerometer_trusted", "step_trainer_trusted",
         "customer_curated", "machine_learning_curated")

# ---------------------------------------------------------------------------
# Schemas: (column name, kind) in contract order. kind: "str" | "int" | "float"
# ---------------------------------------------------------------------------
CUSTOMER_COLUMNS = (
    ("customerName", "str"), ("email", "str"), ("phone", "str"),
    ("birthDay", "str"), ("serialNumber", "str"),
    ("registrationDate", "int"), ("lastUpdateDate", "int"),
    ("shareWithResearchAsOfDate", "int"), ("shareWithPublicAsOfDate", "int"),
    ("shareWithFriendsAsOfDate", "int"),
)
ACCEL_COLUMNS = (("user", "str"), ("timestamp", "int"),
                 ("x", "float"), ("y", "float"), ("z", "float"))
STEP_COLUMNS = (("sensorReadingTime", "int"), ("serialNumber", "str"),
                ("distanceFromObject", "int"))
ML_COLUMNS = (("sensorReadingTime", "int"), ("serialNumber", "str"),
              ("distanceFromObject", "int"), ("user", "str"),
              ("timestamp", "int"), ("x", "float"), ("y", "float"),
              ("z", "float"))

SOURCE_COLUMNS = {
    "customer": CUSTOMER_COLUMNS,
    "accelerometer": ACCEL_COLUMNS,
    "step_trainer": STEP_COLUMNS,
}
REQUIRED = {
    "customer": ("email", "serialNumber"),
    "accelerometer": ("user", "timestamp", "x", "y", "z"),
    "step_trainer": ("sensorReadingTime", "serialNumber", "distanceFromObject"),
}
ZONE_COLUMNS = {
    "customer_trusted": CUSTOMER_COLUMNS,
    "customer_curated": CUSTOMER_COLUMNS,
    "accelerometer_trusted": ACCEL_COLUMNS,
    "step_trainer_trusted": STEP_COLUMNS,
    "machine_learning_curated": ML_COLUMNS,
}

# Row field positions (for readability of the rules below).
C_EMAIL, C_SERIAL, C_CONSENT = 1, 4, 7
A_USER, A_TS = 0, 1
S_TIME, S_SERIAL = 0, 1


class BadLine(Exception):
    """A line that must be quarantined; the message is the reason."""


class _JsonObject(dict):
    """A parsed JSON object that remembers which keys occurred more than once."""
    duplicate_keys = frozenset()


def _object_hook(pairs):
    obj = _JsonObject(pairs)
    seen, dups = set(), set()
    for key, _ in pairs:
        (dups if key in seen else seen).add(key)
    obj.duplicate_keys = frozenset(dups)
    return obj


# ---------------------------------------------------------------------------
# Field conversion
# ---------------------------------------------------------------------------
def _reject_constant(name):
    # Python's json accepts NaN / Infinity / -Infinity; JSON does not.
    raise ValueError("not JSON: " + name)


def _is_digit_string(s):
    body = s[1:] if s.startswith("-") else s
    return len(body) > 0 and all(ch in "0123456789" for ch in body)


def convert_int(value):
    """int64 field. Returns int, or None for NULL. Raises BadLine on wrong type."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadLine("bool for int64")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float):
        if not math.isfinite(value) or value != math.floor(value):
            raise BadLine("non-integral float for int64")
        result = int(value)
    elif isinstance(value, str):
        if not _is_digit_string(value):
            raise BadLine("non-digit string for int64")
        result = int(value, 10)
    else:
        raise BadLine("wrong type for int64")
    if result < INT64_MIN or result > INT64_MAX:
        raise BadLine("int64 out of range")
    return result


def convert_float(value):
    """float64 field: JSON numbers only."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadLine("bool for float64")
    if isinstance(value, (int, float)):
        try:
            result = float(value)
        except OverflowError:
            raise BadLine("number out of float64 range")
        if not math.isfinite(result):  # e.g. 1e400: Python's json gives inf
            raise BadLine("number out of float64 range")
        return result
    raise BadLine("wrong type for float64")


def convert_str(value, accept_int=False):
    """string field (accept_int: the phone field also takes a JSON integer or integral float)."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise BadLine("bool for string")
    if accept_int and isinstance(value, float) and value.is_integer():
        value = int(value)  # decided: an integral float phone (8015551212.0) is its integer
    if accept_int and isinstance(value, int):
        if value < INT64_MIN or value > INT64_MAX:
            raise BadLine("phone integer out of int64 range")
        return str(value)
    if isinstance(value, str):
        if "\x00" in value:
            raise BadLine("NUL in string")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate escape such as "\ud800"
            raise BadLine("string is not valid Unicode")
        return value
    raise BadLine("wrong type for string")


def convert_record(source, obj):
    """JSON object -> row tuple in contract order (None = NULL)."""
    if not isinstance(obj, dict):
        raise BadLine("not a JSON object")
    # Not in DESIGN.md; decided: a known field given twice is ambiguous -> quarantine
    # (timestamp and timeStamp together count as the same field given twice).
    for name, _ in SOURCE_COLUMNS[source]:
        if name in getattr(obj, "duplicate_keys", ()):
            raise BadLine("duplicate key " + name)
    if source == "accelerometer" and "timestamp" in obj and "timeStamp" in obj:
        raise BadLine("both timestamp and timeStamp")
    if source == "accelerometer" and "timeStamp" in getattr(obj, "duplicate_keys", ()):
        raise BadLine("duplicate key timeStamp")
    row = []
    for name, kind in SOURCE_COLUMNS[source]:
        raw = obj.get(name)
        if source == "accelerometer" and name == "timestamp" and name not in obj:
            raw = obj.get("timeStamp")  # older dumps spell it timeStamp
        if kind == "int":
            value = convert_int(raw)
        elif kind == "float":
            value = convert_float(raw)
        else:
            value = convert_str(raw, accept_int=(name == "phone"))
        row.append(value)
    names = [name for name, _ in SOURCE_COLUMNS[source]]
    for name in REQUIRED[source]:
        if row[names.index(name)] is None:
            raise BadLine("missing required field " + name)
    return tuple(row)


def parse_line(source, line_bytes):
    """One non-blank line (bytes, no newline) -> row tuple, or raises BadLine."""
    try:
        text = line_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise BadLine("invalid UTF-8")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_hook)
    except (ValueError, RecursionError) as exc:
        raise BadLine("invalid JSON: %s" % exc)
    return convert_record(source, obj)


# ---------------------------------------------------------------------------
# Landing files
# ---------------------------------------------------------------------------
def split_lines(data):
    """File bytes -> list of lines (bytes) with BOM/CR handling, blanks kept."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # the file ended with a newline: no line after it
    lines = []
    for piece in pieces:
        if piece.endswith(b"\r"):
            piece = piece[:-1]
        lines.append(piece)
    return lines


def is_blank(line):
    return line.strip(b" \t\r\n") == b""


def source_files(landing_dir, source):
    folder = os.path.join(landing_dir, source)
    if not os.path.isdir(folder):
        return []
    return sorted(os.path.join(folder, name) for name in os.listdir(folder)
                  if os.path.isfile(os.path.join(folder, name)))


def parse_landing(landing_dir, keep_rejects=False):
    """-> {source: (accepted_rows, quarantined_count, lines_read)}.

    With keep_rejects=True the tuple has a 4th element: list of
    (file, line_number, reason, line_bytes) for each quarantined line.
    """
    result = {}
    for source in SOURCES:
        accepted, rejects, lines_read = [], [], 0
        for path in source_files(landing_dir, source):
            with open(path, "rb") as f:
                data = f.read()
            for number, line in enumerate(split_lines(data), start=1):
                if is_blank(line):
                    continue
                lines_read += 1
                try:
                    accepted.append(parse_line(source, line))
                except BadLine as exc:
                    rejects.append((path, number, str(exc), line))
        if keep_rejects:
            result[source] = (accepted, len(rejects), lines_read, rejects)
        else:
            result[source] = (accepted, len(rejects), lines_read)
    return result


# ---------------------------------------------------------------------------
# Zone rules (DESIGN.md "The zones and their rules")
# ---------------------------------------------------------------------------
def compute_zones(customers, accel, steps, rules):
    if rules not in RULES:
        raise ValueError("unknown rules " + rules)
    privacy = rules == "privacy"

    # 1. customer_trusted: consent date not NULL, duplicates kept.
    customer_trusted = [c for c in customers if c[C_CONSENT] is not None]

    trusted_by_email = {}
    for c in customer_trusted:
        trusted_by_email.setdefault(c[C_EMAIL], []).append(c)

    # 2. accelerometer_trusted: user is the email of a trusted customer; each
    #    landing row at most once; privacy: at/after the consent of at least one
    #    trusted customer with that email.
    accelerometer_trusted = []
    for a in accel:
        owners = trusted_by_email.get(a[A_USER], [])
        if not owners:
            continue
        if privacy and not any(a[A_TS] >= c[C_CONSENT] for c in owners):
            continue
        accelerometer_trusted.append(a)

    accel_by_user = {}
    for a in accelerometer_trusted:
        accel_by_user.setdefault(a[A_USER], []).append(a)

    # 3. customer_curated: DISTINCT trusted rows with >= 1 accelerometer_trusted
    #    row of that email (privacy: at/after that row's own consent date).
    customer_curated = []
    seen = set()
    for c in customer_trusted:
        readings = accel_by_user.get(c[C_EMAIL], [])
        if privacy:
            has_reading = any(a[A_TS] >= c[C_CONSENT] for a in readings)
        else:
            has_reading = len(readings) > 0
        if has_reading and c not in seen:
            seen.add(c)
            customer_curated.append(c)

    curated_by_serial = {}
    curated_by_email = {}
    for c in customer_curated:
        curated_by_serial.setdefault(c[C_SERIAL], []).append(c)
        curated_by_email.setdefault(c[C_EMAIL], []).append(c)

    # 4. step_trainer_trusted: serial of a curated customer; each row at most
    #    once; privacy: at/after the consent of >= 1 curated owner of the serial.
    step_trainer_trusted = []
    for s in steps:
        owners = curated_by_serial.get(s[S_SERIAL], [])
        if not owners:
            continue
        if privacy and not any(s[S_TIME] >= c[C_CONSENT] for c in owners):
            continue
        step_trainer_trusted.append(s)

    # 5. machine_learning_curated: every matching pair is one row.
    steps_by_time = {}
    for s in step_trainer_trusted:
        steps_by_time.setdefault(s[S_TIME], []).append(s)

    machine_learning_curated = []
    for a in accelerometer_trusted:
        candidates = steps_by_time.get(a[A_TS], [])
        if rules == "rubric":
            matches = candidates
        else:
            serials = set(c[C_SERIAL] for c in curated_by_email.get(a[A_USER], []))
            matches = [s for s in candidates if s[S_SERIAL] in serials]
        for s in matches:
            machine_learning_curated.append(
                (s[0], s[1], s[2], a[0], a[1], a[2], a[3], a[4]))

    return {
        "customer_trusted": customer_trusted,
        "accelerometer_trusted": accelerometer_trusted,
        "step_trainer_trusted": step_trainer_trusted,
        "customer_curated": customer_curated,
        "machine_learning_curated": machine_learning_curated,
    }


# ---------------------------------------------------------------------------
# Helpers for comparing with the HDF5 output
# ---------------------------------------------------------------------------
def to_contract_row(zone, row):
    out = []
    for (name, kind), value in zip(ZONE_COLUMNS[zone], row):
        if value is None:
            value = "" if kind == "str" else (INT64_MIN if kind == "int" else value)
        out.append(value)
    return tuple(out)


def sort_key(row):
    # None can only appear in float columns if ever; keep the sort total.
    return tuple((0, "") if v is None else (1, v) for v in row)


def contract_multiset(zone, rows):
    return sorted((to_contract_row(zone, r) for r in rows), key=sort_key)


def reference_for(landing_dir, rules_list=RULES):
    parsed = parse_landing(landing_dir)
    zones = {r: compute_zones(parsed["customer"][0], parsed["accelerometer"][0],
                              parsed["step_trainer"][0], r) for r in rules_list}
    return parsed, zones


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("landing")
    ap.add_argument("--rules", default="privacy,serial,rubric")
    ap.add_argument("--show-rejects", action="store_true")
    args = ap.parse_args(argv)
    parsed = parse_landing(args.landing, keep_rejects=True)
    for source in SOURCES:
        rows, quarantined, lines, rejects = parsed[source]
        print("%-13s lines=%d accepted=%d quarantined=%d"
              % (source, lines, len(rows), quarantined))
        if args.show_rejects:
            for path, number, reason, line in rejects:
                print("    %s:%d %s: %r" % (os.path.basename(path), number, reason, line[:100]))
    for rules in args.rules.split(","):
        zones = compute_zones(parsed["customer"][0], parsed["accelerometer"][0],
                              parsed["step_trainer"][0], rules)
        print("%-8s %s" % (rules, " / ".join(str(len(zones[z])) for z in
              ("customer_trusted", "accelerometer_trusted", "customer_curated",
               "step_trainer_trusted", "machine_learning_curated"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
