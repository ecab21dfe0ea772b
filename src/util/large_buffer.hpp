// Large memory that asks the kernel for huge pages (transparent huge pages, madvise mode). Arrays
// of hundreds of megabytes visited at random places (the contexts' tokens filled in store order; the
// order stage's graph slots and per-document state, hit by messages about random documents)
// otherwise take a page fault every 4 KiB when first written and a TLB miss on almost every visit:
// a 2 MiB page covers 512 of them.
#pragma once

#include <cstddef>
#include <memory>
#include <new>
#include <vector>

namespace weave::util {

/// Blocks of at least kLargeBlockBytes are aligned to a huge page and advised MADV_HUGEPAGE
/// (std::free releases them); smaller ones come from operator new. Huge pages are a hint, ignored
/// where the kernel does not offer them.
inline constexpr std::size_t kLargeBlockBytes = std::size_t{4} << 20;
void* allocate_large(std::size_t bytes);
void deallocate_large(void* p, std::size_t bytes) noexcept;

/// A std::allocator whose large blocks are huge-page backed: for std::vector (LargeVector).
template <typename T>
struct HugePageAllocator {
  static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__, "HugePageAllocator: over-aligned types are not supported");
  using value_type = T;
  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(allocate_large(n * sizeof(T)));
  }
  void deallocate(T* p, std::size_t n) noexcept { deallocate_large(p, n * sizeof(T)); }
  friend bool operator==(const HugePageAllocator&, const HugePageAllocator&) { return true; }
};

/// A vector for arrays of millions of elements visited at random.
template <typename T>
using LargeVector = std::vector<T, HugePageAllocator<T>>;

class LargeBuffer {
 public:
  /// bytes, not zero-filled; huge pages are a hint (ignored where the kernel does not offer them).
  explicit LargeBuffer(std::size_t bytes);
  std::byte* data() const { return data_.get(); }
  std::size_t size() const { return bytes_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte, Free> data_;
  std::size_t bytes_;
};

}  // namespace weave::util
