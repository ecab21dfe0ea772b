#include "order/quality.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "corpus/row_rounds.hpp"
#include "knn/topk.hpp"
#include "mpi/ask_owners.hpp"
#include "util/random.hpp"

namespace weave::order {

namespace {

/// Documents whose random pair is measured, about (all of them below this).
constexpr double kRandomPairs = 65536;

/// Topics of arbitrary documents (empty when the corpus has none).
std::vector<std::int32_t> fetch_topics(const mpi::Comm& comm, const corpus::CorpusBlock& corpus,
                                       const std::vector<std::int64_t>& docs) {
  if (corpus.topics.empty()) return {};
  auto owner = [&](std::int64_t doc) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(doc)); };
  return mpi::ask_owners<std::int32_t>(comm, docs, 1, owner, [&](std::int64_t doc, std::int32_t* t) {
    *t = corpus.topics[doc - corpus.range.begin];
  });
}

bool has_edge(const LocalGraph& g, std::int64_t doc, std::int64_t other) {
  const std::int64_t i = doc - g.range.begin;
  for (std::int64_t s = g.offsets[i]; s < g.offsets[i + 1]; ++s)
    if (g.neighbor[s] == other) return true;
  return false;
}

/// For pairs (a[j], b[j]): whether {a, b} is an edge of the graph (asked at b's owner).
std::vector<std::uint8_t> are_edges(const mpi::Comm& comm, const LocalGraph& g, const std::vector<std::int64_t>& a,
                                    const std::vector<std::int64_t>& b) {
  const int p = comm.size();
  std::vector<std::vector<std::int64_t>> ask(static_cast<std::size_t>(p));
  for (std::size_t j = 0; j < a.size(); ++j) {
    auto& box = ask[block_owner(g.num_docs, p, GlobalId(b[j]))];
    box.insert(box.end(), {b[j], a[j]});
  }
  const auto asked = comm.alltoallv(ask);
  std::vector<std::vector<std::uint8_t>> reply(static_cast<std::size_t>(p));
  for (int r = 0; r < p; ++r)
    for (std::size_t x = 0; x + 1 < asked[r].size(); x += 2) reply[r].push_back(has_edge(g, asked[r][x], asked[r][x + 1]));
  const auto replies = comm.alltoallv(reply);
  std::vector<std::uint8_t> out(a.size());
  std::vector<std::size_t> next(static_cast<std::size_t>(p), 0);
  for (std::size_t j = 0; j < a.size(); ++j) {
    const int r = block_owner(g.num_docs, p, GlobalId(b[j]));
    out[j] = replies[r][next[r]++];
  }
  return out;
}

struct PairFigures {
  double similarity_sum = 0, knn_similarity_sum = 0;
  std::int64_t pairs = 0, knn_pairs = 0, same_topic = 0;
};

nlohmann::json to_json(const mpi::Comm& comm, PairFigures f, bool topics) {
  f.similarity_sum = comm.sum(f.similarity_sum);
  f.knn_similarity_sum = comm.sum(f.knn_similarity_sum);
  f.pairs = comm.sum(f.pairs);
  f.knn_pairs = comm.sum(f.knn_pairs);
  f.same_topic = comm.sum(f.same_topic);
  const double pairs = std::max<double>(1.0, static_cast<double>(f.pairs));
  nlohmann::json j = {{"pairs", f.pairs},
                      {"mean_similarity", f.similarity_sum / pairs},
                      {"knn_edge_share", static_cast<double>(f.knn_pairs) / pairs},
                      {"similarity_sum", f.similarity_sum},
                      {"knn_similarity_sum", f.knn_similarity_sum}};
  if (topics) j["topic_purity"] = static_cast<double>(f.same_topic) / pairs;
  return j;
}

}  // namespace

OrderQuality measure_order(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, const LocalGraph& graph,
                           const std::vector<std::int64_t>& order_block, std::uint64_t seed) {
  const std::int64_t n = corpus.info.num_docs, d = corpus.info.dim;
  const BlockRange positions = block_range(n, comm.size(), comm.rank());
  const bool topics = !corpus.topics.empty();
  // The document just before this rank's first position.
  const auto lasts = comm.allgather<std::int64_t>(order_block.empty() ? -1 : order_block.back());
  std::vector<std::int64_t> docs;
  if (comm.rank() > 0) docs.push_back(lasts[comm.rank() - 1]);
  docs.insert(docs.end(), order_block.begin(), order_block.end());
  const std::vector<std::int32_t> doc_topics = fetch_topics(comm, corpus, docs);
  const std::size_t shift = comm.rank() > 0 ? 1 : 0;

  OrderQuality q;
  q.link_similarity.assign(order_block.size(), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> before(static_cast<std::size_t>(d));  // the row of the document before a round's first
  corpus::visit_rows(comm, corpus, docs, corpus::rows_per_round(d), [&](std::size_t first, std::size_t count, const float* rows) {
    for (std::size_t x = 0; x < count; ++x) {
      const std::size_t at = first + x;  // docs[at] is at position index at - shift of order_block
      const float* prev = x > 0 ? rows + (x - 1) * d : before.data();
      if (at >= shift + (positions.begin == 0 ? 1 : 0) && at > 0)
        q.link_similarity[at - shift] = knn::canonical_similarity(prev, rows + x * d, d);
    }
    std::copy_n(rows + (count - 1) * d, d, before.data());
  });
  std::vector<std::int64_t> prev_docs, cur_docs;
  for (std::size_t j = 0; j < order_block.size(); ++j) {
    if (positions.begin + static_cast<std::int64_t>(j) == 0) continue;
    prev_docs.push_back(docs[j + shift - 1]);
    cur_docs.push_back(docs[j + shift]);
  }
  const auto edges = are_edges(comm, graph, prev_docs, cur_docs);
  PairFigures adjacent;
  std::size_t e = 0;
  for (std::size_t j = 0; j < order_block.size(); ++j) {
    if (positions.begin + static_cast<std::int64_t>(j) == 0) continue;
    const std::size_t cur = j + shift;
    ++adjacent.pairs;
    adjacent.similarity_sum += q.link_similarity[j];
    if (edges[e++]) {
      ++adjacent.knn_pairs;
      adjacent.knn_similarity_sum += q.link_similarity[j];
    }
    if (topics && doc_topics[cur] == doc_topics[cur - 1]) ++adjacent.same_topic;
  }

  // Random pairs: a sample of about kRandomPairs documents (drawn from their ids), each with one
  // other document drawn from its id: a random order's expected figures, without fetching a row
  // for every document.
  const double rate = std::min(1.0, kRandomPairs / static_cast<double>(n));
  std::vector<std::int64_t> sampled, partner;
  for (std::int64_t i = 0; i < corpus.size(); ++i) {
    const std::int64_t doc = corpus.range.begin + i;
    if (util::CounterRng(seed, 0x73616d70, static_cast<std::uint64_t>(doc)).uniform() >= rate) continue;
    sampled.push_back(i);
    util::CounterRng rng(seed, 0x72616e64, static_cast<std::uint64_t>(doc));
    std::int64_t other = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(std::max<std::int64_t>(1, n - 1))));
    if (other >= doc) ++other;
    partner.push_back(std::min(other, n - 1));
  }
  const std::vector<std::int32_t> partner_topics = fetch_topics(comm, corpus, partner);
  PairFigures random;
  corpus::visit_rows(comm, corpus, partner, corpus::rows_per_round(d), [&](std::size_t first, std::size_t count, const float* rows) {
    for (std::size_t x = first; x < first + count; ++x) {
      const std::int64_t i = sampled[x];
      if (partner[x] == corpus.range.begin + i) continue;
      const float s = knn::canonical_similarity(corpus.embeddings.data() + i * d, rows + (x - first) * d, d);
      ++random.pairs;
      random.similarity_sum += s;
      if (has_edge(graph, corpus.range.begin + i, partner[x])) {
        ++random.knn_pairs;
        random.knn_similarity_sum += s;
      }
      if (topics && corpus.topics[i] == partner_topics[x]) ++random.same_topic;
    }
  });
  // Upper bound of any path cover of the kNN graph: every document contributes its two heaviest
  // (positive) edges, each edge counted from both ends.
  double bound = 0;
  for (std::int64_t i = 0; i < graph.range.size(); ++i)
    for (std::int64_t s = graph.offsets[i]; s < std::min(graph.offsets[i] + 2, graph.offsets[i + 1]); ++s)
      bound += std::max(0.0f, graph.weight[s]);
  bound = comm.sum(bound) / 2;

  q.figures["adjacent"] = to_json(comm, adjacent, topics);
  q.figures["random_pairs"] = to_json(comm, random, topics);
  q.figures["path_cover_upper_bound"] = bound;
  q.figures["knn_weight_to_bound"] = bound > 0 ? q.figures["adjacent"]["knn_similarity_sum"].get<double>() / bound : 0.0;
  return q;
}

}  // namespace weave::order
