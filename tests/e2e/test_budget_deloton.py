#!/usr/bin/python3
"""Deloton's budgeted path (issue 20, "dumps larger than memory"): a run whose share of --memory-limit
is below what an in-memory run needs spills the parsed events to checksummed files under
<scratch>/.mpilake.scratch/<out>-<8 hex>/rank-N/, partitioned by bike (a ride never spans two passes),
rebuilds the rides partition by partition ("ride pass K of N") and writes readings.h5 by appends in
passes over ride-id ranges ("readings pass K of Q"). Every zone must equal the unlimited run's
(`--memory-limit off`) byte for byte at every rank count and budget: every dataset's dtype, shape and
bytes in stored order, every attribute but created_utc, plus quarantine.jsonl byte for byte and
summary.json's streams / zones / data_quality (e2e_harness.compare_output_folders).

Parts (--part, comma-separated; default all):
  equal    generated messy data (12 bikes, 3 streams, 2-hour files, 1 % bad lines, 1 % re-sent
           lines: rides cross the ranks' byte ranges), the unlimited baseline at 2 ranks; at each
           --ranks count the budgeted path forced by MPILAKE_DELOTON_PARTITIONS with three knob
           settings (few and many bike partitions, readings passes and spill blocks; one with
           --compress and small chunks, one with --scratch DIR), each compared with the baseline;
           summary.json's "memory" object, the progress lines (the memory line, the spill line,
           `ride pass K of N` for every K, `readings pass K of Q` for every K, their rides and
           readings adding up to the zones' rows) and the removed scratch folder. The same data
           unlimited (`off`) and under the default limit (auto, which it fits) at that rank count:
           nothing spilled, no pass line, no scratch folder, zones equal the baseline.
  samples  the same on the real samples ../shared/data/deloton/landing (each file its own stream;
           exit 77 when they are absent).
  limit    ~380 MB of generated data (64 bikes, 8 streams) under a real --memory-limit and no knob:
           100M at 1 rank and 128M at 2 ranks. The unlimited run's measured peak must exceed the
           limit (the data really does not fit); the limited run must go budgeted by its own
           planning, equal the unlimited run, and keep the sum of its ranks' peaks (measured from
           outside with /usr/bin/time -f %M around each rank, and as summary.json reports them)
           within the limit. A limit below any budget (30M at 2 ranks): one error line, nothing
           written.
  faults   at 2 ranks: SIGKILL at `spilled`, `pass`, `readings_pass` and `append` on either rank (no
           hang; no zone half-written; no zone of a later stage; an older complete run's zones in
           the same --out untouched; the rerun into the same --out cleans the scratch folder and
           equals the unlimited run); a throw on one rank at `pass` and at `readings_pass` (one error
           line naming the rank, the scratch folder gone, no temporary file); a spill file corrupted
           while rank 0 stalls at `spilled` (one `corrupt spill file PATH: block N checksum mismatch`
           line); a full scratch disk (a 256 KiB tmpfs as --scratch at 1 and 2 ranks, and one that
           holds the events but not the passes' files; skipped with a note where mount is refused);
           two overlapping runs whose outputs have the same folder name sharing one --scratch.

    /usr/bin/python3 tests/e2e/test_budget_deloton.py --mpilake build/mpilake --mpiexec mpiexec [--part equal --ranks 3]

Exit 0 = pass, 1 = fail, 77 = skipped (only the samples part, when the samples are absent).
"""

import argparse
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import e2e_harness as harness  # noqa: E402
from e2e_harness import (SCRATCH, error_lines, landing_size, read_summary, scratch_folder, tail,  # noqa: E402
                         temp_files)

ZONES = ("riders", "rides", "readings", "heart_rate_alerts", "daily")
KNOBS = ("MPILAKE_FAULT", "MPILAKE_DELOTON_PARTITIONS", "MPILAKE_DELOTON_PASS_READINGS", "MPILAKE_SPILL_BLOCK_ROWS",
         "MPILAKE_STEDI_PASS_ROWS", harness.QUARANTINE_KNOB)
# format_bytes: "%.0f MB" below 1e9 bytes, "%.2f GB" from there.
SIZE = r"(\d+ MB|\d+\.\d\d GB)"
MEMORY_LINE = re.compile(r"^\[mpilake\] memory: (.*): spilling to (.+)/" + re.escape(SCRATCH) +
                         r", rebuilding the rides in (\d+) bike partitions$", re.M)
SPILLED_LINE = re.compile(r"^\[mpilake\] spilled the events into (\d+) bike partitions: " + SIZE + " spilled$", re.M)
RIDE_PASS = re.compile(r"^\[mpilake\] ride pass (\d+) of (\d+): (\d+) rides, (\d+) readings; " + SIZE +
                       " spilled so far$", re.M)
READINGS_PASS = re.compile(r"^\[mpilake\] readings pass (\d+) of (\d+): (\d+) readings; " + SIZE +
                           " spilled so far$", re.M)
ANY_PASS = re.compile(r"\bpass \d+ of \d+\b")
DISK_FULL = re.compile(r"scratch disk full: (\S+) \((\d+) bytes spilled on this rank\); "
                       r"free space or pass --scratch DIR")
CORRUPT = re.compile(r"corrupt spill file (\S+): block (\d+) checksum mismatch")
TOO_SMALL = re.compile(r"--memory-limit is too small for this run: .* give at least " + SIZE)
# summary.json figures that must not depend on the path taken or the rank count.
SUMMARY_KEYS = ("pipeline", "landing_bytes", "streams", "zones", "data_quality")
# Layout options given to both runs of a comparison (the zones' chunking depends on them).
SMALL_LAYOUT = ["--max-round-mb", "1", "--chunk-rows", "1000"]
COMPRESSED_LAYOUT = ["--max-round-mb", "1", "--compress", "--chunk-rows", "333"]
# Forced budgets: (name, knobs, layout, --memory-limit, own --scratch).
BUDGETS = (
    # The quarantine knob: sorted runs of a few records, more than one merge takes (SortedRuns::kFanIn).
    ("few partitions", {"MPILAKE_DELOTON_PARTITIONS": "3", "MPILAKE_DELOTON_PASS_READINGS": "3000",
                        "MPILAKE_SPILL_BLOCK_ROWS": "200", harness.QUARANTINE_KNOB: "2000"}, SMALL_LAYOUT, "off",
     False),
    ("many partitions", {"MPILAKE_DELOTON_PARTITIONS": "9", "MPILAKE_DELOTON_PASS_READINGS": "500",
                         "MPILAKE_SPILL_BLOCK_ROWS": "13", harness.QUARANTINE_KNOB: "60000"}, SMALL_LAYOUT, "auto",
     False),
    ("compressed, --scratch", {"MPILAKE_DELOTON_PARTITIONS": "5", "MPILAKE_DELOTON_PASS_READINGS": "1700",
                               "MPILAKE_SPILL_BLOCK_ROWS": "61"}, COMPRESSED_LAYOUT, "off", True),
)
SAMPLES_BUDGET = {"MPILAKE_DELOTON_PARTITIONS": "4", "MPILAKE_DELOTON_PASS_READINGS": "500",
                  "MPILAKE_SPILL_BLOCK_ROWS": "17"}
FAULT_BUDGET = {"MPILAKE_DELOTON_PARTITIONS": "4", "MPILAKE_DELOTON_PASS_READINGS": "3000",
                "MPILAKE_SPILL_BLOCK_ROWS": "200"}
MESSY = ["--bikes", "12", "--streams", "3", "--days", "1", "--hours-per-file", "2", "--bad-line-rate", "0.01",
         "--duplicate-rate", "0.01"]
# The zones a failed run may have finished, by the stage it failed in (riders and rides are written
# after the ride passes, readings in the readings passes, the alerts and daily zones after them).
FINISHED_BEFORE = {"spilled": (), "pass": (), "readings_pass": ("riders", "rides"), "append": ("riders", "rides")}

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def zone_files(out):
    return sorted(n for n in os.listdir(out) if n.endswith(".h5")) if os.path.isdir(out) else []


def listing(folder):
    found = []
    for d, _, names in os.walk(folder):
        found += [os.path.relpath(os.path.join(d, n), folder) for n in names]
    return sorted(found)


def format_bytes(n):
    return f"{n / 1e6:.0f} MB" if n < 1000000000 else f"{n / 1e9:.2f} GB"


def size_of(text):
    number, unit = text.split()
    return float(number) * (1e6 if unit == "MB" else 1e9)


def run_folders(root, out):
    """The run folders under ROOT/.mpilake.scratch: <out folder name>-<8 hex>."""
    top = scratch_folder(root)
    names = sorted(os.listdir(top)) if os.path.isdir(top) else []
    pattern = re.compile(re.escape(os.path.basename(os.path.abspath(out))) + r"-[0-9a-f]{8}$")
    return [os.path.join(top, n) for n in names if pattern.match(n)], names


# ---------------------------------------------------------------------------
# Running mpilake
# ---------------------------------------------------------------------------
class Runner:
    def __init__(self, args):
        self.mpilake = args.mpilake
        self.mpiexec = args.mpiexec

    def command(self, ranks, arguments, env_vars=None, wrapper=()):
        env = harness.mpi_env()
        for name in KNOBS:
            env.pop(name, None)  # only what a case sets
        command = [self.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]
        for name, value in (env_vars or {}).items():
            env[name] = value
            command += ["-x", name]
        return command + list(wrapper) + [self.mpilake] + list(arguments), env

    def run_arguments(self, landing, out, extra):
        return ["run", "--pipeline", "deloton", "--landing", landing, "--out", out] + list(extra)

    def run(self, ranks, landing, out, extra=(), env_vars=None, timeout=240, wrapper=()):
        """-> CompletedProcess (text), or None when it ran past `timeout` (a failure is recorded)."""
        command, env = self.command(ranks, self.run_arguments(landing, out, extra), env_vars, wrapper)
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

    def start(self, ranks, landing, out, extra=(), env_vars=None, trigger=None):
        """Starts a run in the background: -> (Popen, its stderr lines so far, an Event set when a
        stderr line starts with `trigger`, the reader threads)."""
        command, env = self.command(ranks, self.run_arguments(landing, out, extra), env_vars)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.command = " ".join(command)
        lines, triggered, stdout = [], threading.Event(), []

        def read_stderr():
            for line in proc.stderr:
                lines.append(line)
                if trigger is not None and line.startswith(trigger):
                    triggered.set()

        threads = [threading.Thread(target=read_stderr, daemon=True),
                   threading.Thread(target=lambda: stdout.append(proc.stdout.read()), daemon=True)]
        for t in threads:
            t.start()
        proc.started = time.time()
        return proc, lines, triggered, (threads, stdout)

    def finish(self, started, timeout=240):
        """Waits for a run from start(): -> CompletedProcess-like (None when it hung: killed, recorded)."""
        proc, lines, _, (threads, stdout) = started
        try:
            proc.wait(timeout=max(1.0, timeout - (time.time() - proc.started)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            check(False, f"timed out after {timeout} s (hung?): {proc.command}\n{tail(''.join(lines))}")
            return None
        for t in threads:
            t.join(timeout=30)
        result = subprocess.CompletedProcess(proc.args, proc.returncode, "".join(stdout), "".join(lines))
        result.command = proc.command
        result.seconds = time.time() - proc.started
        return result

    def run_with_action(self, ranks, landing, out, trigger, action, extra=(), env_vars=None, timeout=240):
        """When a stderr line starts with `trigger`, calls action() while the run goes on.
        -> (result or None, whether it triggered, action's result)."""
        started = self.start(ranks, landing, out, extra, env_vars, trigger)
        proc, _, triggered, (threads, _) = started
        outcome = None
        deadline = time.time() + timeout
        while not triggered.wait(timeout=0.05):
            if (proc.poll() is not None and not threads[0].is_alive()) or time.time() > deadline:
                break  # it ended (or hung) without the trigger
        if triggered.is_set():
            outcome = action()
        return self.finish(started, timeout), started[2].is_set(), outcome

    def generate(self, ranks, landing, options):
        command, env = self.command(ranks, ["generate", "--pipeline", "deloton", "--out", landing] + list(options))
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"generate failed ({result.returncode}): {' '.join(command)}\n{tail(result.stderr)}")
        print(result.stdout.strip().splitlines()[0] if result.stdout.strip() else "generated " + landing, flush=True)


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


def check_limit_reported(memory, ranks, limit, label):
    """limit: 'off' (no limit reported), 'auto' (the node's memory) or the --memory-limit in bytes."""
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


def check_unlimited(result, out, ranks, label, limit="off", scratch_root=None):
    """A run that fits (or has no limit): budgeted false, nothing spilled, no pass or spill line, no
    scratch folder anywhere."""
    memory = memory_of(out, label)
    if memory is not None:
        check(memory.get("budgeted") is False, f"{label}: memory.budgeted is {memory.get('budgeted')!r}, expected false")
        check(memory.get("bytes_spilled") == 0, f"{label}: memory.bytes_spilled is {memory.get('bytes_spilled')!r}")
        check(memory.get("passes") == 0, f"{label}: memory.passes is {memory.get('passes')!r}, expected 0")
        per_rank = memory.get("bytes_spilled_per_rank")
        check(isinstance(per_rank, list) and len(per_rank) == ranks and all(b == 0 for b in per_rank),
              f"{label}: memory.bytes_spilled_per_rank {per_rank!r}, expected {ranks} zeros")
        check_limit_reported(memory, ranks, limit, label)
    if result is not None:
        lines = [line for line in result.stderr.splitlines()
                 if ANY_PASS.search(line) or MEMORY_LINE.match(line) or SPILLED_LINE.match(line)]
        check(not lines, f"{label}: a run that fits printed budgeted-path lines: {lines[:5]}")
    for root in (out, scratch_root):
        if root is not None:
            check(not os.path.exists(scratch_folder(root)), f"{label}: a run that fits left {scratch_folder(root)}")
    check(not temp_files(out), f"{label}: temporary files left: {temp_files(out)}")


def check_budgeted(result, out, ranks, label, limit, partitions=None, scratch_root=None, forced=True):
    """A budgeted run's summary, progress lines and cleanup. partitions: the forced number of bike
    partitions (None: its own planning)."""
    memory = memory_of(out, label)
    if memory is None:
        return None
    # A quarantine that spilled sorted runs (its line says so: the knob's cases, or a real budget once
    # its records pass 4 MB a rank) spills also after the last readings pass (late rejects, merges).
    quarantine_spills = bool(harness.QUARANTINE_RUNS.search(result.stderr))
    summary = read_summary(out)
    check(memory.get("budgeted") is True, f"{label}: memory.budgeted is {memory.get('budgeted')!r}, expected true")
    passes = memory.get("passes")
    check(isinstance(passes, int) and passes >= 2, f"{label}: memory.passes is {passes!r}, expected at least 2")
    spilled, per_rank = memory.get("bytes_spilled"), memory.get("bytes_spilled_per_rank")
    check(isinstance(spilled, int) and spilled > 0, f"{label}: memory.bytes_spilled is {spilled!r}, expected > 0")
    if check(isinstance(per_rank, list) and len(per_rank) == ranks and all(isinstance(b, int) for b in per_rank),
             f"{label}: memory.bytes_spilled_per_rank {per_rank!r} is not one integer per rank ({ranks})"):
        check(sum(per_rank) == spilled, f"{label}: bytes_spilled_per_rank {per_rank} does not add up to {spilled}")
        check(all(b > 0 for b in per_rank), f"{label}: a rank spilled nothing: {per_rank}")
    peaks = summary.get("peak_rss_bytes_per_rank")
    check(isinstance(peaks, list) and len(peaks) == ranks and all(isinstance(p, int) and p > 0 for p in peaks),
          f"{label}: summary.json peak_rss_bytes_per_rank {peaks!r} is not one positive integer per rank")
    check_limit_reported(memory, ranks, limit, label)
    zones = summary.get("zones", {})
    rides_rows = zones.get("rides", {}).get("rows")
    readings_rows = zones.get("readings", {}).get("rows")
    stderr = result.stderr
    # The memory line: the reason, where it spills, the partitions.
    memory_lines = MEMORY_LINE.findall(stderr)
    if check(len(memory_lines) == 1, f"{label}: expected one 'memory: ... spilling to <scratch>/{SCRATCH}, rebuilding "
             f"the rides in N bike partitions' line, got {len(memory_lines)}:\n{tail(stderr)}"):
        why, where, count = memory_lines[0]
        if forced:
            check("MPILAKE_DELOTON_PARTITIONS forces the budgeted path" in why,
                  f"{label}: the memory line does not say the knob forces the path: {why!r}")
        else:
            check("is less than an in-memory run needs" in why,
                  f"{label}: the memory line does not say the budget is too small: {why!r}")
        expected_root = scratch_root or out
        check(os.path.abspath(where) == os.path.abspath(expected_root),
              f"{label}: the memory line spills to {where}, expected {expected_root}")
        if partitions is not None:
            check(int(count) == partitions, f"{label}: {count} bike partitions, MPILAKE_DELOTON_PARTITIONS={partitions}")
        partitions = int(count)
    spill_lines = SPILLED_LINE.findall(stderr)
    if check(len(spill_lines) == 1, f"{label}: expected one 'spilled the events into N bike partitions: X MB "
             f"spilled' line, got {spill_lines}"):
        check(partitions is None or int(spill_lines[0][0]) == partitions,
              f"{label}: the spill line says {spill_lines[0][0]} partitions, the memory line {partitions}")
    # Ride passes: 1..P of P, each once, at least 2 and at most one per bike partition (a pass may take
    # several partitions, e.g. empty ones); their rides and readings add up to the zones' rows.
    ride_passes = [(int(k), int(n), int(r), int(m), size_of(s)) for k, n, r, m, s in RIDE_PASS.findall(stderr)]
    if check(ride_passes, f"{label}: no 'ride pass 1 of P' progress line:\n{tail(stderr)}"):
        totals = sorted({n for _, n, _, _, _ in ride_passes})
        check(len(totals) == 1 and 2 <= totals[0] <= (partitions or totals[0]),
              f"{label}: ride pass lines count {totals} passes, expected one count from 2 to the {partitions} bike "
              "partitions")
        check([k for k, _, _, _, _ in ride_passes] == list(range(1, totals[-1] + 1)),
              f"{label}: ride pass lines {[k for k, *_ in ride_passes][:30]} do not count 1..{totals[-1]}")
        check(sum(r for _, _, r, _, _ in ride_passes) == rides_rows,
              f"{label}: the ride passes rebuilt {sum(r for _, _, r, _, _ in ride_passes)} rides, rides.h5 has "
              f"{rides_rows} (a ride counted in two passes, or lost?)")
        check(sum(m for _, _, _, m, _ in ride_passes) == readings_rows,
              f"{label}: the ride passes found {sum(m for _, _, _, m, _ in ride_passes)} readings, readings.h5 has "
              f"{readings_rows}")
    # Readings passes: 1..Q of Q with Q = memory.passes; their readings add up to readings.h5.
    readings_passes = [(int(k), int(q), int(m), size_of(s), s) for k, q, m, s in READINGS_PASS.findall(stderr)]
    if check(readings_passes, f"{label}: no 'readings pass K of Q' progress line:\n{tail(stderr)}"):
        totals = sorted({q for _, q, _, _, _ in readings_passes})
        check(totals == [passes], f"{label}: readings pass lines count {totals} passes, summary.json {passes}")
        check([k for k, *_ in readings_passes] == list(range(1, (passes or 0) + 1)),
              f"{label}: readings pass lines {[k for k, *_ in readings_passes][:30]} do not count 1..{passes}")
        check(sum(m for _, _, m, _, _ in readings_passes) == readings_rows,
              f"{label}: the readings passes wrote {sum(m for _, _, m, _, _ in readings_passes)} readings, "
              f"readings.h5 has {readings_rows}")
        figures = [p[4] for p in ride_passes] + [p[3] for p in readings_passes]
        check(all(a <= b for a, b in zip(figures, figures[1:])),
              f"{label}: the 'spilled so far' figures go down: {figures[:40]}")
        if isinstance(spilled, int) and quarantine_spills:
            check(size_of(readings_passes[-1][4]) <= spilled + 5e5,
                  f"{label}: the last readings pass says {readings_passes[-1][4]} spilled so far, more than "
                  f"summary.json's {spilled} bytes ({format_bytes(spilled)})")
        elif isinstance(spilled, int):
            check(readings_passes[-1][4] == format_bytes(spilled),
                  f"{label}: the last readings pass says {readings_passes[-1][4]} spilled so far, summary.json "
                  f"{spilled} bytes ({format_bytes(spilled)})")
    for root in {out, scratch_root or out}:
        check(not os.path.exists(scratch_folder(root)), f"{label}: the finished run left {scratch_folder(root)}: "
              f"{listing(scratch_folder(root))[:20]}")
    check(not temp_files(out), f"{label}: temporary files left: {temp_files(out)}")
    return memory


def same_summary(expected_out, actual_out, label):
    expected, actual = read_summary(expected_out), read_summary(actual_out)
    for key in SUMMARY_KEYS:
        check(expected.get(key) == actual.get(key),
              f"{label}: summary.json '{key}' differs from the unlimited run's:\n"
              f"    unlimited {json.dumps(expected.get(key))[:600]}\n    this run  {json.dumps(actual.get(key))[:600]}")


def same_zones(expected_out, actual_out, label, expect_quarantine=True):
    before = len(FAILURES)
    zones = harness.compare_output_folders(check, expected_out, actual_out, label, baseline="the unlimited run",
                                           expect_quarantine=expect_quarantine)
    check(len(zones) == len(ZONES) + 1, f"{label}: expected {len(ZONES)} zones and quarantine.h5, got {zones}")
    same_summary(expected_out, actual_out, label)
    if len(FAILURES) == before:
        print(f"{label}: {len(zones)} zone files, quarantine.jsonl and summary figures equal the unlimited run's",
              flush=True)


def nothing_half_written(out, baseline, label, finished=None, allow_tmp=False, fresh=True):
    """After a failed run: every zone under its final name reads whole and equals the unlimited
    run's; in a fresh --out only the zones of the stages finished before the failure (finished, a
    tuple of zone names; None: any) and no summary.json; no temporary file (unless a SIGKILL may
    have left one for the rerun to replace)."""
    if not os.path.isdir(out):
        return
    if not allow_tmp:
        check(not temp_files(out), f"{label}: temporary files left after the failure: {temp_files(out)}")
    present = zone_files(out)
    if fresh:
        if finished is not None:
            allowed = {z + ".h5" for z in finished}
            check(set(present) <= allowed, f"{label}: the failed run wrote {sorted(set(present) - allowed)} "
                  f"(only {sorted(allowed)} are finished before that point)")
        check(not os.path.exists(os.path.join(out, "summary.json")), f"{label}: the failed run wrote summary.json")
    for name in present:
        try:
            harness.compare_zone_files(check, os.path.join(baseline, name), os.path.join(out, name),
                                       f"{label} (zone left by the failed run)")
        except (OSError, KeyError) as error:
            check(False, f"{label}: {name} under its final name is unreadable: {error}")


def no_zone_written(out, label, scratch_root=None):
    if os.path.isdir(out):
        written = sorted(n for n in os.listdir(out) if n.endswith(".h5") or n.endswith(".tmp") or
                         n in ("summary.json", "quarantine.jsonl"))
        check(not written, f"{label}: the failed run wrote {written}")
    for root in (out, scratch_root):
        if root is not None:
            check(not os.path.exists(scratch_folder(root)), f"{label}: the failed run left {scratch_folder(root)}: "
                  f"{listing(scratch_folder(root))[:10]}")


# ---------------------------------------------------------------------------
# Parts
# ---------------------------------------------------------------------------
def equality_cases(runner, landing, ranks_list, tmp, tag, budgets, expect_quarantine=True):
    """Baselines (unlimited, 2 ranks, one per layout); at each rank count the forced budgets compared
    with them, and the runs that fit."""
    baselines = {}
    for _, _, layout, _, _ in budgets:
        key = tuple(layout)
        if key in baselines:
            continue
        base = os.path.join(tmp, f"{tag}-unlimited-np2-{len(baselines)}")
        result = runner.run(2, landing, base, ["--memory-limit", "off"] + layout)
        if not ran_ok(result, base, f"{tag} unlimited np2 {' '.join(layout)}"):
            return
        check_unlimited(result, base, 2, f"{tag} unlimited np2")
        summary = read_summary(base)
        print(f"{tag}: baseline {' '.join(layout)}: {result.seconds:.1f} s, zones "
              f"{ {z: v.get('rows') for z, v in summary.get('zones', {}).items()} }, "
              f"{summary.get('data_quality', {}).get('quarantined')} quarantined", flush=True)
        baselines[key] = base
    small_base = baselines.get(tuple(SMALL_LAYOUT))
    for ranks in ranks_list:
        for i, (name, knobs, layout, limit, own_scratch) in enumerate(budgets):
            label = f"{tag} {name} ranks={ranks}"
            out = os.path.join(tmp, f"{tag}-budgeted-np{ranks}-{i}")
            extra = ["--memory-limit", limit] + layout
            scratch = None
            if own_scratch:
                scratch = os.path.join(tmp, f"{tag}-scratch-np{ranks}")
                os.makedirs(scratch, exist_ok=True)
                extra += ["--scratch", scratch]
            result = runner.run(ranks, landing, out, extra, knobs)
            if not ran_ok(result, out, label):
                continue
            memory = check_budgeted(result, out, ranks, label, limit, int(knobs["MPILAKE_DELOTON_PARTITIONS"]),
                                    scratch_root=scratch)
            quarantine_runs = harness.check_quarantine_runs(check, result.stderr, out, knobs, label)
            if scratch:
                check(os.listdir(scratch) == [], f"{label}: --scratch {scratch} not left empty: {os.listdir(scratch)}")
            if memory:
                print(f"{label}: {result.seconds:.1f} s, {len(RIDE_PASS.findall(result.stderr))} ride passes of "
                      f"{knobs['MPILAKE_DELOTON_PARTITIONS']} bike partitions, "
                      f"{memory.get('passes')} readings passes, {memory.get('bytes_spilled')} bytes spilled "
                      f"{memory.get('bytes_spilled_per_rank')}, {quarantine_runs or 0} sorted quarantine runs",
                      flush=True)
            same_zones(baselines[tuple(layout)], out, label, expect_quarantine)
        if small_base is None:
            continue
        # The same data when it fits: unlimited, and under the default limit (the node's memory).
        for limit, extra in (("off", ["--memory-limit", "off"]), ("auto", [])):
            label = f"{tag} fits (--memory-limit {limit}) ranks={ranks}"
            out = os.path.join(tmp, f"{tag}-fits-{limit}-np{ranks}")
            result = runner.run(ranks, landing, out, extra + SMALL_LAYOUT)
            if ran_ok(result, out, label):
                check_unlimited(result, out, ranks, label, limit)
                same_zones(small_base, out, label, expect_quarantine)


def part_equal(runner, args, tmp):
    landing = os.path.join(tmp, "landing-equal")
    runner.generate(2, landing, MESSY + ["--seed", "31"])
    equality_cases(runner, landing, args.ranks, tmp, "generated", BUDGETS)


def samples_landing(samples, root):
    """Each sample file its own stream: root/deloton/<name>/<file> (symlinks, nothing copied), as
    test_deloton.py lays them out."""
    for name in sorted(os.listdir(samples)):
        if not name.endswith(".ndjson"):
            continue
        stream = os.path.join(root, "deloton", name[: -len(".ndjson")])
        os.makedirs(stream)
        os.symlink(os.path.join(samples, name), os.path.join(stream, name))
    return root


def part_samples(runner, args, tmp):
    samples = args.data or harness.find_shared_data("deloton", "landing")
    if not samples or not os.path.isdir(samples):
        print("note: no real samples (../shared/data/deloton/landing): samples part skipped", flush=True)
        return False
    print(f"real samples: {samples}", flush=True)
    landing = samples_landing(samples, os.path.join(tmp, "samples"))
    budgets = (("samples", SAMPLES_BUDGET, SMALL_LAYOUT, "off", False),
               ("samples, compressed, --scratch", dict(SAMPLES_BUDGET, MPILAKE_DELOTON_PARTITIONS="7",
                                                       MPILAKE_DELOTON_PASS_READINGS="200"),
                COMPRESSED_LAYOUT, "auto", True))
    equality_cases(runner, landing, args.ranks, tmp, "samples", budgets)
    return True


def peak_wrapper(tmp):
    """A script that runs a rank under /usr/bin/time -f %M (its peak resident set in KiB), into
    $MPILAKE_PEAK_PREFIX.<rank>."""
    path = os.path.join(tmp, "peak-wrapper.sh")
    with open(path, "w") as f:
        f.write('#!/bin/sh\nexec /usr/bin/time -f %M -o "$MPILAKE_PEAK_PREFIX.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" '
                '"$@"\n')
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def measured_peaks(prefix, ranks, label):
    """-> [bytes per rank] from the wrapper's files (None where missing)."""
    peaks = []
    for rank in range(ranks):
        try:
            with open(f"{prefix}.{rank}") as f:
                peaks.append(int(f.read().split()[-1]) * 1024)
        except (OSError, ValueError, IndexError) as error:
            check(False, f"{label}: no peak measured for rank {rank}: {error}")
            peaks.append(None)
    return peaks


def part_limit(runner, args, tmp):
    landing = os.path.join(tmp, "landing-limit")
    runner.generate(2, landing, ["--target-bytes", "400000000", "--bikes", "64", "--streams", "8",
                                 "--bad-line-rate", "0.002", "--seed", "41"])
    size = landing_size(landing)
    time_tool = os.path.isfile("/usr/bin/time") and os.access("/usr/bin/time", os.X_OK)
    check(time_tool, "limit: /usr/bin/time is not there: the peaks are measured from summary.json only")
    wrapper = [peak_wrapper(tmp)] if time_tool else []
    figures = []
    for ranks, limit_text in ((1, "100M"), (2, "128M")):
        limit = int(limit_text[:-1]) << 20
        label = f"--memory-limit {limit_text} ranks={ranks} ({size / 1e6:.0f} MB landing)"
        peaks_of = {}
        outs = {}
        for kind, extra in (("unlimited", ["--memory-limit", "off"]), ("budgeted", ["--memory-limit", limit_text])):
            out = os.path.join(tmp, f"limit-{kind}-np{ranks}")
            prefix = os.path.join(tmp, f"peak-{kind}-np{ranks}")
            result = runner.run(ranks, landing, out, extra, {"MPILAKE_PEAK_PREFIX": prefix} if wrapper else None,
                                wrapper=wrapper)
            if not ran_ok(result, out, f"{label} {kind}"):
                break
            outs[kind] = (out, result)
            reported = read_summary(out).get("peak_rss_bytes_per_rank") or []
            measured = measured_peaks(prefix, ranks, f"{label} {kind}") if wrapper else [None] * ranks
            peaks_of[kind] = (measured, reported)
            memory = read_summary(out).get("memory", {})
            print(f"{label} {kind}: {result.seconds:.1f} s, budgeted {memory.get('budgeted')}, "
                  f"{memory.get('passes')} readings passes, {memory.get('bytes_spilled', 0) / 1e6:.1f} MB spilled; "
                  f"peak per rank measured {[p and round(p / 2**20, 1) for p in measured]} MiB (sum "
                  f"{sum(p or 0 for p in measured) / 2**20:.1f} MiB), summary.json "
                  f"{[round(p / 2**20, 1) for p in reported]} MiB (sum {sum(reported) / 2**20:.1f} MiB); limit "
                  f"{limit / 2**20:.0f} MiB per node ({limit // ranks / 2**20:.0f} MiB per rank)", flush=True)
            figures.append((label, kind, measured, reported, limit))
        if len(outs) < 2:
            continue
        base, _ = outs["unlimited"]
        out, result = outs["budgeted"]
        check_unlimited(outs["unlimited"][1], base, ranks, f"{label} unlimited")
        # The data must really not fit: the unlimited run's peak is over the limit.
        measured, reported = peaks_of["unlimited"]
        unlimited_peak = sum(p or 0 for p in measured) or sum(reported)
        check(unlimited_peak > limit, f"{label}: the unlimited run's peak ({unlimited_peak} bytes, all ranks) fits "
              f"the limit of {limit}: the data is too small to test the limit")
        check_budgeted(result, out, ranks, f"{label} budgeted", limit, forced=False)
        same_zones(base, out, f"{label} budgeted")
        measured, reported = peaks_of["budgeted"]
        if wrapper and all(p is not None for p in measured):
            check(sum(measured) <= limit, f"{label}: the budgeted run's measured peak, {sum(measured)} bytes "
                  f"({sum(measured) / 2**20:.1f} MiB, ranks {[round(p / 2**20, 1) for p in measured]} MiB by "
                  f"/usr/bin/time -f %M), is over the --memory-limit of {limit} bytes ({limit / 2**20:.0f} MiB)")
        check(0 < sum(reported) <= limit, f"{label}: the budgeted run's peak in summary.json "
              f"(peak_rss_bytes_per_rank {reported}, sum {sum(reported) / 2**20:.1f} MiB) is over the --memory-limit "
              f"of {limit} bytes ({limit / 2**20:.0f} MiB)")

    # A limit below any budget: one line that says how much to give, nothing written.
    label = "--memory-limit 30M ranks=2"
    out = os.path.join(tmp, "limit-too-small")
    result = runner.run(2, landing, out, ["--memory-limit", "30M"])
    if result is not None:
        errors = error_lines(result.stderr)
        print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: exit 0, expected a refusal")
        check(len(errors) == 1 and TOO_SMALL.search(errors[0]),
              f"{label}: expected one line '--memory-limit is too small for this run: ... give at least N MB', got "
              f"{errors}\n{tail(result.stderr)}")
        no_zone_written(out, label)


def part_faults(runner, args, tmp):
    ranks = 2
    landing = os.path.join(tmp, "landing-faults")
    runner.generate(2, landing, MESSY + ["--seed", "51"])
    base = os.path.join(tmp, "faults-unlimited")
    result = runner.run(ranks, landing, base, ["--memory-limit", "off"] + SMALL_LAYOUT)
    if not ran_ok(result, base, "faults: unlimited run"):
        return
    check_unlimited(result, base, ranks, "faults: unlimited run")

    def rerun(out, label, scratch=None):
        """The rerun into the same --out (same --scratch): it cleans what the failed run left."""
        extra = ["--overwrite"] + SMALL_LAYOUT + (["--scratch", scratch] if scratch else [])
        result = runner.run(ranks, landing, out, extra, FAULT_BUDGET)
        if ran_ok(result, out, label + ": rerun"):
            check_budgeted(result, out, ranks, label + ": rerun", "auto",
                           int(FAULT_BUDGET["MPILAKE_DELOTON_PARTITIONS"]), scratch_root=scratch)
            if scratch:
                check(os.listdir(scratch) == [], f"{label}: rerun: --scratch {scratch} not left empty: "
                      f"{os.listdir(scratch)}")
            same_zones(base, out, label + ": rerun")

    # SIGKILL of one rank at each fault point of the budgeted path.
    kills = (("spilled:0", False, False), ("spilled:1", True, False), ("pass:1", False, False),
             ("pass:0", True, False), ("readings_pass:0", False, False), ("readings_pass:1", False, True),
             ("append:1", False, False))
    for fault, own_scratch, previous in kills:
        label = (f"SIGKILL {fault}" + (" --scratch DIR" if own_scratch else "") +
                 (" over a finished run" if previous else ""))
        name = fault.replace(":", "-")
        out = os.path.join(tmp, "kill-" + name)
        extra = list(SMALL_LAYOUT)
        scratch = None
        if own_scratch:
            scratch = os.path.join(tmp, "kill-scratch-" + name)
            os.makedirs(scratch)
            extra += ["--scratch", scratch]
        if previous:  # an older complete run in the same --out must stay whole
            shutil.copytree(base, out)
            extra.append("--overwrite")
        result = runner.run(ranks, landing, out, extra, dict(FAULT_BUDGET, MPILAKE_FAULT=fault), timeout=180)
        if result is None:
            continue
        check(result.returncode != 0, f"{label}: a killed rank must fail the job (exit {result.returncode})")
        root = scratch or out
        left = listing(scratch_folder(root)) if os.path.isdir(scratch_folder(root)) else []
        print(f"{label}: job ended in {result.seconds:.1f} s, exit {result.returncode}, "
              f"scratch folder {f'left for the rerun ({len(left)} files)' if left else 'gone'}, temporary files "
              f"{temp_files(out)}, zones {zone_files(out)}", flush=True)
        if scratch:
            check(not os.path.exists(scratch_folder(out)), f"{label}: with --scratch DIR the spill went into --out")
        nothing_half_written(out, base, label, FINISHED_BEFORE[fault.split(":")[0]], allow_tmp=True,
                             fresh=not previous)
        if previous:
            expected = zone_files(base)
            check(zone_files(out) == expected, f"{label}: the older run's zones {expected} are not all there: "
                  f"{zone_files(out)}")
        rerun(out, label, scratch)

    # A throw on one rank only: one error line, from that rank; the scratch folder removed, no
    # temporary file, no zone of a later stage.
    for fault in ("pass:1:throw", "readings_pass:0:throw"):
        label = fault
        out = os.path.join(tmp, "throw-" + fault.split(":")[0])
        result = runner.run(ranks, landing, out, SMALL_LAYOUT, dict(FAULT_BUDGET, MPILAKE_FAULT=fault))
        if result is None:
            continue
        errors = error_lines(result.stderr)
        rank = fault.split(":")[1]
        print(f"{label}: exit {result.returncode} in {result.seconds:.1f} s, error lines {errors}", flush=True)
        check(result.returncode != 0, f"{label}: exit code 0")
        check(len(errors) == 1 and f"rank {rank}" in errors[0] and "injected fault" in errors[0],
              f"{label}: expected one error line from rank {rank}, got {errors}\n{tail(result.stderr)}")
        nothing_half_written(out, base, label, FINISHED_BEFORE[fault.split(":")[0]])
        check(not os.path.exists(scratch_folder(out)),
              f"{label}: the failed run left {scratch_folder(out)}: {listing(scratch_folder(out))[:10]}")
        rerun(out, label)

    # A spill file corrupted after it was closed, before a ride pass reads it back.
    label = "corrupt spill file"
    out = os.path.join(tmp, "corrupt")
    scratch = os.path.join(tmp, "corrupt-scratch")
    os.makedirs(scratch)
    events_sizes = []

    def corrupt():
        folders, names = run_folders(scratch, out)
        if not check(len(folders) == 1, f"{label}: expected one run folder {os.path.basename(out)}-<8 hex> under "
                     f"{scratch_folder(scratch)}, found {names}"):
            return None
        ranks_there = sorted(os.listdir(folders[0]))
        check(ranks_there == [f"rank-{r}" for r in range(ranks)],
              f"{label}: the run folder holds {ranks_there}, expected one rank-N folder per rank")
        check(not os.path.exists(scratch_folder(out)), f"{label}: with --scratch DIR the spill went into --out")
        folder = os.path.join(folders[0], "rank-0")
        files = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        targets = sorted((n for n in files if n.startswith("events")),
                         key=lambda n: -os.path.getsize(os.path.join(folder, n)))
        if not check(targets, f"{label}: no events spill file in {folder} while rank 0 stalls at 'spilled' "
                     f"(it holds {files})"):
            return None
        # Every rank's events are spilled and closed by now: their size, for the disk-full case below
        # (tmpfs counts whole pages).
        for d, _, found in os.walk(scratch_folder(scratch)):
            events_sizes.extend(-(-os.path.getsize(os.path.join(d, n)) // 4096) * 4096 for n in found)
        path = os.path.join(folder, targets[0])
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            byte = f.read(1)
            f.seek(size // 2)
            f.write(bytes([byte[0] ^ 0x5A]))
        print(f"{label}: flipped byte {size // 2} of {path} ({size} bytes; rank 0 holds {files})", flush=True)
        return path

    result, stalled, path = runner.run_with_action(ranks, landing, out, "mpilake: fault: rank 0 stalls", corrupt,
                                                   SMALL_LAYOUT + ["--scratch", scratch],
                                                   dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=4"))
    if result is not None:
        check(stalled, f"{label}: rank 0 never announced its stall at 'spilled':\n{tail(result.stderr)}")
        if path is not None:
            errors = error_lines(result.stderr)
            print(f"{label}: exit {result.returncode}, error lines {errors}", flush=True)
            check(result.returncode != 0, f"{label}: a corrupt spill file must fail the run (exit 0)")
            matched = CORRUPT.search(errors[0]) if len(errors) == 1 else None
            if check(matched, f"{label}: expected one 'corrupt spill file PATH: block N checksum mismatch' line, got "
                     f"{errors}\n{tail(result.stderr)}"):
                check(os.path.abspath(matched.group(1)) == os.path.abspath(path),
                      f"{label}: the line names {matched.group(1)}, the corrupted file is {path}")
            no_zone_written(out, label, scratch)
            rerun(out, label, scratch)
    events_bytes = sum(events_sizes)

    # A full scratch disk (a tmpfs as --scratch). 256 KiB cannot hold the events: at 1 rank the rank
    # itself filled it (N > 0); at 2 ranks the rank named may find it already full (N >= 0); the run
    # fails in the parse, before any zone. Then a disk that holds the events (their size seen during
    # the stall above) and 256 KiB more: the run fails later, writing a file of the passes.
    cases = [("full scratch disk, 1 rank", 1, 256 * 1024, True, True),
             ("full scratch disk, 2 ranks", ranks, 256 * 1024, True, False)]
    if events_bytes:
        cases.append(("full scratch disk in the passes", ranks, events_bytes + 256 * 1024, False, True))
    else:
        check(False, "full scratch disk in the passes: the size of the events' spill files is unknown")
    for label, run_ranks, size, in_parse, positive in cases:
        small = os.path.join(tmp, "small-scratch-" + str(len(os.listdir(tmp))))
        os.makedirs(small)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", small], capture_output=True,
                               text=True)
        if mount.returncode != 0:
            print(f"note: cannot mount a tmpfs here ({mount.stderr.strip() or 'no privilege'}): {label} case "
                  "skipped", flush=True)
            continue
        try:
            out = os.path.join(tmp, "disk-full-" + str(len(os.listdir(tmp))))
            result = runner.run(run_ranks, landing, out, SMALL_LAYOUT + ["--scratch", small], FAULT_BUDGET)
            if result is None:
                continue
            errors = error_lines(result.stderr)
            print(f"{label} ({size} bytes): exit {result.returncode} in {result.seconds:.1f} s, error lines {errors}",
                  flush=True)
            check(result.returncode != 0, f"{label}: a full scratch disk must fail the run (exit 0)")
            matched = DISK_FULL.search(errors[0]) if len(errors) == 1 else None
            if check(matched, f"{label}: expected one line 'scratch disk full: PATH (N bytes spilled on this rank); "
                     f"free space or pass --scratch DIR', got {errors}\n{tail(result.stderr)}"):
                path, spilled = matched.group(1), int(matched.group(2))
                check(path.startswith(scratch_folder(small) + os.sep) and os.sep + "rank-" in path,
                      f"{label}: the line names {path}, not a spill file under {scratch_folder(small)}")
                # The figure counts every byte this rank wrote; files of finished passes are removed
                # as it goes, so after the parse it may exceed the disk's size.
                check((0 < spilled if positive else 0 <= spilled) and (spilled <= size or not in_parse),
                      f"{label}: {spilled} bytes spilled on this rank, on a disk of {size} bytes")
                is_events = os.path.basename(path).startswith("events")
                check(is_events == in_parse, f"{label}: the disk filled up writing {os.path.basename(path)}, expected "
                      + ("an events spill file" if in_parse else "a file of the passes"))
            if in_parse:
                no_zone_written(out, label, small)
            else:
                nothing_half_written(out, base, label, FINISHED_BEFORE["readings_pass"])
                print(f"{label}: zones left by the failed run (each equal to the unlimited run's): {zone_files(out)}",
                      flush=True)
            check(not os.path.exists(scratch_folder(small)), f"{label}: the failed run left {scratch_folder(small)}: "
                  f"{listing(scratch_folder(small))[:10]}")
            check(not os.path.exists(scratch_folder(out)), f"{label}: the failed run left {scratch_folder(out)}")
            rerun(out, label)
        finally:
            subprocess.run(["umount", small], capture_output=True)

    # Two budgeted runs sharing one --scratch, into outputs of the same folder name (x/out, y/out),
    # overlapping: the second starts while the first stalls with its events spilled, and stalls there
    # itself for longer, so the first reads back while the second's spill files are in the shared
    # folder. Each keeps to its own <out>-<8 hex> folder: both succeed and equal the unlimited run.
    label = "shared --scratch"
    shared = os.path.join(tmp, "shared-scratch")
    os.makedirs(shared)
    first_out, second_out = os.path.join(tmp, "shared-x", "out"), os.path.join(tmp, "shared-y", "out")
    extra = SMALL_LAYOUT + ["--scratch", shared]
    second = []

    stall_line = "mpilake: fault: rank 0 stalls"

    def start_second():
        # The second run parses and spills beside the stalled first; its own stall line says its
        # spill files are there. Waiting for that line, not a fixed time, keeps this right under the
        # sanitizers too, where a run takes several times longer to get there.
        second.append(runner.start(ranks, landing, second_out, extra,
                                   dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=3"), stall_line))
        if not second[0][2].wait(timeout=11):
            check(False, f"{label}: the second run did not reach its stall at 'spilled' within 11 s, "
                  f"while the first was held")
        return run_folders(shared, first_out)[1]

    first, stalled, names = runner.run_with_action(ranks, landing, first_out, stall_line, start_second, extra,
                                                   dict(FAULT_BUDGET, MPILAKE_FAULT="spilled:0:stall=12"))
    check(stalled, f"{label}: the first run never announced its stall at 'spilled'")
    if names is not None:
        print(f"{label}: run folders in the shared scratch while both run: {names}", flush=True)
        check(len(names) == 2, f"{label}: expected two run folders out-<8 hex>, one per run, found {names}")
    results = [("first", first, first_out), ("second", runner.finish(second[0]) if second else None, second_out)]
    for name, result, out in results:
        if result is None:
            check(False, f"{label}: the {name} run did not finish")
            continue
        errors = error_lines(result.stderr)
        print(f"{label}: {name} run exit {result.returncode}, error lines {errors}", flush=True)
        if check(result.returncode == 0 and not errors and ran_ok(result, out, f"{label}: {name} run"),
                 f"{label}: the {name} run failed beside another run on the same --scratch: exit "
                 f"{result.returncode}, {errors}\n{tail(result.stderr)}"):
            check_budgeted(result, out, ranks, f"{label}: {name} run", "auto",
                           int(FAULT_BUDGET["MPILAKE_DELOTON_PARTITIONS"]), scratch_root=shared)
            same_zones(base, out, f"{label}: {name} run")
    check(not os.path.exists(scratch_folder(shared)), f"{label}: {scratch_folder(shared)} left after both runs: "
          f"{listing(scratch_folder(shared))[:10]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", default="mpiexec")
    parser.add_argument("--part", default="equal,samples,limit,faults",
                        help="comma-separated: equal, samples, limit, faults")
    parser.add_argument("--ranks", default="1,2,3,4", help="rank counts of the equal and samples parts")
    parser.add_argument("--data", default=None, help="real samples folder (default: ../shared/data/deloton/landing)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    args.mpilake = os.path.abspath(args.mpilake)
    args.ranks = harness.parse_list(args.ranks, int)
    parts = harness.parse_list(args.part)
    unknown = sorted(set(parts) - {"equal", "samples", "limit", "faults"})
    if unknown:
        parser.error("unknown part(s): " + ", ".join(unknown))
    runner = Runner(args)
    tmp = tempfile.mkdtemp(prefix="mpilake-budget-deloton-")
    started = time.time()
    ran_any = False
    try:
        for part in parts:
            part_started = time.time()
            print(f"== {part}", flush=True)
            try:
                if part == "equal":
                    part_equal(runner, args, tmp)
                elif part == "samples":
                    if not part_samples(runner, args, tmp):
                        continue
                elif part == "limit":
                    part_limit(runner, args, tmp)
                else:
                    part_faults(runner, args, tmp)
            except (RuntimeError, OSError, KeyError, ValueError, TypeError) as error:
                check(False, f"{part}: {type(error).__name__}: {error}")
            ran_any = True
            print(f"== {part}: {time.time() - part_started:.1f} s", flush=True)
    finally:
        if args.keep or FAILURES:
            print(f"outputs kept in {tmp}", flush=True)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if not ran_any and not FAILURES:
        print("test_budget_deloton: skipped")
        return 77
    print(f"test_budget_deloton: {'FAILED' if FAILURES else 'all checks passed'} ({len(FAILURES)} problems, "
          f"{time.time() - started:.0f} s)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
