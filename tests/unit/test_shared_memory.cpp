// shared_memory_bytes (the report's shared_memory_bytes): a shared mapping this process touches
// shows in it page by page, and private memory does not.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>

#include "util/memory.hpp"

namespace weave::util {
namespace {

constexpr std::size_t kBytes = std::size_t{16} << 20;

TEST(SharedMemory, ATouchedSharedMappingIsCounted) {
  const std::int64_t before = shared_memory_bytes();
  void* p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  EXPECT_LT(shared_memory_bytes() - before, std::int64_t{1} << 20) << "untouched pages are not resident";
  std::memset(p, 1, kBytes / 2);
  const std::int64_t grown = shared_memory_bytes() - before;
  EXPECT_GE(grown, static_cast<std::int64_t>(kBytes / 2));
  EXPECT_LT(grown, static_cast<std::int64_t>(kBytes / 2 + (1 << 20)));
  munmap(p, kBytes);
  EXPECT_LT(shared_memory_bytes() - before, std::int64_t{1} << 20);
}

TEST(SharedMemory, PrivateMemoryIsNot) {
  const std::int64_t before = shared_memory_bytes();
  auto* p = static_cast<unsigned char*>(std::malloc(kBytes));
  std::memset(p, 1, kBytes);
  asm volatile("" : : "r"(p) : "memory");
  EXPECT_LT(shared_memory_bytes() - before, std::int64_t{1} << 20);
  std::free(p);
}

}  // namespace
}  // namespace weave::util
