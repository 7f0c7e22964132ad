#!/usr/bin/python3
"""Check the DuckDB Deloton peer (deloton.mjs) against mpilake or the Python reference.

    deloton_check.py counts DUCKDB_OUTPUT MPILAKE_OUTPUT
        Zone row counts: the `RESULT duckdb_zone_<zone>_rows=` lines of deloton.mjs against the
        `RESULT zone_<zone>_rows=` lines of `mpilake run --pipeline deloton --results` (files holding
        each program's output, '-' for stdin). Exit 0 when all five zones agree, 1 otherwise.

    deloton_check.py values DUMP_DIR (--reference LANDING | --mpilake OUT) [--rel 1e-9]
        Every value of every zone: DUMP_DIR/<zone>.jsonl as written by `deloton.mjs --dump DUMP_DIR`
        against the single-process reference (tests/e2e/deloton_reference.py run on LANDING) or
        against mpilake's OUT/<zone>.h5 (needs h5py). Integers and strings must be equal; floats
        equal within a relative tolerance (DuckDB sums in parallel, so the last bits of sums and
        averages may differ); a Parquet NULL stands for INT64_MIN / NaN. Prints the largest
        relative difference seen per float column. Exit 0 equal, 1 different.
"""
import json
import math
import os
import re
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))

ZONES = ("riders", "rides", "readings", "heart_rate_alerts", "daily")
INT64_MIN = -(2 ** 63)
SHOW = 5


def read_results(name):
    text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8", errors="replace").read()
    return dict(re.findall(r"^RESULT (\S+?)=(\S*)\s*$", text, re.M))


def counts(duckdb_output, mpilake_output):
    duck, mp = read_results(duckdb_output), read_results(mpilake_output)
    ok = True
    print("%-20s %14s %14s" % ("zone", "mpilake", "duckdb"))
    for zone in ZONES:
        a, b = mp.get("zone_%s_rows" % zone), duck.get("duckdb_zone_%s_rows" % zone)
        same = a is not None and a == b
        ok &= same
        print("%-20s %14s %14s%s" % (zone, a, b, "" if same else "   MISMATCH"))
    print("zone row counts %s" % ("agree" if ok else "DIFFER"))
    return 0 if ok else 1


def load_dump(folder):
    zones = {}
    for zone in ZONES:
        with open(os.path.join(folder, zone + ".jsonl"), encoding="utf-8") as f:
            zones[zone] = [json.loads(line) for line in f if line.strip()]
    return zones


def expected_from_reference(landing):
    import deloton_reference as ref
    result = ref.compute(landing)
    return {zone: [dict(zip([c for c, _ in ref.ZONE_COLUMNS[zone]], row)) for row in result.zones[zone]]
            for zone in ZONES}, ref.ZONE_COLUMNS


def expected_from_mpilake(out):
    import h5py
    import deloton_reference as ref
    zones = {}
    for zone in ZONES:
        with h5py.File(os.path.join(out, zone + ".h5"), "r") as f:
            columns = {}
            for name, kind in ref.ZONE_COLUMNS[zone]:
                data = f[name][()].tolist()
                if kind == "str":
                    data = [v.rstrip(b"\x00").decode("utf-8") for v in data]
                columns[name] = data
            n = len(next(iter(columns.values()))) if columns else 0
            zones[zone] = [{name: columns[name][i] for name in columns} for i in range(n)]
    return zones, ref.ZONE_COLUMNS


def values(dump, expected, column_kinds, rel):
    got = load_dump(dump)
    problems = 0
    for zone in ZONES:
        rows_got, rows_exp = got[zone], expected[zone]
        worst = {}
        zone_problems = []
        if len(rows_got) != len(rows_exp):
            zone_problems.append("rows: expected %d, got %d" % (len(rows_exp), len(rows_got)))
        for i, (g, e) in enumerate(zip(rows_got, rows_exp)):
            for name, kind in column_kinds[zone]:
                a, b = g.get(name), e[name]
                if kind == "int":
                    same = (a is None and b == INT64_MIN) or a == b
                elif kind == "str":
                    same = a == b
                else:
                    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
                        same = (a is None) and (b is None or math.isnan(b))
                    else:
                        d = abs(a - b) / max(abs(b), 1e-300) if a != b else 0.0
                        worst[name] = max(worst.get(name, 0.0), d)
                        same = d <= rel
                if not same:
                    zone_problems.append("row %d %s: expected %r, got %r" % (i, name, b, a))
        problems += len(zone_problems)
        status = "equal" if not zone_problems else "%d differences" % len(zone_problems)
        floats = ", ".join("%s %.1e" % kv for kv in sorted(worst.items()) if kv[1] > 0)
        print("%-18s %8d rows  %s%s" % (zone, len(rows_exp), status,
                                         ("  (largest relative float deviation: %s)" % floats) if floats else ""))
        for p in zone_problems[:SHOW]:
            print("    " + p)
    return 0 if problems == 0 else 1


def main(argv):
    if len(argv) >= 3 and argv[0] == "counts":
        return counts(argv[1], argv[2])
    if len(argv) >= 3 and argv[0] == "values":
        dump, rel = argv[1], 1e-9
        if "--rel" in argv:
            rel = float(argv[argv.index("--rel") + 1])
        if "--reference" in argv:
            expected, kinds = expected_from_reference(argv[argv.index("--reference") + 1])
        elif "--mpilake" in argv:
            expected, kinds = expected_from_mpilake(argv[argv.index("--mpilake") + 1])
        else:
            print(__doc__)
            return 2
        return values(dump, expected, kinds, rel)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
