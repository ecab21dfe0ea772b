#include "dedup/kept_subset.hpp"

#include <limits>

#include "corpus/validate.hpp"
#include "mpi/ask_owners.hpp"
#include "weave/ids.hpp"

namespace weave::dedup {

KeptSubset keep_documents(const mpi::Comm& comm, corpus::CorpusBlock corpus, const knn::KnnLists& lists,
                          const std::vector<std::uint8_t>& kept) {
  const std::int64_t n = corpus.info.num_docs;
  const BlockRange range = corpus.range;
  const int k = lists.k;
  const int p = comm.size();
  std::vector<std::int64_t> keep;
  for (std::int64_t i = 0; i < range.size(); ++i)
    if (kept[i]) keep.push_back(i);
  const auto count = static_cast<std::int64_t>(keep.size());
  const std::int64_t offset = comm.exscan_sum(count);
  const std::int64_t total = comm.sum(count);
  std::vector<std::int64_t> new_id(static_cast<std::size_t>(range.size()), -1);
  for (std::int64_t x = 0; x < count; ++x) new_id[keep[x]] = offset + x;

  // The new ids of the kept rows' neighbours, from the neighbours' owners (-1: removed).
  std::vector<std::int64_t> asked;
  for (auto i : keep)
    for (int j = 0; j < k; ++j)
      if (const std::int64_t v = lists.neighbors[i * k + j]; v >= 0) asked.push_back(v);
  const auto renamed = mpi::ask_owners<std::int64_t>(
      comm, asked, 1, [&](std::int64_t id) { return block_owner(n, p, GlobalId(id)); },
      [&](std::int64_t id, std::int64_t* answer) { *answer = new_id[id - range.begin]; });

  // Each kept row's list, compacted and padded, goes with the row to its new owner.
  std::vector<std::vector<std::int64_t>> send_ids(static_cast<std::size_t>(p)), send_original(static_cast<std::size_t>(p));
  std::vector<std::vector<float>> send_sims(static_cast<std::size_t>(p));
  std::size_t next = 0;
  for (std::int64_t x = 0; x < count; ++x) {
    const std::int64_t i = keep[x];
    const int to = block_owner(total, p, GlobalId(offset + x));
    int written = 0;
    for (int j = 0; j < k; ++j) {
      if (lists.neighbors[i * k + j] < 0) continue;
      const std::int64_t v = renamed[next++];
      if (v < 0) continue;
      send_ids[to].push_back(v);
      send_sims[to].push_back(lists.similarities[i * k + j]);
      ++written;
    }
    for (; written < k; ++written) send_ids[to].push_back(-1), send_sims[to].push_back(std::numeric_limits<float>::quiet_NaN());
    send_original[to].push_back(range.begin + i);
  }
  KeptSubset out;
  out.lists.k = k;
  for (const auto& part : comm.alltoallv(send_ids)) out.lists.neighbors.insert(out.lists.neighbors.end(), part.begin(), part.end());
  for (const auto& part : comm.alltoallv(send_sims))
    out.lists.similarities.insert(out.lists.similarities.end(), part.begin(), part.end());
  for (const auto& part : comm.alltoallv(send_original)) out.original_ids.insert(out.original_ids.end(), part.begin(), part.end());
  corpus::keep_rows(comm, corpus, keep);
  out.corpus = std::move(corpus);
  return out;
}

std::vector<std::int64_t> original_ids_of(const mpi::Comm& comm, const KeptSubset& subset,
                                          const std::vector<std::int64_t>& subset_ids) {
  const std::int64_t n = subset.corpus.info.num_docs;
  const auto ids = mpi::ask_owners<std::int64_t>(
      comm, subset_ids, 1, [&](std::int64_t id) { return block_owner(n, comm.size(), GlobalId(id)); },
      [&](std::int64_t id, std::int64_t* answer) { *answer = subset.original_ids[id - subset.corpus.range.begin]; });
  return {ids.begin(), ids.end()};
}

}  // namespace weave::dedup
