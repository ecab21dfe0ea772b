#include "order/stitch.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

#include "corpus/row_rounds.hpp"
#include "knn/cpu/cpu_backend.hpp"
#include "knn/exact_ring.hpp"
#include "mpi/ask_owners.hpp"
#include "order/graph_from_pairs.hpp"
#include "order/knn_graph.hpp"
#include "order/meeting_points.hpp"
#include "order/pair_similarity.hpp"
#include "util/log.hpp"
#include "util/progress.hpp"
#include "util/radix_sort.hpp"
#include "util/random.hpp"
#include "util/release.hpp"
#include "util/report.hpp"
#include "weave/error.hpp"

namespace weave::order {

namespace {

/// Ends paired with the next `kWindow` ends in a meeting point's order (the pairs per meeting stay
/// linear in its size; where at most kWindow + 1 ends meet, it is all pairs). Each end still meets
/// its two neighbours on either side at each of its `reach` meeting points, and the pairs that
/// matter most are the nearest in that order: against 4 (until session 46), mean adjacent
/// similarity -0.017% to +0.003% on seven graphs, half the offers, and the first level joins more
/// (10^6 x 768 on 2 ranks: 195,010 -> 202,290 links, its second level 52,821 -> 41,878 ends;
/// stitching 7-16% faster on the 768-dimensional graphs, docs/benchmarks.md).
constexpr int kWindow = 2;
/// Each end keeps this many of the pairs its meetings offer (the most promising), before scoring:
/// the rows fetched to score them are what a level costs at many ranks (2M x 768 at 16 ranks: 6.3M
/// rows and 13 s with all pairs, 1.8M rows and 4.8 s with 4 per end). Mean adjacent similarity
/// against all pairs, measured: 4 per end -0.06% to -0.5%, 6 per end -0.03% to -0.17%. 5 since
/// each pair is offered to one of its ends (session 49): as many candidates as 6 offered to both,
/// mean adjacent similarity +0.015% to +0.037% on the synthetic graphs, -0.003% to -0.013% on the
/// man pages and the generated ones, stitching 6-9% faster (docs/benchmarks.md).
constexpr int kPerEnd = 5;
/// A level that removes less than this share of the paths moves on to the next kind of level.
constexpr double kPoorProgress = 0.1;
/// Rows of ends per projection bucket, on average.
constexpr double kBucketEnds = 64;
/// Bytes a rank moves per round of a level's exchanges: the sketches (scoring) or rows (settling)
/// it fetches, the offers it makes at its meeting points. About 1 MiB for each rank a round asks,
/// from 2 to 8 MiB. A round's buffers are the level's largest transient memory, and where they
/// outgrow what the heap has free, the kernel clears fresh pages for them (~4 us a page on this
/// project's machine): on 2 ranks of s100k (50,000 documents, 10,800 ends a rank) stitching less
/// its row read took 0.059-0.064 s with 8 MiB fetch rounds, 0.053-0.061 s with 2 MiB (eight
/// alternating runs; stitch faults 11,300 -> 9,900 a rank, peak 117 -> 112 MiB), and at 10^6 x 768
/// 1.17-1.21 s against 1.15-1.16.
/// From 8 ranks on the fetch rounds stay at 8 MiB, as measured at 16 ranks in session 35
/// (docs/benchmarks.md: 32 MiB there was ~10% faster, with 4x the transient memory).
std::int64_t round_bytes(int ranks) {
  return std::clamp<std::int64_t>(std::int64_t{ranks} << 20, std::int64_t{2} << 20, std::int64_t{8} << 20);
}

/// A level's candidate links held here: pairs of ends and their weights (sketch similarities, or
/// canonical ones from the exact levels), apart as they are made, not copied into weighted pairs
/// (at 10^6 x 768 on 2 ranks 18 MB a rank of fresh pages beside the pairs, up to 0.046 s).
struct Candidates {
  std::vector<EndPair> pairs;
  std::vector<float> weights;  ///< per pair
};

class Stitcher {
 public:
  Stitcher(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& reader, const LocalGraph& graph,
           std::vector<std::int64_t>& links, std::vector<std::int64_t>& partner, int stitch_k, std::int64_t exact_ends,
           const GreedyOptions& options, util::Report& report)
      : comm_(comm), corpus_(corpus), reader_(reader), graph_(graph), links_(links), partner_(partner), stitch_k_(stitch_k),
        exact_ends_(exact_ends), options_(options), report_(report), range_(corpus.range), n_(corpus.info.num_docs) {}

  StitchStats run() {
    // Exact kNN among E ends costs E^2 d / P: allowed while E^2 d <= 8 N k min(d, 128) (linear in N,
    // and above 128 dimensions no costlier than at 128: at 10^6 x 768 the exact level among the
    // 7,158 ends it allowed before took as long as the greedy), and always below 2,048 ends at up
    // to 128 dimensions, 2,048 sqrt(128 / d) above (a fraction of a second).
    const double dim_share = std::min(1.0, 128.0 / static_cast<double>(std::max<std::int64_t>(1, corpus_.info.dim)));
    const double budget = 8.0 * static_cast<double>(n_) * std::max(2, stitch_k_) * dim_share;
    const std::int64_t exact_limit =
        exact_ends_ > 0 ? exact_ends_
                        : std::max(static_cast<std::int64_t>(2048 * std::sqrt(dim_share)),
                                   static_cast<std::int64_t>(std::sqrt(budget)));
    int graph_reach = std::max(2, stitch_k_);
    const int max_graph_reach = 4 * graph_reach;
    int projection_coarsening = 0;  // hyperplanes fewer than E / kBucketEnds suggests
    bool exact_stalls = false;
    while (true) {
      collect_ends();
      const std::int64_t paths = count_paths();
      if (paths <= 1) break;
      const double start = util::wall_seconds();
      number_partners();
      StitchLevel level;
      level.paths = paths;
      level.ends = ends_offsets_.back();
      Candidates candidates;
      if (level.ends <= exact_limit && !exact_stalls) {
        level.method = "exact";
        read_end_rows(level);
        const double search_start = util::wall_seconds();
        candidates = exact_candidates(level);
        level.candidate_seconds = comm_.max(util::wall_seconds() - search_start);
      } else if (graph_reach <= max_graph_reach) {
        level.method = "graph";
        level.reach = graph_reach;
        candidates = meeting_candidates(graph_registrations(graph_reach), MeetingKeys::similarity, level);
      } else {
        level.method = "projection";
        const double buckets = static_cast<double>(level.ends) / kBucketEnds;
        level.reach = std::max(0, static_cast<int>(std::log2(std::max(1.0, buckets))) - projection_coarsening);
        read_end_rows(level);
        candidates = meeting_candidates(projection_registrations(static_cast<int>(stats_.levels.size()), level.reach),
                                        MeetingKeys::projection, level);
      }
      const double join_start = util::wall_seconds();
      const std::size_t made_before = stitched_.size();
      // A level without candidates joins nothing: its join and settling would only exchange empty
      // records (two such levels on s100k, whose joins took 0.3-0.5 ms each).
      level.accepted = level.candidates > 0 ? join_along(std::move(candidates), level) : 0;
      level.join_seconds = comm_.max(util::wall_seconds() - join_start);
      if (level.method != "exact" && level.accepted > 0) {
        const double settle_start = util::wall_seconds();
        level.rows_fetched += settle_similarities(made_before);
        level.score_seconds += comm_.max(util::wall_seconds() - settle_start);
      }
      level.seconds = comm_.max(util::wall_seconds() - start);
      stats_.edges += level.accepted;
      if (options_.progress)
        util::print_root(comm_,
                         "[order] stitch level {} ({}, reach {}): {}, {} ends, {} candidate links, {} joined, "
                         "{:.2f} s\n",
                         stats_.levels.size() + 1, level.method, level.reach, util::count_of(level.paths, "path"),
                         level.ends,
                         level.candidates, level.accepted, level.seconds);
      // Few joins: the candidates of this kind are used up. Widen the meeting sets, coarsen the
      // buckets (a single bucket always links every end to its neighbours in the projection order).
      const bool poor = static_cast<double>(level.accepted) < kPoorProgress * static_cast<double>(paths);
      if (poor && level.method == "graph") graph_reach *= 2;
      if (poor && level.method == "projection") projection_coarsening += 2;
      if (poor && level.method == "exact") exact_stalls = true;  // ties: projections chain them
      stats_.levels.push_back(std::move(level));
    }
    return std::move(stats_);
  }

  /// The links made, by (doc, other). Each level's links come by doc already, and a doc has at most
  /// two: a stable radix sort by doc, then the two links of a doc in order of their other end
  /// (std::sort of the 230,000 links a rank at 10^6 x 768 on 2 ranks took 0.007 s).
  std::vector<StitchedLink> take_stitched() {
    util::radix_sort_by_key(stitched_, static_cast<std::uint64_t>(range_.size()),
                            [&](const StitchedLink& l) { return l.doc - range_.begin; });
    for (std::size_t j = 1; j < stitched_.size(); ++j)
      if (stitched_[j].doc == stitched_[j - 1].doc && stitched_[j].other < stitched_[j - 1].other)
        std::swap(stitched_[j], stitched_[j - 1]);
    return std::move(stitched_);
  }

 private:
  std::int64_t local(std::int64_t doc) const { return doc - range_.begin; }
  int degree(std::int64_t i) const { return (links_[2 * i] >= 0 ? 1 : 0) + (links_[2 * i + 1] >= 0 ? 1 : 0); }

  /// The ends, and their dense numbering (rank order, then id order) that a level works on, from its
  /// registrations or exact search to its greedy: rank r numbers [ends_offsets_[r], ends_offsets_[r + 1]). Joining
  /// only adds links, so after the first level's pass over the rank's documents the ends are those
  /// of the level before that still have fewer than two links (on s100k a pass over the documents
  /// took 0.3-0.7 ms, at each of 8 levels).
  void collect_ends() {
    if (!ends_collected_) {
      for (std::int64_t i = 0; i < range_.size(); ++i)
        if (degree(i) < 2) ends_.push_back(range_.begin + i);
      ends_collected_ = true;
    } else {
      std::erase_if(ends_, [&](std::int64_t doc) { return degree(local(doc)) >= 2; });
    }
    const auto local_ends = static_cast<std::int64_t>(ends_.size());
    ends_offsets_ = comm_.allgather<std::int64_t>(comm_.exscan_sum(local_ends));
    ends_offsets_.push_back(comm_.sum(local_ends));
  }
  std::int64_t first_end() const { return ends_offsets_[comm_.rank()]; }

  /// Each end's partner by its number (partner_number_), asked of the partner's owner where it is
  /// remote: a level works on the ends' numbers alone, from the registrations to its greedy, and
  /// turns them back into documents only for the links it makes.
  void number_partners() {
    const auto local_ends = static_cast<std::int64_t>(ends_.size());
    const std::int64_t first = first_end();
    // Each owned end's place among the ends, by its local index. Only the current ends' entries are
    // written and read, so the array is made once, not cleared at every level.
    if (end_index_.empty()) end_index_.resize(static_cast<std::size_t>(range_.size()));
    WEAVE_ASSERT(local_ends <= std::numeric_limits<std::uint32_t>::max(), "stitching: too many ends on one rank");
    for (std::int64_t e = 0; e < local_ends; ++e) end_index_[local(ends_[e])] = static_cast<std::uint32_t>(e);
    std::vector<std::int64_t> remote;
    for (std::int64_t doc : ends_)
      if (!range_.contains(GlobalId(partner_[local(doc)]))) remote.push_back(partner_[local(doc)]);
    const auto remote_numbers = mpi::ask_owners<std::int64_t>(
        comm_, remote, 1, [&](std::int64_t doc) { return block_owner(n_, comm_.size(), GlobalId(doc)); },
        [&](std::int64_t doc, std::int64_t* number) { *number = first + end_index_[local(doc)]; });
    partner_number_.resize(ends_.size());
    std::size_t next = 0;
    for (std::int64_t e = 0; e < local_ends; ++e) {
      const std::int64_t partner = partner_[local(ends_[e])];
      partner_number_[e] = range_.contains(GlobalId(partner)) ? first + end_index_[local(partner)] : remote_numbers[next++];
    }
  }

  /// The rows of the current ends and their sketches, read by the first level that needs them
  /// (collective: every rank is at the same step of the same level): every later level's ends are
  /// among them (joining only adds links), and no other row is ever scored. A graph level needs
  /// them only once its meetings are done, and the meetings' buffers (~140 MB a rank at 10^6 x 768
  /// on 2 ranks), freed by then, hold the rows' first pages instead of the heap growing by both:
  /// the meetings take pages the greedy freed, fresh pages cost the kernel's clearing (here on a
  /// virtual machine 2 to 30 us each), and the stage's peak is the larger of the two, not their sum.
  /// Each row is sketched as soon as it is read and normalised, while it is in cache: a pass of its
  /// own read the rows from memory again (10^6 x 768 on 2 ranks, 485 MB a rank: stitching less its
  /// row read 0.812 -> 0.798 s, medians of eight alternating runs).
  void read_end_rows(StitchLevel& level) {
    if (sketches_) return;
    const double start = util::wall_seconds();
    sketches_.emplace(corpus_.info.dim, ends_.size());  // ends_ ascend, without repeats: the rows' order
    end_rows_ = reader_.read(ends_, [&](std::size_t first, std::size_t count, const float* rows) {
      sketches_->add(first, count, rows);
    });
    sketches_->bind(end_rows_);
    level.read_seconds = comm_.max(util::wall_seconds() - start);
  }

  /// A path alone counts its one end twice; every other path has two ends.
  std::int64_t count_paths() const {
    std::int64_t halves = 0;
    for (std::int64_t doc : ends_) halves += partner_[local(doc)] == doc ? 2 : 1;
    return comm_.sum(halves) / 2;
  }

  /// Each end registers at its `reach` most similar documents in the kNN graph (packed as made: two
  /// passes over the ends' slots instead of a vector of registrations). An end's slots are a cache
  /// miss (the ends are scattered over the rank's documents, their slots hundreds of bytes apart):
  /// those of the end kAhead on are asked for first (at 10^6 x 768 on 2 ranks the two passes over
  /// 158,000 ends took 0.016 and 0.022 s waiting on them one at a time).
  PackedRegistrations graph_registrations(int reach) const {
    constexpr std::size_t kAhead = 8;
    const std::int64_t first = first_end();
    return PackedRegistrations(comm_.size(), first, static_cast<std::int64_t>(ends_.size()), [&](auto&& emit) {
      for (std::size_t k = 0; k < ends_.size(); ++k) {
        if (k + kAhead < ends_.size()) {
          const std::int64_t j = local(ends_[k + kAhead]);
          const std::int64_t ahead = graph_.offsets[j];
          const std::int64_t last = std::max(ahead, std::min(ahead + reach, graph_.offsets[j + 1]) - 1);
          __builtin_prefetch(graph_.neighbor.data() + ahead);
          __builtin_prefetch(graph_.neighbor.data() + last);
          __builtin_prefetch(graph_.weight.data() + ahead);
          __builtin_prefetch(graph_.weight.data() + last);
        }
        const std::int64_t i = local(ends_[k]);
        const std::int64_t last = std::min(graph_.offsets[i] + reach, graph_.offsets[i + 1]);
        for (std::int64_t s = graph_.offsets[i]; s < last; ++s) {
          const std::int64_t v = graph_.neighbor[s];
          emit(Registration{v, graph_.owner(v), graph_.weight[s], first + static_cast<std::int64_t>(k), partner_number_[k]});
        }
      }
    });
  }

  /// Each end registers at the bucket of its signs against `planes` random hyperplanes (drawn from
  /// the level number: the same on every rank); the key is its projection on one more direction.
  PackedRegistrations projection_registrations(int level, int planes) const {
    const std::int64_t d = corpus_.info.dim;
    // Dimension-major, in blocks of kLanes directions (direction[(b * d + j) * kLanes + lane]): a
    // row's dot products with a block's directions accumulate side by side in one vector register
    // (one sum at a time waited on each addition: most of a projection level at d = 768). Each sum
    // still adds its terms in dimension order, so the bits are the same on every machine.
    constexpr int kLanes = 8;
    const int directions = planes + 1;
    const int blocks = (directions + kLanes - 1) / kLanes;
    std::vector<float> direction(static_cast<std::size_t>(blocks * d * kLanes), 0.0f);
    for (int p = 0; p < directions; ++p) {
      for (std::int64_t j = 0; j < d; ++j) {
        util::CounterRng rng(0x57174c4ULL + static_cast<std::uint64_t>(level), static_cast<std::uint64_t>(p),
                             static_cast<std::uint64_t>(j));
        direction[((p / kLanes) * d + j) * kLanes + p % kLanes] = static_cast<float>(rng.normal());
      }
    }
    // kRows rows at a time: their sums are independent chains of additions (one row's sums alone
    // wait on each addition's latency).
    constexpr int kRows = 4;
    std::vector<Registration> out;
    out.reserve(ends_.size());
    std::vector<float> dot(static_cast<std::size_t>(kRows * blocks * kLanes));
    for (std::size_t first = 0; first < ends_.size(); first += kRows) {
      const int rows = static_cast<int>(std::min<std::size_t>(kRows, ends_.size() - first));
      const float* row[kRows];
      for (int r = 0; r < kRows; ++r) row[r] = end_rows_.row(ends_[first + std::min(r, rows - 1)]);
      for (int b = 0; b < blocks; ++b) {
        float sum[kRows][kLanes] = {};
        const float* block = direction.data() + b * d * kLanes;
        for (std::int64_t j = 0; j < d; ++j)
          for (int r = 0; r < kRows; ++r)
            for (int lane = 0; lane < kLanes; ++lane) sum[r][lane] += row[r][j] * block[j * kLanes + lane];
        for (int r = 0; r < kRows; ++r) std::copy_n(sum[r], kLanes, dot.data() + (r * blocks + b) * kLanes);
      }
      for (int r = 0; r < rows; ++r) {
        const float* projection = dot.data() + r * blocks * kLanes;
        std::int64_t bucket = 0;
        for (int p = 0; p < planes; ++p) bucket = (bucket << 1) | (projection[p] >= 0 ? 1 : 0);
        const auto owner = static_cast<int>(util::mix64(static_cast<std::uint64_t>(bucket) ^
                                                        (static_cast<std::uint64_t>(level) << 40)) %
                                            static_cast<std::uint64_t>(comm_.size()));
        const std::size_t e = first + static_cast<std::size_t>(r);
        out.push_back({bucket, owner, projection[planes], first_end() + static_cast<std::int64_t>(e), partner_number_[e]});
      }
    }
    return PackedRegistrations::of(comm_.size(), first_end(), static_cast<std::int64_t>(ends_.size()), out);
  }

  Candidates meeting_candidates(PackedRegistrations registrations, MeetingKeys keys, StitchLevel& level) {
    MeetingStats meetings;
    const double start = util::wall_seconds();
    // The meetings' rounds of offers in the same budget as the fetch rounds: a window pair is an
    // offer of 16 bytes (2^17 pairs a round at 2 ranks, where rounds of 2^20 made the offers
    // s100k's fresh memory: stitching 0.054-0.061 -> 0.053-0.056 s, ten alternating runs).
    const std::int64_t round_pairs = round_bytes(comm_.size()) / 16;
    std::vector<EndPair> pairs = pair_ends_at_meetings(comm_, n_, ends_offsets_, std::move(registrations), kWindow, keys,
                                                       kPerEnd, &meetings, round_pairs);
    level.candidate_seconds = comm_.max(util::wall_seconds() - start);
    read_end_rows(level);
    const double met = util::wall_seconds();
    // Sketches, not rows: the level joins along their similarities, and settle_similarities()
    // gives the links it makes their canonical ones.
    NumberedEnds numbered{ends_offsets_, std::vector<std::int32_t>(ends_.size())};
    for (std::size_t e = 0; e < ends_.size(); ++e) numbered.position[e] = static_cast<std::int32_t>(end_rows_.position(ends_[e]));
    std::int64_t fetched = 0;
    const std::int64_t batch = corpus::rows_per_round(sketches_->record_words(), round_bytes(comm_.size()));
    std::vector<float> sims = estimate_pairs(comm_, numbered, *sketches_, pairs, batch, &fetched);
    level.score_seconds = comm_.max(util::wall_seconds() - met);
    level.candidates = comm_.sum(static_cast<std::int64_t>(pairs.size()));  // named; join_along counts them distinct
    level.sketches_fetched = comm_.sum(fetched);
    level.largest_meeting = comm_.max(meetings.largest_meeting);
    return {std::move(pairs), std::move(sims)};
  }

  /// The exact kNN among all ends (the ring over a corpus of the ends' rows).
  Candidates exact_candidates(StitchLevel& level) {
    const std::int64_t d = corpus_.info.dim;
    const auto local_ends = static_cast<std::int64_t>(ends_.size());
    const std::int64_t first = first_end();
    std::vector<float> end_rows(static_cast<std::size_t>(local_ends * d));
    for (std::int64_t e = 0; e < local_ends; ++e)
      std::copy_n(end_rows_.row(ends_[e]), d, end_rows.data() + e * d);
    const knn::DistributedRows rows{knn::RowBlock{end_rows.data(), local_ends, GlobalId(first)}, d, level.ends};

    knn::RingOptions options;
    options.k = static_cast<int>(std::min<std::int64_t>(std::max(2, stitch_k_), level.ends - 1));
    level.reach = options.k;
    // Tiles no larger than the ends (the backend's score tile is allocated whole, 16 MiB by default).
    const KnnConfig defaults;
    const std::int64_t largest = comm_.max(local_ends);
    knn::CpuBackend backend(comm_, std::clamp<std::int64_t>(largest, 1, defaults.query_tile),
                            std::clamp<std::int64_t>(largest, 1, defaults.database_tile));
    const knn::KnnLists lists = knn::exact_ring_knn(comm_, rows, options, backend, report_);
    // The lists name the ends by their numbers, as the level's candidates do.
    Candidates out;
    for (std::int64_t e = 0; e < local_ends; ++e)
      for (int j = 0; j < options.k; ++j) {
        const std::size_t at = static_cast<std::size_t>(e * options.k + j);
        if (lists.neighbors[at] < 0 || lists.neighbors[at] == partner_number_[e]) continue;
        const std::int64_t number = first + e;  // minmax returns references: not to a temporary
        const auto [a, b] = std::minmax(number, lists.neighbors[at]);
        out.pairs.push_back({a, b});
        out.weights.push_back(lists.similarities[at]);
      }
    level.candidates = comm_.sum(static_cast<std::int64_t>(out.pairs.size()));  // named; join_along counts them distinct
    return out;
  }

  /// The canonical similarities of the links made since stitched_[first] (along sketch
  /// similarities): each link is scored once, by the owner of its holder() end (a hash of the
  /// pair: the smaller end would load the first ranks), fetching the other row where it is
  /// remote, and the other end's owner is told. Returns the rows fetched (all ranks).
  std::int64_t settle_similarities(std::size_t first) {
    std::vector<EndPair> scored_here;
    for (std::size_t j = first; j < stitched_.size(); ++j) {
      const auto [a, b] = std::minmax(stitched_[j].doc, stitched_[j].other);
      const EndPair pair{a, b};
      if (pair.holder() == stitched_[j].doc) scored_here.push_back(pair);
    }
    std::int64_t fetched = 0;
    const std::vector<float> sims =
        score_pairs(comm_, n_, end_rows_, scored_here, corpus::rows_per_round(corpus_.info.dim, round_bytes(comm_.size())),
                    &fetched);
    // Each score as seen from an end held here (doc): the holder's, the other end's where it is
    // held here too, and the scores told by the other ranks' holders. A doc has at most two new
    // links, and the level's links in stitched_ come by doc (join_along appends the ends in order),
    // so grouped by doc the two meet in one pass (a sort of the pairs and a binary search for each
    // link took 0.03 s at 10^6 x 768 on 2 ranks).
    struct Settled {
      std::int64_t doc, other;
      float similarity;
    };
    std::vector<Settled> settled;
    std::vector<std::vector<std::int64_t>> tell(static_cast<std::size_t>(comm_.size()));
    for (std::size_t j = 0; j < scored_here.size(); ++j) {
      const std::int64_t holder = scored_here[j].holder();
      const std::int64_t other = holder == scored_here[j].a ? scored_here[j].b : scored_here[j].a;
      settled.push_back({holder, other, sims[j]});
      if (range_.contains(GlobalId(other))) {
        settled.push_back({other, holder, sims[j]});
      } else {
        auto& to = tell[static_cast<std::size_t>(block_owner(n_, comm_.size(), GlobalId(other)))];
        to.insert(to.end(), {other, holder, static_cast<std::int64_t>(std::bit_cast<std::uint32_t>(sims[j]))});
      }
    }
    for (const auto& part : comm_.alltoallv(tell))
      for (std::size_t x = 0; x + 2 < part.size(); x += 3)
        settled.push_back({part[x], part[x + 1], std::bit_cast<float>(static_cast<std::uint32_t>(part[x + 2]))});
    util::radix_sort_by_key(settled, static_cast<std::uint64_t>(range_.size()),
                            [&](const Settled& x) { return x.doc - range_.begin; });
    std::size_t at = 0;
    for (std::size_t j = first; j < stitched_.size(); ++j) {
      WEAVE_ASSERT(j == first || stitched_[j - 1].doc <= stitched_[j].doc, "stitching: a level's links not by document");
      while (at < settled.size() && settled[at].doc < stitched_[j].doc) ++at;
      std::size_t x = at;
      while (x < settled.size() && settled[x].doc == stitched_[j].doc && settled[x].other != stitched_[j].other) ++x;
      WEAVE_ASSERT(x < settled.size() && settled[x].doc == stitched_[j].doc, "stitching: a link made was not scored");
      stitched_[j].similarity = settled[x].similarity;
    }
    return comm_.sum(fetched);
  }

  /// The greedy over the candidate links (pairs of end numbers), started from the current paths;
  /// returns the links added and counts the distinct candidates (a pair named from both of its ends
  /// is one edge of the level's graph).
  /// It runs on the ends alone, by their numbers (number_partners()), so a level costs O(E/P) however
  /// many documents the paths hold. The candidates are freed once the level's graph holds them: each
  /// buffer of this step comes after the ends' rows, where the heap has no freed pages left to give,
  /// so every one that is not held twice is fresh pages fewer (the kernel clears each, 2 to 30 us on
  /// this project's virtual machine).
  std::int64_t join_along(Candidates candidates, StitchLevel& level) {
    const auto local_ends = static_cast<std::int64_t>(ends_.size());
    const std::int64_t first = first_end();
    // In one round: the candidates are O(E / P) a rank like the rest of the level, and two passes of
    // rounds sent them twice (10^6 x 768 on 2 ranks: the level's graph 0.058 -> 0.048 s).
    const auto count = static_cast<std::int64_t>(candidates.pairs.size());
    const LocalGraph g = build_graph_of(
        comm_, ends_offsets_.back(), {first, first + local_ends}, count,
        [&](std::int64_t x) -> std::optional<WeightedPair> {
          return WeightedPair{candidates.pairs[x].a, candidates.pairs[x].b, candidates.weights[x]};
        },
        ends_offsets_, std::max<std::int64_t>(1, count));
    candidates = {};
    level.candidates = comm_.sum(static_cast<std::int64_t>(g.neighbor.size())) / 2;

    InitialPaths initial;
    initial.degree.resize(static_cast<std::size_t>(local_ends));
    initial.partner.resize(static_cast<std::size_t>(local_ends));
    for (std::int64_t e = 0; e < local_ends; ++e) {
      initial.degree[e] = static_cast<std::int8_t>(degree(local(ends_[e])));
      initial.partner[e] = partner_number_[e];
    }
    GreedyOptions quiet = options_;
    quiet.progress = false;
    const PathCover cover = greedy_path_cover(comm_, g, quiet, initial);

    // Back to documents: the new links, and the partners of the ends that remain.
    std::vector<std::int64_t> dense_ids;
    for (std::int64_t e = 0; e < local_ends; ++e) {
      int d = initial.degree[e];
      for (int s = d; s < 2; ++s)
        if (cover.links[2 * e + s] >= 0) dense_ids.push_back(cover.links[2 * e + s]), ++d;
      if (d < 2) dense_ids.push_back(cover.partner[e]);
    }
    const auto docs = mpi::ask_owners<std::int64_t>(
        comm_, dense_ids, 1, [&](std::int64_t x) { return g.owner(x); },
        [&](std::int64_t x, std::int64_t* doc) { *doc = ends_[x - first]; });
    // Room, at the first level, for every link the ends can still get at any level (each end at
    // most two): grown by doubling, the links' copies and fresh pages were a third of the page
    // faults of the first level's join at 10^6 x 768 on 2 ranks.
    if (stitched_.capacity() == 0) {
      std::size_t most = 0;
      for (std::int64_t doc : ends_) most += static_cast<std::size_t>(2 - degree(local(doc)));
      stitched_.reserve(most);
    }
    std::size_t next = 0;
    for (std::int64_t e = 0; e < local_ends; ++e) {
      const std::int64_t i = local(ends_[e]);
      for (int s = initial.degree[e]; s < 2; ++s)
        if (cover.links[2 * e + s] >= 0) {
          // The weight of the candidate taken: the same record at both ends (the graph holds each
          // pair from both sides).
          const std::int64_t slot = g.slot_of(e, cover.links[2 * e + s]);
          WEAVE_ASSERT(slot >= 0, "stitching: a link the level's greedy made is no candidate");
          stitched_.push_back({ends_[e], docs[next], g.weight[slot]});
          links_[2 * i + s] = docs[next++];
        }
      if (degree(i) < 2) partner_[i] = docs[next++];
    }
    return cover.stats.accepted_total;
  }

  const mpi::Comm& comm_;
  const corpus::CorpusBlock& corpus_;
  corpus::RowReader& reader_;
  const LocalGraph& graph_;
  std::vector<std::int64_t>& links_;
  std::vector<std::int64_t>& partner_;
  int stitch_k_;
  std::int64_t exact_ends_;
  GreedyOptions options_;
  util::Report& report_;
  BlockRange range_;
  std::int64_t n_;
  std::vector<std::int64_t> ends_;          ///< owned documents with fewer than two links, ascending
  bool ends_collected_ = false;             ///< whether ends_ was made by a pass over the documents
  std::vector<std::uint32_t> end_index_;    ///< by local index: an owned end's place in ends_
  std::vector<std::int64_t> partner_number_;  ///< per end in ends_: its partner's number
  std::vector<std::int64_t> ends_offsets_;  ///< the ends' dense numbering, by rank (P + 1)
  corpus::SomeRows end_rows_;               ///< rows of the first scored level's ends (a superset of ends_)
  std::optional<RowSketches> sketches_;     ///< their sketches (they refer to end_rows_)
  std::vector<StitchedLink> stitched_;      ///< links made, from the owned end's side
  StitchStats stats_;
};

}  // namespace

StitchStats stitch_paths(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, corpus::RowReader& rows,
                         const LocalGraph& graph, std::vector<std::int64_t>& links, std::vector<std::int64_t>& partner,
                         int stitch_k, std::int64_t exact_ends, const GreedyOptions& options, util::Report& report,
                         std::vector<StitchedLink>* stitched) {
  Stitcher stitcher(comm, corpus, rows, graph, links, partner, stitch_k, exact_ends, options, report);
  StitchStats stats = stitcher.run();
  if (stitched) *stitched = stitcher.take_stitched();
  return stats;
}

}  // namespace weave::order
