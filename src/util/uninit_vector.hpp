// Vectors whose new elements are default-initialised instead of zero-filled, for buffers that are
// sized and then written in full: the exchanges' send and receive buffers, rows fetched from their
// owners. A zero fill first is one more pass over memory that is about to be overwritten (at
// 10^5 x 768, the fills of stitching's row and sketch exchanges were ~8% of its time).
#pragma once

#include <memory>
#include <new>
#include <type_traits>
#include <vector>

namespace weave::util {

/// std::allocator, except that construct() without arguments default-initialises (for trivial
/// types: leaves the memory as it is). Construction with arguments is std::allocator_traits'
/// default (std::construct_at), as is rebinding.
template <typename T>
struct DefaultInitAllocator : std::allocator<T> {
  DefaultInitAllocator() = default;
  template <typename U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}
  template <typename U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
};

/// A vector whose resize() leaves trivial elements unwritten: write every element before reading it.
template <typename T>
using UninitVector = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace weave::util
