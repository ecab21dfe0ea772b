#include "dedup/duplicate_groups.hpp"

#include <algorithm>
#include <bit>
#include <span>

#include <fmt/format.h>

#include "dedup/components.hpp"
#include "mpi/ask_owners.hpp"
#include "order/knn_graph.hpp"
#include "util/progress.hpp"
#include "util/release.hpp"
#include "weave/error.hpp"

namespace weave::dedup {

KeepRule parse_keep_rule(const std::string& name) {
  if (name == "longest") return KeepRule::kLongest;
  if (name == "first") return KeepRule::kFirst;
  throw UserError(fmt::format("--keep must be longest or first (got {})", name));
}

namespace {

/// Histogram bucket of a group size >= 2: 1 for 2, 2 for 3-4, 3 for 5-8, ... (ceil(log2 size)).
int size_bucket(std::int64_t size) { return std::bit_width(static_cast<std::uint64_t>(size - 1)); }

std::string bucket_name(int b) {
  const std::int64_t hi = std::int64_t{1} << b, lo = (std::int64_t{1} << (b - 1)) + 1;
  return lo == hi ? fmt::format("{}", hi) : fmt::format("{}-{}", lo, hi);
}

/// Is candidate (tokens, id) a better document to keep than the current one?
bool better(KeepRule keep, std::int64_t tokens, std::int64_t id, std::int64_t best_tokens, std::int64_t best_id) {
  if (keep == KeepRule::kLongest && tokens != best_tokens) return tokens > best_tokens;
  return id < best_id;
}

}  // namespace

DuplicateGroups find_duplicate_groups(const mpi::Comm& comm, std::int64_t num_docs, BlockRange range,
                                      const knn::KnnLists& lists, const std::vector<std::int64_t>& lengths,
                                      double threshold, KeepRule keep, int largest_groups, int members_shown) {
  const int k = lists.k;
  const std::int64_t n_local = range.size();
  const std::int64_t first = range.begin;
  // The graph of the edges at or above the threshold, each vertex with its edges in both directions.
  std::vector<order::WeightedPair> pairs;
  for (std::int64_t i = 0; i < n_local; ++i)
    for (int j = 0; j < k; ++j) {
      const std::int64_t v = lists.neighbors[i * k + j];
      const float s = lists.similarities[i * k + j];
      if (v >= 0 && static_cast<double>(s) >= threshold) pairs.push_back({first + i, v, s});
    }
  const double start = util::wall_seconds();
  const order::LocalGraph graph = order::build_graph_from_pairs(comm, num_docs, range, pairs);
  util::release(pairs);
  const double built = util::wall_seconds();
  const Components components = connected_components(comm, graph);
  const double labelled = util::wall_seconds();
  auto owner = [&](std::int64_t id) { return graph.owner(id); };

  DuplicateGroups out;
  out.iterations = components.iterations;
  out.graph_seconds = comm.max(built - start);
  out.component_seconds = comm.max(labelled - built);
  out.edges = comm.sum(static_cast<std::int64_t>(graph.neighbor.size())) / 2;
  // Each member tells its group's root (the smallest id, owned somewhere) its tokens and id; the
  // root's owner keeps the best one and the count.
  const int p = comm.size();
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(p));
  for (std::int64_t v = 0; v < n_local; ++v)
    if (graph.degree(v) > 0) {
      auto& box = send[owner(components.label[v])];
      box.insert(box.end(), {components.label[v], lengths[v], first + v});
    }
  std::vector<std::int64_t> best_tokens(static_cast<std::size_t>(n_local), -1), best_id(static_cast<std::size_t>(n_local), -1),
      members(static_cast<std::size_t>(n_local), 0);
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 2 < part.size(); x += 3) {
      const std::int64_t root = part[x] - first;
      if (best_id[root] < 0 || better(keep, part[x + 1], part[x + 2], best_tokens[root], best_id[root]))
        best_tokens[root] = part[x + 1], best_id[root] = part[x + 2];
      ++members[root];
    }
  util::release(send);
  std::vector<std::int64_t> roots_asked;
  for (std::int64_t v = 0; v < n_local; ++v)
    if (graph.degree(v) > 0) roots_asked.push_back(components.label[v]);
  const auto answers = mpi::ask_owners<std::int64_t>(
      comm, roots_asked, 2, owner, [&](std::int64_t id, std::int64_t* a) {
        a[0] = best_id[id - first];
        a[1] = members[id - first];
      });
  out.representative.resize(static_cast<std::size_t>(n_local));
  out.group_size.assign(static_cast<std::size_t>(n_local), 1);
  std::int64_t removed = 0, removed_tokens = 0;
  for (std::int64_t v = 0, a = 0; v < n_local; ++v) {
    out.representative[v] = first + v;
    if (graph.degree(v) == 0) continue;
    out.representative[v] = answers[2 * a];
    out.group_size[v] = answers[2 * a + 1];
    ++a;
    if (out.representative[v] != first + v) ++removed, removed_tokens += lengths[v];
  }
  out.removed_documents = comm.sum(removed);
  out.removed_tokens = comm.sum(removed_tokens);

  // Summaries from the roots (members[] > 0 exactly at the roots owned here).
  std::vector<std::int64_t> histogram(64, 0);
  std::vector<std::int64_t> top;  // (size, root, representative) of this rank's largest groups
  std::int64_t groups = 0;
  for (std::int64_t r = 0; r < n_local; ++r)
    if (members[r] > 0) {
      ++groups;
      ++histogram[size_bucket(members[r])];
      top.insert(top.end(), {members[r], first + r, best_id[r]});
    }
  out.groups = comm.sum(groups);
  out.size_histogram = nlohmann::json::object();
  for (int b = 1; b < 64; ++b)
    if (const std::int64_t count = comm.sum(histogram[b]); count > 0) out.size_histogram[bucket_name(b)] = count;
  // The largest groups over all ranks: each rank offers its own largest, rank 0 picks, all learn them.
  auto largest_first = [](std::vector<std::int64_t>& triples, std::size_t keep_count) {
    std::vector<std::array<std::int64_t, 3>> t(triples.size() / 3);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = {triples[3 * i], triples[3 * i + 1], triples[3 * i + 2]};
    std::sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a[0] != b[0] ? a[0] > b[0] : a[1] < b[1]; });
    t.resize(std::min(t.size(), keep_count));
    triples.clear();
    for (const auto& x : t) triples.insert(triples.end(), x.begin(), x.end());
  };
  largest_first(top, static_cast<std::size_t>(largest_groups));
  std::vector<std::int64_t> chosen = comm.gatherv(std::span<const std::int64_t>(top), 0);
  if (comm.is_root()) largest_first(chosen, static_cast<std::size_t>(largest_groups));
  std::int64_t chosen_count = comm.bcast_value(static_cast<std::int64_t>(chosen.size()), 0);
  chosen.resize(static_cast<std::size_t>(chosen_count));
  comm.bcast(std::span<std::int64_t>(chosen), 0);
  // Their first members: each rank offers the smallest ids it owns of each chosen group.
  std::vector<std::int64_t> offered;  // (group index, id)
  for (std::size_t g = 0; g < chosen.size() / 3; ++g) {
    int shown = 0;
    for (std::int64_t v = 0; v < n_local && shown < members_shown; ++v)
      if (graph.degree(v) > 0 && components.label[v] == chosen[3 * g + 1]) {
        offered.insert(offered.end(), {static_cast<std::int64_t>(g), first + v});
        ++shown;
      }
  }
  const std::vector<std::int64_t> all_offered = comm.gatherv(std::span<const std::int64_t>(offered), 0);
  std::string largest_json;
  if (comm.is_root()) {
    nlohmann::json largest = nlohmann::json::array();
    for (std::size_t g = 0; g < chosen.size() / 3; ++g) {
      std::vector<std::int64_t> ids;
      for (std::size_t x = 0; x + 1 < all_offered.size(); x += 2)
        if (all_offered[x] == static_cast<std::int64_t>(g)) ids.push_back(all_offered[x + 1]);
      std::sort(ids.begin(), ids.end());
      ids.resize(std::min(ids.size(), static_cast<std::size_t>(members_shown)));
      largest.push_back({{"size", chosen[3 * g]}, {"representative", chosen[3 * g + 2]}, {"first_members", ids}});
    }
    largest_json = largest.dump();
  }
  out.largest = nlohmann::json::parse(comm.bcast_string(largest_json, 0));
  return out;
}

}  // namespace weave::dedup
