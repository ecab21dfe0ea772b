#include "order/quality.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <span>
#include <unordered_map>

#include "corpus/row_rounds.hpp"
#include "knn/row_sum.hpp"
#include "knn/topk.hpp"
#include "mpi/ask_owners.hpp"
#include "order/pair_similarity.hpp"
#include "util/exact_sum.hpp"

namespace weave::order {

namespace {

/// Topics of arbitrary documents (empty when the corpus has none).
util::UninitVector<std::int32_t> fetch_topics(const mpi::Comm& comm, const corpus::CorpusBlock& corpus,
                                              const std::vector<std::int64_t>& docs) {
  if (corpus.topics.empty()) return {};
  const BlockOwners owners(corpus.info.num_docs, comm.size());
  auto owner = [&](std::int64_t doc) { return owners(GlobalId(doc)); };
  return mpi::ask_owners<std::int32_t>(comm, docs, 1, owner, [&](std::int64_t doc, std::int32_t* t) {
    *t = corpus.topics[doc - corpus.range.begin];
  });
}

/// For pairs (a[j], b[j]): the weight of the graph's edge {a, b}, asked at b's owner; NaN where
/// {a, b} is no edge.
std::vector<float> edge_weights(const mpi::Comm& comm, const LocalGraph& g, const std::vector<std::int64_t>& a,
                                const std::vector<std::int64_t>& b) {
  const int p = comm.size();
  std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(p));
  for (std::size_t j = 0; j < a.size(); ++j) {
    auto& box = ask[g.owner(b[j])];
    box.insert(box.end(), {b[j], a[j]});
  }
  const auto asked = comm.alltoallv(ask);
  std::vector<std::vector<float>> reply(static_cast<std::size_t>(p));
  // The asked documents are in order position, random here: their slots are prefetched two steps
  // ahead (offsets 16 pairs ahead, then the slots 8 ahead), as the greedy does with its notices.
  constexpr std::size_t kFar = 16 * 2, kNear = 8 * 2;
  for (int r = 0; r < p; ++r) {
    const auto& part = asked[r];
    reply[r].reserve(part.size() / 2);
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) {
      if (x + kFar < part.size()) __builtin_prefetch(&g.offsets[part[x + kFar] - g.range.begin]);
      if (x + kNear < part.size()) __builtin_prefetch(g.neighbor.data() + g.offsets[part[x + kNear] - g.range.begin]);
      const std::int64_t slot = g.slot_of(part[x] - g.range.begin, part[x + 1]);
      reply[r].push_back(slot >= 0 ? g.weight[slot] : std::numeric_limits<float>::quiet_NaN());
    }
  }
  const auto replies = comm.alltoallv(reply);
  std::vector<float> out(a.size());
  std::vector<std::size_t> next(static_cast<std::size_t>(p), 0);
  for (std::size_t j = 0; j < a.size(); ++j) {
    const int r = g.owner(b[j]);
    out[j] = replies[r][next[r]++];
  }
  return out;
}

struct PairFigures {
  util::ExactSum similarity_sum, knn_similarity_sum;
  std::int64_t pairs = 0, knn_pairs = 0, same_topic = 0;
};

nlohmann::json to_json(const mpi::Comm& comm, PairFigures f, bool topics) {
  const double similarity_sum = util::ExactSum::value_of(comm.sum(f.similarity_sum.units()));
  const double knn_similarity_sum = util::ExactSum::value_of(comm.sum(f.knn_similarity_sum.units()));
  f.pairs = comm.sum(f.pairs);
  f.knn_pairs = comm.sum(f.knn_pairs);
  f.same_topic = comm.sum(f.same_topic);
  const double pairs = std::max<double>(1.0, static_cast<double>(f.pairs));
  nlohmann::json j = {{"pairs", f.pairs},
                      {"mean_similarity", similarity_sum / pairs},
                      {"knn_edge_share", static_cast<double>(f.knn_pairs) / pairs},
                      {"similarity_sum", similarity_sum},
                      {"knn_similarity_sum", knn_similarity_sum}};
  if (topics) j["topic_purity"] = static_cast<double>(f.same_topic) / pairs;
  return j;
}

/// Pairs of documents with the same topic, sum_t c_t (c_t - 1) / 2 over the topics' counts c_t,
/// counted at an owner per topic.
std::int64_t same_topic_pairs(const mpi::Comm& comm, const std::vector<std::int32_t>& topics) {
  std::unordered_map<std::int32_t, std::int64_t> local;
  for (std::int32_t t : topics) ++local[t];
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (const auto& [topic, count] : local) {
    auto& box = send[static_cast<std::size_t>(static_cast<std::uint32_t>(topic) % static_cast<std::uint32_t>(comm.size()))];
    box.insert(box.end(), {topic, count});
  }
  std::unordered_map<std::int64_t, std::int64_t> counts;
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 1 < part.size(); x += 2) counts[part[x]] += part[x + 1];
  std::int64_t pairs = 0;
  for (const auto& [topic, c] : counts) pairs += c * (c - 1) / 2;
  return comm.sum(pairs);
}

/// The figures of a random order, exactly: the means over all pairs of distinct documents. With
/// S the sum of the (unit) rows, the pairs' similarities sum to (|S|^2 - sum_i |x_i|^2) / 2, so no
/// row moves; S is summed in fixed point (the same at any rank count), or recorded in knn.h5. The kNN edges among all
/// pairs are the graph's edges, and same-topic pairs come from the topics' counts.
nlohmann::json all_pairs_figures(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& reader,
                                 const knn::RowSum* recorded, const LocalGraph& graph) {
  const std::int64_t n = corpus.info.num_docs, d = corpus.info.dim;
  double similarity_sum = 0;
  if (recorded) {
    similarity_sum = recorded->pair_similarity_sum();
  } else {
    // Every row, in bounded rounds (read from the files unless the block holds them); the sum is
    // exact, so how the rows are split does not change a bit.
    knn::RowSum sum(d);
    std::vector<std::int64_t> docs(static_cast<std::size_t>(corpus.size()));
    for (std::int64_t i = 0; i < corpus.size(); ++i) docs[i] = corpus.range.begin + i;
    reader.visit(docs, [&](std::int64_t, const float* row) { sum.add(row); });
    sum.sum_over(comm);
    similarity_sum = sum.pair_similarity_sum();
  }

  util::ExactSum slot_weights;  // every edge at both of its ends
  for (float w : graph.weight) slot_weights.add(w);
  const std::int64_t edges = comm.sum(static_cast<std::int64_t>(graph.weight.size())) / 2;
  const double knn_similarity_sum = util::ExactSum::value_of(comm.sum(slot_weights.units())) / 2;

  const std::int64_t pairs = n * (n - 1) / 2;
  const double denominator = std::max<double>(1.0, static_cast<double>(pairs));
  nlohmann::json j = {{"pairs", pairs},
                      {"mean_similarity", similarity_sum / denominator},
                      {"knn_edge_share", static_cast<double>(edges) / denominator},
                      {"similarity_sum", similarity_sum},
                      {"knn_similarity_sum", knn_similarity_sum}};
  if (!corpus.topics.empty())
    j["topic_purity"] = static_cast<double>(same_topic_pairs(comm, corpus.topics)) / denominator;
  return j;
}

}  // namespace

OrderQuality measure_order(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& reader,
                           const std::vector<StitchedLink>& stitched, const knn::RowSum* row_sum,
                           const LocalGraph& graph,
                           const std::vector<std::int64_t>& order_block) {
  const std::int64_t n = corpus.info.num_docs, d = corpus.info.dim;
  const BlockRange positions = block_range(n, comm.size(), comm.rank());
  const bool topics = !corpus.topics.empty();
  // The document just before this rank's first position.
  const auto lasts = comm.allgather<std::int64_t>(order_block.empty() ? -1 : order_block.back());
  std::vector<std::int64_t> docs;
  if (comm.rank() > 0) docs.push_back(lasts[comm.rank() - 1]);
  docs.insert(docs.end(), order_block.begin(), order_block.end());
  const util::UninitVector<std::int32_t> doc_topics = fetch_topics(comm, corpus, docs);
  const std::size_t shift = comm.rank() > 0 ? 1 : 0;

  OrderQuality q;
  q.link_similarity.assign(order_block.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<std::int64_t> prev_docs, cur_docs;
  for (std::size_t j = 0; j < order_block.size(); ++j) {
    if (positions.begin + static_cast<std::int64_t>(j) == 0) continue;
    prev_docs.push_back(docs[j + shift - 1]);
    cur_docs.push_back(docs[j + shift]);
  }
  // A link along a kNN edge has the edge's weight, which is the canonical similarity of the two
  // rows (knn.h5's definition); a stitched link has the similarity stitching chose it by; only the
  // rest (ICLM's restarts) need rows.
  const std::vector<float> weights = edge_weights(comm, graph, prev_docs, cur_docs);
  std::vector<std::size_t> unlinked;     // positions j whose link is no kNN edge
  std::vector<std::int64_t> unlinked_prev;
  for (std::size_t j = 0, e = 0; j < order_block.size(); ++j) {
    if (positions.begin + static_cast<std::int64_t>(j) == 0) continue;
    if (std::isnan(weights[e])) {
      unlinked.push_back(j);
      unlinked_prev.push_back(prev_docs[e]);
    } else {
      q.link_similarity[j] = weights[e];
    }
    ++e;
  }
  // Stitching's links: the previous document's owner has the link's records (at most two, sorted).
  constexpr std::size_t kWidth = 4;  // (other, similarity bits) twice
  const auto records = mpi::ask_owners<std::int64_t>(
      comm, unlinked_prev, kWidth, [&](std::int64_t doc) { return block_owner(n, comm.size(), GlobalId(doc)); },
      [&](std::int64_t doc, std::int64_t* out) {
        std::fill_n(out, kWidth, -1);
        auto it = std::lower_bound(stitched.begin(), stitched.end(), doc,
                                   [](const StitchedLink& l, std::int64_t d) { return l.doc < d; });
        for (std::size_t x = 0; x < 2 && it != stitched.end() && it->doc == doc; ++x, ++it) {
          out[2 * x] = it->other;
          out[2 * x + 1] = std::bit_cast<std::uint32_t>(it->similarity);
        }
      });
  std::vector<std::size_t> unscored;     // positions whose similarity needs the rows
  std::vector<std::int64_t> pair_docs;   // their (previous, current) documents
  for (std::size_t x = 0; x < unlinked.size(); ++x) {
    const std::int64_t cur = docs[unlinked[x] + shift];
    const std::int64_t* r = records.data() + x * kWidth;
    if (r[0] == cur || r[2] == cur) {
      q.link_similarity[unlinked[x]] = std::bit_cast<float>(static_cast<std::uint32_t>(r[0] == cur ? r[1] : r[3]));
    } else {
      unscored.push_back(unlinked[x]);
      pair_docs.insert(pair_docs.end(), {unlinked_prev[x], cur});
    }
  }
  // The others' rows (ICLM's restarts) are read by their owners and visit the positions' owners.
  std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(comm.size()));
  for (std::int64_t doc : pair_docs) ask[block_owner(n, comm.size(), GlobalId(doc))].push_back(doc);
  std::vector<std::int64_t> missing;
  for (const auto& part : comm.alltoallv(ask)) missing.insert(missing.end(), part.begin(), part.end());
  const corpus::SomeRows read_rows = reader.read(std::move(missing));
  auto row_of = [&](std::int64_t doc) { return read_rows.row(doc); };
  const std::int64_t round_pairs = std::max<std::int64_t>(1, corpus::rows_per_round(d) / 2);
  corpus::visit_rows(comm, n, d, pair_docs, 2 * round_pairs, row_of,
                     [&](std::size_t first, std::size_t count, const float* rows) {
    for (std::size_t x = 0; x + 1 < count; x += 2)
      q.link_similarity[unscored[(first + x) / 2]] = knn::canonical_similarity(rows + x * d, rows + (x + 1) * d, d);
  });
  PairFigures adjacent;
  for (std::size_t j = 0, e = 0; j < order_block.size(); ++j) {
    if (positions.begin + static_cast<std::int64_t>(j) == 0) continue;
    const std::size_t cur = j + shift;
    ++adjacent.pairs;
    adjacent.similarity_sum.add(q.link_similarity[j]);
    if (!std::isnan(weights[e++])) {
      ++adjacent.knn_pairs;
      adjacent.knn_similarity_sum.add(q.link_similarity[j]);
    }
    if (topics && doc_topics[cur] == doc_topics[cur - 1]) ++adjacent.same_topic;
  }

  // Upper bound of any path cover of the kNN graph: every document contributes its two heaviest
  // (positive) edges, each edge counted from both ends.
  util::ExactSum local_bound;
  for (std::int64_t i = 0; i < graph.range.size(); ++i)
    for (std::int64_t s = graph.offsets[i]; s < std::min(graph.offsets[i] + 2, graph.offsets[i + 1]); ++s)
      local_bound.add(std::max(0.0f, graph.weight[s]));
  const double bound = util::ExactSum::value_of(comm.sum(local_bound.units())) / 2;

  q.figures["adjacent"] = to_json(comm, adjacent, topics);
  q.figures["random_pairs"] = all_pairs_figures(comm, corpus, reader, row_sum, graph);
  q.figures["path_cover_upper_bound"] = bound;
  q.figures["knn_weight_to_bound"] = bound > 0 ? q.figures["adjacent"]["knn_similarity_sum"].get<double>() / bound : 0.0;
  return q;
}

}  // namespace weave::order
