#!/usr/bin/env bash
# bench/common.sh's bench_parse, as the bench scripts use it: values, numbers, paths, switches,
# positional arguments, and the one-line errors. Usage: tests/bench_common_test.sh ROOT
set -uo pipefail
ROOT="${1:?give the source folder}"
failures=0
check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then echo "FAIL: $1: expected '$2', got '$3'"; failures=$((failures + 1)); fi
}
# parse ARGS...: runs bench_parse in a script demo.sh, prints the variables or the error.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/demo.sh" <<DEMO
source "$ROOT/bench/common.sh"
BYTES=1 NAME=def FLAG=0 WHERE=""
BENCH_POSITIONAL="\${POSITIONAL:-0}" bench_parse --bytes=BYTES:bytes --name=NAME --flag=FLAG=1 --where=WHERE:path -- "\$@"
echo "\$BYTES \$NAME \$FLAG \$WHERE [\${BENCH_ARGS[*]}]"
DEMO
parse() { bash "$WORK/demo.sh" "$@" 2>&1; }
cd /tmp || exit 1
check "defaults" "1 def 0  []" "$(parse)"
check "values" "2200000000 x 1 /tmp []" "$(parse --bytes 2.2e9 --name x --flag --where .)"
check "unknown option" "demo.sh: unknown option --other (see --help)" "$(parse --other)"
check "missing value" "demo.sh: --name needs a value (see --help)" "$(parse --name)"
check "bad number" "demo.sh: --bytes takes a number, not 'many'" "$(parse --bytes many)"
check "no positional" "demo.sh: unknown argument a=b (see --help)" "$(parse --flag a=b)"
check "positional" "1 def 1  [a=b --name c]" "$(POSITIONAL=1 parse --flag a=b --name c)"
# The scripts themselves: --help prints their header, an unknown option is one line and exit 2.
for script in compare_binaries deloton_bench run_bench serve_bench; do
  help="$(bash "$ROOT/bench/$script.sh" --help)"
  check "$script --help" "0 usage" "$? $(grep -o -m1 '^usage' <<<"$help")"
  error="$(bash "$ROOT/bench/$script.sh" --no-such-option 2>&1)"
  check "$script unknown option" "2 $script.sh: unknown option --no-such-option (see --help)" "$? $error"
done
[ "$failures" = 0 ] && echo "bench_common: all checks passed"
exit $((failures > 0))
