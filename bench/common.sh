# shellcheck shell=bash
# Sourced by the bench scripts: their one way of reading the command line.
#
#   bench_parse SPEC... -- "$@"
#
# Each SPEC names one option and the variable it sets:
#   --name=VAR          takes a value:                 --name V   sets VAR=V
#   --name=VAR:bytes    takes a number, 2.2e9 allowed: sets VAR to it as an integer
#   --name=VAR:path     takes a path:                  sets VAR to its absolute path
#   --name=VAR=VALUE    a switch:                      --name     sets VAR=VALUE
# -h/--help prints the script's header comment (line 2 up to `set -euo pipefail`) and exits 0.
# An unknown option, or an option without its value, is one line and exit 2. With
# BENCH_POSITIONAL=1 the first argument that is no option ends the options and it and the rest go
# to BENCH_ARGS; otherwise it is an error too. The variables keep their defaults unless given.
# Also: die MESSAGE (one line "SCRIPT: MESSAGE", exit 2).

BENCH_SCRIPT="$(basename "$0")"
# shellcheck disable=SC2034  # read by the scripts
BENCH_ARGS=()

die() { echo "$BENCH_SCRIPT: $*" >&2; exit 2; }

bench_help() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

bench_parse() {
  local -a specs=()
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do specs+=("$1"); shift; done
  [ $# -gt 0 ] || die "bench_parse: no -- before the arguments (a bug in the script)"
  shift
  while [ $# -gt 0 ]; do
    local arg="$1" spec="" found=0
    case "$arg" in
      -h|--help) bench_help; exit 0 ;;
      --*)
        for spec in "${specs[@]}"; do
          [ "${spec%%=*}" = "$arg" ] || continue
          found=1
          local target="${spec#*=}"
          if [[ "$target" == *=* ]]; then  # a switch
            printf -v "${target%%=*}" '%s' "${target#*=}"
            shift
          else
            [ $# -ge 2 ] || die "$arg needs a value (see --help)"
            local value="$2"
            case "$target" in
              *:bytes) value="$(printf '%.0f' "$value" 2>/dev/null)" || die "$arg takes a number, not '$2'"; target="${target%:bytes}" ;;
              *:path) value="$(realpath "$value")" || die "$arg: no such path '$2'"; target="${target%:path}" ;;
            esac
            printf -v "$target" '%s' "$value"
            shift 2
          fi
          break
        done
        [ "$found" = 1 ] || die "unknown option $arg (see --help)"
        ;;
      *)
        [ "${BENCH_POSITIONAL:-0}" = 1 ] || die "unknown argument $arg (see --help)"
        # shellcheck disable=SC2034  # read by the scripts
        BENCH_ARGS=("$@")
        return 0
        ;;
    esac
  done
}

