#!/usr/bin/python3
"""STEDI's budgeted path (issue 20): a run whose per-rank share of --memory-limit is below what an
in-memory run needs spills the kept accelerometer and step-trainer rows to checksummed files under
<scratch>/.mpilake.scratch/[<run>/]rank-N/, writes the trusted zones by appends from the spill and joins
machine_learning_curated in passes over serial-number ranges. Every zone it writes must equal the
unlimited run's (`--memory-limit off`, same landing, same rank count, same layout options): every
dataset's dtype, shape and bytes in stored order, every attribute but created_utc, plus
quarantine.jsonl byte for byte and summary.json's sources / zones / data_quality
(e2e_harness.compare_output_folders, the comparer test_multihost.py uses too).

Parts (--part, comma-separated; default all):
  equal    generated messy data (3 files per source) plus one more file per source of crafted
           readings (a step reading joined with several users, an accelerometer reading under several
           serials, one device larger than a pass; checked on the unlimited zone), at each --ranks
           count, for each --rules (privacy, serial): the budgeted path is forced with MPILAKE_STEDI_PASS_ROWS / MPILAKE_SPILL_BLOCK_ROWS set small (many passes, many
           spill blocks), the smallest exchange rounds (--max-round-mb 1) and small HDF5 chunks; once
           more with --compress (appended compressed chunks). summary.json's "memory" object, the
           `pass K of P` progress lines and the removed scratch folder are checked; the unlimited run
           must report budgeted false and 0 bytes spilled and leave no scratch folder.
  starter  the same on ../shared/data/stedi/landing (exit 77 when it is absent).
  limit    ~400 MB of generated data under a real --memory-limit (100M per rank, no test knob), at
           1 and 2 ranks: the unlimited run's measured peak must exceed the per-rank budget (the data
           really does not fit); the limited run must go budgeted (several passes of its own
           planning), keep its peak within the budget, and equal the unlimited run.
  faults   at 2 ranks: SIGKILL at `append`, `pass` and `spilled` on either rank (no hang, no
           half-written zone, an older complete run's zones untouched, the rerun cleans the scratch
           folder and equals the unlimited run); a throw on one rank (one error line); a spill file
           corrupted while rank 0 stalls at `spilled` (one `corrupt spill file` line); a full scratch
           disk (a 256 KiB tmpfs as --scratch at 1 and 2 ranks, and one that holds the kept rows but
           not the passes' files; skipped with a note where mount is refused); --rules
           rubric on the budgeted path (one line naming rubric, no zone); a --memory-limit too small
           for any budget (one line, no zone); two overlapping runs sharing one --scratch (both
           succeed and equal their unlimited runs).

    /usr/bin/python3 tests/e2e/test_budget.py --mpilake build/mpilake --mpiexec mpiexec [--part equal --ranks 3]

Exit 0 = pass, 1 = fail, 77 = skipped (only the starter part, when the starter data is absent).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import collections  # noqa: E402

import h5py  # noqa: E402

import e2e_harness as harness  # noqa: E402
from e2e_harness import error_lines, landing_size, read_summary, scratch_folder, tail, temp_files  # noqa: E402

ZONES = ("customer_trusted", "accelerometer_trusted", "customer_curated", "step_trainer_trusted",
         "machine_learning_curated")
PASS_LINE = re.compile(r"\bpass (\d+) of (\d+)\b")
DISK_FULL = re.compile(r"scratch disk full: (\S+) \((\d+) bytes spilled on this rank\); "
                       r"free space or pass --scratch DIR")
# summary.json figures that must not depend on the path taken (the rest are timings, memory, hosts).
SUMMARY_KEYS = ("pipeline", "rules", "ranks", "landing_bytes", "sources", "zones", "data_quality")
# Forced budgets: (MPILAKE_STEDI_PASS_ROWS, MPILAKE_SPILL_BLOCK_ROWS).
# SMALL_BUDGET's quarantine spills a sorted run per record: more than one merge takes at 1 rank.
SMALL_BUDGET = {"MPILAKE_STEDI_PASS_ROWS": "400", "MPILAKE_SPILL_BLOCK_ROWS": "97", harness.QUARANTINE_KNOB: "1"}
COMPRESSED_BUDGET = {"MPILAKE_STEDI_PASS_ROWS": "1500", "MPILAKE_SPILL_BLOCK_ROWS": "1000"}
STARTER_BUDGET = {"MPILAKE_STEDI_PASS_ROWS": "3000", "MPILAKE_SPILL_BLOCK_ROWS": "1000"}
FAULT_BUDGET = {"MPILAKE_STEDI_PASS_ROWS": "500", "MPILAKE_SPILL_BLOCK_ROWS": "200"}
# Layout options given to both runs of a comparison (the zones' chunking depends on them).
SMALL_LAYOUT = ["--max-round-mb", "1", "--chunk-rows", "1000"]
COMPRESSED_LAYOUT = ["--max-round-mb", "1", "--compress", "--chunk-rows", "333"]

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def rank_folders(root, rank):
    """A rank's spill folders under ROOT/.mpilake.scratch: rank-N, or <run>/rank-N (a run's own
    folder in a shared --scratch)."""
    top = scratch_folder(root)
    found = []
    if os.path.isdir(top):
        for d, subdirs, _ in os.walk(top):
            if os.path.basename(d) == f"rank-{rank}":
                found.append(d)
            if os.path.relpath(d, top).count(os.sep) >= 1:
                subdirs[:] = []  # no deeper than <run>/rank-N
    return sorted(found)


# ---------------------------------------------------------------------------
# Running mpilake
# ---------------------------------------------------------------------------
class Runner:
    def __init__(self, args):
        self.mpilake = args.mpilake
        self.mpiexec = args.mpiexec

    def command(self, ranks, arguments, env_vars=None):
        env = harness.mpi_env()
        for name in ("MPILAKE_FAULT", "MPILAKE_STEDI_PASS_ROWS", "MPILAKE_SPILL_BLOCK_ROWS"):
            env.pop(name, None)  # only what a case sets
        command = [self.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]
        for name, value in (env_vars or {}).items():
            env[name] = value
            command += ["-x", name]
        return command + [self.mpilake] + list(arguments), env

    def run(self, ranks, landing, out, rules="privacy", extra=(), env_vars=None, timeout=240):
        """-> CompletedProcess (text), or None when it ran past `timeout` (a failure is recorded)."""
        command, env = self.command(ranks, ["run", "--landing", landing, "--out", out, "--rules", rules] +
                                    list(extra), env_vars)
        started = time.time()
        try:
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as error:
            check(False, f"timed out after {timeout} s (hung?): {' '.join(command)}\n"
                  f"{tail(error.stderr.decode('utf-8', 'replace') if error.stderr else '')}")
            return None
        result.seconds = time.time() - started
        result.command = " ".join(command)
        return result

    def run_with_action(self, ranks, landing, out, trigger, action, rules="privacy", extra=(), env_vars=None,
                        timeout=240):
        """Runs in the background; when a stderr line starts with `trigger`, calls action() while the
        run goes on. -> (CompletedProcess-like, whether it triggered, action's result)."""
        command, env = self.command(ranks, ["run", "--landing", landing, "--out", out, "--rules", rules] +
                                    list(extra), env_vars)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines, triggered = [], threading.Event()

        def read_stderr():
            for line in proc.stderr:
                lines.append(line)
                if line.startswith(trigger):
                    triggered.set()

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        stdout = []
        drain = threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)
        drain.start()
        outcome = None
        if triggered.wait(timeout=timeout):
            outcome = action()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            check(False, f"timed out after {timeout} s (hung?): {' '.join(command)}\n{tail(''.join(lines))}")
        reader.join(timeout=30)
        drain.join(timeout=30)
        result = subprocess.CompletedProcess(command, proc.returncode, "".join(stdout), "".join(lines))
        result.command = " ".join(command)
        return result, triggered.is_set(), outcome

    def generate(self, ranks, landing, options):
        command, env = self.command(ranks, ["generate", "--pipeline", "stedi", "--out", landing] + list(options))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"generate failed ({result.returncode}): {' '.join(command)}\n{tail(result.stderr)}")
        print(result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "generated " + landing, flush=True)


def ran_ok(result, out, label):
    """Exit 0 and every zone plus summary.json written."""
    if result is None:
        return False
    missing = [z + ".h5" for z in ZONES if not os.path.isfile(os.path.join(out, z + ".h5"))]
    if not os.path.isfile(os.path.join(out, "summary.json")):
        missing.append("summary.json")
    return check(result.returncode == 0 and not missing,
                 f"{label}: exit {result.returncode}, missing {missing}: {result.command}\n{tail(result.stderr, 3000)}")


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------
def memory_of(out, label):
    memory = read_summary(out).get("memory")
    if not check(isinstance(memory, dict), f"{label}: summary.json has no 'memory' object"):
        return None
    for key in ("limit_bytes_per_node", "budget_bytes_per_rank", "budgeted", "passes", "bytes_spilled",
                "bytes_spilled_per_rank"):
        check(key in memory, f"{label}: summary.json memory lacks '{key}': {memory}")
    return memory


def check_unlimited(out, label, scratch_root=None):
    """An unlimited run: budgeted false, nothing spilled, no scratch folder anywhere."""
    memory = memory_of(out, label)
    if memory is not None:
        check(memory.get("budgeted") is False, f"{label}: memory.budgeted is {memory.get('budgeted')!r}, expected false")
        check(memory.get("bytes_spilled") == 0, f"{label}: memory.bytes_spilled is {memory.get('bytes_spilled')!r}")
        check(memory.get("limit_bytes_per_node") is None and memory.get("budget_bytes_per_rank") is None,
              f"{label}: --memory-limit off must report no limit: {memory}")
        per_rank = memory.get("bytes_spilled_per_rank")
        check(isinstance(per_rank, list) and all(b == 0 for b in per_rank),
              f"{label}: memory.bytes_spilled_per_rank {per_rank!r}, expected zeros")
    for root in (out, scratch_root):
        if root is not None:
            check(not os.path.exists(scratch_folder(root)), f"{label}: an unlimited run left {scratch_folder(root)}")
    check(not temp_files(out), f"{label}: temporary files left: {temp_files(out)}")


def check_budgeted(result, out, ranks, label, limit, scratch_root=None, min_passes=2):
    """A budgeted run's summary, progress lines and cleanup. limit: 'off' (no limit reported),
    'auto' (the node's memory) or the --memory-limit in bytes."""
    memory = memory_of(out, label)
    if memory is None:
        return None
    check(memory.get("budgeted") is True, f"{label}: memory.budgeted is {memory.get('budgeted')!r}, expected true")
    passes = memory.get("passes")
    check(isinstance(passes, int) and passes >= min_passes,
          f"{label}: memory.passes is {passes!r}, expected at least {min_passes}")
    spilled, per_rank = memory.get("bytes_spilled"), memory.get("bytes_spilled_per_rank")
    check(isinstance(spilled, int) and spilled > 0, f"{label}: memory.bytes_spilled is {spilled!r}, expected > 0")
    if check(isinstance(per_rank, list) and len(per_rank) == ranks and all(isinstance(b, int) for b in per_rank),
             f"{label}: memory.bytes_spilled_per_rank {per_rank!r} is not one integer per rank ({ranks})"):
        check(sum(per_rank) == spilled, f"{label}: bytes_spilled_per_rank {per_rank} does not add up to {spilled}")
        check(all(b > 0 for b in per_rank), f"{label}: a rank spilled nothing: {per_rank}")
    node, share = memory.get("limit_bytes_per_node"), memory.get("budget_bytes_per_rank")
    if limit == "off":
        check(node is None and share is None, f"{label}: --memory-limit off must report no limit: {memory}")
    elif limit == "auto":
        check(isinstance(node, int) and node > 0 and isinstance(share, int) and share == node // ranks,
              f"{label}: --memory-limit auto: limit {node!r} per node, {share!r} per rank ({ranks} ranks, one node)")
    else:
        check(node == limit and share == limit // ranks,
              f"{label}: --memory-limit {limit}: summary says {node!r} per node, {share!r} per rank, expected "
              f"{limit} and {limit // ranks}")
    # Progress: one `pass K of P` line per pass (rank 0), and the bytes spilled.
    found = [(int(k), int(p)) for k, p in PASS_LINE.findall(result.stderr)]
    if check(found, f"{label}: no 'pass K of P' progress line on stderr:\n{tail(result.stderr)}"):
        totals = sorted({p for _, p in found})
        check(totals == [passes], f"{label}: progress says passes {totals}, summary.json {passes}")
        check(sorted({k for k, _ in found}) == list(range(1, (passes or 0) + 1)),
              f"{label}: pass lines {sorted({k for k, _ in found})[:20]}... do not count 1..{passes}")
    check(any("spilled" in line for line in result.stderr.splitlines()),
          f"{label}: no progress line gives the bytes spilled:\n{tail(result.stderr)}")
    for root in {out, scratch_root or out}:
        check(not os.path.exists(scratch_folder(root)), f"{label}: the finished run left {scratch_folder(root)}: "
              f"{sorted(os.listdir(scratch_folder(root))) if os.path.isdir(scratch_folder(root)) else ''}")
    check(not temp_files(out), f"{label}: temporary files left: {temp_files(out)}")
    return memory


def same_summary(expected_out, actual_out, label):
    expected, actual = read_summary(expected_out), read_summary(actual_out)
    for key in SUMMARY_KEYS:
        check(expected.get(key) == actual.get(key),
              f"{label}: summary.json '{key}' differs from the unlimited run's:\n"
              f"    unlimited {json.dumps(expected.get(key))[:600]}\n    budgeted  {json.dumps(actual.get(key))[:600]}")


def same_zones(expected_out, actual_out, label, expect_quarantine=True):
    before = len(FAILURES)
    zones = harness.compare_output_folders(check, expected_out, actual_out, label, baseline="the unlimited run",
                                           expect_quarantine=expect_quarantine)
    same_summary(expected_out, actual_out, label)
    if len(FAILURES) == before:
        print(f"{label}: {len(zones)} zone files, quarantine.jsonl and summary figures equal the unlimited run's",
              flush=True)


def nothing_half_written(out, baseline, label, allow_tmp=False):
    """After a failed run: every zone under its final name reads whole and equals the unlimited
    run's; no temporary file (unless a SIGKILL may have left one for the rerun to replace)."""
    if not os.path.isdir(out):
        return
    if not allow_tmp:
        check(not temp_files(out), f"{label}: temporary files left after the failure: {temp_files(out)}")
    for name in sorted(os.listdir(out)):
        if name.endswith(".h5"):
            try:
                harness.compare_zone_files(check, os.path.join(baseline, name), os.path.join(out, name),
                                           f"{label} (zone left by the failed run)")
            except (OSError, KeyError) as error:
                check(False, f"{label}: {name} under its final name is unreadable: {error}")


def no_zone_written(out, label):
    if os.path.isdir(out):
        written = sorted(n for n in os.listdir(out) if n.endswith(".h5") or n.endswith(".tmp") or n == "summary.json")
        check(not written, f"{label}: the refused run wrote {written}")
        check(not os.path.exists(scratch_folder(out)), f"{label}: the refused run left {scratch_folder(out)}")


def add_shared_readings(landing, seed, big_rows):
    """Adds one more file per source to a generated landing, with readings the generator never makes:
    serials shared by several customers whose readings fall at the same times (one step reading joins
    several users' readings), emails with several serials (one accelerometer reading joins several
    serials, so it belongs to several serial ranges), and one device with `big_rows` readings for each
    of two users (more ML rows than a forced pass holds). Serials are random UUIDs, so the groups fall
    anywhere among the generated ones."""
    import random
    import uuid
    rng = random.Random(seed)

    def serial():
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    customers, accelerometer, steps = [], [], []
    n = [0]

    def customer(email, serial_number, consent):
        n[0] += 1
        customers.append({"customerName": f"Shared Reader{n[0]}", "email": email, "phone": f"80155{n[0]:05d}",
                          "birthDay": "1970-01-0%d" % (1 + n[0] % 9), "serialNumber": serial_number,
                          "registrationDate": consent - 5000, "lastUpdateDate": consent + 5000,
                          "shareWithResearchAsOfDate": consent, "shareWithPublicAsOfDate": None,
                          "shareWithFriendsAsOfDate": consent + 100})

    def readings(emails, serials, start, count):
        for k in range(count):
            t = start + 137 * k
            for email in emails:
                accelerometer.append({"user": email, "timestamp": t, "x": round(rng.uniform(-2, 2), 3),
                                      "y": round(rng.uniform(-2, 2), 3), "z": round(rng.uniform(-2, 2), 3)})
            for s in serials:
                steps.append({"sensorReadingTime": t, "serialNumber": s, "distanceFromObject": rng.randint(180, 260)})

    for g in range(8):
        start = 1655400000000 + g * 10**7
        # Three customers on one serial, readings at the same times.
        shared = serial()
        emails = [f"shared.serial{g}.{i}@test.com" for i in range(3)]
        for email in emails:
            customer(email, shared, start - 1000)
        readings(emails, [shared], start, 40)
        # One email on two serials (two customer rows).
        email, serials = f"two.serials{g}@test.com", [serial(), serial()]
        for s in serials:
            customer(email, s, start - 2000)
        readings([email], serials, start + 10**6, 40)
    big, start = serial(), 1655500000000
    emails = ["big.device0@test.com", "big.device1@test.com"]
    for email in emails:
        customer(email, big, start - 1000)
    readings(emails, [big], start, big_rows)
    for source, rows in (("customer", customers), ("accelerometer", accelerometer), ("step_trainer", steps)):
        with open(os.path.join(landing, source, f"{source}-shared-readings.json"), "w", encoding="utf-8") as f:
            f.writelines(json.dumps(row) + "\n" for row in rows)


def check_shared_serials(out, label, pass_rows):
    """The data must exercise what the passes over serial ranges could get wrong: a step reading
    joined with several users, an accelerometer reading joined under several serials, a device with
    more rows than a pass holds, and many devices."""
    with h5py.File(os.path.join(out, "machine_learning_curated.h5"), "r") as f:
        serials, times = f["serialNumber"][()], f["sensorReadingTime"][()]
        users, stamps = f["user"][()], f["timestamp"][()]
    users_of, serials_of = collections.defaultdict(set), collections.defaultdict(set)
    for s, t, u, ts in zip(serials.tolist(), times.tolist(), users.tolist(), stamps.tolist()):
        users_of[(s, t)].add(u)
        serials_of[(u, ts)].add(s)
    rows_of = collections.Counter(serials.tolist())
    several_users = sum(1 for v in users_of.values() if len(v) > 1)
    several_serials = sum(1 for v in serials_of.values() if len(v) > 1)
    biggest = max(rows_of.values(), default=0)
    print(f"{label}: machine_learning_curated {len(serials)} rows, {len(rows_of)} devices (largest {biggest} rows); "
          f"{several_users} step readings joined with several users, {several_serials} accelerometer readings "
          "under several serials", flush=True)
    check(several_users > 0, f"{label}: no step reading joined with several users in the test data")
    check(several_serials > 0, f"{label}: no accelerometer reading joined under several serials in the test data")
    check(biggest > pass_rows, f"{label}: no device has more ML rows ({biggest}) than a forced pass ({pass_rows})")
    check(len(rows_of) >= 20, f"{label}: only {len(rows_of)} devices in machine_learning_curated")


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------
def equality_cases(runner, landing, ranks_list, rules_list, tmp, tag, budget, layout, starter=False,
                   check_data=True):
    """For each rank count and rule set: the unlimited run, then the forced budgeted run, compared."""
    for ranks in ranks_list:
        for i, rules in enumerate(rules_list):
            label = f"{tag} rules={rules} ranks={ranks}"
            base = os.path.join(tmp, f"{tag}-unlimited-{rules}-np{ranks}")
            result = runner.run(ranks, landing, base, rules, ["--memory-limit", "off"] + layout)
            if not ran_ok(result, base, label + " unlimited"):
                continue
            check_unlimited(base, label + " unlimited")
            if check_data and not starter and ranks == ranks_list[0] and i == 0:
                check_shared_serials(base, label + " unlimited", int(budget["MPILAKE_STEDI_PASS_ROWS"]))
            # The knob forces the budgeted path whatever the limit: off (no limit) for the first rule
            # set, auto (the node's memory) for the others.
            limit = "off" if i == 0 else "auto"
            out = os.path.join(tmp, f"{tag}-budgeted-{rules}-np{ranks}")
            result = runner.run(ranks, landing, out, rules, ["--memory-limit", limit] + layout, budget)
            if not ran_ok(result, out, label + " budgeted"):
                continue
            memory = check_budgeted(result, out, ranks, label + " budgeted", limit, min_passes=3)
            quarantine_runs = harness.check_quarantine_runs(check, result.stderr, out, budget, label + " budgeted")
            if memory:
                print(f"{label} budgeted: {result.seconds:.1f} s, {memory.get('passes')} passes, "
                      f"{memory.get('bytes_spilled')} bytes spilled {memory.get('bytes_spilled_per_rank')}, "
                      f"{quarantine_runs or 0} sorted quarantine runs", flush=True)
            same_zones(base, out, label + " budgeted", expect_quarantine=not starter)


def part_equal(runner, args, tmp):
    landing = os.path.join(tmp, "landing-equal")
    # Three files per source (each generating rank writes its own); 30% of customers reuse another
    # customer's serial; a few broken lines for the quarantine.
    runner.generate(3, landing, ["--customers", "300", "--readings-per-customer", "60", "--seed", "20",
                                 "--shared-serial-fraction", "0.3", "--bad-line-rate", "0.003"])
    add_shared_readings(landing, 20, big_rows=700)
    equality_cases(runner, landing, args.ranks, args.rules, tmp, "generated", SMALL_BUDGET, SMALL_LAYOUT)
    # Compressed zones: appended rows wait for whole chunks.
    equality_cases(runner, landing, args.ranks, args.rules[:1], tmp, "generated+compress", COMPRESSED_BUDGET,
                   COMPRESSED_LAYOUT, check_data=False)


def part_starter(runner, args, tmp):
    landing = args.data or harness.find_default_landing()
    if not landing or not os.path.isdir(landing):
        print("note: no starter data (../shared/data/stedi/landing): starter part skipped", flush=True)
        return False
    print(f"starter data: {landing}", flush=True)
    equality_cases(runner, landing, args.ranks, args.rules, tmp, "starter", STARTER_BUDGET, SMALL_LAYOUT,
                   starter=True)
    return True


def part_limit(runner, args, tmp):
    landing = os.path.join(tmp, "landing-limit")
    # 400 MB: big enough that the unlimited run's measured peak exceeds the budget of 100 MiB per rank
    # (the planner's estimate of the need is far larger still).
    runner.generate(2, landing, ["--customers", "4000", "--target-bytes", "400000000", "--seed", "21",
                                 "--shared-serial-fraction", "0.1", "--bad-line-rate", "0.0005"])
    size = landing_size(landing)
    for ranks, limit_text in ((1, "100M"), (2, "200M")):
        limit = int(limit_text[:-1]) << 20
        label = f"--memory-limit {limit_text} ranks={ranks} ({size / 1e6:.0f} MB landing)"
        base = os.path.join(tmp, f"limit-unlimited-np{ranks}")
        result = runner.run(ranks, landing, base, "privacy", ["--memory-limit", "off"])
        if not ran_ok(result, base, label + " unlimited"):
            continue
        check_unlimited(base, label + " unlimited")
        peak = read_summary(base).get("peak_rss_bytes_max", 0)
        print(f"{label} unlimited: {result.seconds:.1f} s, peak {peak / 1e6:.0f} MB per rank", flush=True)
        check(peak > limit // ranks, f"{label}: the unlimited run's peak ({peak} bytes per rank) fits the budget of "
              f"{limit // ranks}: the data is too small to test the limit")
        out = os.path.join(tmp, f"limit-budgeted-np{ranks}")
        result = runner.run(ranks, landing, out, "privacy", ["--memory-limit", limit_text])
        if not ran_ok(result, out, label + " budgeted"):
            continue
        memory = check_budgeted(result, out, ranks, label + " budgeted", limit, min_passes=2)
        budgeted_peak = read_summary(out).get("peak_rss_bytes_max", 0)
        if memory:
            print(f"{label} budgeted: {result.seconds:.1f} s, {memory.get('passes')} passes, "
                  f"{memory.get('bytes_spilled') / 1e6:.1f} MB spilled, peak {budgeted_peak / 1e6:.0f} MB per rank "
                  f"(budget {limit // ranks / 1e6:.0f} MB)", flush=True)
        check(0 < budgeted_peak <= limit // ranks, f"{label}: the budgeted run's peak ({budgeted_peak} bytes on its "
              f"largest rank) is over its budget of {limit // ranks} bytes per rank")
        same_zones(base, out, label + " budgeted")


def part_faults(runner, args, tmp):
    ranks = 2
    landing = os.path.join(tmp, "landing-faults")
    runner.generate(2, landing, ["--customers", "300", "--readings-per-customer", "60", "--seed", "22",
                                 "--shared-serial-fraction", "0.3", "--bad-line-rate", "0.003"])
    add_shared_readings(landing, 22, big_rows=700)
    base = os.path.join(tmp, "faults-unlimited")
    base_scratch = os.path.join(tmp, "faults-unlimited-scratch")
    os.makedirs(base_scratch)
    result = runner.run(ranks, landing, base, "privacy", ["--memory-limit", "off", "--scratch", base_scratch])
    if not ran_ok(result, base, "faults: unlimited run"):
        return
    check_unlimited(base, "faults: unlimited run (--memory-limit off --scratch DIR)", scratch_root=base_scratch)

    def rerun(out, label, scratch=None):
        extra = ["--overwrite"] + (["--scratch", scratch] if scratch else [])
        result = runner.run(ranks, landing, out, "privacy", extra, FAULT_BUDGET)
        if ran_ok(result, out, label + ": rerun"):
            check_budgeted(result, out, ranks, label + ": rerun", "auto", scratch_root=scratch)
            same_zones(base, out, label + ": rerun")

    # SIGKILL of one rank at each fault point of the budgeted path.
    for fault, scratch, previous in (("append:0", None, False), ("append:1", None, True), ("pass:0", None, False),
                                     ("pass:1", "scratch", False), ("spilled:1", None, False)):
        label = f"SIGKILL {fault}" + (" --scratch DIR" if scratch else "") + (" over a finished run" if previous else "")
        name = fault.replace(":", "-")
        out = os.path.join(tmp, "kill-" + name)
        extra = []
        if scratch:
            scratch = os.path.join(tmp, "kill-scratch-" + name)
            os.makedirs(scratch)
            extra = ["--scratch", scratch]
        if previous:  # an older complete run in the same --out must stay whole
            shutil.copytree(base, out)
            extra.append("--overwrite")
        env_vars = dict(FAULT_BUDGET, MPILAKE_FAULT=fault)
        result = runner.run(ranks, landing, out, "privacy", extra, env_vars, timeout=180)
        if result is None:
            continue
        check(result.returncode != 0, f"{label}: a killed rank must fail the job (exit {result.returncode})")
        left = os.path.exists(scratch_folder(scratch or out))
        print(f"{label}: job ended in {result.seconds:.1f} s, exit {result.returncode}, "
              f"scratch folder {'left for the rerun' if left else 'gone'}, temporary files {temp_files(out)}", flush=True)
        nothing_half_written(out, base, label, allow_tmp=True)
        if previous:
            present = sorted(n for n in os.listdir(out) if n.endswith(".h5"))
            expected = sorted(n for n in os.listdir(base) if n.endswith(".h5"))
            check(present == expected, f"{label}: the older run's zones {expected} are not all there: {present}")
        rerun(out, label, scratch)

    # A throw on rank 1 only: one error line, from that rank.
    label = "pass:1:throw"
    out = os.path.join(tmp, "throw")
    result = runner.run(ranks, landing, out, "privacy", [], dict(FAULT_BUDGET, MPILAKE_FAULT="pass:1:throw"))
    if result is not None:
        errors = error_lines(result.stderr)
        print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: exit code 0")
        check(len(errors) == 1 and "rank 1" in errors[0] and "injected fault" in errors[0],
              f"{label}: expected one error line from rank 1, got {errors}\n{tail(result.stderr)}")
        nothing_half_written(out, base, label, allow_tmp=True)
        rerun(out, label)

    # A spill file corrupted after it was closed, before it is read back.
    label = "corrupt spill file"
    out = os.path.join(tmp, "corrupt")
    scratch = os.path.join(tmp, "corrupt-scratch")
    os.makedirs(scratch)

    kept_sizes = []

    def corrupt():
        folders = rank_folders(scratch, 0)
        check(len(folders) == 1, f"{label}: expected one rank-0 folder under {scratch_folder(scratch)}, found {folders}")
        folder = folders[0] if folders else os.path.join(scratch_folder(scratch), "rank-0")
        check(not os.path.exists(scratch_folder(out)), f"{label}: with --scratch the spill went into --out")
        names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        targets = [n for n in names if n.startswith("accelerometer_trusted")]
        if not check(targets, f"{label}: no accelerometer_trusted spill file in {folder} while rank 0 stalls at "
                     f"'spilled' (it holds {names})"):
            return None
        # Every rank's kept rows are spilled and closed by now: their size, for the disk-full case below
        # (tmpfs counts whole pages).
        for d, _, files in os.walk(scratch_folder(scratch)):
            kept_sizes.extend(-(-os.path.getsize(os.path.join(d, n)) // 4096) * 4096 for n in files)
        path = os.path.join(folder, targets[0])
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            byte = f.read(1)
            f.seek(size // 2)
            f.write(bytes([byte[0] ^ 0x5A]))
        print(f"{label}: flipped byte {size // 2} of {path} ({size} bytes; spill folder holds {names})", flush=True)
        return path

    result, stalled, path = runner.run_with_action(ranks, landing, out, "mpilake: fault: rank 0 stalls", corrupt, "privacy",
                                          ["--scratch", scratch],
                                          dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=5"))
    check(stalled, f"{label}: rank 0 never announced its stall at 'spilled':\n{tail(result.stderr)}")
    if path is not None:
        errors = error_lines(result.stderr)
        print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: a corrupt spill file must fail the run (exit 0)")
        check(len(errors) == 1 and "corrupt spill file" in errors[0] and "accelerometer_trusted" in errors[0],
              f"{label}: expected one 'corrupt spill file ...accelerometer_trusted...' error line, got {errors}\n"
              f"{tail(result.stderr)}")
        nothing_half_written(out, base, label)
        check(not os.path.exists(scratch_folder(scratch)),
              f"{label}: the failed run left {scratch_folder(scratch)}")
        rerun(out, label, scratch)
    kept_bytes = sum(kept_sizes)

    # A full scratch disk (a tmpfs as --scratch). 256 KiB cannot hold the kept rows: at 1 rank the rank
    # itself filled it (N > 0); at 2 ranks the rank named may find it already full (N >= 0). Then a disk
    # that holds the kept rows (their size seen during the stall above) with 128 KiB to spare: the run
    # fails later, in the passes, with trusted zones already written.
    cases = [("full scratch disk, 1 rank", 1, 256 * 1024, True, True),
             ("full scratch disk, 2 ranks", ranks, 256 * 1024, True, False)]
    if kept_bytes:
        cases.append(("full scratch disk in the passes", ranks, kept_bytes + 128 * 1024, False, True))
    else:
        check(False, "full scratch disk in the passes: the size of the kept rows' spill files is unknown")
    for label, run_ranks, size, kept_rows_file, positive in cases:
        small = os.path.join(tmp, "small-scratch")
        os.makedirs(small, exist_ok=True)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", small], capture_output=True,
                               text=True)
        if mount.returncode != 0:
            print(f"note: cannot mount a tmpfs here ({mount.stderr.strip() or 'no privilege'}): {label} case "
                  "skipped", flush=True)
            continue
        try:
            out = os.path.join(tmp, "disk-full-" + str(len(os.listdir(tmp))))
            result = runner.run(run_ranks, landing, out, "privacy", ["--scratch", small], FAULT_BUDGET)
            if result is None:
                continue
            errors = error_lines(result.stderr)
            print(f"{label} ({size} bytes): exit {result.returncode}, error lines {errors}", flush=True)
            check(result.returncode != 0, f"{label}: a full scratch disk must fail the run (exit 0)")
            matched = [DISK_FULL.search(e) for e in errors]
            if check(len(errors) == 1 and matched[0],
                     f"{label}: expected one line 'scratch disk full: PATH (N bytes spilled on this rank); free "
                     f"space or pass --scratch DIR', got {errors}\n{tail(result.stderr)}"):
                path, spilled = matched[0].group(1), int(matched[0].group(2))
                check(path.startswith(scratch_folder(small) + os.sep) and os.sep + "rank-" in path,
                      f"{label}: the line names {path}, not a spill file under {scratch_folder(small)}")
                check((0 < spilled if positive else 0 <= spilled) and spilled <= size,
                      f"{label}: {spilled} bytes spilled on this rank, on a disk of {size} bytes")
                name = os.path.basename(path)
                is_kept = name.startswith("accelerometer_trusted") or name.startswith("step_trainer_trusted")
                check(is_kept == kept_rows_file, f"{label}: the disk filled up while writing {name}, expected "
                      + ("a kept rows' spill file" if kept_rows_file else "a file of the passes"))
            nothing_half_written(out, base, label)
            if not kept_rows_file:
                present = sorted(n for n in os.listdir(out) if n.endswith(".h5"))
                print(f"{label}: zones left by the failed run (each equal to the unlimited run's): {present}",
                      flush=True)
            check(not os.path.exists(scratch_folder(small)), f"{label}: the failed run left {scratch_folder(small)}")
            rerun(out, label)
        finally:
            subprocess.run(["umount", small], capture_output=True)

    # The rubric rules have no budgeted path: one line, no zone; forced by the knob, and by a real limit
    # (about 100 MB of need for this landing at 1 rank, 95 MiB allowed).
    for label, run_ranks, extra, env_vars in (("rubric, forced", ranks, [], FAULT_BUDGET),
                                              ("rubric, --memory-limit 95M", 1, ["--memory-limit", "95M"], None)):
        out = os.path.join(tmp, "rubric-" + str(run_ranks))
        result = runner.run(run_ranks, landing, out, "rubric", extra, env_vars)
        if result is None:
            continue
        errors = error_lines(result.stderr)
        print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: exit 0, expected a refusal")
        check(len(errors) == 1 and "rubric" in errors[0],
              f"{label}: expected one error line naming rubric, got {errors}\n{tail(result.stderr)}")
        no_zone_written(out, label)

    # A limit below any budget (the fixed overhead alone is larger): one line, no zone.
    label = "--memory-limit 16M"
    out = os.path.join(tmp, "too-small")
    result = runner.run(1, landing, out, "privacy", ["--memory-limit", "16M"])
    if result is not None:
        errors = error_lines(result.stderr)
        print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: exit 0, expected a refusal")
        check(len(errors) == 1 and "--memory-limit" in errors[0],
              f"{label}: expected one error line naming --memory-limit, got {errors}\n{tail(result.stderr)}")
        no_zone_written(out, label)

    # Two budgeted runs sharing one --scratch (different --out, different landing), overlapping: the
    # second starts while the first stalls with its kept rows spilled, and stalls there itself for
    # longer, so the first reads back while the second's spill files are in the shared folder. Each run
    # keeps to its own folder: both must succeed and equal their own unlimited runs.
    label = "shared --scratch"
    other = os.path.join(tmp, "landing-other")
    runner.generate(1, other, ["--customers", "200", "--readings-per-customer", "50", "--seed", "23",
                               "--shared-serial-fraction", "0.3", "--bad-line-rate", "0.003"])
    other_base = os.path.join(tmp, "other-unlimited")
    if ran_ok(runner.run(ranks, other, other_base, "privacy", ["--memory-limit", "off"]), other_base,
              label + ": unlimited run of the second landing"):
        shared = os.path.join(tmp, "shared-scratch")
        os.makedirs(shared)
        first_out, second_out = os.path.join(tmp, "shared-first"), os.path.join(tmp, "shared-second")
        command, env = runner.command(ranks, ["run", "--landing", other, "--out", second_out, "--rules", "privacy",
                                              "--scratch", shared],
                                      dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=10"))
        errors_file = os.path.join(tmp, "shared-second.stderr")

        def start_second():
            with open(errors_file, "w") as stderr:
                return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr, text=True)

        first, stalled, second_proc = runner.run_with_action(
            ranks, landing, first_out, "mpilake: fault: rank 0 stalls", start_second, "privacy", ["--scratch", shared],
            dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=8"))
        check(stalled, f"{label}: the first run never announced its stall at 'spilled':\n{tail(first.stderr)}")
        second = None
        if second_proc is not None:
            try:
                second_proc.wait(timeout=240)
            except subprocess.TimeoutExpired:
                second_proc.kill()
                second_proc.wait()
                check(False, f"{label}: the second run hung")
            with open(errors_file) as f:
                second = subprocess.CompletedProcess(command, second_proc.returncode, "", f.read())
        for name, result, out, expected in (("first", first, first_out, base),
                                            ("second", second, second_out, other_base)):
            if result is None:
                check(False, f"{label}: the {name} run did not run")
                continue
            errors = error_lines(result.stderr)
            print(f"{label}: {name} run exit {result.returncode}, error lines {errors}", flush=True)
            if check(result.returncode == 0 and not errors,
                     f"{label}: the {name} run failed beside another run on the same --scratch: exit "
                     f"{result.returncode}, {errors}\n{tail(result.stderr)}"):
                same_zones(expected, out, f"{label}: {name} run")
            else:
                nothing_half_written(out, expected, f"{label}: {name} run")
        check(not os.path.exists(scratch_folder(shared)), f"{label}: {scratch_folder(shared)} left after both runs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--part", default="equal,starter,limit,faults",
                        help="comma-separated: equal, starter, limit, faults")
    parser.add_argument("--ranks", default="1,2,3,4", help="rank counts of the equal and starter parts")
    parser.add_argument("--rules", default="privacy,serial", help="rule sets of the equal and starter parts")
    parser.add_argument("--data", default=None, help="starter landing folder (default: ../shared/data/stedi/landing)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.mpilake = os.path.abspath(args.mpilake)
    args.ranks = harness.parse_list(args.ranks, int)
    args.rules = harness.parse_list(args.rules)
    parts = harness.parse_list(args.part)
    unknown = sorted(set(parts) - {"equal", "starter", "limit", "faults"})
    if unknown:
        parser.error("unknown part(s): " + ", ".join(unknown))
    runner = Runner(args)
    tmp = tempfile.mkdtemp(prefix="mpilake-budget-")
    started = time.time()
    ran_any = False
    try:
        for part in parts:
            part_started = time.time()
            print(f"== {part}", flush=True)
            try:
                if part == "equal":
                    part_equal(runner, args, tmp)
                elif part == "starter":
                    if not part_starter(runner, args, tmp):
                        continue
                elif part == "limit":
                    part_limit(runner, args, tmp)
                else:
                    part_faults(runner, args, tmp)
            except (RuntimeError, OSError, KeyError, ValueError) as error:
                check(False, f"{part}: {type(error).__name__}: {error}")
            ran_any = True
            print(f"== {part}: {time.time() - part_started:.1f} s", flush=True)
    finally:
        if args.keep or FAILURES:
            print(f"outputs kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if not ran_any and not FAILURES:
        print("test_budget: skipped")
        return 77
    print(f"test_budget: {'FAILED' if FAILURES else 'all checks passed'} ({len(FAILURES)} problems, "
          f"{time.time() - started:.0f} s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
