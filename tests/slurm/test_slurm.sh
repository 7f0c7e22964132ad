#!/usr/bin/env bash
# Slurm test: starts a one-node Slurm cluster on localhost (Debian's slurmctld + slurmd, config
# written here into a temp folder), submits the real job scripts in slurm/ with sbatch, waits for
# them and checks the zones. Stops the daemons it started on every exit, failed or not.
#
#   bash tests/slurm/test_slurm.sh --mpilake build/mpilake [--data ../shared/data/stedi/landing]
#
# Jobs: generate synthetic landing data; run the pipeline on it with the default launcher
# (srun --mpi=pmix) and with the mpirun fallback; run it on the starter data (when present) with
# --rules privacy and check the known row counts; and a run on a missing landing folder that must
# fail with a non-zero job exit code. Needs root (apt, daemons). Set MPILAKE_SLURM_KEEP=1 to keep
# the temp folder. Exit 0 when every check passes, 1 otherwise, 77 (skipped) when not root.
set -uo pipefail

usage() { echo "usage: $0 --mpilake PATH [--data LANDING_DIR]" >&2; exit 2; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mpilake=""
data="$repo/../shared/data/stedi/landing"
while [ $# -gt 0 ] && [ "$1" != --reap ]; do
  case "$1" in
    --mpilake) [ $# -ge 2 ] || usage; mpilake="$2"; shift 2 ;;
    --data) [ $# -ge 2 ] || usage; data="$2"; shift 2 ;;
    -h|--help) usage ;;
    *) echo "unknown argument: $1" >&2; usage ;;
  esac
done
if [ "${1:-}" != --reap ]; then
  [ -n "$mpilake" ] || usage
  mpilake="$(readlink -f "$mpilake")"
  if [ ! -x "$mpilake" ]; then echo "slurm test: mpilake binary '$mpilake' not executable" >&2; exit 1; fi
fi

# Budget: the whole test must end well within 5 minutes (ctest kills it at its TIMEOUT).
deadline=$((SECONDS + 230))
python=/usr/bin/python3
starter_counts="482,32025,464,11297,32025"   # --rules privacy on the starter data

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); echo "PASS: $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); echo "FAIL: $*"; }
note() { echo "-- $*"; }

tmp=""
cluster_start=""
ctld_pid=""
slurmd_pid=""

# Processes of our cluster: the daemons, the slurmstepd they fork (which detach from slurmd) and
# the jobs' processes. All of them name our temp folder on their command line or hold it open
# (config, spool, logs), and nothing else does: that is how they are found, by PID.
procs_of_tmp() {
  local d p args
  [ -n "$tmp" ] || return 0
  for d in /proc/[0-9]*; do
    p="${d#/proc/}"
    { [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ]; } && continue
    args=()
    mapfile -d '' -t args <"$d/cmdline" 2>/dev/null || continue
    [ ${#args[@]} -gt 0 ] || continue                       # kernel thread or zombie
    [[ " ${args[*]} " == *" --reap "* ]] && continue         # our own watchdog
    # shellcheck disable=SC2010  # /proc links, not file names
    if [[ "${args[*]}" == *"$tmp/"* ]] || ls -l "$d/cwd" "$d/fd" 2>/dev/null | grep -qF "$tmp/"; then
      echo "$p"
    fi
  done
}

stop_cluster() {
  [ -n "$tmp" ] || return 0
  local pids p i alive
  cd / || true
  if [ -n "$ctld_pid" ] && kill -0 "$ctld_pid" 2>/dev/null; then
    # Cancel what is still queued or running, then ask the controller to stop every daemon.
    for p in $(timeout 10 squeue -h -o %i 2>/dev/null); do timeout 10 scancel "$p" 2>/dev/null; done
    timeout 15 scontrol shutdown >/dev/null 2>&1
  fi
  for i in $(seq 1 30); do                           # up to 15 s for a clean stop
    pids="$ctld_pid $slurmd_pid $(procs_of_tmp)"
    alive=""
    for p in $pids; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    # shellcheck disable=SC2086
    [ "$i" -eq 20 ] && kill -TERM $alive 2>/dev/null
    sleep 0.5
  done
  for p in $ctld_pid $slurmd_pid $(procs_of_tmp); do
    if kill -0 "$p" 2>/dev/null; then echo "slurm test: killing leftover process $p" >&2; kill -KILL "$p" 2>/dev/null; fi
  done
  [ -n "$ctld_pid" ] && wait "$ctld_pid" 2>/dev/null
  [ -n "$slurmd_pid" ] && wait "$slurmd_pid" 2>/dev/null
  ctld_pid=""
  slurmd_pid=""
  # A finished slurmstepd detaches to PID 1, which reaps it a moment later; wait (up to 10 s) for
  # the ones started since our cluster came up, so that none is listed after the test.
  if [ -n "$cluster_start" ]; then
    for i in $(seq 1 20); do
      alive=""
      for p in $(pgrep -x slurmstepd); do
        [ "$(start_ticks "$p")" -ge "$cluster_start" ] 2>/dev/null && alive="$alive $p"
      done
      [ -z "$alive" ] && break
      sleep 0.5
    done
  fi
}

start_ticks() {  # start time of a process, in clock ticks since boot (field 22 of /proc/PID/stat)
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  echo "${20}"
}

# shellcheck disable=SC2317  # called from finish (EXIT trap)
print_logs() {
  local f
  for f in "$tmp"/jobs/*.log "$tmp"/log/*; do
    [ -f "$f" ] || continue
    echo "======== $f (last 60 lines) ========"
    tail -n 60 "$f"
  done
}

# shellcheck disable=SC2317  # runs from the EXIT trap
finish() {
  local rc=$?
  trap - EXIT INT TERM
  if [ "$failed" -gt 0 ] || [ "$rc" -ne 0 ]; then print_logs; fi
  stop_cluster
  if [ -n "$tmp" ] && [ -d "$tmp" ]; then
    touch "$tmp/.finished"
    if [ "${MPILAKE_SLURM_KEEP:-0}" = 1 ]; then echo "slurm test: kept $tmp"; else rm -rf "$tmp"; fi
  fi
  if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
  echo "slurm test: $passed passed, $failed failed"
  [ "$failed" -eq 0 ] && exit 0
  for f in "${failures[@]}"; do echo "  failed: $f"; done
  exit 1
}
# Internal mode, run detached by the test: if the test dies without cleaning up (SIGKILL, e.g. a
# ctest timeout), kill what is left of its cluster and delete its temp folder.
if [ "${1:-}" = --reap ]; then
  parent="$2"
  while kill -0 "$parent" 2>/dev/null; do sleep 1; done
  tmp="$3"
  case "$tmp" in */mpilake-slurm.*) ;; *) exit 0 ;; esac
  [ -d "$tmp" ] && [ ! -e "$tmp/.finished" ] || exit 0   # the test cleaned up (or kept the folder)
  for p in $(procs_of_tmp); do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$tmp"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "slurm test: skipped: needs root (installs packages, runs slurmctld and slurmd)"
  exit 77
fi

trap finish EXIT
trap 'echo "slurm test: interrupted" >&2; exit 130' INT
trap 'echo "slurm test: terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------- install and configure
if ! bash "$repo/scripts/install-slurm.sh"; then fail "install Slurm (scripts/install-slurm.sh)"; exit 1; fi
for cmd in slurmctld slurmd sbatch srun squeue scontrol sinfo; do
  command -v "$cmd" >/dev/null 2>&1 || { fail "command $cmd missing after install"; exit 1; }
done

# A Slurm environment around us (e.g. this test run inside a Slurm job) must not leak into ours.
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mpilake-slurm.XXXXXX")"
mkdir -p "$tmp"/{state,spool,log,run,jobs}
( setsid bash "${BASH_SOURCE[0]}" --reap "$$" "$tmp" </dev/null >/dev/null 2>&1 & )
conf="$tmp/slurm.conf"
export SLURM_CONF="$conf"

# Two free TCP ports (controller, node daemon) in 20000-29999, outside the ephemeral range.
listening() {  # prints the local TCP ports in LISTEN state (state 0A in /proc/net/tcp*)
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
  if ! listening | grep -qx -e "$p" -e "$((p + 1))"; then port=$p; break; fi
done
[ -n "$port" ] || { fail "find two free TCP ports"; exit 1; }

cpus="$(nproc)"
ntasks=$(( cpus < 2 ? cpus : 2 ))

cat > "$conf" <<EOF
# One-node test cluster written by tests/slurm/test_slurm.sh.
ClusterName=mpilaketest
SlurmctldHost=localhost(127.0.0.1)
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
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
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
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
note "cluster config $conf (ports $port/$((port + 1)), $cpus CPUs)"

# ---------------------------------------------------------------- start the daemons
t0=$SECONDS
slurmctld -D -f "$conf" >"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
cluster_start="$(start_ticks "$ctld_pid")"
slurmd -D -f "$conf" -N localhost >"$tmp/log/slurmd.out" 2>&1 &
slurmd_pid=$!

state=""
while [ $SECONDS -lt $((t0 + 60)) ]; do
  if ! kill -0 "$ctld_pid" 2>/dev/null || ! kill -0 "$slurmd_pid" 2>/dev/null; then break; fi
  state="$(timeout 5 sinfo -h -N -n localhost -o %t 2>/dev/null | head -n 1)"
  [ "$state" = idle ] && break
  sleep 0.5
done
if [ "$state" = idle ]; then
  pass "one-node cluster up, node idle after $((SECONDS - t0)) s"
else
  fail "node not idle within 60 s (state '${state:-none}'; slurmctld alive: $(kill -0 "$ctld_pid" 2>/dev/null && echo yes || echo no), slurmd alive: $(kill -0 "$slurmd_pid" 2>/dev/null && echo yes || echo no))"
  exit 1
fi

# The job scripts launch with srun --mpi=pmix when Slurm offers it (and with mpirun otherwise).
pmix=no
timeout 10 srun --mpi=list 2>&1 | grep -qw pmix && pmix=yes
note "srun --mpi=list offers pmix: $pmix"

# ---------------------------------------------------------------- submit the jobs
cd "$tmp/jobs" || exit 1   # the submit folder: the scripts' default logs land here
common=(--parsable --nodes=1 --ntasks-per-node="$ntasks")
declare -A job=()   # name -> job id

submit() {  # submit NAME SCRIPT [sbatch options and --export=...]
  local name="$1" script="$2" id
  shift 2
  if id="$(timeout 20 sbatch "${common[@]}" "$@" "$repo/slurm/$script" 2>"$tmp/jobs/$name.sbatch.err")"; then
    id="${id%%;*}"
    job[$name]="$id"
    note "submitted $name as job $id"
  else
    fail "sbatch $name: $(cat "$tmp/jobs/$name.sbatch.err")"
  fi
}

gen="$tmp/generated/landing"
submit generate generate.sbatch \
  --export="ALL,MPILAKE=$mpilake,LANDING=$gen,CUSTOMERS=300,READINGS_PER_CUSTOMER=20,SEED=11"
after=()
[ -n "${job[generate]:-}" ] && after=(--dependency="afterok:${job[generate]}")
submit run_generated run.sbatch "${after[@]}" \
  --export="ALL,MPILAKE=$mpilake,LANDING=$gen,OUT=$tmp/generated/zones,RULES=privacy"
submit run_generated_mpirun run.sbatch "${after[@]}" \
  --export="ALL,MPILAKE=$mpilake,LANDING=$gen,OUT=$tmp/generated/zones-mpirun,RULES=privacy,LAUNCHER=mpirun"
if [ -d "$data/customer" ]; then
  submit run_starter run.sbatch \
    --export="ALL,MPILAKE=$mpilake,LANDING=$data,OUT=$tmp/starter/zones,RULES=privacy"
else
  note "starter data not found at $data: checking generated data only"
fi
# A Deloton job on a randomised messy bike-log landing set (written by the e2e test's generator).
bikes="$tmp/deloton/landing"
"$python" -c "import random, sys; sys.path.insert(0, '$repo/tests/e2e'); import test_deloton; test_deloton.generate_set(random.Random(11), '$bikes')" \
  || fail "could not write the Deloton landing set"
submit run_deloton run.sbatch \
  --export="ALL,MPILAKE=$mpilake,PIPELINE=deloton,LANDING=$bikes,OUT=$tmp/deloton/zones"
submit run_missing_landing run.sbatch \
  --export="ALL,MPILAKE=$mpilake,LANDING=$tmp/no-such-landing,OUT=$tmp/missing/zones"

# ---------------------------------------------------------------- wait
declare -A jstate=() jexit=()
job_field() {  # job_field ID FIELD: a field of `scontrol show job`
  timeout 10 scontrol -o show job "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
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
        note "job ${job[$name]} ($name): $s, exit code ${jexit[$name]} after $((SECONDS - t1)) s"
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

# check_rows PIPELINE OUT [EXPECTED]: summary.json rows > 0 and equal to each zone's `rows`
# attribute (and to EXPECTED, comma-separated, when given). Prints the rows on success.
check_rows() {
  "$python" - "$@" <<'PY'
import json, subprocess, sys
pipeline, out = sys.argv[1], sys.argv[2]
expected = [int(v) for v in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
zones = {"stedi": ["customer_trusted", "accelerometer_trusted", "customer_curated",
                   "step_trainer_trusted", "machine_learning_curated"],
         "deloton": ["riders", "rides", "readings", "heart_rate_alerts", "daily"]}[pipeline]
try:
    import h5py
    def rows_attr(path):
        with h5py.File(path, "r") as f:
            return int(f.attrs["rows"])
except ImportError:  # fall back to h5dump (hdf5-tools)
    def rows_attr(path):
        text = subprocess.run(["h5dump", "-a", "/rows", path], check=True,
                              capture_output=True, text=True).stdout
        return int(text.split("(0):")[1].split()[0])
summary = json.load(open(f"{out}/summary.json"))
rows, errors = [], []
for i, zone in enumerate(zones):
    r = int(summary["zones"][zone]["rows"])
    a = rows_attr(f"{out}/{zone}.h5")
    rows.append(r)
    if r <= 0:
        errors.append(f"{zone}: {r} rows")
    if a != r:
        errors.append(f"{zone}: summary.json says {r} rows, the HDF5 rows attribute {a}")
    if expected and r != expected[i]:
        errors.append(f"{zone}: {r} rows, expected {expected[i]}")
print(",".join(map(str, rows)))
if errors:
    print("; ".join(errors))
    sys.exit(1)
PY
}

check_success() {  # check_success NAME KIND OUT [EXPECTED] (PIPELINE=deloton for a Deloton run)
  local name="$1" kind="$2" out="$3" expected="${4:-}" log result pipeline="${PIPELINE:-stedi}" last_zone
  last_zone=machine_learning_curated
  [ "$pipeline" = deloton ] && last_zone=daily
  [ -n "${job[$name]:-}" ] || return 0
  log="$(log_of "$kind" "$name")"
  if [ "${jstate[$name]:-}" = COMPLETED ] && [ "${jexit[$name]:-}" = 0:0 ]; then
    pass "$name: job COMPLETED with exit code 0:0"
  else
    fail "$name: job ${jstate[$name]:-unfinished} with exit code ${jexit[$name]:-?}"
    return 0
  fi
  if [ -f "$log" ] && grep -q SUCCEEDED "$log"; then pass "$name: job log $(basename "$log") says SUCCEEDED"; else fail "$name: job log $log missing or without SUCCEEDED"; fi
  [ "$kind" = run ] || return 0
  if grep -q "^$last_zone  *[0-9,]*\$" "$log" && grep -q '^stage ' "$log"; then
    pass "$name: the run's summary is in the job log"
  else
    fail "$name: no summary table in the job log"
  fi
  if result="$(check_rows "$pipeline" "$out" ${expected:+"$expected"})"; then
    pass "$name: zones $result rows${expected:+ (as expected)}, summary.json = HDF5 rows attributes"
    eval "rows_$name=\$result"
  else
    fail "$name: zone check: ${result//$'\n'/ -- }"
  fi
}

check_success generate generate "$gen"
if [ -n "${job[generate]:-}" ]; then
  n=$(find "$gen" -name '*.json' -size +0 2>/dev/null | wc -l)
  if [ -d "$gen/customer" ] && [ -d "$gen/accelerometer" ] && [ -d "$gen/step_trainer" ] && [ "$n" -ge 3 ]; then
    pass "generate: $n landing files written"
  else
    fail "generate: landing files missing in $gen"
  fi
fi
check_success run_generated run "$tmp/generated/zones"
check_success run_generated_mpirun run "$tmp/generated/zones-mpirun"
if [ -n "${job[run_starter]:-}" ]; then check_success run_starter run "$tmp/starter/zones" "$starter_counts"; fi
PIPELINE=deloton check_success run_deloton run "$tmp/deloton/zones"

# Which launcher each run used.
if [ -n "${job[run_generated]:-}" ] && [ "$pmix" = yes ]; then
  if grep -q 'running:  srun --mpi=pmix' "$(log_of run run_generated)"; then
    pass "run_generated: launched with srun --mpi=pmix"
  else
    fail "run_generated: srun --mpi=pmix is offered but the job did not use it"
  fi
fi
if [ -n "${job[run_generated_mpirun]:-}" ]; then
  if grep -q 'running:  mpirun -np ' "$(log_of run run_generated_mpirun)"; then
    pass "run_generated_mpirun: launched with mpirun inside the allocation"
  else
    fail "run_generated_mpirun: the job did not use mpirun"
  fi
fi
if [ -n "${rows_run_generated:-}" ] && [ -n "${rows_run_generated_mpirun:-}" ]; then
  if [ "$rows_run_generated" = "$rows_run_generated_mpirun" ]; then
    pass "srun and mpirun runs give the same zones ($rows_run_generated)"
  else
    fail "srun run gives $rows_run_generated rows, mpirun run $rows_run_generated_mpirun"
  fi
fi

# The run that must fail.
if [ -n "${job[run_missing_landing]:-}" ]; then
  name=run_missing_landing
  code="${jexit[$name]:-}"
  if [ "${jstate[$name]:-}" = FAILED ] && [ -n "$code" ] && [ "${code%%:*}" != 0 ]; then
    pass "$name: job FAILED with exit code $code"
  else
    fail "$name: expected a FAILED job with a non-zero exit code, got ${jstate[$name]:-unfinished} $code"
  fi
  log="$(log_of run $name)"
  if [ -f "$log" ] && grep -q 'mpilake: error: landing folder' "$log" && grep -q 'FAILED: mpilake run failed' "$log"; then
    pass "$name: the job log names the error"
  else
    fail "$name: the job log $log does not name the error"
  fi
  if [ ! -e "$tmp/missing/zones/summary.json" ]; then pass "$name: nothing written"; else fail "$name: wrote a summary.json"; fi
fi

# ---------------------------------------------------------------- stop the cluster
t2=$SECONDS
stop_cluster
note "cluster stopped in $((SECONDS - t2)) s"
left="$(procs_of_tmp | tr '\n' ' ')"
if [ -z "${left// /}" ]; then pass "daemons stopped"; else fail "processes of the test cluster still running: $left"; fi
exit 0
