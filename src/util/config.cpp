// Validation and JSON forms of the public configuration structs.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/config_json.hpp"
#include "util/config_options.hpp"
#include "weave/error.hpp"

namespace weave {

namespace {

// The names of each closed set of values, in the enum's order: the one place they are spelled.
constexpr const char* kZeroVectorNames[] = {"error", "drop", "keep"};
constexpr const char* kDtypeNames[] = {"float32", "float16", "bfloat16"};
constexpr const char* kMethodNames[] = {"exact", "ivf", "auto"};
constexpr const char* kBackendNames[] = {"cpu", "cuda"};
constexpr const char* kScoresNames[] = {"bf16", "fp32"};
constexpr const char* kGemmNames[] = {"auto", "cublaslt"};
constexpr const char* kAlgorithmNames[] = {"greedy", "iclm"};
constexpr const char* kKeepNames[] = {"longest", "first"};
constexpr const char* kPolicyNames[] = {"split", "pad"};
constexpr const char* kTailNames[] = {"drop", "pad"};

template <typename T>
struct MemberOf;
template <typename C, typename M>
struct MemberOf<M C::*> {
  using Class = C;
  using Type = M;
};

/// An enum member as a named option: its names are Names, in the enum's order.
template <auto Member, const auto& Names>
util::Named<typename MemberOf<decltype(Member)>::Class> named_enum() {
  using C = typename MemberOf<decltype(Member)>::Class;
  using E = typename MemberOf<decltype(Member)>::Type;
  return {[](const C& c) { return std::string(Names[static_cast<std::size_t>(c.*Member)]); },
          [](C& c, const std::string& name) {
            for (std::size_t i = 0; i < std::size(Names); ++i)
              if (name == Names[i]) c.*Member = static_cast<E>(i);
          }};
}

template <const auto& Names>
std::vector<const char*> names_of() {
  return {std::begin(Names), std::end(Names)};
}

}  // namespace

const char* to_string(ZeroVectorPolicy v) { return kZeroVectorNames[static_cast<std::size_t>(v)]; }
const char* to_string(EmbeddingDtype v) { return kDtypeNames[static_cast<std::size_t>(v)]; }
const char* to_string(KnnMethod v) { return kMethodNames[static_cast<std::size_t>(v)]; }
const char* to_string(KnnBackend v) { return kBackendNames[static_cast<std::size_t>(v)]; }
const char* to_string(GpuScores v) { return kScoresNames[static_cast<std::size_t>(v)]; }
const char* to_string(GpuGemm v) { return kGemmNames[static_cast<std::size_t>(v)]; }
const char* to_string(OrderAlgorithm v) { return kAlgorithmNames[static_cast<std::size_t>(v)]; }
const char* to_string(DedupKeep v) { return kKeepNames[static_cast<std::size_t>(v)]; }
const char* to_string(PackPolicy v) { return kPolicyNames[static_cast<std::size_t>(v)]; }
const char* to_string(PackTail v) { return kTailNames[static_cast<std::size_t>(v)]; }

const util::OptionTable<SynthConfig>& synth_options() {
  using C = SynthConfig;
  static const util::OptionTable<SynthConfig> table{
      {"docs", &C::docs, "Number of documents", "documents (weave run's demo; weave synth's own default is 10000)", {}, 1},
      {"dim", &C::dim, "Embedding dimension", "embedding dimension", {}, 1, false, 65536},
      {"topics", &C::topics, "Number of topic clusters", "topic clusters", {}, 1},
      {"sources", &C::sources, "Number of data sources (/sources values 0..S-1)",
       "data sources (/sources values 0..sources-1)", {}, 1},
      {"seed", &C::seed, "Random seed (all values derive from seed and document id)",
       "every value derives from the seed and the document id"},
      {"topic_spread", &C::topic_spread, "Noise norm around the unit topic centroid (1.0: cosine ~0.7 to the centroid)",
       "noise norm around the unit topic centroid", {}, 0},
      {"duplicate_share", &C::duplicate_share, "Share of documents that near-copy an earlier one",
       "share of documents that near-copy an earlier one"},  // [0, 1): checked below
      {"duplicate_noise", &C::duplicate_noise, "Noise norm of a near-duplicate",
       "noise norm of a near-duplicate (0: exact copies)", {}, 0},
      {"median_tokens", &C::median_tokens, "Median token length (log-normal)", "median token length (log-normal)", {}, 1},
      {"length_sigma", &C::length_sigma, "Sigma of log(length); larger = heavier tail",
       "sigma of log(length); larger = heavier tail", {}, 0},
      {"min_tokens", &C::min_tokens, "Smallest token length", "smallest token length", {}, 1},
      {"max_tokens", &C::max_tokens, "Largest token length", "largest token length"},  // checked below
      {"first_doc_id", &C::first_doc_id, "/doc_ids = first-doc-id + row", "/doc_ids = first_doc_id + row", {}, 0},
      {"dtype", named_enum<&C::dtype, kDtypeNames>(), "Embedding storage type: float32, float16 or bfloat16 (uint16 bits)",
       "embedding storage: float32, float16 or bfloat16", names_of<kDtypeNames>()},
  };
  return table;
}

void SynthConfig::validate() const {
  util::check_options(*this, synth_options());
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UserError(msg);
  };
  need(duplicate_share >= 0 && duplicate_share < 1,
       fmt::format("--duplicate-share must be in [0, 1) (got {})", duplicate_share));
  need(max_tokens >= min_tokens,
       fmt::format("--max-tokens ({}) must be >= --min-tokens ({})", max_tokens, min_tokens));
  need(max_tokens <= 2147483647, fmt::format("--max-tokens must fit int32 (got {})", max_tokens));
  need(!out.empty(), "--out is required");
}

const util::OptionTable<KnnConfig>& knn_options() {
  using C = KnnConfig;
  static const util::OptionTable<KnnConfig> table{
      {"k", &C::k, "Neighbours per document (1..1024)", "neighbours per document (1..1024)", {}, 1, false, 1024},
      {"method", named_enum<&C::method, kMethodNames>(),
       "exact (every pair, by the ring of ranks), ivf (approximate: clusters by k-means, each document searches the "
       "members of its --nprobe nearest clusters; recall measured on a sample) or auto (exact up to 1,000,000 "
       "documents on --backend cpu and 10,000,000 on cuda, ivf above)",
       "exact (every pair, the ring), ivf (approximate) or auto (exact up to 10^6 docs, 10^7 on cuda)",
       names_of<kMethodNames>()},
      {"backend", named_enum<&C::backend, kBackendNames>(),
       "cpu (BLAS + faiss heaps) or cuda (one GPU per rank: BF16 tensor cores; the exact ring over NCCL, or the "
       "ivf's clusters searched on each rank's GPU; the same lists)",
       "cpu (BLAS) or cuda (one GPU per rank, when built with CUDA)", names_of<kBackendNames>()},
      {"query_tile", &C::query_tile, "Queries per similarity tile", "cpu: queries per similarity tile", {}, 1},
      {"database_tile", &C::database_tile, "Database rows per similarity tile", "cpu: database rows per similarity tile",
       {}, 1},
      {"gpu_query_tile", &C::gpu_query_tile,
       "cuda: queries per tensor-core score tile (lower it if the GPU runs out of memory)",
       "cuda: queries per score tile", {}, 1},
      {"gpu_database_tile", &C::gpu_database_tile,
       "cuda: database rows per score tile (one tile of scores is kept; two with --gpu-select-sms); 0 (default): "
       "16384 where weave's own GEMM runs (see --gpu-gemm), else 4096",
       "cuda: database rows per score tile (0: 16384 own GEMM, 4096 cuBLASLt)", {}, 0, false, {}, "chosen by --gpu-gemm"},
      {"gpu_scores", named_enum<&C::gpu_scores, kScoresNames>(), "cuda: score tile type: bf16 (half the bytes; faster) or fp32",
       "cuda: score tile type, bf16 or fp32", names_of<kScoresNames>()},
      {"gpu_gemm", named_enum<&C::gpu_gemm, kGemmNames>(),
       "cuda: auto (default): on an H100/H200 with k <= 32 and bf16 scores, every tile is multiplied by weave's own "
       "GEMM, and those after each query's first write only the 256-column pieces of score rows that reach each "
       "query's bar instead of the whole score tile; cublaslt: every tile by cuBLASLt, then scanned",
       "cuda: auto (own filtering GEMM where it applies) or cublaslt", names_of<kGemmNames>()},
      {"gpu_select_sms", &C::gpu_select_sms,
       "cuda: SMs reserved for the selection beside the GEMM of the next tile; 0 (default): GEMM and selection take "
       "turns on all SMs. On an H100, cuBLASLt's GEMM does not start beside a kernel that holds SMs, so > 0 only "
       "serializes (slower)",
       "cuda: SMs reserved for the selection (0: kernels alternate)", {}, 0, false, {},
       "GEMM and selection alternate on all SMs"},
      {"gpu_resident_rows", &C::gpu_resident_rows,
       "cuda: own rows kept on the GPU at once; more are streamed from host memory in sub-blocks of this many, each "
       "uploaded once per ring step (0, the default: all of them if they fit, else as many as fit)",
       "cuda: own rows kept on the GPU at once (0: all that fit)", {}, 0, false, {}, "as many as fit in GPU memory"},
      {"nlist", &C::nlist, "ivf: clusters (0, the default: the power of two nearest sqrt(N), at least 8 documents each)",
       "ivf: clusters (0: the power of two nearest sqrt(N))", {}, 0, false, {}, "automatic"},
      {"nprobe", &C::nprobe,
       "ivf: clusters each document searches (0, the default: the least that reaches --target-recall on the recall "
       "sample)",
       "ivf: clusters each document searches (0: least reaching target_recall)", {}, 0, false, {}, "automatic"},
      {"target_recall", &C::target_recall, "ivf: recall@k the automatic --nprobe must reach on the recall sample",
       "ivf: recall@k the automatic nprobe reaches on the recall sample", {}, 0, true, 1},
      {"train_sample", &C::train_sample,
       "ivf: k-means training rows, drawn by a hash of the global id (0, the default: 64 per cluster)",
       "ivf: k-means training rows (0: 64 per cluster)", {}, 0, false, {}, "automatic"},
      {"train_iterations", &C::train_iterations, "ivf: k-means iterations", "ivf: k-means iterations", {}, 0},
      {"recall_sample", &C::recall_sample,
       "ivf: documents whose lists are checked against exact search; the recall is written into knn.h5 and the "
       "report (0: none, then --nprobe must be given)",
       "ivf: documents checked against exact search (0: none; needs nprobe)", {}, 0},
      {"round_rows", &C::round_rows,
       "ivf: rows (cluster members + queries) one rank receives and searches per round; bounds memory (0, the "
       "default: all in one round, at most 1 GiB of rows)",
       "ivf: rows one rank searches per round (0: automatic, <= 1 GiB)", {}, 0, false, {}, "automatic"},
  };
  return table;
}

void KnnConfig::validate() const {
  util::check_options(*this, knn_options());
  // What relates several options:
  if (nlist > 0 && nprobe > nlist)
    throw UserError(fmt::format("--nprobe ({}) must be at most --nlist ({}): a document cannot search more clusters "
                                "than there are", nprobe, nlist));
  if (nlist > 0 && train_sample > 0 && train_sample < nlist)
    throw UserError(fmt::format("--train-sample ({}) must be at least --nlist ({}): each cluster starts from a sample row",
                                train_sample, nlist));
  if (nprobe == 0 && recall_sample == 0 && method != KnnMethod::kExact)
    throw UserError("--recall-sample 0 needs an explicit --nprobe: the automatic nprobe is chosen on the recall sample");
  if (corpus.max_block_rows < 1) throw UserError("--max-block-rows must be positive");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const KnnConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  util::put_options(c, knn_options(), j);
  j["out"] = c.out;
  return j;
}

std::string KnnConfig::resolved_method(std::int64_t n) const {
  if (method != KnnMethod::kAuto) return to_string(method);
  return n > (backend == KnnBackend::kCuda ? kExactMaxDocsGpu : kExactMaxDocs) ? "ivf" : "exact";
}

int KnnConfig::resolved_nlist(std::int64_t n) const {
  if (nlist > 0) return nlist;
  // The power of two nearest sqrt(n): about as many clusters as members per cluster, which balances
  // the assignment (n x nlist) against the search (n x probe x n / nlist); at least 8 rows each.
  const double root = std::sqrt(static_cast<double>(std::max<std::int64_t>(n, 1)));
  auto chosen = static_cast<std::int64_t>(std::exp2(std::round(std::log2(root))));
  chosen = std::min<std::int64_t>(chosen, std::max<std::int64_t>(1, n / 8));
  return static_cast<int>(std::clamp<std::int64_t>(chosen, 1, 1 << 20));
}

std::int64_t KnnConfig::resolved_train_sample(std::int64_t n) const {
  if (train_sample > 0) return std::min(train_sample, n);
  return std::min<std::int64_t>(n, 64 * static_cast<std::int64_t>(resolved_nlist(n)));
}

std::int64_t KnnConfig::resolved_round_rows(std::int64_t n, int dim, int ranks, int probe) const {
  if (round_rows > 0) return round_rows;
  // Every row once as a member and probe times as a query, spread over the ranks; at most 1 GiB of
  // rows per rank and round (more rounds instead).
  const std::int64_t all = (n * (1 + static_cast<std::int64_t>(probe)) + ranks - 1) / ranks + 1;
  const std::int64_t cap = std::max<std::int64_t>(65536, (std::int64_t{1} << 30) / (4 * std::max(dim, 1)));
  return std::min(all, cap);
}

void KnnConfig::validate_for(std::int64_t n) const {
  if (resolved_method(n) != "ivf") return;
  const int clusters = resolved_nlist(n);
  if (clusters > n)
    throw UserError(fmt::format("--nlist {} is more clusters than the corpus has documents ({})", clusters, n));
  if (nprobe > clusters) throw UserError(fmt::format("--nprobe ({}) must be at most --nlist ({})", nprobe, clusters));
  if (resolved_train_sample(n) < clusters)
    throw UserError(fmt::format("--train-sample {} is smaller than --nlist {}: each cluster starts from a sample row",
                                resolved_train_sample(n), clusters));
  if (k >= n)
    throw UserError(fmt::format("--method ivf needs more documents than k + 1 (k={}, {} documents); use --method exact, "
                                "which pads short lists", k, n));
}

const util::OptionTable<OrderConfig>& order_options() {
  using C = OrderConfig;
  static const util::OptionTable<OrderConfig> table{
      {"algorithm", named_enum<&C::algorithm, kAlgorithmNames>(), "greedy or iclm",
       "greedy (distributed path cover + stitching) or iclm (the paper's, on rank 0)", names_of<kAlgorithmNames>()},
      {"stitch_k", &C::stitch_k,
       "Stitching the greedy's paths: meeting points per path end in the kNN graph, and neighbours per end in the "
       "exact levels",
       "meeting points per path end when stitching", {}, 2, false, 1024},
      {"stitch_exact_ends", &C::stitch_exact_ends,
       "Stitch by exact kNN among the path ends once at most this many remain (0 = automatic: the E^2 d cost stays "
       "linear in the documents; larger = better links, slower)",
       "stitch by exact kNN among path ends once at most this many remain (0: automatic)", {}, 0, false, {},
       "automatic"},
      {"tail_fraction", &C::tail_fraction,
       "Finish the greedy on rank 0 once a round accepts fewer edges than this share of the fragments still competing",
       "hand the greedy's tail to rank 0 below this share of accepted edges a round", {}, 0},
      {"max_rounds", &C::max_rounds, "Finish the greedy on rank 0 after this many rounds",
       "... or after this many rounds", {}, 1},
  };
  return table;
}

void OrderConfig::validate() const {
  util::check_options(*this, order_options());
  if (knn.empty()) throw UserError("--knn is required");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const OrderConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  util::put_options(c, order_options(), j);
  j.update({{"knn", c.knn}, {"force", c.force}, {"dedup", c.dedup}, {"out", c.out}});
  return j;
}

const util::OptionTable<DedupConfig>& dedup_options() {
  using C = DedupConfig;
  // A cosine is at most 1: a threshold above it joins nothing, one at or below -1 joins every edge.
  static const util::OptionTable<DedupConfig> table{
      {"threshold", &C::threshold,
       "Cosine similarity at or above which a kNN edge joins two documents, in (-1, 1]; a pair outside both "
       "documents' k-lists is never seen (docs/algorithms.md: what a kNN graph misses)",
       "kNN edges of cosine similarity >= this join documents into a group", {}, -1, true, 1},
      {"keep", named_enum<&C::keep, kKeepNames>(),
       "Which document of a group is kept: longest (most tokens, ties by lowest global id) or first (lowest global "
       "id)",
       "the document kept per group: longest (then lowest id) or first (lowest id)", names_of<kKeepNames>()},
  };
  return table;
}

void DedupConfig::validate() const {
  util::check_options(*this, dedup_options());
  if (knn.empty()) throw UserError("--knn is required");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const DedupConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  util::put_options(c, dedup_options(), j);
  j.update({{"knn", c.knn}, {"force", c.force}, {"out", c.out}});
  return j;
}

const util::OptionTable<PackConfig>& pack_options() {
  using C = PackConfig;
  static const util::OptionTable<PackConfig> table{
      {"context_length", &C::context_lengths,
       "Tokens per context; several (comma-separated, e.g. 4096,8192,32768) for a curriculum, in one pass",
       "tokens per context; several = a curriculum, one file each", {}, 1, false, static_cast<double>(1 << 30), nullptr,
       "context_lengths"},
      {"policy", named_enum<&C::policy, kPolicyNames>(),
       "split (ICLM: documents continue across contexts) or pad (Llama 2 Long: whole documents, a context "
       "right-padded when the next does not fit; one longer than L alone, truncated)",
       "split (documents continue across contexts) or pad (whole documents, padded)", names_of<kPolicyNames>()},
      {"tail", named_enum<&C::tail, kTailNames>(), "The last partial context: drop or pad",
       "split: the last partial context is dropped or padded", names_of<kTailNames>()},
      {"separator_tokens", &C::separator_tokens,
       "Tokens the trainer inserts after each document (EOS), counted in the stream",
       "tokens the trainer adds after each document (EOS)", {}, 0},
      {"upsample", &C::upsample,
       "Long-document upsampling: min_tokens=T,factor=F (documents of at least T tokens appear F times; fractions "
       "drawn per document)",
       "\"min_tokens=T,factor=F\": documents of at least T tokens F times"},
      {"source_weights", &C::source_weights,
       "Per-source copies: SOURCE=WEIGHT,... e.g. 0=1.0,1=2.5 (fractions drawn per document; needs /sources)",
       "\"0=1.0,1=2.5\": copies per source (fractions drawn from the seed)"},
      {"seed", &C::seed, "Seed of the fractional copies", "for the fractional copies"},
      {"tokens", &C::tokens,
       "The corpus's token store: a Megatron-LM indexed dataset PREFIX (PREFIX.idx + PREFIX.bin), one sequence per "
       "corpus row, checked against /lengths; or a text manifest listing several PREFIXes (one per line) whose "
       "sequences, in order, are the corpus's rows",
       "the corpus's token store (Megatron PREFIX[.idx]); with it, out_dir/dataset.bin/.idx"},
      {"eod_id", &C::eod_id, "Token id written at each document's separator positions (--dataset)",
       "with tokens: the token id written after each document (required then)"},
      {"pad_id", &C::pad_id, "Token id of the right padding of padded contexts (--dataset)",
       "with tokens: the token id of padding (required with policy pad or tail pad)"},
  };
  return table;
}

void PackConfig::validate() const {
  if (context_lengths.empty()) throw UserError("--context-length: give at least one length");
  util::check_options(*this, pack_options());
  for (std::size_t i = 0; i < context_lengths.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (context_lengths[i] == context_lengths[j])  // two would write one file, named as for a curriculum
        throw UserError(fmt::format("--context-length {}: {} is given twice; each length makes one file",
                                    fmt::join(context_lengths, ","), context_lengths[i]));
  if (order.empty()) throw UserError("--order is required");
  if (out.empty()) throw UserError("--out is required");
  if (!dataset.empty() && tokens.empty())
    throw UserError("--dataset needs --tokens: the token store the contexts' tokens come from");
  if (!dataset.empty() && separator_tokens > 0 && eod_id < 0)
    throw UserError("--dataset needs --eod-id: the token id written after each document (--separator-tokens > 0)");
  if (!dataset.empty() && pad_id < 0 && (policy == PackPolicy::kPad || tail == PackTail::kPad))
    throw UserError(fmt::format("--dataset with {} needs --pad-id: the token id of the padding",
                                policy == PackPolicy::kPad ? "--policy pad" : "--tail pad"));
}

std::string PackConfig::dataset_for(std::int64_t length) const {
  return context_lengths.size() == 1 ? dataset : fmt::format("{}.{}", dataset, length);
}

std::string PackConfig::output_for(std::int64_t length) const {
  if (context_lengths.size() == 1) return out;
  const auto dot = out.rfind(".h5");
  const std::string stem = dot == std::string::npos ? out : out.substr(0, dot);
  return fmt::format("{}.{}.h5", stem, length);
}

nlohmann::json to_json(const PackConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  util::put_options(c, pack_options(), j);
  j.update({{"order", c.order}, {"force", c.force}, {"dedup", c.dedup}, {"out", c.out}, {"dataset", c.dataset}});
  return j;
}

nlohmann::json to_json(const SynthConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  util::put_options(c, synth_options(), j);
  j["out"] = c.out;
  return j;
}

const util::OptionTable<CorpusOptions>& corpus_options() {
  using C = CorpusOptions;
  static const util::OptionTable<CorpusOptions> table{
      {"path", &C::path, "Corpus HDF5 file or manifest of shards",
       "an existing corpus (HDF5 file or manifest); without it [synth] makes one", {}, {}, false, {}, nullptr, "corpus",
       false, "\"corpus.h5\"", false},
      {"on_zero_vector", named_enum<&C::on_zero_vector, kZeroVectorNames>(),
       "All-zero embedding rows: error, drop (remove the document), keep (similarity 0 to all)",
       "a row of norm zero: error, drop (left out of every stage) or keep", names_of<kZeroVectorNames>()},
      {"max_block_rows", &C::max_block_rows, "Rows per HDF5 read call (bounds staging memory)",
       "rows per HDF5 read (bounds the staging buffer and the kNN ring's chunks)", {}, 1},
      {"lengths_from", &C::lengths_from,
       "For a corpus without /lengths: the token store (Megatron PREFIX, or a manifest of them) whose sequence "
       "lengths are the documents' token lengths; give every stage the same",
       "a corpus without /lengths: its token store's sequence lengths (every stage)", {}, {}, false, {}, nullptr, nullptr,
       true, "\"tokens\""},
  };
  return table;
}

nlohmann::json to_json(const CorpusOptions& c) {
  nlohmann::json j = nlohmann::json::object();
  util::put_options(c, corpus_options(), j);
  return j;
}

}  // namespace weave
