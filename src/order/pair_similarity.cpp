#include "order/pair_similarity.hpp"

#include <algorithm>
#include <numeric>

#include "knn/topk.hpp"
#include "mpi/ask_owners.hpp"

namespace weave::order {

std::vector<float> score_pairs(const mpi::Comm& comm, const corpus::CorpusBlock& corpus,
                               const std::vector<EndPair>& pairs, std::int64_t batch_rows,
                               std::int64_t* rows_fetched) {
  const std::int64_t n = corpus.info.num_docs, d = corpus.info.dim;
  const BlockRange range = corpus.range;
  auto row = [&](std::int64_t doc) { return corpus.embeddings.data() + (doc - range.begin) * d; };
  std::vector<float> sims(pairs.size());

  // Pairs whose second document is remote, by that document: each batch fetches a run of them.
  std::vector<std::size_t> remote;
  for (std::size_t j = 0; j < pairs.size(); ++j) {
    if (range.contains(GlobalId(pairs[j].b)))
      sims[j] = knn::canonical_similarity(row(pairs[j].a), row(pairs[j].b), d);
    else
      remote.push_back(j);
  }
  std::sort(remote.begin(), remote.end(), [&](std::size_t x, std::size_t y) { return pairs[x].b < pairs[y].b; });
  std::vector<std::int64_t> wanted;  // distinct remote documents, ascending
  for (std::size_t j : remote)
    if (wanted.empty() || wanted.back() != pairs[j].b) wanted.push_back(pairs[j].b);
  const std::int64_t batch = std::max<std::int64_t>(1, batch_rows);
  const auto my_batches = static_cast<std::int64_t>((wanted.size() + batch - 1) / batch);
  const std::int64_t batches = comm.max(my_batches);  // every rank answers in every batch
  auto owner = [&](std::int64_t doc) { return block_owner(n, comm.size(), GlobalId(doc)); };

  std::size_t next_pair = 0;
  for (std::int64_t t = 0; t < batches; ++t) {
    const auto first = std::min<std::size_t>(wanted.size(), static_cast<std::size_t>(t * batch));
    const auto last = std::min<std::size_t>(wanted.size(), first + static_cast<std::size_t>(batch));
    const std::vector<std::int64_t> docs(wanted.begin() + first, wanted.begin() + last);
    const auto rows = mpi::ask_owners<float>(comm, docs, static_cast<std::size_t>(d), owner,
                                             [&](std::int64_t doc, float* out) { std::copy_n(row(doc), d, out); });
    for (std::size_t x = 0; x < docs.size(); ++x)
      for (; next_pair < remote.size() && pairs[remote[next_pair]].b == docs[x]; ++next_pair) {
        const EndPair& pr = pairs[remote[next_pair]];
        sims[remote[next_pair]] = knn::canonical_similarity(row(pr.a), rows.data() + x * d, d);
      }
  }
  if (rows_fetched) *rows_fetched = static_cast<std::int64_t>(wanted.size());
  return sims;
}

}  // namespace weave::order
