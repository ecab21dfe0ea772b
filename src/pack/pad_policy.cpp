// Policy pad, distributed. The sequential rule is a chain: a context that starts at stream index i
// ends just before next(i), the first document that is too long on its own or no longer fits. The
// context starts are the chain 0 -> next(0) -> ...; next() needs only prefix sums (one search at
// the owner of a token position), and the chain is marked by pointer doubling: jump tables
// next^(2^k) (O(log n) rounds), then from the start, coarse jumps first. Memory O((n/P) log n).
#include <algorithm>
#include <limits>

#include "mpi/ask_owners.hpp"
#include "pack/context_rows.hpp"
#include "weave/ids.hpp"

namespace weave::pack {

namespace {

/// For each query position q (global stream index), the value `table` holds there (asked at the
/// owner of q); positions >= n answer n.
std::vector<std::int64_t> lookup(const mpi::Comm& comm, std::int64_t n, BlockRange mine,
                                 const std::vector<std::int64_t>& table, const std::vector<std::int64_t>& queries) {
  const auto answers = mpi::ask_owners<std::int64_t>(
      comm, queries, 1, [&](std::int64_t q) { return q < n ? block_owner(n, comm.size(), GlobalId(q)) : -1; },
      [&](std::int64_t q, std::int64_t* v) { *v = table[q - mine.begin]; });
  std::vector<std::int64_t> out(answers.begin(), answers.end());
  for (std::size_t j = 0; j < queries.size(); ++j)
    if (queries[j] >= n) out[j] = n;
  return out;
}

}  // namespace

ContextRows pad_rows(const mpi::Comm& comm, std::int64_t n, const std::vector<std::int64_t>& docs,
                     const std::vector<std::int64_t>& tokens, std::int64_t L) {
  const int p = comm.size();
  const BlockRange mine = n > 0 ? block_range(n, p, comm.rank()) : BlockRange{};
  const auto m = static_cast<std::int64_t>(docs.size());
  std::int64_t local_tokens = 0;
  for (auto t : tokens) local_tokens += t;
  const std::int64_t first_offset = comm.exscan_sum(local_tokens);
  std::vector<std::int64_t> begin(static_cast<std::size_t>(m)), end(static_cast<std::size_t>(m));
  for (std::int64_t i = 0, at = first_offset; i < m; ++i) {
    begin[i] = at;
    end[i] = at += tokens[i];
  }

  // next(i): the first document ending past begin(i) + L, found at the owner of that token. (A
  // document longer than L always ends past it, so it always starts a context of its own.)
  const auto rank_first_token = comm.allgather<std::int64_t>(first_offset);
  const auto rank_sizes = comm.allgather<std::int64_t>(m);
  const std::int64_t total_tokens = comm.sum(local_tokens);
  std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(p));
  std::vector<int> asked_rank(static_cast<std::size_t>(m), -1);
  for (std::int64_t i = 0; i < m; ++i) {
    const std::int64_t t = begin[i] + L;  // the first token that does not fit
    if (tokens[i] > L || t >= total_tokens) continue;
    int r = static_cast<int>(std::upper_bound(rank_first_token.begin(), rank_first_token.end(), t) -
                             rank_first_token.begin()) - 1;
    while (rank_sizes[r] == 0) --r;  // empty ranks share their successor's first token
    asked_rank[i] = r;
    ask[r].push_back(t);
  }
  const auto asked = comm.alltoallv(ask);
  std::vector<std::vector<std::int64_t>> reply(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r)
    for (auto t : asked[r]) {
      const auto it = std::upper_bound(end.begin(), end.end(), t);  // first document ending after t
      reply[r].push_back(mine.begin + (it - end.begin()));
    }
  const auto replies = comm.alltoallv(reply);
  std::vector<std::size_t> cursor(static_cast<std::size_t>(p), 0);
  std::vector<std::int64_t> next(static_cast<std::size_t>(m));
  for (std::int64_t i = 0; i < m; ++i) {
    if (tokens[i] > L) {
      next[i] = mine.begin + i + 1;
      continue;
    }
    next[i] = asked_rank[i] < 0 ? n : replies[asked_rank[i]][cursor[asked_rank[i]]++];
  }

  // Jump tables: jumps[k][i] = next^(2^k)(i), until 2^k exceeds n.
  std::vector<std::vector<std::int64_t>> jumps{next};
  for (std::int64_t span = 1; span < n; span *= 2) jumps.push_back(lookup(comm, n, mine, jumps.back(), jumps.back()));
  // Mark the chain from 0: coarse jumps first, so every multiple of the current span is marked.
  std::vector<std::uint8_t> start(static_cast<std::size_t>(m), 0);
  if (m > 0 && mine.begin == 0) start[0] = 1;
  for (auto level = static_cast<std::int64_t>(jumps.size()) - 1; level >= 0; --level) {
    std::vector<std::vector<std::int64_t>> mark(static_cast<std::size_t>(p));
    for (std::int64_t i = 0; i < m; ++i)
      if (start[i] && jumps[level][i] < n) mark[block_owner(n, p, GlobalId(jumps[level][i]))].push_back(jumps[level][i]);
    for (const auto& part : comm.alltoallv(mark))
      for (auto q : part) start[q - mine.begin] = 1;
  }

  // One segment per document; contexts numbered by their starts in stream order.
  ContextRows out;
  out.segments = n;
  out.segments_first = mine.begin;
  std::int64_t local_starts = 0, truncated = 0;
  for (std::int64_t i = 0; i < m; ++i) {
    local_starts += start[i];
    truncated += std::max<std::int64_t>(0, tokens[i] - L);
  }
  const std::int64_t first_context = comm.exscan_sum(local_starts);
  out.contexts = comm.sum(local_starts);
  out.truncated_tokens = comm.sum(truncated);
  std::int64_t c = first_context - 1;  // the context continuing from earlier ranks
  // Rows of the context datasets go to their block owners (contexts may span ranks).
  const std::int64_t C = out.contexts;
  std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(p));  // (kind, c, value)
  std::int64_t partial = 0;
  auto flush = [&] {
    if (c >= 0 && partial > 0) rows[block_owner(C, p, GlobalId(c))].insert(rows[block_owner(C, p, GlobalId(c))].end(), {1, c, partial});
    partial = 0;
  };
  for (std::int64_t i = 0; i < m; ++i) {
    if (start[i]) {
      flush();
      ++c;
      rows[block_owner(C + 1, p, GlobalId(c))].insert(rows[block_owner(C + 1, p, GlobalId(c))].end(), {0, c, mine.begin + i});
    }
    const std::int64_t len = std::min(tokens[i], L);
    out.segs.context.push_back(c);
    out.segs.doc_id.push_back(docs[i]);
    out.segs.doc_offset.push_back(0);
    out.segs.length.push_back(static_cast<std::int32_t>(len));
    out.segs.is_doc_start.push_back(1);
    out.segs.source_index.push_back(i);
    out.segs.starts_context.push_back(start[i]);
    partial += len;
  }
  flush();
  if (comm.rank() == p - 1) rows[block_owner(C + 1, p, GlobalId(C))].insert(rows[block_owner(C + 1, p, GlobalId(C))].end(), {0, C, n});
  const BlockRange my_offsets = block_range(C + 1, p, comm.rank());
  const BlockRange my_contexts = C > 0 ? block_range(C, p, comm.rank()) : BlockRange{};
  out.offsets.assign(static_cast<std::size_t>(my_offsets.size()), -1);
  std::vector<std::int64_t> used(static_cast<std::size_t>(my_contexts.size()), 0);
  for (const auto& part : comm.alltoallv(rows))
    for (std::size_t x = 0; x + 2 < part.size(); x += 3) {
      if (part[x] == 0) out.offsets[part[x + 1] - my_offsets.begin] = part[x + 2];
      else used[part[x + 1] - my_contexts.begin] += part[x + 2];
    }
  out.offsets_first = my_offsets.begin;
  out.num_tokens_first = my_contexts.begin;
  std::int64_t used_here = 0;
  for (auto u : used) {
    out.num_tokens.push_back(static_cast<std::int32_t>(u));
    used_here += u;
  }
  out.padding_tokens = C * L - comm.sum(used_here);
  return out;
}

}  // namespace weave::pack
