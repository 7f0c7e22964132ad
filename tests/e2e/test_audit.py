#!/usr/bin/python3
"""`mpilake audit`: clean on honest output, and catches a planted violation in each zone.

1. Generates a small landing set (`mpilake generate --customers 200 --readings-per-customer 20
   --seed 3`), runs `mpilake run` under every rule set and checks that `mpilake audit` exits 0 with
   `0 violations` (audit at 1 and 2 ranks: only rank 0 works, the others must agree and exit alike).
2. For each zone, edits a copy of the output with h5py to plant one violation and checks that the
   audit exits 1 (not 0, not a crash) and names the zone, the planted row and the broken rule:
     customer_trusted          a row's email becomes a non-consenting landing customer's
     accelerometer_trusted     a reading's timestamp moves before its user's consent (privacy)
     customer_curated          a row is duplicated (counts kept consistent: only DISTINCT breaks)
     step_trainer_trusted      a reading's serial becomes a non-consenting customer's device
     machine_learning_curated  timestamp != sensorReadingTime (privacy and rubric); the device of
                               another curated customer (privacy: device and user do not pair)
   and the count checks: a dataset one row short, a wrong `rows` attribute, a wrong
   summary.json row count, a missing zone file.
3. On the real starter data (../shared/data/stedi/landing; skipped when absent) the audit is clean
   for all three rule sets.

Usage: test_audit.py --mpilake BIN --mpiexec EXE [--ranks 2] [--keep]
Exit 0 = pass, 1 = fail.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_harness import find_default_landing, mpi_env  # noqa: E402

RULES = ("privacy", "serial", "rubric")
ZONES = ("customer_trusted", "accelerometer_trusted", "customer_curated",
         "step_trainer_trusted", "machine_learning_curated")
INT64_MIN = -(2 ** 63)
FINAL_LINE = re.compile(r"^audit: (\d+) rows checked in (\d+) zones, (\d+) violations$", re.M)

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL: " + message, flush=True)
    return condition


class Runner:
    def __init__(self, mpiexec, mpilake):
        self.mpiexec = mpiexec
        self.mpilake = mpilake

    def mpi(self, ranks, *args, timeout=300):
        cmd = [self.mpiexec, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe",
               self.mpilake] + [str(a) for a in args]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  timeout=timeout, env=mpi_env())
        except subprocess.TimeoutExpired:
            return None, "", "timed out after %ss: %s" % (timeout, " ".join(cmd))
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                proc.stderr.decode("utf-8", "replace"))

    def run(self, ranks, landing, out, rules):
        code, stdout, stderr = self.mpi(ranks, "run", "--landing", landing, "--out", out,
                                        "--rules", rules, "--quiet")
        return check(code == 0 and os.path.isfile(os.path.join(out, "summary.json")),
                     "mpilake run (%s, %d ranks) failed: exit %s\n%s%s"
                     % (rules, ranks, code, stdout[-2000:], stderr[-2000:]))

    def audit(self, ranks, landing, out, rules=None, max_report=50):
        args = ["audit", "--landing", landing, "--out", out, "--max-report", max_report]
        if rules:
            args += ["--rules", rules]
        return self.mpi(ranks, *args)


def parse_audit(stdout):
    """-> (rows, zones, violations) from the final line, or None."""
    found = FINAL_LINE.findall(stdout)
    if not found:
        return None
    rows, zones, violations = (int(v) for v in found[-1])
    return rows, zones, violations


def expect_clean(runner, ranks, landing, out, label, rules=None):
    code, stdout, stderr = runner.audit(ranks, landing, out, rules)
    parsed = parse_audit(stdout)
    ok = check(code == 0 and parsed is not None and parsed[2] == 0 and parsed[1] == 5,
               "%s: audit should be clean (exit 0, 5 zones, 0 violations); got exit %s\n%s%s"
               % (label, code, stdout[-3000:], stderr[-2000:]))
    if ok:
        print("ok   %s: %s" % (label, stdout.strip().splitlines()[-1]), flush=True)
    return parsed


def expect_violation(runner, landing, out, zone, rule_text, label, row=None, ranks=1):
    """The audit must exit 1 and print a line `<zone> row <row>: ...<rule_text>...`."""
    code, stdout, stderr = runner.audit(ranks, landing, out)
    parsed = parse_audit(stdout)
    prefix = "%s row %s: " % (zone, "-" if row is None else row) if row != "any" else zone + " row "
    lines = [l for l in stdout.splitlines() if l.startswith(prefix) and rule_text in l]
    ok = check(code == 1 and parsed is not None and parsed[2] >= 1 and lines,
               "%s: audit should exit 1 naming %r and %r; got exit %s\n%s%s"
               % (label, prefix, rule_text, code, stdout[-3000:], stderr[-2000:]))
    if ok:
        print("ok   %s: %s" % (label, lines[0]), flush=True)
    return stdout


# ---------------------------------------------------------------------------
# Editing zone files with h5py
# ---------------------------------------------------------------------------
def decode(value):
    return bytes(value).rstrip(b"\x00").decode("utf-8")


def rewrite_dataset(f, name, values, dtype=None):
    """Replaces dataset `name` by `values` (numpy array), keeping its attributes."""
    old = f[name]
    attrs = {k: old.attrs[k] for k in old.attrs}
    dtype = dtype or old.dtype
    del f[name]
    new = f.create_dataset(name, data=np.asarray(values, dtype=dtype))
    for k, v in attrs.items():
        new.attrs[k] = v


def set_string(f, name, index, text):
    data = f[name][()]
    raw = text.encode("utf-8")
    width = max(data.dtype.itemsize, len(raw))
    data = data.astype("S%d" % width)
    data[index] = raw
    rewrite_dataset(f, name, data)


def set_int(f, name, index, value):
    f[name][index] = value


def landing_customers(landing):
    rows = []
    folder = os.path.join(landing, "customer")
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), "rb") as fh:
            for line in fh:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("email") and obj.get("serialNumber"):
                    rows.append(obj)
    return rows


def min_consent_by_email(customers):
    consent = {}
    for c in customers:
        value = c.get("shareWithResearchAsOfDate")
        if value in (None, ""):
            continue
        value = int(float(value))
        consent[c["email"]] = min(consent.get(c["email"], value), value)
    return consent


def copy_output(src, tmp, label):
    dst = os.path.join(tmp, "plant-" + label)
    shutil.copytree(src, dst)
    return dst


def plant_all(runner, tmp, landing, outs):
    customers = landing_customers(landing)
    consent = min_consent_by_email(customers)
    consenting = set(consent)
    non_consenting = [c for c in customers if c["email"] not in consenting]
    if not check(non_consenting, "the generated landing set has no non-consenting customer"):
        return
    outsider = non_consenting[0]
    privacy, rubric = outs["privacy"], outs["rubric"]

    # customer_trusted: a row takes the email of a customer who did not consent.
    out = copy_output(privacy, tmp, "customer_trusted")
    with h5py.File(os.path.join(out, "customer_trusted.h5"), "r+") as f:
        set_string(f, "email", 3, outsider["email"])
    expect_violation(runner, landing, out, "customer_trusted", "not a row of the landing customers",
                     "customer_trusted: non-consenting email planted", row=3)

    # customer_trusted: consent date erased.
    out = copy_output(privacy, tmp, "customer_trusted_null")
    with h5py.File(os.path.join(out, "customer_trusted.h5"), "r+") as f:
        set_int(f, "shareWithResearchAsOfDate", 5, INT64_MIN)
    expect_violation(runner, landing, out, "customer_trusted", "did not consent",
                     "customer_trusted: NULL consent planted", row=5)

    # accelerometer_trusted: a reading moved to before its user's consent (privacy).
    out = copy_output(privacy, tmp, "accelerometer_trusted")
    with h5py.File(os.path.join(out, "accelerometer_trusted.h5"), "r+") as f:
        user = decode(f["user"][7])
        set_int(f, "timestamp", 7, consent[user] - 1)
    expect_violation(runner, landing, out, "accelerometer_trusted", "reading taken before consent",
                     "accelerometer_trusted: reading before consent planted", row=7)

    # accelerometer_trusted: a reading of a user who did not consent.
    out = copy_output(privacy, tmp, "accelerometer_trusted_user")
    with h5py.File(os.path.join(out, "accelerometer_trusted.h5"), "r+") as f:
        set_string(f, "user", 11, outsider["email"])
    expect_violation(runner, landing, out, "accelerometer_trusted", "user is not a consenting customer",
                     "accelerometer_trusted: non-consenting user planted", row=11)

    # customer_curated: a duplicated row (datasets, `rows` and summary.json kept consistent, so only
    # DISTINCT is broken).
    out = copy_output(privacy, tmp, "customer_curated")
    with h5py.File(os.path.join(out, "customer_curated.h5"), "r+") as f:
        n = int(f.attrs["rows"])
        for name in [k for k in f.keys()]:
            data = f[name][()]
            rewrite_dataset(f, name, np.concatenate([data, data[:1]]))
        f.attrs["rows"] = np.int64(n + 1)
    summary_path = os.path.join(out, "summary.json")
    with open(summary_path) as fh:
        summary = json.load(fh)
    summary["zones"]["customer_curated"]["rows"] = n + 1
    with open(summary_path, "w") as fh:
        json.dump(summary, fh)
    expect_violation(runner, landing, out, "customer_curated", "duplicate of row 0",
                     "customer_curated: duplicate row planted", row=n)

    # customer_curated: a consenting customer without any accelerometer_trusted reading.
    with h5py.File(os.path.join(privacy, "customer_curated.h5"), "r") as f:
        curated_emails = {decode(v) for v in f["email"][()]}
    with h5py.File(os.path.join(privacy, "accelerometer_trusted.h5"), "r") as f:
        reading_users = {decode(v) for v in f["user"][()]}
    lonely = [c for c in customers if c["email"] in consenting and c["email"] not in reading_users
              and c["email"] not in curated_emails]
    if check(lonely, "the generated landing set has no consenting customer without readings"):
        out = copy_output(privacy, tmp, "customer_curated_no_reading")
        # Replace curated row 2 by the trusted row of a consenting customer without readings.
        with h5py.File(os.path.join(out, "customer_trusted.h5"), "r") as t:
            emails = [decode(v) for v in t["email"][()]]
            source_row = emails.index(lonely[0]["email"])
            columns = [decode(c) if isinstance(c, bytes) else str(c) for c in t.attrs["columns"]]
            values = {c: t[c][source_row] for c in columns}
        with h5py.File(os.path.join(out, "customer_curated.h5"), "r+") as f:
            for c, v in values.items():
                if f[c].dtype.kind == "S":
                    set_string(f, c, 2, decode(v))
                else:
                    f[c][2] = v
        expect_violation(runner, landing, out, "customer_curated", "no accelerometer_trusted reading",
                         "customer_curated: customer without readings planted", row=2)

    # step_trainer_trusted: a reading of a device whose owner did not consent.
    out = copy_output(privacy, tmp, "step_trainer_trusted")
    with h5py.File(os.path.join(out, "step_trainer_trusted.h5"), "r+") as f:
        set_string(f, "serialNumber", 4, outsider["serialNumber"])
    expect_violation(runner, landing, out, "step_trainer_trusted", "serialNumber is no curated customer's device",
                     "step_trainer_trusted: non-consenting device planted", row=4)

    # machine_learning_curated: readings of different times paired (privacy and rubric).
    for rules, source in (("privacy", privacy), ("rubric", rubric)):
        out = copy_output(source, tmp, "ml_time_" + rules)
        with h5py.File(os.path.join(out, "machine_learning_curated.h5"), "r+") as f:
            f["timestamp"][6] = f["timestamp"][6] + 1
        expect_violation(runner, landing, out, "machine_learning_curated", "sensorReadingTime differs from timestamp",
                         "machine_learning_curated (%s): time mismatch planted" % rules, row=6)

    # machine_learning_curated (privacy): the device of another curated customer.
    out = copy_output(privacy, tmp, "ml_device")
    with h5py.File(os.path.join(out, "machine_learning_curated.h5"), "r+") as f:
        users = [decode(v) for v in f["user"][()]]
        serials = [decode(v) for v in f["serialNumber"][()]]
        other = next((i for i in range(len(users)) if users[i] != users[0] and serials[i] != serials[0]), None)
        if check(other is not None, "ML zone has a single user; cannot plant a device mismatch"):
            set_string(f, "serialNumber", 0, serials[other])
    if other is not None:
        expect_violation(runner, landing, out, "machine_learning_curated", "serialNumber is not a device of this user",
                         "machine_learning_curated: device/user mismatch planted", row=0)

    # machine_learning_curated: a user who did not consent.
    out = copy_output(privacy, tmp, "ml_user")
    with h5py.File(os.path.join(out, "machine_learning_curated.h5"), "r+") as f:
        set_string(f, "user", 9, outsider["email"])
    expect_violation(runner, landing, out, "machine_learning_curated", "user is not a consenting customer",
                     "machine_learning_curated: non-consenting user planted", row=9)

    # Counts: one dataset a row short.
    out = copy_output(privacy, tmp, "count_short")
    with h5py.File(os.path.join(out, "step_trainer_trusted.h5"), "r+") as f:
        rewrite_dataset(f, "distanceFromObject", f["distanceFromObject"][()][:-1])
    expect_violation(runner, landing, out, "step_trainer_trusted", "datasets differ in length",
                     "step_trainer_trusted: dataset one row short")

    # Counts: `rows` attribute off by one.
    out = copy_output(privacy, tmp, "count_attr")
    with h5py.File(os.path.join(out, "accelerometer_trusted.h5"), "r+") as f:
        f.attrs["rows"] = np.int64(int(f.attrs["rows"]) + 1)
    expect_violation(runner, landing, out, "accelerometer_trusted", "`rows` attribute differs",
                     "accelerometer_trusted: wrong rows attribute")

    # Counts: summary.json disagrees with the zone.
    out = copy_output(privacy, tmp, "count_summary")
    summary_path = os.path.join(out, "summary.json")
    with open(summary_path) as fh:
        summary = json.load(fh)
    summary["zones"]["machine_learning_curated"]["rows"] -= 1
    with open(summary_path, "w") as fh:
        json.dump(summary, fh)
    expect_violation(runner, landing, out, "machine_learning_curated", "summary.json row count differs",
                     "machine_learning_curated: summary.json count mismatch")

    # A zone file that is missing altogether.
    out = copy_output(privacy, tmp, "missing_zone")
    os.remove(os.path.join(out, "customer_curated.h5"))
    expect_violation(runner, landing, out, "customer_curated", "zone file missing",
                     "customer_curated: file removed")

    # Zones that disagree on their rule set (no --rules: the audit must notice).
    out = copy_output(privacy, tmp, "rules_attribute")
    with h5py.File(os.path.join(out, "step_trainer_trusted.h5"), "r+") as f:
        f.attrs["rules"] = np.bytes_(b"serial")
    expect_violation(runner, landing, out, "step_trainer_trusted", "`rules` attribute differs from the other zones",
                     "step_trainer_trusted: rules attribute changed")

    # Audited under another rule set than the zones were written with: the rubric ML zone holds
    # pairs whose device is not the user's, which `privacy` forbids.
    code, stdout, stderr = runner.audit(1, landing, rubric, rules="privacy")
    check(code == 1 and stdout.startswith("rules row -: the zones were written under another rule set"),
          "rubric output audited under --rules privacy should fail; got exit %s\n%s%s"
          % (code, stdout[-2000:], stderr[-1000:]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--ranks", type=int, default=2, help="ranks for `mpilake run`")
    parser.add_argument("--data", default=None, help="real starter landing folder (default: ../shared/...)")
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()
    runner = Runner(args.mpiexec, os.path.abspath(args.mpilake))

    tmp = tempfile.mkdtemp(prefix="mpilake-audit-")
    try:
        landing = os.path.join(tmp, "landing")
        code, stdout, stderr = runner.mpi(1, "generate", "--out", landing, "--customers", 200,
                                          "--readings-per-customer", 20, "--seed", 3)
        if not check(code == 0, "generate failed: %s%s" % (stdout, stderr)):
            return 1
        # The command line: help, and one clear error line (exit 2) when the audit cannot run.
        code, stdout, _ = runner.mpi(1, "audit", "--help")
        check(code == 0 and "--max-report" in stdout and "--rules" in stdout,
              "audit --help should exit 0 and list its options; got exit %s\n%s" % (code, stdout))
        code, stdout, stderr = runner.audit(2, landing, os.path.join(tmp, "no-such-output"))
        errors = [l for l in stderr.splitlines() if l.startswith("mpilake: error")]
        check(code == 2 and len(errors) == 1 and "no-such-output" in errors[0],
              "audit of a missing output folder should give one error line and exit 2; got exit %s\n%s"
              % (code, stderr[-2000:]))
        outs = {}
        for rules in RULES:
            out = os.path.join(tmp, "out-" + rules)
            if not runner.run(args.ranks, landing, out, rules):
                continue
            outs[rules] = out
            expect_clean(runner, 1, landing, out, "generated, %s, audit at 1 rank" % rules)
            expect_clean(runner, 2, landing, out, "generated, %s, audit at 2 ranks, --rules given" % rules,
                         rules=rules)
        if "privacy" in outs and "rubric" in outs:
            plant_all(runner, tmp, landing, outs)

        real = args.data or find_default_landing()
        if real and os.path.isdir(real):
            for rules in RULES:
                out = os.path.join(tmp, "real-" + rules)
                if runner.run(args.ranks, real, out, rules):
                    expect_clean(runner, 1, real, out, "starter data, %s" % rules)
        else:
            print("skip starter data: ../shared/data/stedi/landing not found", flush=True)
    finally:
        if args.keep or FAILURES:
            print("kept " + tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    if FAILURES:
        print("test_audit: %d failures" % len(FAILURES))
        return 1
    print("test_audit: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
