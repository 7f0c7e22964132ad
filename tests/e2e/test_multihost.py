#!/usr/bin/python3
"""Across hosts: mpilake on ranks that share no host, joined only by TCP.

scripts/hosts.sh makes the hosts (network namespaces on a bridge, own address and hostname, one
shared file system); Open MPI launches into them through the launch agent as it launches over ssh,
with `--mca btl tcp,self` (no shared memory) on the bridge subnet only.

Equality mode (default): a run at HOSTS x RANKS_PER_HOST must give every zone (each dataset's
values, dtype and shape; every root attribute but created_utc), quarantine.jsonl and Deloton's
ride_offset byte for byte equal to a one-host run at 1 rank, every zone in stored order (STEDI's
customer zones are written sorted by email for that). The exchange figures of
summary.json are checked too: per exchange, the bytes sent over the ranks equal the bytes received,
and a 1-rank run sends nothing.

Lost-node mode (--lost kill | link): the last host dies in the middle of the shuffle, either every
process on it killed (SIGKILL) or its link taken down (ip link set ... down). The job must end within
a stated bound with a non-zero exit and one error line naming the stage; no process may be left on
any host; no zone may be left half-written; the previous run's zones in the same --out are
untouched; a rerun succeeds and equals the one-host run.

Exit 0 = pass, 1 = fail, 77 = skipped (this machine cannot make network namespaces).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True

import h5py  # noqa: E402

import e2e_harness as harness  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HOSTS_SH = os.path.join(HERE, "..", "..", "scripts", "hosts.sh")
# Open MPI's own failure detection for a host whose link is gone: TCP keepalive on the launcher's
# out-of-band connections (probe after 2 s idle, every 1 s, give up after 3 unanswered probes), and
# the TCP BTL's own keepalive between ranks with the same settings.
FAILURE_MCA = [
    "--mca", "oob_tcp_keepalive_time", "2",
    "--mca", "oob_tcp_keepalive_intvl", "1",
    "--mca", "oob_tcp_keepalive_probes", "3",
]
# The job must end within this after the host is lost: a killed host's daemon connection closes at
# once; a dead link is noticed after keepalive_time + keepalive_intvl x keepalive_probes = 5 s.
LOST_BOUND_S = {"kill": 10, "link": 15}

FAILURES = []


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        print("FAIL:", message, flush=True)
    return condition


def env():
    e = dict(os.environ)
    e.setdefault("OMPI_MCA_btl_vader_single_copy_mechanism", "none")
    return e


class Hosts:
    """scripts/hosts.sh up/down; the id includes this process's PID (no clash with other runs)."""

    def __init__(self, count, slots):
        self.id = str(os.getpid() % 10**8)
        e = env()
        e["SLOTS"] = str(slots)
        result = subprocess.run(["bash", HOSTS_SH, "up", str(count), self.id], capture_output=True, text=True, env=e)
        if result.returncode != 0:
            self.dir = None
            self.error = (result.stderr.strip().splitlines() or ["hosts.sh up failed"])[-1]
            return
        self.dir = result.stdout.strip()
        with open(os.path.join(self.dir, "mpirun.args")) as f:
            self.mpirun_args = f.read().split("\n")[:-1]
        with open(os.path.join(self.dir, "hosts")) as f:
            self.hosts = [line.split() for line in f if line.strip()]  # ns address hostname veth

    def processes(self, index):
        """PIDs in host `index`'s network namespace."""
        ns = self.hosts[index][0]
        result = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
        return [int(p) for p in result.stdout.split()]

    def down(self):
        if self.dir:
            subprocess.run(["bash", HOSTS_SH, "down", self.dir], capture_output=True)


def mpirun(args, hosts, ranks):
    command = [args.mpiexec, "--allow-run-as-root", "--oversubscribe", "-n", str(ranks)]
    if hosts is not None:
        command += hosts.mpirun_args + FAILURE_MCA
    return command


def run_command(args, hosts, ranks, landing, out, extra=()):
    return (mpirun(args, hosts, ranks) +
            [args.mpilake, "run", "--pipeline", args.pipeline, "--landing", landing, "--out", out, "--overwrite", "-q",
             "--results"] + list(extra))


def run(args, hosts, ranks, landing, out, label, extra=()):
    command = run_command(args, hosts, ranks, landing, out, extra)
    started = time.time()
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env())
    ok = result.returncode == 0 and os.path.exists(os.path.join(out, "summary.json"))
    check(ok, f"{label}: exit {result.returncode}\n{' '.join(command)}\n{result.stderr[-3000:]}")
    print(f"{label}: {time.time() - started:.1f} s", flush=True)
    return result if ok else None


def generate(args, landing):
    if args.pipeline == "stedi":
        options = ["--customers", "300", "--readings-per-customer", "120", "--seed", "7", "--bad-line-rate", "0.002"]
    else:
        options = ["--bikes", "6", "--days", "1", "--streams", "3", "--seed", "7", "--bad-line-rate", "0.002"]
    subprocess.run(mpirun(args, None, 1) + [args.mpilake, "generate", "--pipeline", args.pipeline, "--out", landing] +
                   options, check=True, capture_output=True, env=env())


# ---------------------------------------------------------------------------
# Comparing two output folders
# ---------------------------------------------------------------------------
def compare_outputs(expected_dir, actual_dir, label):
    """Every zone (datasets, dtypes, shapes, bytes; attributes but created_utc) and quarantine.jsonl."""
    return harness.compare_output_folders(check, expected_dir, actual_dir, label, baseline="the one-host run")


def check_exchange_figures(out, ranks, label):
    """summary.json: per exchange, bytes sent over all ranks == bytes received; 1 rank sends nothing."""
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    exchange = summary.get("exchange", {})
    per = exchange.get("per_exchange")
    if not check(isinstance(per, list) and per, f"{label}: summary.json has no exchange.per_exchange list"):
        return
    for i, item in enumerate(per):
        sent, received = item.get("bytes_sent_per_rank"), item.get("bytes_received_per_rank")
        check(isinstance(sent, list) and len(sent) == ranks and isinstance(received, list) and len(received) == ranks,
              f"{label}: exchange {i} ({item.get('stage')}) lacks one figure per rank")
        if not (isinstance(sent, list) and isinstance(received, list)):
            continue
        check(sum(sent) == sum(received), f"{label}: exchange {i} ({item.get('stage')}) sent {sum(sent)} "
              f"bytes but received {sum(received)}")
        if ranks == 1:
            check(sent == [0] and received == [0], f"{label}: a 1-rank run exchanged bytes in exchange {i}")
    check(sum(sum(item["bytes_sent_per_rank"]) for item in per) == exchange.get("bytes_sent"),
          f"{label}: the per-exchange bytes do not add up to exchange.bytes_sent")
    if ranks > 1:
        check(exchange.get("bytes_sent", 0) > 0, f"{label}: {ranks} ranks exchanged no bytes")


def check_result_lines(stdout, ranks, label):
    lines = [l for l in stdout.splitlines() if l.startswith("RESULT exchange_") and "_per_rank=" in l]
    check(lines, f"{label}: no per-rank exchange RESULT lines")
    for line in lines:
        values = line.split("=", 1)[1].split(",")
        check(len(values) == ranks, f"{label}: {line} does not have {ranks} values")


def check_summary_hosts(out, hosts, ranks_per_host, label):
    """summary.json's rank_hosts: one entry per rank, each host's name ranks-per-host times; and one
    peak RSS figure per rank."""
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    expected = sorted(h[2] for h in hosts.hosts for _ in range(ranks_per_host))
    check(sorted(summary.get("rank_hosts", [])) == expected,
          f"{label}: summary.json rank_hosts {summary.get('rank_hosts')}, expected {expected}")
    peaks = summary.get("peak_rss_bytes_per_rank", [])
    check(len(peaks) == len(expected) and all(p > 0 for p in peaks) and max(peaks) == summary.get("peak_rss_bytes_max"),
          f"{label}: summary.json peak_rss_bytes_per_rank {peaks} does not fit peak_rss_bytes_max")


def check_hostnames(args, hosts, ranks):
    """The ranks really are on separate hosts: each host's name appears ranks-per-host times."""
    result = subprocess.run(mpirun(args, hosts, ranks) + ["hostname"], capture_output=True, text=True, timeout=60,
                            env=env())
    names = sorted(result.stdout.split())
    expected = sorted(h[2] for h in hosts.hosts for _ in range(args.ranks_per_host))
    check(names == expected, f"ranks' hostnames {names}, expected {expected}")


# ---------------------------------------------------------------------------
# A lost host
# ---------------------------------------------------------------------------
def zone_files_complete(out, label):
    """Every zone under its final name opens and has all its rows; no temporary zone is left."""
    for name in os.listdir(out):
        if name.endswith(".h5"):
            try:
                with h5py.File(os.path.join(out, name), "r") as f:
                    rows = int(f.attrs["rows"])
                    for column in f.attrs["columns"]:
                        column = column.decode() if isinstance(column, bytes) else column
                        check(len(f[column]) == rows, f"{label}: {name}/{column} is not complete")
            except (OSError, KeyError) as error:
                check(False, f"{label}: {name} under its final name is unreadable: {error}")
    leftovers = [n for n in os.listdir(out) if n.endswith(".tmp")]
    check(not leftovers, f"{label}: temporary files left: {leftovers}")


def file_digests(out):
    digests = {}
    for name in sorted(os.listdir(out)):
        if name.endswith(".h5") or name in ("quarantine.jsonl", "summary.json"):
            with open(os.path.join(out, name), "rb") as f:
                digests[name] = (os.stat(os.path.join(out, name)).st_mtime_ns, hash(f.read()))
    return digests


def lose_host(args, hosts, ranks, landing, out, baseline):
    mode = args.lost
    # The last host by default; --victim first loses rank 0's host (any surviving rank reports).
    victim = 0 if args.victim == "first" else len(hosts.hosts) - 1
    ns, address, hostname, veth = hosts.hosts[victim]
    # The previous run's zones, to be left untouched by the failed run.
    run(args, hosts, ranks, landing, out, "previous run")
    before = file_digests(out)
    # Rank 0 stalls 20 s inside the run's first exchange (MPILAKE_FAULT=exchange:0:stall=20), so
    # every other rank is waiting in it when the host goes, and rank 0 is still in it when Open MPI
    # ends the job.
    e = env()
    e["MPILAKE_FAULT"] = "exchange:0:stall=20"
    command = run_command(args, hosts, ranks, landing, out)
    command[1:1] = ["-x", "MPILAKE_FAULT"]
    started = time.time()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e)
    # Read stderr as it comes, to see rank 0 announce its stall: then the shuffle has begun, however
    # slowly a loaded machine got there (a fixed sleep lost the race on a busy CI machine).
    stderr_lines, stalled = [], threading.Event()

    def read_stderr():
        for line in proc.stderr:
            stderr_lines.append(line)
            if line.startswith("mpilake: fault: rank 0 stalls"):
                stalled.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    drain = threading.Thread(target=proc.stdout.read, daemon=True)  # a full stdout pipe would block mpirun
    drain.start()
    check(stalled.wait(timeout=120), "rank 0 never reached the stall in the first exchange")
    deadline = time.time() + 30
    while time.time() < deadline and len(hosts.processes(victim)) < 1 + args.ranks_per_host:
        time.sleep(0.05)
    time.sleep(1.0)
    lost_at = time.time()
    if mode == "kill":
        pids = hosts.processes(victim)
        check(pids, "the victim host runs no processes")
        for pid in pids:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
    else:
        subprocess.run(["ip", "link", "set", veth, "down"], check=True)
    try:
        proc.wait(timeout=LOST_BOUND_S[mode] + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        check(False, f"lost host ({mode}): the job did not end within {LOST_BOUND_S[mode] + 30} s")
    ended = time.time() - lost_at
    reader.join(timeout=30)
    drain.join(timeout=30)
    stderr = "".join(stderr_lines)
    print(f"lost host ({mode}): job ended {ended:.1f} s after the host was lost (exit {proc.returncode}, "
          f"{lost_at - started:.1f} s into the run)", flush=True)
    check(ended <= LOST_BOUND_S[mode], f"lost host ({mode}): took {ended:.1f} s, bound {LOST_BOUND_S[mode]} s")
    check(proc.returncode != 0, f"lost host ({mode}): exit code 0")
    errors = [l for l in stderr.splitlines() if l.startswith("mpilake: error")]
    print(f"lost host ({mode}): error lines: {errors}", flush=True)
    # The stage of the run's first exchange (the stall holds the job there).
    with open(os.path.join(baseline, "summary.json")) as f:
        stage = json.load(f)["exchange"]["per_exchange"][0]["stage"]
    check(len(errors) == 1 and f"stage '{stage}'" in errors[0],
          f"lost host ({mode}): expected one mpilake error line naming stage '{stage}', got {errors}\n"
          f"{stderr[-2000:]}")
    if mode == "link":
        subprocess.run(["ip", "link", "set", veth, "up"], check=True)
    # No process left on any host (the dead host's daemon and ranks end too).
    deadline = time.time() + 15
    while time.time() < deadline and any(hosts.processes(i) for i in range(len(hosts.hosts))):
        time.sleep(0.1)
    left = {h[2]: hosts.processes(i) for i, h in enumerate(hosts.hosts) if hosts.processes(i)}
    check(not left, f"lost host ({mode}): processes left running: {left}")
    zone_files_complete(out, f"lost host ({mode})")
    check(file_digests(out) == before, f"lost host ({mode}): the previous run's zones changed")
    # The rerun succeeds and equals the one-host run.
    if run(args, hosts, ranks, landing, out, "rerun after the lost host"):
        compare_outputs(baseline, out, f"rerun after the lost host ({mode})")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mpilake", required=True)
    parser.add_argument("--mpiexec", required=True)
    parser.add_argument("--pipeline", choices=("stedi", "deloton"), required=True)
    parser.add_argument("--hosts", type=int, required=True)
    parser.add_argument("--ranks-per-host", type=int, required=True)
    parser.add_argument("--lost", choices=("kill", "link"))
    parser.add_argument("--victim", choices=("first", "last"), default="last",
                        help="which host is lost: the last (default) or the first, where rank 0 runs")
    args = parser.parse_args()
    ranks = args.hosts * args.ranks_per_host

    hosts = Hosts(args.hosts, args.ranks_per_host)
    if hosts.dir is None:
        print(f"skipped: cannot make network namespaces here ({hosts.error})")
        return 77
    try:
        with tempfile.TemporaryDirectory(prefix="mpilake-multihost-") as tmp:
            landing = os.path.join(tmp, "landing")
            generate(args, landing)
            baseline = os.path.join(tmp, "one-host")
            if not run(args, None, 1, landing, baseline, "one host, 1 rank"):
                return 1
            check_exchange_figures(baseline, 1, "one host, 1 rank")
            check_hostnames(args, hosts, ranks)
            out = os.path.join(tmp, "hosts")
            label = f"{args.pipeline} {args.hosts} hosts x {args.ranks_per_host} ranks"
            if args.lost:
                lose_host(args, hosts, ranks, landing, out, baseline)
            else:
                result = run(args, hosts, ranks, landing, out, label)
                if result:
                    zones = compare_outputs(baseline, out, label)
                    check_exchange_figures(out, ranks, label)
                    check_summary_hosts(out, hosts, args.ranks_per_host, label)
                    check_result_lines(result.stdout, ranks, label)
                    print(f"{label}: compared {len(zones)} zone files and quarantine.jsonl", flush=True)
    finally:
        hosts.down()
    print(f"test_multihost: {'FAILED' if FAILURES else 'all checks passed'} ({len(FAILURES)} problems)")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
