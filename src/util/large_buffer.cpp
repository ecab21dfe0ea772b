#include "util/large_buffer.hpp"

#include <cstdlib>
#include <new>

#include <sys/mman.h>

namespace weave::util {

namespace {

constexpr std::size_t kHugePage = std::size_t{2} << 20;

/// Aligned to (and a multiple of) a huge page, so the whole range can be backed by them.
void* allocate_huge_pages(std::size_t bytes) {
  const std::size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = std::aligned_alloc(kHugePage, rounded);
  if (!p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  ::madvise(p, rounded, MADV_HUGEPAGE);  // a hint: no error if refused
#endif
  return p;
}

}  // namespace

void* allocate_large(std::size_t bytes) {
  return bytes >= kLargeBlockBytes ? allocate_huge_pages(bytes) : ::operator new(bytes);
}

void deallocate_large(void* p, std::size_t bytes) noexcept {
  if (bytes >= kLargeBlockBytes)
    std::free(p);
  else
    ::operator delete(p);
}

LargeBuffer::LargeBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) data_.reset(static_cast<std::byte*>(allocate_huge_pages(bytes)));
}

void LargeBuffer::Free::operator()(std::byte* p) const { std::free(p); }

}  // namespace weave::util
