#!/usr/bin/python3
"""`mpilake export` into a real PostgreSQL 15 started by this test (docs/export.md).

For a generated STEDI run and a generated Deloton run, exported at 1 and at 2 ranks, every table's row
count, a numeric column's sum, NULL counts and timestamp/date minima and maxima equal what this test
recomputes from the HDF5 zones with h5py; column types, primary keys and indexes are the documented
ones; the Deloton views agree with a recomputation of gender and age band; the BI role reads the views
and the non-personal columns and is refused email / address / first name. A rank killed in the middle
of its COPY (test hook MPILAKE_FAULT=export:1) leaves the previous tables intact and queryable with
the old counts, and a rerun succeeds and removes the leftover staging schema. A bad URL, a server that
is down, a failed login and a folder that is not a run each give one error line and a non-zero exit.

Exit 77 (skipped) when PostgreSQL 15 or psycopg2 is not installed or the test cannot run it (not root).
"""

import argparse
import datetime
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from e2e_harness import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"
INT64_MIN = np.iinfo(np.int64).min
FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message, flush=True)
    return condition



class Postgres:
    """A throw-away cluster in a temp dir, owned by user postgres, on 127.0.0.1:<free port>."""

    def __init__(self, base):
        self.data = os.path.join(base, "pg")
        self.port = free_port()
        self.started = False

    def start(self):
        os.makedirs(self.data)
        shutil.chown(self.data, "postgres", "postgres")
        os.chmod(self.data, 0o700)
        subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/initdb", "-D", self.data, "-A", "trust",
                        "-U", "postgres", "-E", "UTF8", "--locale=C"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        options = "-k %s -c listen_addresses=127.0.0.1 -p %d -c fsync=off" % (self.data, self.port)
        subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", self.data, "-o", options,
                        "-l", os.path.join(self.data, "log"), "-w", "-t", "30", "start"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
        self.started = True

    def stop(self):
        if self.started:
            subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", self.data, "-m", "immediate",
                            "-w", "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
            self.started = False

    def url(self, user="postgres", db="postgres"):
        return "postgresql://%s@127.0.0.1:%d/%s" % (user, self.port, db)


# ---------------------------------------------------------------------------
# What the test expects (its own copy of docs/export.md's tables)
# ---------------------------------------------------------------------------
def columns(spec):
    return [tuple(item.split(":")) for item in spec.split()]


TS, BIG, DBL, TXT, DATE = "timestamp with time zone", "bigint", "double precision", "text", "date"
T = {"ts": TS, "big": BIG, "dbl": DBL, "txt": TXT, "date": DATE}

QUARANTINE = "source:txt file:txt byte_offset:big reason:txt raw:txt"
CUSTOMER = ("customerName=customer_name:txt email:txt phone:txt birthDay=birth_day:txt "
            "serialNumber=serial_number:txt registrationDate=registration_date:tsms "
            "lastUpdateDate=last_update_date:tsms shareWithResearchAsOfDate=share_with_research_as_of_date:tsms "
            "shareWithPublicAsOfDate=share_with_public_as_of_date:tsms "
            "shareWithFriendsAsOfDate=share_with_friends_as_of_date:tsms")
SCHEMAS = {
    "stedi": {
        "customer_trusted": CUSTOMER,
        "accelerometer_trusted": "user=user_email:txt timestamp:tsms x:dbl y:dbl z:dbl",
        "customer_curated": CUSTOMER,
        "step_trainer_trusted": ("sensorReadingTime=sensor_reading_time:tsms serialNumber=serial_number:txt "
                                 "distanceFromObject=distance_from_object:big"),
        "machine_learning_curated": ("sensorReadingTime=sensor_reading_time:tsms serialNumber=serial_number:txt "
                                     "distanceFromObject=distance_from_object:big user=user_email:txt "
                                     "timestamp:tsms x:dbl y:dbl z:dbl"),
        "quarantine": QUARANTINE,
    },
    "deloton": {
        "riders": ("user_id:big title:txt first_name:txt last_name:txt gender:txt date_of_birth:date height_cm:big "
                   "weight_kg:big email:txt address_street:txt address_town:txt address_postcode:txt "
                   "account_created:date bike_serial:txt original_source:txt rides:big first_ride_start:ts "
                   "last_ride_start:ts"),
        "rides": ("ride_id:big stream:keep bike:txt user_id:big start_time:ts end_time:ts duration_s:dbl readings:big "
                  "heart_rate_min:big heart_rate_max:big heart_rate_avg:dbl rpm_avg:dbl resistance_avg:dbl "
                  "power_avg_w:dbl energy_kj:dbl alert:big"),
        "readings": "ride_id:big time:ts elapsed_s:dbl resistance:big heart_rate:big rpm:big power_w:dbl",
        "heart_rate_alerts": ("ride_id:big user_id:big bike:txt alert_time:ts kind:txt heart_rate:big hr_lower:big "
                              "hr_upper:big age:big gender:txt email:txt first_name:txt"),
        "daily": ("date:date rides:big riders:big duration_s:dbl energy_kj:dbl power_avg_w:dbl heart_rate_avg:dbl "
                  "alerts:big riders_male:big riders_female:big riders_other:big duration_s_male:dbl "
                  "duration_s_female:dbl duration_s_other:dbl riders_age_under_18:big riders_age_18_24:big "
                  "riders_age_25_34:big riders_age_35_44:big riders_age_45_54:big riders_age_55_64:big "
                  "riders_age_65_plus:big"),
        "quarantine": QUARANTINE,
    },
}
PRIMARY_KEYS = {"riders": ["user_id"], "rides": ["ride_id"], "readings": ["ride_id", "time"],
                "heart_rate_alerts": ["ride_id"], "daily": ["date"]}
INDEXED = {"rides": ["user_id", "start_time"], "heart_rate_alerts": ["user_id"], "readings": ["ride_id"],
           "accelerometer_trusted": ["user_email"], "step_trainer_trusted": ["serial_number"]}
DELOTON_VIEWS = ["rides_by_rider", "readings_by_rider", "riders_public", "alerts_public", "daily_by_gender",
                 "daily_by_age_band"]


def parse_spec(spec):
    """-> [(dataset, sql_name, kind)] with kind in big dbl txt keep date ts tsms."""
    out = []
    for item in spec.split():
        name, kind = item.rsplit(":", 1)
        dataset, _, sql = name.partition("=")
        out.append((dataset, sql or dataset, kind))
    return out


SQL_TYPE = {"big": BIG, "dbl": DBL, "txt": TXT, "keep": TXT, "date": DATE, "ts": TS, "tsms": TS}


# ---------------------------------------------------------------------------
# The expected figures, from the HDF5 zones
# ---------------------------------------------------------------------------
def zone_figures(path, spec):
    """Per SQL column: non-NULL count, sum (numbers), min/max (µs for times, text for dates)."""
    figures = {}
    with h5py.File(path, "r") as f:
        rows = None
        for dataset, sql, kind in spec:
            values = f[dataset][()]
            rows = len(values) if rows is None else min(rows, len(values))
            entry = {}
            if kind in ("big", "ts", "tsms"):
                null = f[dataset].attrs.get("null_value", INT64_MIN)
                kept = values[values != null].astype(np.int64)
                if kind == "tsms":
                    kept = kept * 1000
                entry["count"] = len(kept)
                if kind == "big":
                    entry["sum"] = int(sum(int(v) for v in kept))
                elif len(kept):
                    entry["min"], entry["max"] = int(kept.min()), int(kept.max())
            elif kind == "dbl":
                kept = values[~np.isnan(values)]
                entry["count"] = len(kept)
                entry["sum"] = float(np.sum(kept, dtype=np.float64))
            else:
                texts = [bytes(v).rstrip(b"\0").decode("utf-8", "replace") for v in values.tolist()]
                kept = texts if kind == "keep" else [t for t in texts if t]
                entry["count"] = len(kept)
                if kind == "date" and kept:
                    entry["min"], entry["max"] = min(kept), max(kept)
            figures[sql] = entry
    return rows, figures


def sql_figures(cursor, schema, table, spec):
    parts = ["count(*)"]
    for _, sql, kind in spec:
        q = '"%s"' % sql
        parts.append("count(%s)" % q)
        if kind in ("big", "dbl"):
            parts.append("sum(%s)" % q)
        elif kind in ("ts", "tsms"):
            parts.append("(extract(epoch FROM min(%s)) * 1000000)::bigint" % q)
            parts.append("(extract(epoch FROM max(%s)) * 1000000)::bigint" % q)
        elif kind == "date":
            parts.append("min(%s)::text" % q)
            parts.append("max(%s)::text" % q)
    cursor.execute("SELECT %s FROM %s.%s" % (", ".join(parts), schema, table))
    values = list(cursor.fetchone())
    rows = values.pop(0)
    figures = {}
    for _, sql, kind in spec:
        entry = {"count": values.pop(0)}
        if kind in ("big", "dbl"):
            s = values.pop(0)
            entry["sum"] = (int(s) if kind == "big" else float(s)) if s is not None else (0 if kind == "big" else 0.0)
        elif kind in ("ts", "tsms", "date"):
            lo, hi = values.pop(0), values.pop(0)
            if lo is not None:
                entry["min"], entry["max"] = lo, hi
        figures[sql] = entry
    return rows, figures


def compare_run(cursor, schema, pipeline, out, label):
    for table, spec_text in SCHEMAS[pipeline].items():
        spec = parse_spec(spec_text)
        path = os.path.join(out, table + ".h5")
        if not os.path.exists(path):
            check(table == "quarantine", "%s: %s missing in the run" % (label, path))
            continue
        rows, expected = zone_figures(path, spec)
        got_rows, got = sql_figures(cursor, schema, table, spec)
        check(rows > 0 or table == "quarantine", "%s: %s has rows in the run" % (label, table))
        check(got_rows == rows, "%s: %s.%s has %s rows, the zone %s" % (label, schema, table, got_rows, rows))
        for _, sql, kind in spec:
            e, g = expected[sql], got[sql]
            if kind == "dbl":
                ok = e["count"] == g["count"] and math.isclose(e["sum"], g["sum"], rel_tol=1e-9, abs_tol=1e-6)
            else:
                ok = e == g
            check(ok, "%s: %s.%s: expected %s, got %s" % (label, table, sql, e, g))


def check_types(cursor, schema, pipeline, label):
    cursor.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                   "WHERE table_schema = %s ORDER BY table_name, ordinal_position", (schema,))
    got = {}
    for table, column, data_type in cursor.fetchall():
        got.setdefault(table, []).append((column, data_type))
    for table, spec_text in SCHEMAS[pipeline].items():
        expected = [(sql, SQL_TYPE[kind]) for _, sql, kind in parse_spec(spec_text)]
        check(got.get(table) == expected, "%s: %s.%s columns/types %s, expected %s"
              % (label, schema, table, got.get(table), expected))
    cursor.execute("SELECT tc.table_name, array_agg(k.column_name::text ORDER BY k.ordinal_position) "
                   "FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage k "
                   "ON k.constraint_name = tc.constraint_name AND k.table_schema = tc.table_schema "
                   "WHERE tc.table_schema = %s AND tc.constraint_type = 'PRIMARY KEY' GROUP BY 1", (schema,))
    keys = dict(cursor.fetchall())
    for table, key in PRIMARY_KEYS.items():
        if table in SCHEMAS[pipeline]:
            check(keys.get(table) == key, "%s: primary key of %s is %s, expected %s" % (label, table, keys.get(table), key))
    cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = %s", (schema,))
    indexes = cursor.fetchall()
    for table, wanted in INDEXED.items():
        if table in SCHEMAS[pipeline]:
            for column in wanted:
                # An index whose first column is `column` (a primary key counts).
                found = any(t == table and ("(%s," % column in d or "(%s)" % column in d) for t, d in indexes)
                check(found, "%s: an index on %s.%s (have %s)" % (label, table, column,
                                                                  [d for t, d in indexes if t == table]))


def age_band(birth, day):
    if not birth:
        return None
    b = datetime.date.fromisoformat(birth)
    age = day.year - b.year - ((day.month, day.day) < (b.month, b.day))
    for limit, label in ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (55, "45-54"), (65, "55-64")):
        if age < limit:
            return label
    return "65+"


def check_deloton_views(cursor, schema, out, label):
    with h5py.File(os.path.join(out, "riders.h5"), "r") as f:
        riders = {int(u): (bytes(g).rstrip(b"\0").decode(), bytes(b).rstrip(b"\0").decode())
                  for u, g, b in zip(f["user_id"][()], f["gender"][()], f["date_of_birth"][()])}
    with h5py.File(os.path.join(out, "rides.h5"), "r") as f:
        users, starts = f["user_id"][()], f["start_time"][()]
    expected = {}
    for user, start in zip(users.tolist(), starts.tolist()):
        if user == INT64_MIN:
            key = (None, None)
        else:
            gender, birth = riders[user]
            day = datetime.datetime.fromtimestamp(start / 1e6, datetime.timezone.utc).date()
            key = (gender if gender in ("male", "female") else "other", age_band(birth, day))
        expected[key] = expected.get(key, 0) + 1
    cursor.execute("SELECT gender, age_band, count(*) FROM %s.rides_by_rider GROUP BY 1, 2" % schema)
    got = {(g, a): n for g, a, n in cursor.fetchall()}
    check(got == expected, "%s: rides_by_rider by (gender, age band) %s, recomputed %s" % (label, got, expected))
    # DELOTON.md: gender is male or female as written, anything else or missing other -- the riders
    # table too holds only the classes (never NULL: a rider without a gender is other).
    cursor.execute("SELECT DISTINCT gender FROM %s.riders" % schema)
    genders = {g for g, in cursor.fetchall()}
    check(genders <= {"male", "female", "other"}, "%s: riders.gender holds only male/female/other, got %s"
          % (label, sorted(genders, key=str)))
    cursor.execute("SELECT count(*) FROM %s.readings_by_rider" % schema)
    readings = cursor.fetchone()[0]
    with h5py.File(os.path.join(out, "readings.h5"), "r") as f:
        check(readings == len(f["ride_id"]), "%s: readings_by_rider has every reading" % label)
    cursor.execute("SELECT sum(riders) FROM %s.daily_by_gender" % schema)
    by_gender = cursor.fetchone()[0]
    with h5py.File(os.path.join(out, "daily.h5"), "r") as f:
        total = int(sum(int(f[c][()].sum()) for c in ("riders_male", "riders_female", "riders_other")))
    check(by_gender == total, "%s: daily_by_gender's riders %s, daily's %s" % (label, by_gender, total))


def check_bi_role(connection, schema, role, allowed, denied, label):
    import psycopg2
    cursor = connection.cursor()
    for query in allowed:
        try:
            cursor.execute("SET ROLE %s" % role)
            cursor.execute(query % {"s": schema})
            cursor.fetchall()
            check(True, "")
        except psycopg2.Error as exc:
            check(False, "%s: role %s should be able to run %r: %s" % (label, role, query, str(exc).strip()))
        connection.rollback()
    for query in denied:
        try:
            cursor.execute("SET ROLE %s" % role)
            cursor.execute(query % {"s": schema})
            check(False, "%s: role %s could run %r" % (label, role, query))
        except psycopg2.errors.InsufficientPrivilege:
            pass
        except psycopg2.Error as exc:
            check(False, "%s: %r failed other than by permission: %s" % (label, query, str(exc).strip()))
        connection.rollback()
    cursor.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = %s", (role,))
    check(cursor.fetchall() == [(False,)], "%s: %s exists and is NOLOGIN" % (label, role))
    connection.rollback()


# ---------------------------------------------------------------------------
# Running mpilake
# ---------------------------------------------------------------------------
class Runner:
    def __init__(self, mpiexec, mpilake):
        self.mpilake = mpilake
        self.mpirun = [mpiexec, "--allow-run-as-root", "--oversubscribe"]
        self.env = dict(os.environ)
        self.env.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")

    def run(self, ranks, args, env=None, timeout=120):
        started = time.time()
        result = subprocess.run(self.mpirun + ["-n", str(ranks), self.mpilake] + args, capture_output=True,
                                text=True, timeout=timeout, env=dict(self.env, **(env or {})))
        return result, time.time() - started


def error_lines(stderr):
    return [line for line in stderr.splitlines() if "mpilake: error" in line]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    args = parser.parse_args()
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        print("SKIP: python3-psycopg2 is not installed")
        return 77
    if not os.path.exists(PG_BIN + "/initdb") or os.geteuid() != 0:
        print("SKIP: PostgreSQL 15 (%s) is not installed or the test is not root" % PG_BIN)
        return 77
    import psycopg2
    runner = Runner(args.mpiexec, args.mpilake)
    base = tempfile.mkdtemp(prefix="mpilake-export-")
    os.chmod(base, 0o755)
    pg = Postgres(base)
    started = time.time()
    try:
        pg.start()
        print("PostgreSQL 15 on 127.0.0.1:%d (%.1f s)" % (pg.port, time.time() - started), flush=True)
        runs = make_runs(runner, base)
        connection = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres")
        cursor = connection.cursor()

        for pipeline, out in (("stedi", runs["stedi"]), ("deloton", runs["deloton_a"])):
            for ranks in (1, 2):
                label = "%s at %d rank%s" % (pipeline, ranks, "s" if ranks > 1 else "")
                result, seconds = runner.run(ranks, ["export", "--out", out, "--postgres", pg.url()])
                print("export %s: %.2f s" % (label, seconds), flush=True)
                if not check(result.returncode == 0, "%s: export failed: %s" % (label, result.stderr.strip())):
                    continue
                check("rows loaded" in result.stderr, "%s: progress lines per zone: %r" % (label, result.stderr))
                connection.rollback()
                compare_run(cursor, pipeline, pipeline, out, label)
                check_types(cursor, pipeline, pipeline, label)
                connection.rollback()
            if pipeline == "deloton":
                check_deloton_views(cursor, "deloton", out, "deloton views")
                cursor.execute("SELECT table_name FROM information_schema.views WHERE table_schema = 'deloton'")
                check(sorted(r[0] for r in cursor.fetchall()) == sorted(DELOTON_VIEWS), "deloton: the documented views")
                connection.rollback()
                check_bi_role(connection, "deloton", "deloton_bi",
                              ["SELECT * FROM %(s)s.rides_by_rider", "SELECT * FROM %(s)s.readings_by_rider LIMIT 5",
                               "SELECT * FROM %(s)s.riders_public", "SELECT * FROM %(s)s.alerts_public",
                               "SELECT * FROM %(s)s.daily_by_gender", "SELECT * FROM %(s)s.daily_by_age_band",
                               "SELECT * FROM %(s)s.rides", "SELECT * FROM %(s)s.daily",
                               "SELECT count(*) FROM %(s)s.readings",
                               "SELECT user_id, gender, height_cm, rides FROM %(s)s.riders",
                               "SELECT ride_id, heart_rate, gender FROM %(s)s.heart_rate_alerts"],
                              ["SELECT email FROM %(s)s.riders", "SELECT address_street FROM %(s)s.riders",
                               "SELECT address_postcode FROM %(s)s.riders", "SELECT * FROM %(s)s.riders",
                               "SELECT first_name FROM %(s)s.riders", "SELECT date_of_birth FROM %(s)s.riders",
                               "SELECT email FROM %(s)s.heart_rate_alerts",
                               "SELECT first_name FROM %(s)s.heart_rate_alerts",
                               "SELECT * FROM %(s)s.quarantine"],
                              "deloton BI role")
            else:
                check_bi_role(connection, "stedi", "stedi_bi",
                              ["SELECT * FROM %(s)s.step_trainer_trusted",
                               "SELECT serial_number, share_with_research_as_of_date FROM %(s)s.customer_curated",
                               "SELECT timestamp, x FROM %(s)s.accelerometer_trusted"],
                              ["SELECT email FROM %(s)s.customer_curated", "SELECT phone FROM %(s)s.customer_trusted",
                               "SELECT user_email FROM %(s)s.machine_learning_curated",
                               "SELECT * FROM %(s)s.quarantine"],
                              "stedi BI role")

        kill_and_rerun(runner, pg, connection, runs)
        concurrent_export(runner, pg, connection, runs)
        errors(runner, pg, base, runs)
        connection.close()
    except subprocess.CalledProcessError as exc:
        check(False, "could not start PostgreSQL: %s %s" % (exc, (exc.stderr or b"").decode(errors="replace")))
    finally:
        pg.stop()
        shutil.rmtree(base, ignore_errors=True)
    print("test_export: %.1f s" % (time.time() - started))
    if FAILURES:
        print("test_export: FAILED (%d problems)" % len(FAILURES))
        return 1
    print("test_export: both pipelines at 1 and 2 ranks equal their zones; types, keys, views, the BI role, "
          "the kill-and-rerun and the error lines as documented")
    return 0


def make_runs(runner, base):
    runs = {}
    plans = {
        "stedi": (["generate", "--pipeline", "stedi", "--customers", "300", "--readings-per-customer", "30",
                   "--seed", "3", "--bad-line-rate", "0.01"], []),
        "deloton_a": (["generate", "--pipeline", "deloton", "--bikes", "10", "--days", "1", "--seed", "6",
                       "--bad-line-rate", "0.002"], ["--pipeline", "deloton"]),
        "deloton_b": (["generate", "--pipeline", "deloton", "--bikes", "10", "--days", "2", "--seed", "7",
                       "--start-date", "2024-02-28"], ["--pipeline", "deloton"]),
    }
    for name, (generate, run_flags) in plans.items():
        landing, out = os.path.join(base, name + "_landing"), os.path.join(base, name + "_out")
        result, _ = runner.run(2, generate + ["--out", landing])
        if result.returncode != 0:
            raise RuntimeError("generate %s failed: %s" % (name, result.stderr))
        result, seconds = runner.run(2, ["run", "--landing", landing, "--out", out, "--quiet"] + run_flags)
        if result.returncode != 0 or not os.path.exists(os.path.join(out, "summary.json")):
            raise RuntimeError("run %s failed: %s" % (name, result.stderr))
        print("run %s: %.2f s" % (name, seconds), flush=True)
        runs[name] = out
    return runs


def table_counts(cursor, schema, tables):
    counts = {}
    for table in tables:
        cursor.execute("SELECT count(*) FROM %s.%s" % (schema, table))
        counts[table] = cursor.fetchone()[0]
    return counts


def h5_rows(out, tables):
    counts = {}
    for table in tables:
        with h5py.File(os.path.join(out, table + ".h5"), "r") as f:
            counts[table] = int(len(f[list(f.keys())[0]])) if table != "readings" else int(len(f["ride_id"]))
    return counts


def kill_and_rerun(runner, pg, connection, runs):
    import psycopg2
    cursor = connection.cursor()
    tables = ["riders", "rides", "readings", "heart_rate_alerts", "daily"]
    old = table_counts(cursor, "deloton", tables)
    connection.rollback()
    check(old == {t: n for t, n in h5_rows(runs["deloton_a"], tables).items()}, "before the kill: run A's counts")
    new = h5_rows(runs["deloton_b"], tables)
    check(new != old, "runs A and B differ (so the kill test can tell them apart)")
    # Rank 1 dies in the middle of its COPY of readings (after its shares of riders and rides).
    kill_after = new["riders"] - new["riders"] // 2 + new["rides"] - new["rides"] // 2 + 50
    # A reader holding a snapshot of the old tables keeps it throughout.
    reader = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="postgres")
    reader.set_session(isolation_level="REPEATABLE READ")
    reader_cursor = reader.cursor()
    reader_cursor.execute("SELECT count(*) FROM deloton.readings")
    result, seconds = runner.run(2, ["export", "--out", runs["deloton_b"], "--postgres", pg.url()],
                                 env={"MPILAKE_FAULT": "export:1", "MPILAKE_EXPORT_KILL_AFTER_ROWS": str(kill_after)})
    print("export killed at rank 1: exit %d after %.2f s" % (result.returncode, seconds), flush=True)
    check(result.returncode != 0, "a rank killed mid-export makes the export fail")
    check("rides: " in result.stderr and "readings: " not in result.stderr.split("rides:")[-1],
          "the kill came after rides and during readings: %r" % result.stderr[-600:])
    reader_cursor.execute("SELECT count(*) FROM deloton.readings")
    check(reader_cursor.fetchone()[0] == old["readings"], "a reader's snapshot keeps the old readings")
    reader.rollback()
    after_kill = table_counts(cursor, "deloton", tables)
    check(after_kill == old, "after the kill the old tables are intact: %s, expected %s" % (after_kill, old))
    cursor.execute("SELECT count(*) FROM deloton.rides_by_rider")
    check(cursor.fetchone()[0] == old["rides"], "the old views still answer after the kill")
    cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'deloton\\_\\_load\\_%'")
    leftovers = [r[0] for r in cursor.fetchall()]
    check(len(leftovers) == 1, "the killed export left its staging schema (found %s)" % leftovers)
    connection.rollback()
    result, seconds = runner.run(2, ["export", "--out", runs["deloton_b"], "--postgres", pg.url()])
    print("export rerun after the kill: %.2f s" % seconds, flush=True)
    if check(result.returncode == 0, "rerun after the kill: %s" % result.stderr.strip()):
        check("dropped leftover staging schema" in result.stderr, "the rerun reports the leftover it dropped")
        check(table_counts(cursor, "deloton", tables) == new, "after the rerun: run B's counts")
        compare_run(cursor, "deloton", "deloton", runs["deloton_b"], "deloton run B after the kill")
        check_deloton_views(cursor, "deloton", runs["deloton_b"], "deloton run B views")
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'deloton\\_\\_%'")
        check(cursor.fetchall() == [], "no staging schema left after the rerun")
        connection.rollback()
    reader.close()


def concurrent_export(runner, pg, connection, runs):
    """A second export into a schema while one is loading stops at once with one line."""
    cursor = connection.cursor()
    # The first export's rank 0 pauses 5 s in the middle of its COPY (MPILAKE_FAULT=...:stall).
    first = subprocess.Popen(runner.mpirun + ["-n", "1", runner.mpilake, "export", "--out", runs["deloton_a"],
                                              "--postgres", pg.url()],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(runner.env, MPILAKE_FAULT="export:0:stall"))
    deadline = time.time() + 20
    staging = []
    while time.time() < deadline and not staging:
        time.sleep(0.1)
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'deloton\\_\\_load\\_%'")
        staging = cursor.fetchall()
        connection.rollback()
    check(staging, "the first export created its staging schema")
    result, _ = runner.run(1, ["export", "--out", runs["deloton_a"], "--postgres", pg.url()])
    lines = error_lines(result.stderr)
    check(result.returncode != 0 and len(lines) == 1 and "another mpilake export" in lines[0],
          "a concurrent export into the same schema: one error line, got %r" % result.stderr.strip())
    _, stderr = first.communicate(timeout=60)
    check(first.returncode == 0, "the first export finishes despite the second: %s" % stderr.strip())
    print("concurrent export -> %s" % (lines[0] if lines else result.stderr.strip()), flush=True)
    tables = ["riders", "rides", "readings", "heart_rate_alerts", "daily"]
    check(table_counts(cursor, "deloton", tables) == h5_rows(runs["deloton_a"], tables),
          "after the concurrent attempt: run A's counts")
    connection.rollback()


def errors(runner, pg, base, runs):
    out = runs["deloton_a"]
    not_a_run = os.path.join(base, "empty")
    os.makedirs(not_a_run)
    cases = [
        ("bad URL", 1, ["--out", out, "--postgres", "postgresql://127.0.0.1:notaport/postgres"], "port"),
        ("server down", 2, ["--out", out, "--postgres", "postgresql://postgres@127.0.0.1:%d/postgres" % free_port()],
         "refused"),
        ("failed login", 1, ["--out", out, "--postgres", pg.url(user="nobody")], "nobody"),
        ("no such database", 1, ["--out", out, "--postgres", pg.url(db="nowhere")], "nowhere"),
        ("not a run folder", 2, ["--out", not_a_run, "--postgres", pg.url()], "not the output folder"),
        ("a schema mpilake did not make", 1, ["--out", out, "--postgres", pg.url(), "--schema", "public"],
         "not made by mpilake"),
        ("a bad schema name", 1, ["--out", out, "--postgres", pg.url(), "--schema", "Bad-Name"], "--schema"),
    ]
    for label, ranks, flags, needle in cases:
        result, _ = runner.run(ranks, ["export"] + flags)
        lines = error_lines(result.stderr)
        check(result.returncode != 0 and len(lines) == 1 and needle in lines[0],
              "%s: one error line naming %r and a non-zero exit, got exit %d, %r"
              % (label, needle, result.returncode, result.stderr.strip()))
        print("%s -> %s" % (label, lines[0] if lines else result.stderr.strip()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
