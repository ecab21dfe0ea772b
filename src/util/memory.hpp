// How much memory this process can still take: what a stage that must gather on one rank checks
// before it gathers (--algorithm iclm), so it stops with a clear error instead of being killed.
#pragma once

#include <cstdint>
#include <optional>

namespace weave::util {

/// Bytes this process can still allocate, as the node and its cgroup say: /proc/meminfo's
/// MemAvailable, capped by a cgroup v2 limit (memory.max - memory.current). nullopt where neither
/// can be read. WEAVE_AVAILABLE_MEMORY_BYTES, when set, is returned instead (for tests).
std::optional<double> available_memory_bytes();

}  // namespace weave::util
