// This process's memory as the kernel sees it: how much it can still take (what a stage that must
// gather on one rank checks before it gathers, --algorithm iclm, so it stops with a clear error
// instead of being killed), the shared memory counted in its resident size, and keeping what it frees.
#pragma once

#include <cstdint>
#include <optional>

namespace weave::util {

/// Bytes this process can still allocate, as the node and its cgroup say: /proc/meminfo's
/// MemAvailable, capped by a cgroup v2 limit (memory.max - memory.current). nullopt where neither
/// can be read. WEAVE_AVAILABLE_MEMORY_BYTES, when set, is returned instead (for tests).
std::optional<double> available_memory_bytes();

/// Shared memory this process maps and has touched (RssShmem of /proc/self/status; 0 where there is
/// none): on one node, Open MPI's shared-memory transport. It is counted in the resident size (and the
/// peak) of every process that maps it, though the node holds it once. The report gives it per stage.
std::int64_t shared_memory_bytes();

/// From now on, memory this process frees stays in it for its next allocations instead of going
/// back to the kernel (glibc: no mmap'd blocks, no trimming of the heap). glibc's default unmaps
/// every block above 32 MiB when freed, so a stage whose arrays outgrow that gets them back as fresh
/// pages each time, each page faulted in and cleared by the kernel: at 10^7 documents on 2 ranks
/// that was 42% of `weave order`'s page faults and a quarter of its time (docs/benchmarks.md); and
/// each unmap takes the process's memory lock, which stalls the peers that read from it through
/// Open MPI's single-copy transfers (16 ranks of one node: stitching's fetch rounds 1.8x slower).
/// The peak resident size stays what the largest live set needed (+4% measured: the heap's layout).
/// Does nothing where the user set glibc's malloc tunables (GLIBC_TUNABLES) or the C library is
/// not glibc.
void keep_freed_memory();

}  // namespace weave::util
