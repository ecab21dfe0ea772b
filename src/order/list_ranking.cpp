// Pointer doubling on undirected paths. Each (document, direction) keeps a pointer: the document
// it reaches, the hops to it, and the document just before it (so the reached document can tell
// which of its own two pointers leads further away). A round replaces every unfinished pointer by
// the reached document's onward pointer; a pointer is finished once it reaches a path end.
#include "order/list_ranking.hpp"

#include "weave/error.hpp"

namespace weave::order {

namespace {
struct Pointer {
  std::int64_t target, hops, before;
  bool done;
};
}  // namespace

std::vector<PathPosition> rank_paths(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                     const std::vector<std::int64_t>& links) {
  const std::int64_t n = range.size();
  auto owner = [&](std::int64_t doc) { return block_owner(num_docs, comm.size(), GlobalId(doc)); };
  std::vector<Pointer> ptr(static_cast<std::size_t>(2 * n));
  for (std::int64_t i = 0; i < n; ++i)
    for (int s = 0; s < 2; ++s) {
      const std::int64_t doc = range.begin + i, next = links[2 * i + s];
      ptr[2 * i + s] = next < 0 ? Pointer{doc, 0, -1, true} : Pointer{next, 1, doc, false};
    }
  for (int round = 0;; ++round) {
    WEAVE_ASSERT(round < 80, "rank_paths: no convergence (are the links a set of simple paths?)");
    // Ask each unfinished pointer's target for its pointer leading away from `before`.
    std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(comm.size()));
    std::int64_t pending = 0;
    for (std::int64_t x = 0; x < 2 * n; ++x) {
      if (ptr[x].done) continue;
      ++pending;
      ask[owner(ptr[x].target)].insert(ask[owner(ptr[x].target)].end(), {ptr[x].target, ptr[x].before, x});
    }
    if (comm.sum(pending) == 0) break;
    const auto asked = comm.alltoallv(ask);
    std::vector<std::vector<std::int64_t>> answer(static_cast<std::size_t>(comm.size()));
    for (int from = 0; from < comm.size(); ++from)
      for (std::size_t y = 0; y + 2 < asked[from].size(); y += 3) {
        const std::int64_t i = asked[from][y] - range.begin, before = asked[from][y + 1];
        // The onward direction is the one whose first hop is not `before`.
        const int s = links[2 * i] == before ? 1 : 0;
        WEAVE_ASSERT(links[2 * i + 1 - s] == before, "rank_paths: links are not symmetric");
        const Pointer& p = ptr[2 * i + s];
        answer[from].insert(answer[from].end(), {asked[from][y + 2], p.target, p.hops, p.before, p.done ? 1 : 0});
      }
    // Answers come from the state before this round's updates, as doubling requires.
    for (const auto& part : comm.alltoallv(answer))
      for (std::size_t y = 0; y + 4 < part.size(); y += 5) {
        Pointer& p = ptr[part[y]];
        if (part[y + 2] == 0) {  // the target is an end in that direction
          p.done = true;
          continue;
        }
        p.target = part[y + 1];
        p.hops += part[y + 2];
        p.before = part[y + 3];
        p.done = part[y + 4] != 0;
      }
  }
  std::vector<PathPosition> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    const Pointer &a = ptr[2 * i], &b = ptr[2 * i + 1];
    PathPosition& p = out[i];
    const int toward_start = a.target <= b.target ? 0 : 1;
    p.start = std::min(a.target, b.target);
    p.other_end = std::max(a.target, b.target);
    p.position = ptr[2 * i + toward_start].hops;
    p.length = a.hops + b.hops + 1;
    p.predecessor = links[2 * i + toward_start];
  }
  return out;
}

}  // namespace weave::order
