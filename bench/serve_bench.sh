#!/usr/bin/env bash
# `mpilake serve` benchmark (issue 12), loopback only and bounded: generates a Deloton run of about
# a million readings (and a small one for the memory baseline), serves it on 127.0.0.1, and drives it
# with wrk (16 connections, --duration seconds per endpoint) at random ride ids and random dates:
#   - requests/s and p50 / p99 latency of GET /rides/{id} and GET /daily?date=...;
#   - memory: the server's resident set (VmRSS) with the big and the small run loaded, as bytes per
#     million readings served ((RSS big - RSS small) / (readings big - readings small)).
# Target: p99 <= 5 ms for /rides/{id}.
#
# usage: bench/serve_bench.sh [--mpilake PATH] [--duration S] [--bikes N] [--days D] [--data DIR] [--keep]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MPILAKE="$ROOT/build/mpilake"
DURATION=10
BIKES=40
DAYS=8
KEEP=0
DATA="${TMPDIR:-/tmp}/mpilake-serve-bench"

# shellcheck source=bench/common.sh
source "$ROOT/bench/common.sh"
bench_parse --mpilake=MPILAKE --duration=DURATION --bikes=BIKES --days=DAYS --data=DATA --keep=KEEP=1 -- "$@"
[ -x "$MPILAKE" ] || die "no mpilake at $MPILAKE (build it, or pass --mpilake)"
command -v wrk >/dev/null || die "needs wrk (Debian package wrk)"
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "--duration must be 1..120 seconds"

export OMPI_MCA_btl_vader_single_copy_mechanism=none
MPIRUN=(mpiexec --allow-run-as-root --oversubscribe -n 2)
mkdir -p "$DATA"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  [ "$KEEP" = 1 ] || rm -rf "$DATA"
}
trap cleanup EXIT

# make_run NAME BIKES DAYS: landing + zones in $DATA/NAME (reused when already there).
make_run() {
  local dir="$DATA/$1"
  if [ ! -f "$dir/out/summary.json" ]; then
    rm -rf "$dir"
    "${MPIRUN[@]}" "$MPILAKE" generate --pipeline deloton --out "$dir/landing" --bikes "$2" --days "$3" --seed 7 >/dev/null
    "${MPIRUN[@]}" "$MPILAKE" run --pipeline deloton --landing "$dir/landing" --out "$dir/out" -q
  fi
}

# start_server DIR: serves DIR on a free loopback port; sets SERVER_PID and PORT.
start_server() {
  local log="$DATA/serve.log"
  "$MPILAKE" serve --out "$1" --bind 127.0.0.1 --port 0 >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 100); do
    PORT="$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$log")"
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  die "serve did not start: $(cat "$log")"
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" || true; SERVER_PID=""; }
rss_bytes() { echo $(( $(awk '/^VmRSS/ {print $2}' "/proc/$SERVER_PID/status") * 1024 )); }
json_field() { /usr/bin/python3 -c "import json,sys; d=json.load(open('$1')); print($2)"; }

echo "== generating the runs (cached in $DATA)"
make_run small 2 1
make_run big "$BIKES" "$DAYS"
RIDES="$(json_field "$DATA/big/out/summary.json" "d['zones']['rides']['rows']")"
READINGS="$(json_field "$DATA/big/out/summary.json" "d['zones']['readings']['rows']")"
SMALL_READINGS="$(json_field "$DATA/small/out/summary.json" "d['zones']['readings']['rows']")"
DATES="$(/usr/bin/python3 -c "import h5py; print(','.join(x.decode() for x in h5py.File('$DATA/big/out/daily.h5')['date'][()]))")"
echo "big run: $RIDES rides, $READINGS readings; small run: $SMALL_READINGS readings"

start_server "$DATA/small/out"
sleep 0.5
RSS_SMALL="$(rss_bytes)"
stop_server

start_server "$DATA/big/out"
sleep 0.5
RSS_BIG="$(rss_bytes)"

cat >"$DATA/rides.lua" <<'LUA'
local rides = tonumber(os.getenv("RIDES"))
math.randomseed(12)
request = function() return wrk.format("GET", "/rides/" .. math.random(1, rides)) end
LUA
cat >"$DATA/daily.lua" <<'LUA'
local dates = {}
for d in string.gmatch(os.getenv("DATES"), "[^,]+") do dates[#dates + 1] = d end
math.randomseed(12)
request = function() return wrk.format("GET", "/daily?date=" .. dates[math.random(1, #dates)]) end
LUA

# bench NAME SCRIPT: wrk, 2 threads, 16 connections; prints "NAME rps p50 p99".
declare -A RESULT
bench() {
  local out
  out="$(RIDES="$RIDES" DATES="$DATES" timeout $((DURATION + 30)) wrk -t2 -c16 -d"${DURATION}s" --latency \
         -s "$2" "http://127.0.0.1:$PORT")"
  echo "$out" | sed 's/^/  /'
  local rps p50 p99 errors
  rps="$(echo "$out" | awk '/Requests\/sec/ {print $2}')"
  p50="$(echo "$out" | awk '$1 == "50%" {print $2}')"
  p99="$(echo "$out" | awk '$1 == "99%" {print $2}')"
  errors="$(echo "$out" | awk '/Non-2xx/ {print $NF}')"
  RESULT[$1]="$rps $p50 $p99 ${errors:-0}"
}
echo "== GET /rides/{id} (random ids of $RIDES)"
bench rides "$DATA/rides.lua"
echo "== GET /daily?date= (random dates of $(echo "$DATES" | tr ',' '\n' | wc -l))"
bench daily "$DATA/daily.lua"
RSS_AFTER="$(rss_bytes)"
stop_server

to_ms() {  # wrk prints 812.00us, 1.23ms or 2.00s
  /usr/bin/python3 -c "import re,sys; v,u=re.match(r'([\d.]+)(\w+)','$1').groups(); print('%.3f' % (float(v)*{'us':1e-3,'ms':1,'s':1e3}[u]))"
}
PER_MILLION="$(( (RSS_BIG - RSS_SMALL) * 1000000 / (READINGS - SMALL_READINGS) ))"
echo
echo "== results ($(nproc) cores, wrk -t2 -c16 -d${DURATION}s, loopback)"
printf "%-18s %12s %10s %10s %8s\n" endpoint "requests/s" "p50 ms" "p99 ms" non-2xx
for name in rides daily; do
  read -r rps p50 p99 errors <<<"${RESULT[$name]}"
  label="/rides/{id}"; [ "$name" = daily ] && label="/daily?date="
  printf "%-18s %12s %10s %10s %8s\n" "$label" "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")" "$errors"
  echo "RESULT serve_${name}_rps=$rps"
  echo "RESULT serve_${name}_p50_ms=$(to_ms "$p50")"
  echo "RESULT serve_${name}_p99_ms=$(to_ms "$p99")"
done
echo "memory: RSS $((RSS_BIG / 1048576)) MiB serving $READINGS readings ($((RSS_AFTER / 1048576)) MiB after the load test), $((RSS_SMALL / 1048576)) MiB serving $SMALL_READINGS"
echo "RESULT serve_rss_bytes_per_million_readings=$PER_MILLION"
echo "memory per million readings served: $((PER_MILLION / 1048576)) MiB"
read -r _ _ p99 _ <<<"${RESULT[rides]}"
if /usr/bin/python3 -c "import sys; sys.exit(0 if $(to_ms "$p99") <= 5 else 1)"; then
  echo "target p99 <= 5 ms for /rides/{id}: met"
else
  echo "target p99 <= 5 ms for /rides/{id}: NOT met"
fi
