#!/usr/bin/env bash
# Fuzzes the NDJSON line parser and normaliser (tests/fuzz/record_parser_fuzz.cpp) with libFuzzer
# under AddressSanitizer + UndefinedBehaviorSanitizer.
#
#   bash scripts/fuzz.sh [SECONDS] [extra libFuzzer arguments...]
#
# SECONDS defaults to 60; CI runs a 20-second smoke run. Builds into build-fuzz/ (or $FUZZ_DIR)
# with Debian's clang (installed when missing), seeds build-fuzz/corpus with a few valid and invalid
# STEDI lines (plus the first lines of ../shared/data/stedi/landing when present), and exits
# non-zero when the target crashes, trips a sanitizer or breaks an invariant. A crashing input is
# saved as build-fuzz/crash-*; replay it with build-fuzz/record_parser_fuzz FILE.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true
fuzz_dir="${FUZZ_DIR:-build-fuzz}"

apt_install() { bash scripts/apt-install.sh fuzz "$@"; }

# The parser's dependencies (simdjson headers and library) and clang with libFuzzer.
apt_install libsimdjson-dev clang
# -fsanitize=fuzzer needs libclang_rt.fuzzer, shipped by libclang-rt-N-dev (Debian 12: N = 14).
fuzzer_lib="$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null || true)"
resource_dir="$(clang++ -print-resource-dir)"
if [ ! -f "$resource_dir/lib/linux/libclang_rt.fuzzer-x86_64.a" ] && [ ! -f "$fuzzer_lib" ]; then
  clang_major="$(clang++ -dumpversion | cut -d. -f1)"
  apt_install "libclang-rt-${clang_major}-dev"
fi

mkdir -p "$fuzz_dir"
# simdjson picks its kernel from the compile flags: haswell needs AVX2, BMI, LZCNT and PCLMUL
# (-march=x86-64-v3 alone lacks PCLMUL and gives the scalar fallback). FUZZ_ARCH="" for the fallback.
arch_flags=()
if [ -n "${FUZZ_ARCH-x86-64-v3 -mpclmul}" ] && grep -qw avx2 /proc/cpuinfo && grep -qw pclmulqdq /proc/cpuinfo; then
  read -r -a arch_flags <<<"-march=${FUZZ_ARCH-x86-64-v3 -mpclmul}"
fi

binary="$fuzz_dir/record_parser_fuzz"
sources=(tests/fuzz/record_parser_fuzz.cpp src/json/record_parser.cpp pipelines/stedi/src/schema.cpp src/table/table.cpp src/util/huge_pages.cpp)
echo "fuzz: building $binary"
clang++ -std=c++20 -g -O1 "${arch_flags[@]}" -fno-omit-frame-pointer \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Iinclude -Ipipelines/stedi/include "${sources[@]}" -lsimdjson -o "$binary"

# Seed corpus: one file per line.
corpus="$fuzz_dir/corpus"
mkdir -p "$corpus"
seed=0
add_seed() {
  printf '%s' "$1" >"$corpus/seed-$(printf '%03d' "$seed")"
  seed=$((seed + 1))
}
add_seed '{"customerName":"Santosh Clayton","email":"Santosh.Clayton@test.com","phone":"8015551212","birthDay":"1900-01-01","serialNumber":"50f7b4f3-7af5-4b07-a421-7b902c8d2b7c","registrationDate":1655564376361,"lastUpdateDate":1655564376361,"shareWithResearchAsOfDate":1655564376361,"shareWithPublicAsOfDate":null,"shareWithFriendsAsOfDate":1655564376361}'
add_seed '{"customerName":"A B","email":"a@b.c","phone":8015551212,"birthDay":"","serialNumber":"s1","registrationDate":"1655564376361","lastUpdateDate":1.655564376361e12}'
add_seed '{"user":"Santosh.Clayton@test.com","timeStamp":1655564444103,"x":1.0,"y":-1,"z":-0.5}'
add_seed '{"user":"a@b.c","timestamp":1655564444103,"x":"1.5","y":null,"z":1e308}'
add_seed '{"sensorReadingTime":1655564444103,"serialNumber":"50f7b4f3-7af5-4b07-a421-7b902c8d2b7c","distanceFromObject":218}'
add_seed '{"sensorReadingTime":-9223372036854775808,"serialNumber":"s","distanceFromObject":9223372036854775808}'
add_seed $'{"user":"a@b.c","timestamp":1,"x":0,"y":0,"z":0}\r'
add_seed '{"email":"a@b.c","unknown":{"nested":[1,2,{"a":"\u00e9\ud83d\ude00"}]},"serialNumber":"s\"1"}'
add_seed '{"email":"a@b.c","email":"dup@b.c","serialNumber":"s1"}'
add_seed '{"email":"a@b.c",'
add_seed '[1,2,3]'
add_seed '"just a string"'
add_seed '   '
add_seed ''
add_seed 'not json at all'
add_seed $'{"user":"a@b.c","timestamp":1,"x":0,"y":0,"z":0}\n{"sensorReadingTime":1,"serialNumber":"s","distanceFromObject":1}\n\n{bad'
landing="../shared/data/stedi/landing"
if [ -d "$landing" ]; then
  for source in customer accelerometer step_trainer; do
    for file in "$landing/$source"/*.json; do
      [ -f "$file" ] || continue
      while IFS= read -r line; do add_seed "$line"; done < <(head -n 3 "$file")
      break
    done
  done
fi
echo "fuzz: $seed seed inputs in $corpus"

# Leak checking stays on: the target itself allocates nothing that outlives an input.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
echo "fuzz: running for ${seconds} s"
# New inputs go to the corpus folder; crash artifacts to $fuzz_dir/.
"$binary" "$corpus" -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$fuzz_dir/" "$@"
