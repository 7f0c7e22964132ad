#pragma once
// Transparent huge pages for the large column buffers. Debian's default THP mode is "madvise": a
// buffer gets 2 MiB pages only when asked. A column reserved for a whole byte range (tens to
// hundreds of MB) otherwise fills through one page fault per 4 KiB, which on a virtual machine
// costs more than parsing the bytes (measured: bench/README.md, "Issue 21: parse at the floor"). The advice changes
// no byte and no result; the resident size grows in 2 MiB steps instead of 4 KiB ones.
#include <cstddef>
#include <vector>

namespace mpilake {

// Asks the kernel for huge pages on the whole 2 MiB pages inside [data, data + bytes); does nothing
// for ranges under 4 MiB or where the kernel declines (advice only, never an error).
void advise_huge_pages(const void* data, std::size_t bytes);

// values.reserve(count), then advise_huge_pages on the reserved buffer.
template <class Value, class Allocator>
void reserve_huge(std::vector<Value, Allocator>& values, std::size_t count) {
  values.reserve(count);
  advise_huge_pages(values.data(), values.capacity() * sizeof(Value));
}

}  // namespace mpilake
