#pragma once
// Byte scans shared by the canonical-line scanners (the engine's RecordParser and the pipelines' own
// record readers): where a JSON string that needs no unescaping ends.
#include <cstdint>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace mpilake::json_scan {

// The first byte at or after `text` that ends a canonical string: '"', '\\', a control character or
// a non-ASCII byte (as a signed char, those are exactly the bytes below 0x20); `end` when there is
// none before it. Reads up to 31 bytes past `end`: the line's padding.
inline const char* find_string_stop(const char* text, const char* end) {
#if defined(__AVX2__)
  const __m256i quote = _mm256_set1_epi8('"');
  const __m256i backslash = _mm256_set1_epi8('\\');
  const __m256i space = _mm256_set1_epi8(0x20);
  for (; text < end; text += 32) {
    const __m256i block = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(text));
    const __m256i stops =
        _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(block, quote), _mm256_cmpeq_epi8(block, backslash)),
                        _mm256_cmpgt_epi8(space, block));
    const auto hits = static_cast<std::uint32_t>(_mm256_movemask_epi8(stops));
    if (hits != 0) {
      const char* found = text + __builtin_ctz(hits);
      return found < end ? found : end;
    }
  }
  return end;
#else
  while (text < end && *text != '"' && *text != '\\' && static_cast<signed char>(*text) >= 0x20) ++text;
  return text;
#endif
}

}  // namespace mpilake::json_scan
