// A large uninitialised byte buffer that asks the kernel for huge pages (transparent huge pages,
// madvise mode): a buffer of gigabytes written at random places (the contexts' tokens, filled in
// the order the store holds them) otherwise takes a page fault and a TLB miss every 4 KiB.
#pragma once

#include <cstddef>
#include <memory>

namespace weave::util {

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
