#include "util/memory.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace weave::util {

namespace {

/// The first number in a file ("max" or a missing file: nullopt).
std::optional<double> number_in(const char* path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return std::nullopt;
  try {
    return std::stod(word);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

/// The bytes of `key` ("MemAvailable:", "RssShmem:") in a /proc file of "Key: value kB" lines.
std::optional<double> proc_kib_field(const char* path, const std::string& key) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::istringstream fields(line);
    std::string name;
    double kib = 0;
    if (fields >> name >> kib && name == key) return kib * 1024.0;
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> available_memory_bytes() {
  if (const char* forced = std::getenv("WEAVE_AVAILABLE_MEMORY_BYTES")) return std::atof(forced);
  std::optional<double> available = proc_kib_field("/proc/meminfo", "MemAvailable:");
  const auto limit = number_in("/sys/fs/cgroup/memory.max");
  const auto used = number_in("/sys/fs/cgroup/memory.current");
  if (limit && used) {
    const double left = std::max(0.0, *limit - *used);
    available = available ? std::min(*available, left) : left;
  }
  return available;
}

std::int64_t shared_memory_bytes() {
  return static_cast<std::int64_t>(proc_kib_field("/proc/self/status", "RssShmem:").value_or(0));
}

void keep_freed_memory() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::string(tunables).find("malloc.") != std::string::npos) return;
  mallopt(M_MMAP_MAX, 0);  // every block from the heap, where freed blocks are reused
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());  // the heap's free top is kept too
#endif
}

}  // namespace weave::util
