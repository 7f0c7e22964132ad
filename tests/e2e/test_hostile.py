#!/usr/bin/python3
"""Hostile input: mpilake must never crash or hang on bad landing data.

Every case is built here, in a temp folder (no committed blobs): a small valid base landing set plus
the hostile file(s). For every case the run must either

  * finish (exit 0) with every bad line quarantined with a reason: per source, lines read =
    accepted + quarantined (summary.json and the printed summary agree), the expected lines are
    quarantined and no others, and every quarantine.jsonl record has a non-empty reason, the file,
    and a byte_offset that is the start of that line in the file (its `raw` is that line's first
    256 bytes); or
  * stop with exactly one line starting `mpilake: error` that names the file or folder, a non-zero
    exit code, no signal, no core dump, and no MPI_ABORT banner without that line.

A run that takes longer than --timeout seconds counts as a hang.

Line-level cases (run together in one landing set; on failure each is re-run alone to pinpoint it):
  truncated JSON, broken JSON, values that are not objects, wrong types in every field of every
  source, numbers out of range, non-UTF-8 bytes, binary garbage, a UTF-16 file, NUL bytes, a single
  line of several MB, very long strings (3 MB values and keys), duplicate keys, deeply nested values
  (past simdjson's depth limit of 1024: quarantined), CRLF + UTF-8 BOM, CR-only line ends, empty
  files and files of blank lines; and integral numbers written with many digits
  (`1655564376361.000000`), which must keep their value: besides the counts, that case checks the
  rows that reach the zones.

Folder / file-level cases (one run each):
  empty source folder            -> runs, that source has 0 lines, the zones are written (empty)
  all source folders empty       -> runs, every zone empty
  missing source folder          -> stops: one error line naming the missing sub-folder
  unreadable file (EACCES)       -> stops: one error line naming the file. Tests run as root, where
                                    chmod 000 does not stop reading, so the run is started as
                                    `nobody` through setpriv (skipped when that is impossible)
  dangling symlink               -> stops: one error line naming it (a landing file that cannot be
                                    read must not be skipped silently)
  folder named like a file       -> stops: one error line naming it (only regular files are landing
                                    files; skipping a folder would drop its data silently)
  FIFO named like a file         -> stops: one error line naming it (and must not block)
  file truncated during the run  -> either runs (the writer was too late) with consistent counts,
                                    or stops with one error line naming the file
  file appended to during the run-> runs; the appended lines are ignored (files are sized at
                                    discovery and only that many bytes are read)

Usage: test_hostile.py --mpilake BIN --mpiexec EXE [--ranks 1,3] [--cases a,b] [--timeout 60] [--keep]
Exit 0 = pass, 1 = fail.
"""
import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import mpi_env  # noqa: E402

SOURCES = ("customer", "accelerometer", "step_trainer")
ZONES = ("customer_trusted", "accelerometer_trusted", "customer_curated",
         "step_trainer_trusted", "machine_learning_curated")
A, Q, B, EITHER = "accepted", "quarantined", "blank", "accepted or quarantined"
MB = 1 << 20

FAILURES = []


def at_ranks(ranks):
    return "at %d rank%s" % (ranks, "" if ranks == 1 else "s")


def fail(message):
    FAILURES.append(message)
    print("FAIL: " + message, flush=True)


# ---------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------
def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


CUSTOMER = {"customerName": "Ann Able", "email": "ann@test.com", "phone": "8015550101",
            "birthDay": "1990-01-01", "serialNumber": "serial-ann", "registrationDate": 1000,
            "lastUpdateDate": 1000, "shareWithResearchAsOfDate": 1000,
            "shareWithPublicAsOfDate": None, "shareWithFriendsAsOfDate": None}
ACCEL = {"user": "ann@test.com", "timestamp": 1500, "x": 1.0, "y": 2.0, "z": 3.0}
STEP = {"sensorReadingTime": 1500, "serialNumber": "serial-ann", "distanceFromObject": 250}
BASE_RECORD = {"customer": CUSTOMER, "accelerometer": ACCEL, "step_trainer": STEP}
# Field -> kind: str, str_or_int (phone), int, float; required fields per DESIGN.md.
FIELDS = {
    "customer": {"customerName": "str", "email": "str", "phone": "str_or_int", "birthDay": "str",
                 "serialNumber": "str", "registrationDate": "int", "lastUpdateDate": "int",
                 "shareWithResearchAsOfDate": "int", "shareWithPublicAsOfDate": "int",
                 "shareWithFriendsAsOfDate": "int"},
    "accelerometer": {"user": "str", "timestamp": "int", "x": "float", "y": "float", "z": "float"},
    "step_trainer": {"sensorReadingTime": "int", "serialNumber": "str", "distanceFromObject": "int"},
}
REQUIRED = {"customer": {"email", "serialNumber"},
            "accelerometer": {"user", "timestamp", "x", "y", "z"},
            "step_trainer": {"sensorReadingTime", "serialNumber", "distanceFromObject"}}


def record(source, **changes):
    r = dict(BASE_RECORD[source])
    r.update(changes)
    return r


def with_raw(source, field, raw_value, base=None):
    """A record line whose `field` is the literal JSON text `raw_value` (bytes)."""
    r = dict(base or BASE_RECORD[source])
    r[field] = "@@RAW@@"
    return dumps(r).replace(b'"@@RAW@@"', raw_value)


def accel_line(ts, user="ann@test.com", x=1.0):
    return dumps({"user": user, "timestamp": ts, "x": x, "y": 2.0, "z": 3.0})


def base_landing():
    """The valid base set: three customers (Ann and Bob consented), their readings."""
    customers = [
        record("customer"),
        record("customer", customerName="Bob Best", email="bob@test.com", serialNumber="serial-bob",
               shareWithResearchAsOfDate=2000),
        record("customer", customerName="Cat Cole", email="cat@test.com", serialNumber="serial-cat",
               shareWithResearchAsOfDate=None),
    ]
    accel, steps = [], []
    for user, serial in (("ann@test.com", "serial-ann"), ("bob@test.com", "serial-bob"),
                         ("cat@test.com", "serial-cat")):
        for ts in (1500, 2500, 3500):
            accel.append({"user": user, "timestamp": ts, "x": 0.5, "y": 1.5, "z": 2.5})
            steps.append({"sensorReadingTime": ts, "serialNumber": serial, "distanceFromObject": 200})
    return {"customer": customers, "accelerometer": accel, "step_trainer": steps}


# ---------------------------------------------------------------------------
# Files: a list of (line bytes, expected outcome) or raw bytes classified like the reader does
# ---------------------------------------------------------------------------
class HostileFile:
    def __init__(self, source, name, lines=None, data=None, newline=b"\n", final_newline=True, bom=False,
                 expect_rows=()):
        self.source, self.name = source, name
        # (zone, {column: value}): a row the zone must hold (checks values, not only counts).
        self.expect_rows = list(expect_rows)
        if data is None:
            parts = [line for line, _ in lines]
            data = newline.join(parts) + (newline if parts and final_newline else b"")
            if bom:
                data = b"\xef\xbb\xbf" + data
        self.data = data
        # Expected outcome per line start offset.
        given = None
        if lines is not None and newline == b"\n":
            assert all(b"\n" not in line for line, _ in lines), "a line with a newline inside: " + name
            given = [outcome for _, outcome in lines]
        self.lines = []  # (offset, bytes as the reader sees them, outcome)
        offset = 0
        pieces = data.split(b"\n")
        if data.endswith(b"\n"):
            pieces = pieces[:-1]
        if not data:
            pieces = []
        for i, piece in enumerate(pieces):
            seen = piece[3:] if offset == 0 and piece.startswith(b"\xef\xbb\xbf") else piece
            if seen.strip(b" \t\r") == b"":
                outcome = B
            elif given is not None:
                outcome = given[i]
            else:
                outcome = Q  # raw bytes: anything non-blank is expected to be rejected
            self.lines.append((offset, seen, outcome))
            offset += len(piece) + 1


class Case:
    def __init__(self, name, files):
        self.name, self.files = name, files


def lines_of(outcome, items):
    return [(item, outcome) for item in items]


def case_truncated():
    full = accel_line(1500)
    lines = lines_of(Q, [full[:n] for n in (1, 9, 20, 35, len(full) - 1)])
    lines += lines_of(Q, [b'{"user":"ann@te', b'{"user":"ann@test.com","timestamp":15',
                          b'{"user":"ann@test.com","timestamp":1500,"x":1,"y":2,"z":3,"note":"abc'])
    lines += [(accel_line(1600), A)]
    lines += [(full[:-7], Q)]  # last line, no final newline
    return Case("truncated JSON", [HostileFile("accelerometer", "h-truncated.json", lines, final_newline=False)])


def case_broken():
    good = accel_line(1500)
    body = good[1:-1]
    lines = lines_of(Q, [
        b'{"user" "ann@test.com"}', b"{,}", b"}{", b"{{}}", good + b"}", good + b" " + good,
        good[:-1] + b",}", b"{'user':'ann@test.com','timestamp':1500,'x':1,'y':2,'z':3}",
        b"{" + body + b',"extra":tru}', b"{" + body + b',"extra":[1,2}', b"{" + body + b',"extra":{"a" 1}}',
        b"{" + body + b',"extra":01}', b"{" + body + b',"extra":"\\q"}', b"{" + body + b',"extra":undefined}',
        with_raw("accelerometer", "timestamp", b"01500"), with_raw("accelerometer", "x", b"NaN"),
        with_raw("accelerometer", "x", b"Infinity"), with_raw("accelerometer", "x", b"-"),
        with_raw("accelerometer", "x", b"1."), with_raw("accelerometer", "x", b".5"),
        with_raw("accelerometer", "x", b"+1"), with_raw("accelerometer", "x", b"0x10"),
        b'{"user":"ann@test.com\\"}', b"{" + body + b",}", b"{" + body + b";}", b"{" + body + b'"a":1}',
        b"{" + body + b',"a":1 "b":2}', b"{" + body + b",:1}", b"{" + body + b",1:2}",
        b"<html><body>502 Bad Gateway</body></html>", b"user=ann@test.com&timestamp=1500",
    ])
    lines.insert(5, (dumps({"user": "ann@test.com", "timestamp": 1500, "x": 1, "y": 2, "z": 3,
                            "note": 'a "quoted" }{ value \\ with \n escapes'}), A))
    return Case("broken JSON", [HostileFile("accelerometer", "h-broken.json", lines)])


def case_not_object():
    lines = lines_of(Q, [b"[1,2,3]", b'"a string"', b"42", b"-1.5e3", b"null", b"true", b"false", b"[]",
                         b"[" + accel_line(1500) + b"]", b"{}", b'{"unknown":1}'])
    lines += [(b"   \t ", B), (b"", B)]
    return Case("JSON values that are not objects", [HostileFile("accelerometer", "h-not-object.json", lines)])


def case_wrong_types():
    files = []
    bad_for = {
        "str": [b"true", b"false", b"[]", b'["a"]', b"{}", b'{"a":"b"}', b"12", b"1.5"],
        "str_or_int": [b"true", b"[]", b"{}", b"1.5", b"1e300", b"18446744073709551616"],
        "int": [b"true", b"[]", b"{}", b'"abc"', b'"12.5"', b'"1e3"', b'" 12"', b'"+12"', b"1.5", b'"0x10"'],
        "float": [b'"1.5"', b"true", b"[]", b"{}", b'"NaN"'],
    }
    good_for = {
        "str": [b'"ok"'],
        "str_or_int": [b"8015550101", b"8015550101.0"],
        "int": [b"1655564376361", b"1655564376361.0", b'"1655564376361"', b"1.6e12"],
        "float": [b"1", b"-1.5e-3", b"123456789012345678901234567890"],
    }
    for source in SOURCES:
        lines = []
        for field, kind in FIELDS[source].items():
            lines += [(with_raw(source, field, v), Q) for v in bad_for[kind]]
            lines += [(with_raw(source, field, v), A) for v in good_for[kind]]
            null_outcome = Q if field in REQUIRED[source] else A
            lines += [(with_raw(source, field, b"null"), null_outcome),
                      (with_raw(source, field, b'""'), null_outcome if kind != "float" else Q)]
            missing = dict(BASE_RECORD[source])
            del missing[field]
            lines.append((dumps(missing), null_outcome))
        files.append(HostileFile(source, "h-wrong-types.json", lines))
    return Case("wrong types in every field", files)


def case_out_of_range():
    acc = lambda field, raw: with_raw("accelerometer", field, raw)  # noqa: E731
    lines = [
        (acc("timestamp", b"9223372036854775807"), A), (acc("timestamp", b"9223372036854775808"), Q),
        (acc("timestamp", b"-9223372036854775808"), A), (acc("timestamp", b"-9223372036854775809"), Q),
        (acc("timestamp", b"18446744073709551615"), Q), (acc("timestamp", b"18446744073709551616"), Q),
        (acc("timestamp", b"1" + b"0" * 40), Q), (acc("timestamp", b"1e19"), Q), (acc("timestamp", b"-1e19"), Q),
        (acc("timestamp", b"1e400"), Q), (acc("timestamp", b'"99999999999999999999"'), Q),
        (acc("timestamp", b'"-9223372036854775809"'), Q), (acc("timestamp", b"-0"), A),
        (acc("timestamp", b"1e3"), A), (acc("timestamp", b"9.223372036854775807e18"), Q),
        (acc("x", b"1e308"), A), (acc("x", b"-1.7976931348623157e308"), A), (acc("x", b"1e309"), EITHER),
        (acc("x", b"-1e400"), EITHER), (acc("x", b"1e-400"), EITHER), (acc("x", b"5e-324"), A),
        (acc("x", b"1" + b"0" * 400), EITHER), (acc("x", b"0." + b"0" * 400 + b"1"), EITHER),
        (acc("x", b"1" * 5000), EITHER),
        (with_raw("step_trainer", "distanceFromObject", b"9223372036854775808"), Q),
        (with_raw("step_trainer", "sensorReadingTime", b'"-9223372036854775809"'), Q),
        (with_raw("customer", "phone", b"99999999999999999999"), Q),
        (with_raw("customer", "registrationDate", b"-1e300"), Q),
    ]
    by_source = {}
    for line, outcome in lines:
        source = ("step_trainer" if line.startswith(b'{"sensorReadingTime"') else
                  "customer" if line.startswith(b'{"customerName"') else "accelerometer")
        by_source.setdefault(source, []).append((line, outcome))
    return Case("numbers out of range",
                [HostileFile(s, "h-out-of-range.json", ls) for s, ls in sorted(by_source.items())])


def case_non_utf8():
    acc = lambda raw: with_raw("accelerometer", "user", raw)  # noqa: E731
    lines = lines_of(Q, [
        acc(b'"\xff\xfe@test.com"'), acc(b'"ann\xc0\xaf@test.com"'), acc(b'"\x80ann@test.com"'),
        acc(b'"\xed\xa0\x80@test.com"'), acc(b'"ann\xe2\x82"'), acc(b'"Jos\xe9@test.com"'),
        acc(b'"\xf4\x90\x80\x80@test.com"'), acc(b'"ann\\ud800@test.com"'), acc(b'"ann\\udc00@test.com"'),
        accel_line(1500)[:-1] + b',"note":"\xff"}', accel_line(1500)[:-1] + b',"\xfe":1}',
        b"\xff\xfe{\x00\"\x00u\x00",
    ])
    lines += lines_of(EITHER, [accel_line(1500)[:-1] + b',"note":"\\ud800"}'])
    lines += lines_of(A, [acc('"Zoë.Nguyễn@test.com"'.encode("utf-8")), acc(b'"\\u00e9\\ud83d\\ude00@test.com"')])
    files = [HostileFile("accelerometer", "h-non-utf8.json", lines)]
    # A customer file in Latin-1 (a classic export mistake) and one in UTF-16 with its BOM.
    latin1 = [(dumps(record("customer", customerName="Jos\u00e9 M\u00fcller")).replace(
        "Jos\u00e9 M\u00fcller".encode("utf-8"), "Jos\u00e9 M\u00fcller".encode("latin-1")), Q)]
    files.append(HostileFile("customer", "h-latin1.json", latin1))
    utf16 = ("\n".join(json.dumps(record("customer", email="u%d@test.com" % i)) for i in range(3)) + "\n")
    files.append(HostileFile("customer", "h-utf16.json", data=utf16.encode("utf-16")))
    return Case("non-UTF-8 bytes", files)


def case_garbage():
    rng = random.Random(20240601)
    data = bytes(rng.getrandbits(8) for _ in range(64 * 1024))
    printable = bytes(rng.choice(b"{}[]:,\"\\ abcdefxyz0123456789.-+eE\t") for _ in range(40 * 1024))
    return Case("binary garbage", [HostileFile("accelerometer", "h-garbage.bin.json", data=data),
                                   HostileFile("step_trainer", "h-garbage-text.json",
                                               data=printable.replace(b"\n", b"") + b"\n" + printable)])


def case_nul():
    good = accel_line(1500)
    lines = lines_of(Q, [
        with_raw("accelerometer", "user", b'"ann\x00@test.com"'),
        with_raw("accelerometer", "user", b'"ann\\u0000@test.com"'),
        with_raw("customer", "customerName", b'"Ann\\u0000Able"', base=ACCEL),  # unknown key for accel: see below
        b"\x00\x00\x00\x00", b"\x00" + good, good + b"\x00", good[:10] + b"\x00" + good[10:],
    ])
    # customerName is an unknown key for the accelerometer: an escaped NUL there is ignored.
    lines[2] = (lines[2][0], A)
    lines += [(good[:-1] + b',"note":"a\x00b"}', EITHER)]
    customer_lines = [(with_raw("customer", "email", b'"ann\\u0000@test.com"'), Q),
                      (with_raw("customer", "customerName", b'"Ann\\u0000"'), Q)]
    return Case("NUL bytes", [HostileFile("accelerometer", "h-nul.json", lines),
                              HostileFile("customer", "h-nul.json", customer_lines)])


def case_big_line():
    blob = b"a" * (6 * MB)
    lines = [
        (accel_line(1600)[:-1] + b',"blob":"' + blob + b'"}', A),
        (b"x" * (5 * MB), Q),
        (accel_line(1700)[:-1] + b',"blob":"' + blob + b'","x":"not a number"}', Q),
        (b" " * (3 * MB) + accel_line(1800) + b" " * MB, A),
        (b"[" * (2 * MB), Q),
        (accel_line(1900), A),
    ]
    return Case("a single line of several MB", [HostileFile("accelerometer", "h-big-line.json", lines)])


def case_long_strings():
    long_name = "N" * (3 * MB)
    lines = [(dumps(record("customer", customerName=long_name, email="long@test.com", serialNumber="serial-long",
                           shareWithResearchAsOfDate=1000)), A),
             (dumps(record("customer", phone="5" * (3 * MB), email="phone@test.com", serialNumber="serial-phone",
                           shareWithResearchAsOfDate=None)), A)]
    accel = [(accel_line(2000, user="long@test.com"), A),
             (accel_line(2000, user="u" * (3 * MB) + "@test.com"), A),
             (dumps({"k" * (3 * MB): 1, "user": "ann@test.com", "timestamp": 2100, "x": 1, "y": 2, "z": 3}), A),
             (dumps({"user": "ann@test.com", "timestamp": 2200, "x": 1, "y": 2, "z": 3, "note": "\u00e9" * MB}), A)]
    steps = [(dumps(record("step_trainer", sensorReadingTime=2000, serialNumber="serial-long")), A),
             (dumps(record("step_trainer", serialNumber="s" * (3 * MB))), A)]
    return Case("very long strings", [HostileFile("customer", "h-long.json", lines),
                                      HostileFile("accelerometer", "h-long.json", accel),
                                      HostileFile("step_trainer", "h-long.json", steps)])


def case_duplicate_keys():
    good = accel_line(1500)
    lines = [
        (b'{"user":"ann@test.com","user":"bob@test.com","timestamp":1500,"x":1,"y":2,"z":3}', Q),
        (b'{"user":"ann@test.com","timestamp":1500,"timeStamp":1500,"x":1,"y":2,"z":3}', Q),
        (b'{"user":"ann@test.com","timeStamp":1500,"timeStamp":1600,"x":1,"y":2,"z":3}', Q),
        (b'{"user":"ann@test.com","timestamp":1500,"x":null,"x":1,"y":2,"z":3}', Q),
        (good[:-1] + b',"note":1,"note":2,"note":{"a":1,"a":2}}', A),
        (b'{"user":"ann@test.com","timeStamp":1500,"x":1,"y":2,"z":3}', A),
    ]
    return Case("duplicate keys", [HostileFile("accelerometer", "h-duplicate-keys.json", lines)])


def case_deep_nesting():
    good = accel_line(1500)[:-1]

    def nested(depth, kind):
        return (b"[" * depth + b"1" + b"]" * depth) if kind == "array" else (b'{"a":' * depth + b"1" + b"}" * depth)

    lines = [
        (good + b',"deep":' + nested(50, "array") + b"}", A),
        (good + b',"deep":' + nested(50, "object") + b"}", A),
        (good + b',"deep":' + nested(5000, "array") + b"}", Q),
        (good + b',"deep":' + nested(5000, "object") + b"}", Q),
        (good + b',"deep":' + nested(200000, "array") + b"}", Q),
        (good + b',"deep":' + b"[" * 100000 + b"}", Q),
        (nested(100000, "array"), Q),
        (nested(100000, "object"), Q),
        (with_raw("accelerometer", "x", nested(3, "array")), Q),
        (with_raw("accelerometer", "user", nested(3000, "object")), Q),
    ]
    return Case("deeply nested values", [HostileFile("accelerometer", "h-deep.json", lines)])


def case_crlf_bom():
    records = [accel_line(ts) for ts in (1510, 1520, 1530)]
    files = [
        HostileFile("accelerometer", "h-crlf-bom.json",
                    data=b"\xef\xbb\xbf" + b"\r\n".join(records) + b"\r\n\r\n" + b"\xef\xbb\xbf" + records[0] +
                    b"\r\n" + records[1]),
        HostileFile("accelerometer", "h-cr-only.json", data=b"\r".join(records) + b"\r"),
        HostileFile("accelerometer", "h-bom-only.json", data=b"\xef\xbb\xbf"),
        HostileFile("accelerometer", "h-odd-space.json",
                    data=b"\x0b\n\x0c\n\xc2\xa0\n" + records[2] + b"\x0b\n"),
        HostileFile("customer", "h-crlf-bom.json",
                    data=b"\xef\xbb\xbf" + dumps(record("customer", email="crlf@test.com")) + b"\r\n"),
    ]
    # What the reader sees: the BOM at offset 0 is removed, a '\r' before '\n' belongs to the line and
    # is trimmed by the parser. A BOM anywhere else is not JSON; CR-only line ends make one line.
    crlf = files[0]
    crlf.lines = [(o, s, A if i < 3 else (B if i == 3 else (Q if i == 4 else A)))
                  for i, (o, s, _) in enumerate(crlf.lines)]
    files[2].lines = [(o, s, B) for (o, s, _) in files[2].lines]
    odd = files[3]
    odd.lines = [(o, s, A if s.startswith(b"{") and not s.endswith(b"\x0b") else Q) for (o, s, _) in odd.lines]
    files[4].lines = [(o, s, A) for (o, s, _) in files[4].lines]
    return Case("CRLF and a UTF-8 BOM", files)


def case_empty_files():
    return Case("empty files", [
        HostileFile("customer", "h-empty.json", data=b""),
        HostileFile("accelerometer", "h-empty.json", data=b""),
        HostileFile("step_trainer", "h-empty.json", data=b""),
        HostileFile("step_trainer", "h-newlines.json", data=b"\n\n\n\r\n \n"),
        HostileFile("customer", "h-one-newline.json", data=b"\n"),
    ])


def case_precise_numbers():
    """Integral numbers written with many digits must keep their value (or be quarantined), never
    turn into another number. Ann consented at 1000, so each reading must reach accelerometer_trusted."""
    acc = lambda ts, x: accel_line(0, x=x).replace(b'"timestamp":0', b'"timestamp":' + ts)  # noqa: E731
    texts = [b"1655564376361.000000", b"1655564376361.0000000", b"1.655564376361000000e12",
             b"1655564376361.00000000000000000000", b"165556437636100000000e-8", b'"1655564376361"']
    lines, expect = [], []
    for i, text in enumerate(texts):
        x = 100.25 + i
        lines.append((acc(text, x), A))
        expect.append(("accelerometer_trusted", {"x": x, "timestamp": 1655564376361}))
    customer = with_raw("customer", "phone", b"8015550199.000000000",
                        base=record("customer", email="digits@test.com", serialNumber="serial-digits"))
    customer = customer.replace(b'"registrationDate":1000', b'"registrationDate":1655564376361.000000')
    return Case("integral numbers with many digits", [
        HostileFile("accelerometer", "h-precise.json", lines, expect_rows=expect),
        HostileFile("customer", "h-precise.json", [(customer, A)], expect_rows=[
            ("customer_trusted", {"email": "digits@test.com", "phone": "8015550199",
                                  "registrationDate": 1655564376361})])])


LINE_CASES = {
    "precise_numbers": case_precise_numbers,
    "truncated": case_truncated, "broken": case_broken, "not_object": case_not_object,
    "wrong_types": case_wrong_types, "out_of_range": case_out_of_range, "non_utf8": case_non_utf8,
    "garbage": case_garbage, "nul": case_nul, "big_line": case_big_line, "long_strings": case_long_strings,
    "duplicate_keys": case_duplicate_keys, "deep_nesting": case_deep_nesting, "crlf_bom": case_crlf_bom,
    "empty_files": case_empty_files,
}


# ---------------------------------------------------------------------------
# Running and checking
# ---------------------------------------------------------------------------
class Result:
    def __init__(self, cmd, code, stdout, stderr, seconds, timed_out):
        self.cmd, self.code, self.stdout, self.stderr = cmd, code, stdout, stderr
        self.seconds, self.timed_out = seconds, timed_out

    def describe(self):
        return ("$ %s\nexit %s after %.1f s%s\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s"
                % (" ".join(self.cmd), self.code, self.seconds, " (TIMED OUT)" if self.timed_out else "",
                   self.stdout[-1500:], self.stderr[-2500:]))


class Runner:
    def __init__(self, args):
        self.mpiexec, self.mpilake, self.timeout = args.mpiexec, os.path.abspath(args.mpilake), args.timeout

    def run(self, ranks, landing, out, prefix=(), env_extra=None):
        cmd = list(prefix) + [self.mpiexec, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe",
                              self.mpilake, "run", "--landing", landing, "--out", out]
        env = mpi_env()
        env.update(env_extra or {})
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)  # the whole session: mpiexec and its ranks
            stdout, stderr = proc.communicate()
            timed_out = True
        return Result(cmd, proc.returncode, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"),
                      time.monotonic() - start, timed_out)


def write_landing(root, cases, base=True, skip_sources=()):
    rows = base_landing() if base else {s: [] for s in SOURCES}
    for source in SOURCES:
        if source in skip_sources:
            continue
        folder = os.path.join(root, source)
        os.makedirs(folder, exist_ok=True)
        if rows[source]:
            with open(os.path.join(folder, "base-1.json"), "wb") as f:
                f.write(b"\n".join(dumps(r) for r in rows[source]) + b"\n")
    files = []
    for case in cases:
        for hostile in case.files:
            path = os.path.join(root, hostile.source, hostile.name)
            with open(path, "wb") as f:
                f.write(hostile.data)
            files.append((case, hostile, path))
    expected = {s: {"lines": 0, "accepted": 0, "quarantined": 0, "blank": 0, "either": 0} for s in SOURCES}
    for source in SOURCES:
        expected[source]["lines"] = expected[source]["accepted"] = len(rows[source]) if source not in skip_sources else 0
    for _, hostile, _ in files:
        e = expected[hostile.source]
        for _, _, outcome in hostile.lines:
            if outcome == B:
                e["blank"] += 1
                continue
            e["lines"] += 1
            e[{A: "accepted", Q: "quarantined", EITHER: "either"}[outcome]] += 1
    return files, expected


def crash_signs(result):
    text = result.stdout + result.stderr
    signs = [s for s in ("Segmentation fault", "core dumped", "terminate called", "Aborted", "signal",
                         "AddressSanitizer", "std::bad_alloc") if s in text]
    if result.code is not None and result.code < 0:
        signs.append("killed by signal %d" % -result.code)
    return signs


SUMMARY_ROW = re.compile(r"^(customer|accelerometer|step_trainer)\s+(\d+)\s+([\d,]+)\s+([\d,]+)\s+([\d,]+)\s+"
                         r"([\d,]+)\s+([\d,]+)\s*$", re.M)


def check_finished(label, result, landing, out, files, expected):
    """Exit 0, counts per source, quarantine records exactly the expected lines. Returns problems."""
    problems = []
    if result.timed_out:
        return ["hang: no exit within the timeout"]
    signs = crash_signs(result)
    if signs:
        problems.append("crash signs: " + ", ".join(signs))
    if result.code != 0:
        return problems + ["exit code %s (expected 0)" % result.code]
    try:
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
    except (OSError, ValueError) as e:
        return problems + ["summary.json unreadable: %s" % e]
    missing = [z for z in ZONES if not os.path.isfile(os.path.join(out, z + ".h5"))]
    if missing:
        problems.append("zones not written: " + ", ".join(missing))
    printed = {m.group(1): [int(v.replace(",", "")) for v in m.groups()[1:]] for m in SUMMARY_ROW.finditer(result.stdout)}
    either_accepted = {}
    for source in SOURCES:
        s = summary.get("sources", {}).get(source)
        if s is None:
            problems.append("summary.json lacks source %s" % source)
            continue
        e = expected[source]
        if s["lines"] != s["accepted"] + s["quarantined"]:
            problems.append("%s: lines %d != accepted %d + quarantined %d"
                            % (source, s["lines"], s["accepted"], s["quarantined"]))
        if s["lines"] != e["lines"] or s["blank_lines"] != e["blank"]:
            problems.append("%s: %d lines / %d blank read, expected %d / %d"
                            % (source, s["lines"], s["blank_lines"], e["lines"], e["blank"]))
        low_a, high_a = e["accepted"], e["accepted"] + e["either"]
        if not low_a <= s["accepted"] <= high_a:
            problems.append("%s: %d accepted, expected %s" % (source, s["accepted"],
                                                             low_a if low_a == high_a else "%d..%d" % (low_a, high_a)))
        either_accepted[source] = s["accepted"] - low_a
        row = printed.get(source)
        if row is None:
            problems.append("printed summary lacks the %s row" % source)
        elif row[2:] != [s["lines"], s["accepted"], s["quarantined"], s["blank_lines"]]:
            problems.append("printed summary for %s %s differs from summary.json" % (source, row))
    # Quarantine records.
    records = []
    try:
        with open(os.path.join(out, "quarantine.jsonl"), "rb") as f:
            for n, line in enumerate(f):
                try:
                    records.append(json.loads(line))
                except ValueError as e:
                    problems.append("quarantine.jsonl line %d is not JSON (%s): %r" % (n + 1, e, line[:200]))
    except OSError as e:
        problems.append("quarantine.jsonl unreadable: %s" % e)
    total_q = sum(summary.get("sources", {}).get(s, {}).get("quarantined", 0) for s in SOURCES)
    if len(records) != total_q:
        problems.append("quarantine.jsonl has %d records, summary says %d quarantined" % (len(records), total_q))
    by_path = {os.path.realpath(path): hostile for _, hostile, path in files}
    base_paths = {os.path.realpath(os.path.join(landing, s, "base-1.json")) for s in SOURCES}
    seen = set()
    for r in records:
        where = "quarantine record %s" % json.dumps(r)[:300]
        if not all(k in r for k in ("source", "file", "byte_offset", "reason", "raw")):
            problems.append(where + ": missing fields")
            continue
        if not r["reason"] or not r["file"] or not isinstance(r["byte_offset"], int):
            problems.append(where + ": empty reason / file or a non-integer byte_offset")
            continue
        path = os.path.realpath(r["file"])
        if path in base_paths:
            problems.append(where + ": a line of the valid base set was quarantined")
            continue
        hostile = by_path.get(path)
        if hostile is None:
            problems.append(where + ": names a file that is not in the landing set")
            continue
        line = next((l for l in hostile.lines if l[0] == r["byte_offset"]), None)
        if line is None:
            problems.append(where + ": byte_offset is not the start of a line of %s" % hostile.name)
            continue
        seen.add((path, r["byte_offset"]))
        if line[2] not in (Q, EITHER):
            problems.append(where + ": this line should have been %s" % line[2])
        raw = line[1][:256].replace(b"\x00", b"?")
        try:
            expected_raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            expected_raw = raw.decode("latin-1")  # invalid UTF-8 is written byte by byte as \u00XX
        if r["raw"] != expected_raw:
            problems.append(where + ": raw is not the first 256 bytes of the line")
        if r["source"] != hostile.source:
            problems.append(where + ": source should be %s" % hostile.source)
    for _, hostile, path in files:
        for offset, text, outcome in hostile.lines:
            if outcome == Q and (os.path.realpath(path), offset) not in seen:
                problems.append("%s/%s: line at byte %d (%r...) was not quarantined"
                                % (hostile.source, hostile.name, offset, text[:120]))
    for _, hostile, _ in files:
        for zone, wanted in hostile.expect_rows:
            if not zone_has_row(os.path.join(out, zone + ".h5"), wanted):
                problems.append("%s/%s: %s has no row with %s (a value was changed or dropped)"
                                % (hostile.source, hostile.name, zone, wanted))
    qh5 = os.path.join(out, "quarantine.h5")
    if os.path.isfile(qh5):
        try:
            import h5py
            with h5py.File(qh5, "r") as f:
                if int(f.attrs["rows"]) != len(records):
                    problems.append("quarantine.h5 has %d rows, quarantine.jsonl %d" % (int(f.attrs["rows"]), len(records)))
        except Exception as e:  # noqa: BLE001
            problems.append("quarantine.h5 unreadable: %s" % e)
    else:
        problems.append("quarantine.h5 not written")
    return problems


def zone_has_row(path, wanted):
    import h5py
    try:
        with h5py.File(path, "r") as f:
            columns = {}
            for name in wanted:
                values = f[name][()]
                if values.dtype.kind == "S":
                    values = [bytes(v).rstrip(b"\x00").decode("utf-8", "replace") for v in values]
                columns[name] = list(values)
    except (OSError, KeyError):
        return False
    n = min((len(v) for v in columns.values()), default=0)
    return any(all(columns[k][i] == v for k, v in wanted.items()) for i in range(n))


def check_stopped(label, result, names):
    """Non-zero exit, exactly one `mpilake: error` line naming one of `names`. Returns problems."""
    if result.timed_out:
        return ["hang: no exit within the timeout"]
    problems = []
    signs = crash_signs(result)
    if signs:
        problems.append("crash signs: " + ", ".join(signs))
    errors = [l for l in (result.stdout + "\n" + result.stderr).splitlines() if l.startswith("mpilake: error")]
    if result.code == 0:
        problems.append("exit code 0, expected the run to stop")
    if len(errors) != 1:
        problems.append("%d `mpilake: error` lines, expected exactly 1" % len(errors))
    if errors and not any(n in errors[0] for n in names):
        problems.append("the error line does not name %s" % " or ".join(repr(n) for n in names))
    if "MPI_ABORT" in result.stderr and not errors:
        problems.append("MPI_ABORT without a clear error line")
    return problems


def report(label, problems, result):
    if problems:
        fail("%s:\n  - %s\n%s" % (label, "\n  - ".join(problems), result.describe()))
        return False
    print("ok   %s (%.1f s)" % (label, result.seconds), flush=True)
    return True


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------
def run_line_cases(runner, tmp, names, ranks, keep):
    cases = [LINE_CASES[n]() for n in names]
    work = tempfile.mkdtemp(prefix="lines-np%d-" % ranks, dir=tmp)
    landing, out = os.path.join(work, "landing"), os.path.join(work, "out")
    files, expected = write_landing(landing, cases)
    result = runner.run(ranks, landing, out)
    problems = check_finished("line cases", result, landing, out, files, expected)
    if not problems:
        print("ok   line-level cases together %s (%.1f s): %s"
              % (at_ranks(ranks), result.seconds, ", ".join(c.name for c in cases)), flush=True)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        return
    if len(cases) == 1:
        report("%s %s" % (cases[0].name, at_ranks(ranks)), problems, result)
        return
    print("line-level cases together failed %s; re-running each alone" % at_ranks(ranks), flush=True)
    for name in names:
        case = LINE_CASES[name]()
        work = tempfile.mkdtemp(prefix="%s-np%d-" % (name, ranks), dir=tmp)
        landing, out = os.path.join(work, "landing"), os.path.join(work, "out")
        files, expected = write_landing(landing, [case])
        result = runner.run(ranks, landing, out)
        report("%s %s" % (case.name, at_ranks(ranks)), check_finished(case.name, result, landing, out, files, expected),
               result)


def new_landing(tmp, label, ranks, **kwargs):
    work = tempfile.mkdtemp(prefix="%s-np%d-" % (label, ranks), dir=tmp)
    landing, out = os.path.join(work, "landing"), os.path.join(work, "out")
    files, expected = write_landing(landing, [], **kwargs)
    return work, landing, out, files, expected


def case_empty_source_folder(runner, tmp, ranks):
    work, landing, out, files, expected = new_landing(tmp, "empty-folder", ranks)
    os.remove(os.path.join(landing, "step_trainer", "base-1.json"))
    expected["step_trainer"]["lines"] = expected["step_trainer"]["accepted"] = 0
    result = runner.run(ranks, landing, out)
    problems = check_finished("empty source folder", result, landing, out, files, expected)
    report("empty source folder (step_trainer/) %s" % at_ranks(ranks), problems, result)

    work, landing, out, files, expected = new_landing(tmp, "all-empty", ranks, base=False)
    result = runner.run(ranks, landing, out)
    problems = check_finished("all source folders empty", result, landing, out, files, expected)
    report("all source folders empty %s" % at_ranks(ranks), problems, result)


def case_missing_source_folder(runner, tmp, ranks):
    work, landing, out, _, _ = new_landing(tmp, "missing-folder", ranks, skip_sources=("accelerometer",))
    result = runner.run(ranks, landing, out)
    problems = check_stopped("missing source folder", result, ["accelerometer"])
    if os.path.exists(os.path.join(out, "customer_trusted.h5")):
        problems.append("zones were written although the run stopped")
    report("missing source folder (accelerometer/) %s" % at_ranks(ranks), problems, result)


def can_drop_privileges():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def case_unreadable_file(runner, tmp, ranks):
    if not can_drop_privileges():
        print("skip unreadable file (EACCES): needs root and setpriv to run as nobody", flush=True)
        return
    work, landing, out, _, _ = new_landing(tmp, "unreadable", ranks)
    # nobody must reach the landing and write the output; only the one file is unreadable to it.
    for d in (tmp, work):
        os.chmod(d, 0o777)
    for dirpath, dirnames, filenames in os.walk(landing):
        os.chmod(dirpath, 0o755)
        for n in filenames:
            os.chmod(os.path.join(dirpath, n), 0o644)
    # Big enough that at several ranks more than one rank owns a part of it: still one error line.
    path = os.path.join(landing, "accelerometer", "locked.json")
    with open(path, "wb") as f:
        f.write((accel_line(1500) + b"\n") * (3 * MB // 64))
    os.chmod(path, 0)
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    result = runner.run(ranks, landing, out, prefix=prefix, env_extra={"HOME": work, "TMPDIR": work})
    if result.code != 0 and "locked.json" not in result.stderr and "mpilake: error" not in result.stderr:
        print("skip unreadable file (EACCES): mpiexec does not start as nobody here:\n" + result.describe(), flush=True)
        return
    report("unreadable file (permission denied, run as nobody) %s" % at_ranks(ranks),
           check_stopped("unreadable", result, ["locked.json"]), result)


def case_not_a_regular_file(runner, tmp, ranks):
    kinds = {
        "dangling symlink": lambda p: os.symlink(os.path.join(os.path.dirname(p), "no-such-target.json"), p),
        "folder named like a file": lambda p: (os.mkdir(p), open(os.path.join(p, "part-0.json"), "wb").write(
            accel_line(1500) + b"\n")),
        "FIFO named like a file": lambda p: os.mkfifo(p),
    }
    for kind, make in kinds.items():
        work, landing, out, _, _ = new_landing(tmp, kind.split()[0], ranks)
        path = os.path.join(landing, "accelerometer", "accelerometer-2.json")
        make(path)
        result = runner.run(ranks, landing, out)
        report("%s in accelerometer/ %s" % (kind, at_ranks(ranks)),
               check_stopped(kind, result, ["accelerometer-2.json"]), result)


def big_accelerometer_file(path, megabytes):
    template = b'{"user":"ann@test.com","timestamp":%d,"x":0.125,"y":-1.5,"z":9.75,"note":"padding padding"}\n'
    per_line = len(template % 1000000)
    count = megabytes * MB // per_line
    with open(path, "wb") as f:
        chunk = 20000
        for start in range(0, count, chunk):
            f.write(b"".join(template % (1000000 + i) for i in range(start, min(count, start + chunk))))
    return count


def case_changing_file(runner, tmp, ranks, megabytes):
    for mode in ("truncate", "append"):
        work, landing, out, files, expected = new_landing(tmp, "changing-" + mode, ranks)
        path = os.path.join(landing, "accelerometer", "accelerometer-big.json")
        count = big_accelerometer_file(path, megabytes)
        size = os.path.getsize(path)
        expected["accelerometer"]["lines"] += count
        expected["accelerometer"]["accepted"] += count
        done = threading.Event()

        def writer():
            # The output folder is created right after discovery has sized the files: act then.
            deadline = time.monotonic() + runner.timeout
            while not os.path.isdir(out) and time.monotonic() < deadline and not done.is_set():
                time.sleep(0.002)
            if mode == "truncate":
                os.truncate(path, size // 3)
            else:
                with open(path, "ab") as f:
                    for _ in range(8):
                        f.write(b'{"user":"ann@test.com","timestamp":1,"x":0,"y":0,"z":0}\n' * 20000)
                        f.flush()

        thread = threading.Thread(target=writer)
        thread.start()
        result = runner.run(ranks, landing, out)
        done.set()
        thread.join()
        label = "file %s during the run (%d MB) %s" % ("truncated" if mode == "truncate" else "appended to",
                                                         megabytes, at_ranks(ranks))
        if mode == "append" or result.code == 0:
            problems = check_finished(label, result, landing, out, files, expected)
        else:
            problems = check_stopped(label, result, ["accelerometer-big.json"])
        if mode == "truncate":
            label += " (%s)" % ("run finished before the truncation mattered" if result.code == 0
                                else "stopped with an error")
        report(label, problems, result)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", default="1,3")
    parser.add_argument("--cases", default="all",
                        help="comma list of: lines (or single line-case names), empty_folder, missing_folder, "
                             "unreadable, not_regular, changing")
    parser.add_argument("--timeout", type=float, default=60, help="seconds before a run counts as a hang")
    parser.add_argument("--big-mb", type=int, default=24, help="size of the file changed during the run")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    ranks_list = [int(r) for r in args.ranks.split(",") if r.strip()]
    wanted = set(args.cases.split(","))
    everything = "all" in wanted
    line_names = [n for n in LINE_CASES if everything or "lines" in wanted or n in wanted]
    runner = Runner(args)
    tmp = tempfile.mkdtemp(prefix="mpilake-hostile-")
    started = time.monotonic()
    try:
        for ranks in ranks_list:
            if line_names:
                run_line_cases(runner, tmp, line_names, ranks, args.keep)
            if everything or "empty_folder" in wanted:
                case_empty_source_folder(runner, tmp, ranks)
            if everything or "missing_folder" in wanted:
                case_missing_source_folder(runner, tmp, ranks)
            if everything or "unreadable" in wanted:
                case_unreadable_file(runner, tmp, ranks)
            if everything or "not_regular" in wanted:
                case_not_a_regular_file(runner, tmp, ranks)
            if everything or "changing" in wanted:
                case_changing_file(runner, tmp, ranks, args.big_mb)
    finally:
        if args.keep or FAILURES:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("test_hostile: %.1f s" % (time.monotonic() - started))
    if FAILURES:
        print("test_hostile: %d failures" % len(FAILURES))
        return 1
    print("test_hostile: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
