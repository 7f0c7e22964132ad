#!/usr/bin/env bash
# Slurm with several nodes: 2 slurmd nodes, each in its own network namespace with its own hostname
# (scripts/hosts.sh), slurmctld in the root namespace on the hosts' bridge. `sbatch -N 2
# slurm/run.sbatch` must run ranks on both nodes (TCP only between them) and give zones equal to a
# one-host 1-rank run; the job log must show two hostnames.
#
#   bash tests/slurm/test_slurm_multinode.sh --mpilake build/mpilake
#
# Exit 0 pass, 1 fail, 77 skipped (not root, or namespaces cannot be made).
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export REPO="$repo"
mpilake=""
while [ $# -gt 0 ]; do
  case "$1" in
    --mpilake) mpilake="$(readlink -f "$2")"; shift 2 ;;
    *) echo "usage: $0 --mpilake PATH" >&2; exit 2 ;;
  esac
done
[ -x "$mpilake" ] || { echo "slurm multinode test: no mpilake binary" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "slurm multinode test: skipped: needs root"; exit 77; }
for cmd in slurmctld slurmd sbatch scontrol sinfo; do
  command -v "$cmd" >/dev/null || { echo "slurm multinode test: skipped: $cmd missing (scripts/install-slurm.sh)"; exit 77; }
done
for v in $(compgen -e | grep '^SLURM_'); do unset "$v"; done

id=$(($$ % 100000000))
hosts_dir="$(bash "$repo/scripts/hosts.sh" up 2 "$id" 2>&1)" || {
  echo "slurm multinode test: skipped: cannot make network namespaces ($hosts_dir)"
  exit 77
}
subnet="$(cat "$hosts_dir/subnet")"
net="${subnet%.0/24}"
tmp="$(mktemp -d /tmp/mpilake-slurm-multi.XXXXXX)"
mkdir -p "$tmp"/{state,spool,log,run,jobs}
conf="$tmp/slurm.conf"
export SLURM_CONF="$conf"
failed=0
fail() { failed=$((failed + 1)); echo "FAIL: $*"; }
pass() { echo "PASS: $*"; }
ctld_pid=""
slurmd_pids=()

finish() {
  trap - EXIT
  if [ -n "$ctld_pid" ]; then timeout 15 scontrol shutdown >/dev/null 2>&1; fi
  sleep 1
  for p in $ctld_pid "${slurmd_pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ "$failed" -gt 0 ] && for f in "$tmp"/log/* "$tmp"/jobs/*.log; do [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }; done
  bash "$repo/scripts/hosts.sh" down "$hosts_dir" >/dev/null 2>&1
  rm -rf "$tmp"
  echo "slurm multinode test: $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}
trap finish EXIT

port=$((20000 + id % 9000))
cat >"$conf" <<EOF
ClusterName=mpilakemulti
SlurmctldHost=$(hostname)($net.254)
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
TmpFS=$tmp/nodetmp
SlurmdSpoolDir=$tmp/spool/%n
SlurmctldPidFile=$tmp/run/slurmctld.pid
SlurmdPidFile=$tmp/run/slurmd-%n.pid
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd-%n.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=600
KillWait=5
NodeName=mlh1-$id NodeAddr=$net.1 CPUs=$(nproc) State=UNKNOWN
NodeName=mlh2-$id NodeAddr=$net.2 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=mlh1-$id,mlh2-$id Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$tmp/spool/mlh1-$id" "$tmp/spool/mlh2-$id"

slurmctld -D -f "$conf" >"$tmp/log/slurmctld.out" 2>&1 &
ctld_pid=$!
for i in 1 2; do
  # nsenter, not `ip netns exec`: that mounts a fresh /sys without /sys/fs/cgroup, which slurmd needs.
  # Each node gets its own TmpFS (a private mount over $tmp/nodetmp): PMIx makes per-step folders
  # there whose names would clash between nodes that share /tmp.
  mkdir -p "$tmp/nodetmp" "$tmp/tmp-$i"
  nsenter --net="/run/netns/ml${id}h$i" unshare --uts --mount --propagation private sh -c \
    "mount --bind '$tmp/tmp-$i' '$tmp/nodetmp' && hostname mlh$i-$id && exec slurmd -D -f '$conf' -N mlh$i-$id" \
    >"$tmp/log/slurmd-$i.out" 2>&1 &
  slurmd_pids+=($!)
done
t0=$SECONDS
idle=0
while [ $SECONDS -lt $((t0 + 60)) ]; do
  idle="$(timeout 5 sinfo -h -N -o %t 2>/dev/null | grep -c '^idle')"
  [ "$idle" = 2 ] && break
  sleep 0.5
done
if [ "$idle" = 2 ]; then pass "2 nodes idle after $((SECONDS - t0)) s"; else fail "nodes not idle: $(sinfo -N 2>&1)"; exit 1; fi

landing="$tmp/landing"
mpirun --allow-run-as-root -n 1 "$mpilake" generate --out "$landing" --customers 200 --readings-per-customer 50 --seed 3 \
  --bad-line-rate 0.002 >/dev/null 2>&1 || fail "generate"
mpirun --allow-run-as-root -n 1 "$mpilake" run -q --landing "$landing" --out "$tmp/one" >/dev/null 2>&1 || fail "one-host run"

cd "$tmp/jobs" || exit 1
export OMPI_MCA_btl=tcp,self OMPI_MCA_btl_tcp_if_include="$subnet" OMPI_MCA_oob_tcp_if_include="$subnet"
for launcher in srun mpirun; do
  id_job="$(timeout 20 sbatch --parsable -N 2 --ntasks-per-node=1 \
    --export="ALL,MPILAKE=$mpilake,LANDING=$landing,OUT=$tmp/zones-$launcher,LAUNCHER=$launcher" \
    "$repo/slurm/run.sbatch" 2>&1)" || { fail "sbatch ($launcher): $id_job"; continue; }
  t1=$SECONDS
  state=""
  while [ $SECONDS -lt $((t1 + 120)) ]; do
    state="$(scontrol -o show job "$id_job" 2>/dev/null | tr ' ' '\n' | sed -n 's/^JobState=//p')"
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL) break ;; esac
    sleep 0.5
  done
  log="$tmp/jobs/mpilake-run-$id_job.log"
  if [ "$state" = COMPLETED ] && grep -q SUCCEEDED "$log"; then pass "$launcher: job $id_job COMPLETED in $((SECONDS - t1)) s"; else fail "$launcher: job $id_job $state"; continue; fi
  names="$(sed -n 's/.*ranks on hosts: //p' "$log")"
  if [ "$(echo "$names" | tr ' ' '\n' | grep -c .)" = 2 ]; then pass "$launcher: ranks on two hostnames: $names"; else fail "$launcher: job log hostnames '$names'"; fi
  if "/usr/bin/python3" - "$tmp/one" "$tmp/zones-$launcher" <<'PY'; then pass "$launcher: zones equal the one-host run"; else fail "$launcher: zones differ"; fi
import sys, os
sys.path.insert(0, os.path.join(os.environ.get("REPO", ""), "tests", "e2e"))
import test_multihost as t
t.compare_outputs(sys.argv[1], sys.argv[2], "slurm")
sys.exit(1 if t.FAILURES else 0)
PY
done
