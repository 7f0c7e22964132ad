#!/usr/bin/env bash
# Makes N "hosts" on this machine for multi-host tests, as Linux network namespaces on a bridge,
# sharing the file system (as a cluster's nodes share Lustre or NFS). Needs root.
#
#   scripts/hosts.sh up N [ID]   make hosts 1..N; prints the state folder (/tmp/mpilake-hosts-ID)
#   scripts/hosts.sh down ID|DIR stop every process in them and remove them
#
# ID (default: this script's PID) keeps concurrent runs apart: it names the namespaces
# (ml<ID>h<i>), the bridge (mlb<ID>), the host-side veths (mlv<ID>h<i>) and picks the subnet
# 10.<A>.<B>.0/24 (A, B from ID). Host i has address 10.A.B.i on its veth "eth0"; the bridge has
# 10.A.B.254, so mpirun in the root namespace reaches every host. Each launched command gets its own
# UTS namespace with the host's name (mlh<i>-<ID>), so gethostname() differs per host.
#
# The state folder holds:
#   hostfile     one line per host: "10.A.B.i slots=S" (S = $SLOTS, default 2)
#   agent        the launch agent for Open MPI's rsh launcher: `agent HOST CMD...` runs CMD in the
#                host's namespaces, as `ssh HOST CMD...` would on a real cluster
#   mpirun.args  the mpirun flags, one a line: hostfile, agent, TCP only on the bridge subnet
#   hosts        "NAMESPACE ADDRESS HOSTNAME HOST_VETH", one line per host
#   subnet       10.A.B.0/24
# See docs/multihost.md for the same on real nodes.
set -euo pipefail

die() {
  echo "hosts.sh: $*" >&2
  exit 1
}

cmd_up() {
  local n=${1:-}
  local id=${2:-$$}
  [[ $n =~ ^[0-9]+$ && $n -ge 1 && $n -le 200 ]] || die "up: N must be 1..200"
  [[ $id =~ ^[0-9]+$ && ${#id} -le 8 ]] || die "up: ID must be a number of at most 8 digits"
  [[ $(id -u) -eq 0 ]] || die "up: needs root (ip netns)"
  command -v ip >/dev/null || die "up: the ip command (iproute2) is missing"
  command -v unshare >/dev/null || die "up: unshare (util-linux) is missing"
  local dir=/tmp/mpilake-hosts-$id
  [[ -e $dir ]] && die "up: $dir exists (hosts.sh down $id first)"
  local a=$((100 + (id / 256) % 100)) b=$((id % 256))
  local net=10.$a.$b
  if ip -4 route show | grep -q "^$net\.0/24"; then die "up: subnet $net.0/24 is in use here"; fi
  local bridge=mlb$id slots=${SLOTS:-2}
  mkdir -p "$dir"
  echo "$net.0/24" >"$dir/subnet"
  # From here on a failure removes what was made.
  trap 'cmd_down "$dir" >/dev/null 2>&1 || true' ERR
  ip link add "$bridge" type bridge
  ip addr add "$net.254/24" dev "$bridge"
  ip link set "$bridge" up
  : >"$dir/hosts"
  : >"$dir/hostfile"
  for i in $(seq 1 "$n"); do
    local ns=ml${id}h$i veth=mlv${id}h$i name=mlh$i-$id
    ip netns add "$ns"
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$bridge" up
    ip -n "$ns" addr add "$net.$i/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    echo "$ns $net.$i $name $veth" >>"$dir/hosts"
    echo "$net.$i slots=$slots" >>"$dir/hostfile"
  done
  # The agent: Open MPI calls `agent HOST ORTED-COMMAND...` (as it calls ssh); the command words
  # are one shell command line, as ssh hands them to the remote shell.
  cat >"$dir/agent" <<EOF
#!/bin/sh
# Launch agent of $dir (made by scripts/hosts.sh): runs a command "on" a host.
host=\$1
shift
line=\$(grep " \$host " "$dir/hosts") || { echo "agent: unknown host \$host" >&2; exit 255; }
set -- \$line "\$*"
exec ip netns exec "\$1" unshare --uts sh -c 'hostname "\$0" && exec sh -c "\$1"' "\$3" "\$5"
EOF
  chmod +x "$dir/agent"
  cat >"$dir/mpirun.args" <<EOF
--hostfile
$dir/hostfile
--mca
plm_rsh_agent
$dir/agent
--mca
plm_rsh_no_tree_spawn
1
--mca
btl
tcp,self
--mca
btl_tcp_if_include
$net.0/24
--mca
oob_tcp_if_include
$net.0/24
EOF
  trap - ERR
  echo "$dir"
}

cmd_down() {
  local arg=${1:-}
  [[ -n $arg ]] || die "down: give the ID or the state folder"
  local dir=$arg
  [[ $arg =~ ^[0-9]+$ ]] && dir=/tmp/mpilake-hosts-$arg
  local id=${dir##*/mpilake-hosts-}
  [[ $id =~ ^[0-9]+$ ]] || die "down: $arg is not a hosts.sh state folder"
  local ns
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^ml${id}h[0-9]+$" || true); do
    local pids
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    # shellcheck disable=SC2086  # one PID a word
    if [[ -n $pids ]]; then kill -KILL $pids 2>/dev/null || true; fi
    ip netns delete "$ns" 2>/dev/null || true
  done
  ip link delete "mlb$id" 2>/dev/null || true
  rm -rf "$dir"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  *) die "usage: hosts.sh up N [ID] | down ID|DIR" ;;
esac
