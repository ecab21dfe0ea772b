// keep_freed_memory: a large block freed and asked for again comes back without the kernel
// faulting its pages in anew (glibc's default unmaps it on free: one fault per 4 KiB page again).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "util/memory.hpp"
#include "util/report.hpp"

namespace weave::util {
namespace {

/// Page faults taken while a fresh block of `bytes` is allocated, written and freed.
double faults_of_one_block(std::size_t bytes) {
  const double before = kernel_usage().page_faults;
  auto* p = static_cast<unsigned char*>(std::malloc(bytes));
  std::memset(p, 1, bytes);
  asm volatile("" : : "r"(p) : "memory");  // the writes happen: the compiler may not elide the block
  std::free(p);
  return kernel_usage().page_faults - before;
}

TEST(KeepFreedMemory, ALargeBlockIsReusedWithoutFaults) {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::string(tunables).find("malloc.") != std::string::npos)
    GTEST_SKIP() << "GLIBC_TUNABLES sets malloc tunables: keep_freed_memory leaves them alone";
  constexpr std::size_t kBytes = std::size_t{256} << 20;  // far above glibc's 32 MiB mmap threshold
  constexpr double kPages = kBytes / 4096.0;
  // The default: each large block is a fresh mapping, every page faulted in (THP may make a fault
  // cover 2 MiB: then at least one per huge page).
  EXPECT_GT(faults_of_one_block(kBytes), kBytes / (2u << 20) / 2.0);
  keep_freed_memory();
  faults_of_one_block(kBytes);  // the heap grows to hold it once
  EXPECT_LT(faults_of_one_block(kBytes), kPages / 100) << "a block freed after keep_freed_memory() was faulted in again";
}

}  // namespace
}  // namespace weave::util
