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

}  // namespace

std::optional<double> available_memory_bytes() {
  if (const char* forced = std::getenv("WEAVE_AVAILABLE_MEMORY_BYTES")) return std::atof(forced);
  std::optional<double> available;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream fields(line);
    std::string key;
    double kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") available = kib * 1024.0;
  }
  const auto limit = number_in("/sys/fs/cgroup/memory.max");
  const auto used = number_in("/sys/fs/cgroup/memory.current");
  if (limit && used) {
    const double left = std::max(0.0, *limit - *used);
    available = available ? std::min(*available, left) : left;
  }
  return available;
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
