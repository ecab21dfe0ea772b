// Block ownership: the one place that decides which rank owns which global ids.
#include <algorithm>

#include <fmt/format.h>

#include "weave/error.hpp"
#include "weave/ids.hpp"

namespace weave {

BlockRange block_range(std::int64_t n, int size, int rank) {
  WEAVE_ASSERT(n >= 0 && size > 0 && rank >= 0 && rank < size, "block_range: bad arguments");
  const std::int64_t base = n / size;
  const std::int64_t extra = n % size;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

std::vector<std::int64_t> block_starts(std::int64_t n, int size) {
  std::vector<std::int64_t> starts;
  for (int r = 0; r < size; ++r) starts.push_back(block_range(n, size, r).begin);
  return starts;
}

int block_owner(std::int64_t n, int size, GlobalId g) {
  WEAVE_ASSERT(g.value >= 0 && g.value < n, fmt::format("block_owner: id {} outside [0, {})", g.value, n));
  return BlockOwners(n, size)(g);
}

LocalId BlockRange::to_local(GlobalId g) const {
  WEAVE_ASSERT(contains(g), fmt::format("global id {} is not in the block [{}, {})", g.value, begin, end));
  return LocalId(g.value - begin);
}

GlobalId BlockRange::to_global(LocalId l) const {
  WEAVE_ASSERT(l.value >= 0 && l.value < size(), fmt::format("local id {} is not in a block of {}", l.value, size()));
  return GlobalId(begin + l.value);
}

namespace detail {

namespace {
bool g_assertions_throw = false;
}

void set_assertions_throw(bool throw_on_failure) { g_assertions_throw = throw_on_failure; }

void assertion_failed(const char* expr, const char* file, int line, const std::string& msg) {
  const std::string text = fmt::format("weave: internal error: {} ({} failed at {}:{})", msg, expr, file, line);
  if (g_assertions_throw) throw InternalError(text);
  fmt::print(stderr, "{}\n", text);
  std::fflush(stderr);
  std::abort();  // under mpirun this ends the whole job
}

}  // namespace detail
}  // namespace weave
