#!/usr/bin/env bash
# Slurm test with several nodes: a three-node Slurm cluster on this machine, one slurmd per "host"
# of scripts/hosts.sh (a network namespace with its own address on a bridge, its own hostname in a
# UTS namespace, its own SlurmdSpoolDir and TmpFS), the controller in the root namespace on the
# bridge's address. The real job scripts in slurm/ are submitted with sbatch -N 1, 2 and 3, and the
# multi-node runs must equal the one-node run zone for zone, with the job logs naming the nodes.
#
#   bash tests/slurm/test_slurm_nodes.sh --mpilake build/mpilake
#
# Jobs: generate STEDI and Deloton landing data (with bad lines, so that quarantine.jsonl is
# compared too); STEDI on 1 node x 1 task (the reference), on 2 nodes x 2 tasks with srun
# --mpi=pmix and on 2 nodes x 1 task with mpirun inside the allocation; Deloton on 1 node x 1 task
# and on 3 nodes x 1 task. Open MPI is told to use TCP only (btl tcp,self on the bridge subnet).
# Zones are compared as tests/e2e/test_multihost.py compares them (byte for byte; the two STEDI
# customer zones as sorted rows).
#
# Stops every daemon and removes every namespace it made on every exit; a watchdog does the same if
# the test itself is killed. Set MPILAKE_SLURM_KEEP=1 to keep the temp folder. Exit 0 when every
# check passes, 1 otherwise, 77 (skipped, one line) when not root, when Slurm cannot be installed
# or when this machine cannot make network namespaces.
set -uo pipefail

usage() { echo "usage: $0 --mpilake PATH" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
hosts_sh="$repo/scripts/hosts.sh"
mpilake=""
while [ $# -gt 0 ] && [ "$1" != --reap ]; do
  case "$1" in
    --mpilake) [ $# -ge 2 ] || usage; mpilake="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
if [ "${1:-}" != --reap ]; then
  [ -n "$mpilake" ] || usage
  mpilake="$(readlink -f "$mpilake")"
  if [ ! -x "$mpilake" ]; then echo "slurm nodes test: mpilake binary '$mpilake' not executable" >&2; exit 1; fi
fi

deadline=$((SECONDS + 230))   # ctest kills the test at 300 s
python=/usr/bin/python3
nodes=3

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL: $*"; }
note() { echo "-- $*"; }

tmp=""
hosts_dir=""
ctld_pid=""
slurmd_pids=()

# Processes of our cluster outside the namespaces (the controller, srun/sbatch clients): they name
# our temp folder on their command line or hold it open. Those inside the namespaces (slurmd, the
# slurmstepd they fork, the jobs) are found by namespace (ip netns pids).
procs_of_tmp() {
  local d p args
  [ -n "$tmp" ] || return 0
  for d in /proc/[0-9]*; do
    p="${d#/proc/}"
    { [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ]; } && continue
    args=()
    mapfile -d '' -t args <"$d/cmdline" 2>/dev/null || continue
    [ ${#args[@]} -gt 0 ] || continue
    [[ " ${args[*]} " == *" --reap "* ]] && continue
    # shellcheck disable=SC2010  # /proc links, not file names
    if [[ "${args[*]}" == *"$tmp/"* ]] || ls -l "$d/cwd" "$d/fd" 2>/dev/null | grep -qF "$tmp/"; then
      echo "$p"
    fi
  done
}

procs_of_hosts() {  # every process in our namespaces
  local ns
  [ -n "$hosts_dir" ] && [ -f "$hosts_dir/hosts" ] || return 0
  while read -r ns _; do ip netns pids "$ns" 2>/dev/null; done <"$hosts_dir/hosts"
}

stop_cluster() {
  local p i alive
  cd / || true
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    for p in $(timeout 10 squeue -h -o %i 2>/dev/null); do timeout 10 scancel "$p" 2>/dev/null; done
    timeout 15 scontrol shutdown >/dev/null 2>&1
  fi
  for i in $(seq 1 30); do   # up to 15 s for a clean stop
    alive=""
    for p in $ctld_pid ${slurmd_pids[@]+"${slurmd_pids[@]}"} $(procs_of_hosts) $(procs_of_tmp); do
      kill -0 "$p" 2>/dev/null && alive="$alive $p"
    done
    [ -z "$alive" ] && break
    # shellcheck disable=SC2086
    [ "$i" -eq 20 ] && kill -TERM $alive 2>/dev/null
    sleep 0.5
  done
  for p in $ctld_pid ${slurmd_pids[@]+"${slurmd_pids[@]}"} $(procs_of_hosts) $(procs_of_tmp); do
    if kill -0 "$p" 2>/dev/null; then echo "slurm nodes test: killing leftover process $p" >&2; kill -KILL "$p" 2>/dev/null; fi
  done
  for p in $ctld_pid ${slurmd_pids[@]+"${slurmd_pids[@]}"}; do wait "$p" 2>/dev/null; done
  ctld_pid=""
  slurmd_pids=()
}

remove_hosts() {
  [ -n "$hosts_dir" ] || return 0
  bash "$hosts_sh" down "$hosts_dir" >/dev/null 2>&1
  hosts_dir=""
}

# shellcheck disable=SC2317  # called from finish (EXIT trap)
print_logs() {
  local f
  for f in "$tmp"/jobs/*.log "$tmp"/log/*; do
    [ -f "$f" ] || continue
    echo "======== $f (last 40 lines) ========"
    tail -n 40 "$f"
  done
}

# shellcheck disable=SC2317  # runs from the EXIT trap
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then print_logs; fi
  stop_cluster
  remove_hosts
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    touch "$tmp/.finished"
    if [ "${MPILAKE_SLURM_KEEP:-0}" = 1 ]; then echo "slurm nodes test: kept $tmp"; else rm -rf "$tmp"; fi
  fi
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "slurm nodes test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  for f in "${failures[@]}"; do echo "  failed: $f"; done
  exit 1
}

# Internal mode, run detached by the test: if the test dies without cleaning up (SIGKILL, e.g. a
# ctest timeout), kill what is left of its cluster, remove its namespaces and its temp folder.
if [ "${1:-}" = --reap ]; then
  parent="$2"
  while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  tmp="$3"
  hosts_dir="$4"
  case "$tmp" in */mpilake-slurm-nodes.*) ;; *) exit 0 ;; esac
  [ -d "$tmp" ] && [ ! -e "$tmp/.finished" ] || exit 0
  for p in $(procs_of_hosts) $(procs_of_tmp); do kill -KILL "$p" 2>/dev/null; done
  remove_hosts
  rm -rf "$tmp"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm nodes test: skipped: needs root (installs packages, makes network namespaces, runs Slurm daemons)"
  exit 77
fi
if ! install_log="$(bash "$repo/scripts/install-slurm.sh" 2>&1)"; then
  echo "slurm nodes test: skipped: Slurm cannot be installed ($(echo "$install_log" | tail -n 1))"
  exit 77
fi
for cmd in slurmctld slurmd sbatch srun squeue scontrol sinfo nsenter unshare; do
  if ! command -v "$cmd" >/dev/null 2>&1; then echo "slurm nodes test: skipped: command $cmd missing"; exit 77; fi
done
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done

trap finish EXIT
trap 'echo "slurm nodes test: interrupted" >&2; exit 130' INT
trap 'echo "slurm nodes test: terminated" >&2; exit 143' TERM

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mpilake-slurm-nodes.XXXXXX")"
mkdir -p "$tmp"/{state,spool,nodetmp,log,run,jobs}

# ---------------------------------------------------------------- the hosts
id=$(($$ % 100000000))
if ! hosts_out="$(bash "$hosts_sh" up "$nodes" "$id" 2>&1)"; then
  trap - EXIT
  rm -rf "$tmp"
  echo "slurm nodes test: skipped: cannot make network namespaces ($(echo "$hosts_out" | tail -n 1))"
  exit 77
fi
hosts_dir="$(echo "$hosts_out" | tail -n 1)"
( setsid bash "${BASH_SOURCE[0]}" --reap "$$" "$tmp" "$hosts_dir" </dev/null >/dev/null 2>&1 & )
subnet="$(cat "$hosts_dir/subnet")"
ctl_addr="${subnet%.0/24}.254"   # the bridge's address, in the root namespace
mapfile -t host_lines <"$hosts_dir/hosts"   # NAMESPACE ADDRESS HOSTNAME VETH
node_names=()
for line in "${host_lines[@]}"; do
  # shellcheck disable=SC2086
  set -- $line
  node_names+=("$3")
  mkdir -p "$tmp/spool/$3" "$tmp/nodetmp/$3"
done
note "hosts: ${node_names[*]} on $subnet (controller at $ctl_addr)"

conf="$tmp/slurm.conf"
export SLURM_CONF="$conf"
listening() {  # the local TCP ports in LISTEN state (state 0A in /proc/net/tcp*)
  local local_addr st hex
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ local_addr _ st _; do
    [ "$st" = 0A ] || continue
    hex="${local_addr##*:}"
    echo $((16#$hex))
  done
}
port=""
for _ in $(seq 1 50); do
  p=$((20000 + RANDOM % 9998))
  if ! listening | grep -qx "$p"; then port=$p; break; fi
done
[ -n "$port" ] || { fail "find a free TCP port"; exit 1; }
cpus="$(nproc)"

# Each slurmd has its own network namespace, so all listen on the same SlurmdPort at their own
# address. %n (the node name) gives each its own spool folder, pid file, log and TmpFS: the nodes
# share one file system, and Slurm's PMIx plugin makes its per-step client folder under TmpFS
# (with /tmp for all, the second node's step fails: "Cannot create client cli tmpdir ... File
# exists"). config_overrides: the nodes' CPUs are this machine's CPUs, shared.
{
  cat <<EOF
# Multi-node test cluster written by tests/slurm/test_slurm_nodes.sh.
ClusterName=mpilakenodes
SlurmctldHost=localhost($ctl_addr)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool/%n
TmpFS=$tmp/nodetmp/%n
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd-%n.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
EOF
  for line in "${host_lines[@]}"; do
    # shellcheck disable=SC2086
    set -- $line
    echo "NodeName=$3 NodeAddr=$2 NodeHostname=$3 CPUs=$cpus State=UNKNOWN"
  done
  echo "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
} >"$conf"
note "cluster config $conf (ports $port/$((port + 1)), $cpus CPUs per node)"

# ---------------------------------------------------------------- start the daemons
t0=$SECONDS
slurmctld -D -f "$conf" >"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
# slurmd "on" each host: its network namespace (nsenter, not `ip netns exec`, which mounts a new
# /sys without the cgroup file system slurmd needs) and a UTS namespace with the host's name.
for line in "${host_lines[@]}"; do
  # shellcheck disable=SC2086
  set -- $line
  # shellcheck disable=SC2016  # $0 and $1 are expanded by the inner sh
  nsenter --net="/run/netns/$1" unshare --uts sh -c 'hostname "$0" && exec slurmd -D -f "$1" -N "$0"' "$3" "$conf" \
    >"$tmp/log/slurmd-$3.out" 2>&1 &
  slurmd_pids+=($!)
done

idle=0
while [ $SECONDS -lt $((t0 + 60)) ]; do
  kill -0 "$ctld_pid" 2>/dev/null || break
  idle="$(timeout 5 sinfo -h -N -o '%N %t' 2>/dev/null | grep -c ' idle$')"
  [ "$idle" -eq "$nodes" ] && break
  sleep 0.5
done
if [ "$idle" -eq "$nodes" ]; then
  pass "$nodes-node cluster up, every node idle after $((SECONDS - t0)) s"
else
  fail "not every node idle within 60 s: $(timeout 5 sinfo -h -N -o '%N %t' 2>/dev/null | tr '\n' ' ')"
  exit 1
fi

if timeout 10 srun --mpi=list 2>&1 | grep -qw pmix; then
  pass "srun --mpi=list offers pmix"
else
  fail "srun --mpi=list does not offer pmix: $(timeout 10 srun --mpi=list 2>&1 | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- submit the jobs
cd "$tmp/jobs" || exit 1
declare -A job=() job_nodes=() job_tasks=()
# TCP only, on the bridge subnet: exported here and passed on by --export=ALL (sbatch's --export
# splits on commas, so "tcp,self" cannot go in it).
export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include="$subnet" OMPI_MCA_oob_tcp_if_include="$subnet"

submit() {  # submit NAME NODES TASKS_PER_NODE SCRIPT [sbatch options and --export=...]
  local name="$1" n="$2" per="$3" script="$4" id
  shift 4
  if id="$(timeout 20 sbatch --parsable -N "$n" --ntasks-per-node="$per" "$@" "$repo/slurm/$script" \
      2>"$tmp/jobs/$name.sbatch.err")"; then
    id="${id%%;*}"
    job[$name]="$id"
    job_nodes[$name]="$n"
    job_tasks[$name]=$((n * per))
    note "submitted $name (sbatch -N $n --ntasks-per-node=$per slurm/$script) as job $id"
  else
    fail "sbatch $name: $(cat "$tmp/jobs/$name.sbatch.err")"
  fi
}

stedi="$tmp/stedi/landing"
submit generate 1 1 generate.sbatch \
  --export="ALL,MPILAKE=$mpilake,LANDING=$stedi,CUSTOMERS=300,READINGS_PER_CUSTOMER=40,SEED=7,EXTRA_ARGS=--bad-line-rate 0.002"
after=()
[ -n "${job[generate]:-}" ] && after=(--dependency="afterok:${job[generate]}")
submit stedi_1x1 1 1 run.sbatch "${after[@]}" \
  --export="ALL,MPILAKE=$mpilake,LANDING=$stedi,OUT=$tmp/stedi/zones-1x1"
submit stedi_2x2_srun 2 2 run.sbatch "${after[@]}" \
  --export="ALL,MPILAKE=$mpilake,LANDING=$stedi,OUT=$tmp/stedi/zones-2x2,LAUNCHER=srun"
submit stedi_2x1_mpirun 2 1 run.sbatch "${after[@]}" \
  --export="ALL,MPILAKE=$mpilake,LANDING=$stedi,OUT=$tmp/stedi/zones-2x1,LAUNCHER=mpirun"

# Deloton landing data: mpilake generate in this (root) namespace, before the jobs need it.
bikes="$tmp/deloton/landing"
if OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -n 1 "$mpilake" generate --pipeline deloton \
    --out "$bikes" --bikes 6 --days 1 --streams 3 --seed 7 --bad-line-rate 0.002 >"$tmp/log/generate-deloton.out" 2>&1; then
  submit deloton_1x1 1 1 run.sbatch \
    --export="ALL,MPILAKE=$mpilake,PIPELINE=deloton,LANDING=$bikes,OUT=$tmp/deloton/zones-1x1"
  submit deloton_3x1 3 1 run.sbatch \
    --export="ALL,MPILAKE=$mpilake,PIPELINE=deloton,LANDING=$bikes,OUT=$tmp/deloton/zones-3x1"
else
  fail "mpilake generate --pipeline deloton: $(tail -n 3 "$tmp/log/generate-deloton.out")"
fi

# ---------------------------------------------------------------- wait
declare -A jstate=() jexit=() jnodelist=() jbatch=()
job_field() { timeout 10 scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
t1=$SECONDS
while :; do
  pending=0
  for name in "${!job[@]}"; do
    [ -n "${jstate[$name]:-}" ] && continue
    s="$(job_field "${job[$name]}" JobState)"
    case "$s" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
        jstate[$name]="$s"
        jexit[$name]="$(job_field "${job[$name]}" ExitCode)"
        jnodelist[$name]="$(job_field "${job[$name]}" NodeList)"
        jbatch[$name]="$(job_field "${job[$name]}" BatchHost)"
        note "job ${job[$name]} ($name): $s, exit code ${jexit[$name]} on ${jnodelist[$name]} after $((SECONDS - t1)) s"
        ;;
      *) pending=$((pending + 1)) ;;
    esac
  done
  [ "$pending" -eq 0 ] && break
  if [ $SECONDS -ge "$deadline" ]; then
    timeout 10 squeue
    for name in "${!job[@]}"; do [ -n "${jstate[$name]:-}" ] || fail "job $name (${job[$name]}) did not end in time"; done
    break
  fi
  sleep 0.5
done
note "all jobs ended after $((SECONDS - t1)) s"

# ---------------------------------------------------------------- check
log_of() { echo "$tmp/jobs/mpilake-$1-${job[$2]}.log"; }

check_job() {  # check_job NAME KIND [LAUNCHER]: COMPLETED with exit 0, SUCCEEDED in the log, tasks on N hosts
  local name="$1" kind="$2" log hosts want tasks
  [ -n "${job[$name]:-}" ] || return 1
  log="$(log_of "$kind" "$name")"
  if [ "${jstate[$name]:-}" != COMPLETED ] || [ "${jexit[$name]:-}" != 0:0 ] || ! grep -q SUCCEEDED "$log" 2>/dev/null; then
    fail "$name: job ${jstate[$name]:-unfinished}, exit code ${jexit[$name]:-?} (log $log)"
    return 1
  fi
  [ "$kind" = run ] || { pass "$name: COMPLETED"; return 0; }
  # The "task hosts" lines of run.sbatch: one per node, "  host HOSTNAME: tasks 0 1". They must
  # name each node of the allocation (as its own hostname says), N nodes in all, and every task.
  tasks="$(sed -n 's/^  host [^ ]*: tasks//p' "$log" | wc -w)"
  hosts="$(sed -n 's/^  host \([^ ]*\): tasks.*/\1/p' "$log" | sort -u | tr '\n' ' ')"
  want="$(timeout 10 scontrol show hostnames "${jnodelist[$name]:-}" 2>/dev/null | sort | tr '\n' ' ')"
  if [ "$hosts" = "$want" ] && [ "$(echo "$want" | wc -w)" -eq "${job_nodes[$name]}" ] && [ "$tasks" -eq "${job_tasks[$name]}" ]; then
    pass "$name: COMPLETED, $tasks tasks on ${job_nodes[$name]} hostname(s): $hosts"
  else
    fail "$name: $tasks tasks on hostnames '$hosts', expected ${job_tasks[$name]} on the allocation's '$want'"
    return 1
  fi
  # The launch itself reached every node: step 0 is run.sbatch's hostname step, step 1 the
  # launcher's (srun's ranks; or mpirun's daemons, started through srun on every node but the batch
  # host, where mpirun itself forks the ranks). Each node's slurmd logs the step it starts.
  local node missing="" reached=""
  for node in $want; do
    [ "${3:-}" = mpirun ] && [ "$node" = "${jbatch[$name]:-}" ] && continue
    reached="$reached $node"
    grep -q "launch task StepId=${job[$name]}\.1 " "$tmp/log/slurmd-$node.log" 2>/dev/null || missing="$missing $node"
  done
  if [ -z "$missing" ]; then
    pass "$name: the launcher's step ${job[$name]}.1 ran on$reached"
  else
    fail "$name: the launcher's step ${job[$name]}.1 did not reach:$missing"
  fi
  grep '^  host \|running: \|\[mpilake\] landing' "$log" | sed "s/^/   $name| /"
}

check_launcher() {  # check_launcher NAME PATTERN
  if grep -q "running:  $2" "$(log_of run "$1")"; then pass "$1: launched with $2"; else fail "$1: not launched with $2"; fi
}

compare() {  # compare EXPECTED_DIR ACTUAL_DIR LABEL: test_multihost.py's zone comparison
  "$python" - "$repo/tests/e2e" "$@" <<'PY'
import sys
sys.dont_write_bytecode = True
sys.path.insert(0, sys.argv[1])
import test_multihost
zones = test_multihost.compare_outputs(sys.argv[2], sys.argv[3], sys.argv[4])
if test_multihost.FAILURES:
    sys.exit(1)
print(f"{sys.argv[4]}: {len(zones)} zones equal")
PY
}

check_job generate generate
ok_1x1=no
check_job stedi_1x1 run && ok_1x1=yes
for name in stedi_2x2_srun stedi_2x1_mpirun; do
  launcher=srun
  [ "$name" = stedi_2x1_mpirun ] && launcher=mpirun
  check_job "$name" run "$launcher" || continue
  [ "$ok_1x1" = yes ] || continue
  case "$name" in stedi_2x2_srun) out="$tmp/stedi/zones-2x2" ;; *) out="$tmp/stedi/zones-2x1" ;; esac
  if compare "$tmp/stedi/zones-1x1" "$out" "$name"; then
    pass "$name: zones equal to the one-node run"
  else
    fail "$name: zones differ from the one-node run"
  fi
done
[ -n "${job[stedi_2x2_srun]:-}" ] && check_launcher stedi_2x2_srun "srun --mpi=pmix"
[ -n "${job[stedi_2x1_mpirun]:-}" ] && check_launcher stedi_2x1_mpirun "mpirun -np 2"
if check_job deloton_1x1 run && check_job deloton_3x1 run; then
  if compare "$tmp/deloton/zones-1x1" "$tmp/deloton/zones-3x1" deloton_3x1; then
    pass "deloton_3x1: zones equal to the one-node run"
  else
    fail "deloton_3x1: zones differ from the one-node run"
  fi
fi

# ---------------------------------------------------------------- stop the cluster
t2=$SECONDS
stop_cluster
note "cluster stopped in $((SECONDS - t2)) s"
left="$(procs_of_hosts | tr '\n' ' ') $(procs_of_tmp | tr '\n' ' ')"
if [ -z "${left// /}" ]; then pass "daemons and job processes stopped"; else fail "processes still running: $left"; fi
hosts_ns="$(awk '{print $1}' "$hosts_dir/hosts" | tr '\n' ' ')"
remove_hosts
still=""
for ns in $hosts_ns; do ip netns list | grep -qw "$ns" && still="$still $ns"; done
if [ -z "$still" ]; then pass "namespaces removed"; else fail "namespaces left:$still"; fi
exit 0
