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
      {.key = "docs",
       .member = &C::docs,
       .help = "Number of documents",
       .note = "documents (weave run's demo; weave synth's own default is 10000)",
       .min = 1},
      {.key = "dim",
       .member = &C::dim,
       .help = "Embedding dimension",
       .note = "embedding dimension",
       .min = 1,
       .max = 65536},
      {.key = "topics", .member = &C::topics, .help = "Number of topic clusters", .note = "topic clusters", .min = 1},
      {.key = "sources",
       .member = &C::sources,
       .help = "Number of data sources (/sources values 0..S-1)",
       .note = "data sources (/sources values 0..sources-1)",
       .min = 1},
      {.key = "seed",
       .member = &C::seed,
       .help = "Random seed (all values derive from seed and document id)",
       .note = "every value derives from the seed and the document id"},
      {.key = "topic_spread",
       .member = &C::topic_spread,
       .help = "Noise norm around the unit topic centroid (1.0: cosine ~0.7 to the centroid)",
       .note = "noise norm around the unit topic centroid",
       .min = 0},
      {.key = "duplicate_share",
       .member = &C::duplicate_share,
       .help = "Share of documents that near-copy an earlier one",
       .note = "share of documents that near-copy an earlier one"},  // [0, 1): checked below
      {.key = "duplicate_noise",
       .member = &C::duplicate_noise,
       .help = "Noise norm of a near-duplicate",
       .note = "noise norm of a near-duplicate (0: exact copies)",
       .min = 0},
      {.key = "median_tokens",
       .member = &C::median_tokens,
       .help = "Median token length (log-normal)",
       .note = "median token length (log-normal)",
       .min = 1},
      {.key = "length_sigma",
       .member = &C::length_sigma,
       .help = "Sigma of log(length); larger = heavier tail",
       .note = "sigma of log(length); larger = heavier tail",
       .min = 0},
      {.key = "min_tokens",
       .member = &C::min_tokens,
       .help = "Smallest token length",
       .note = "smallest token length",
       .min = 1},
      {.key = "max_tokens",
       .member = &C::max_tokens,
       .help = "Largest token length",
       .note = "largest token length"},  // checked below
      {.key = "first_doc_id",
       .member = &C::first_doc_id,
       .help = "/doc_ids = first-doc-id + row",
       .note = "/doc_ids = first_doc_id + row",
       .min = 0},
      {.key = "dtype",
       .member = named_enum<&C::dtype, kDtypeNames>(),
       .help = "Embedding storage type: float32, float16 or bfloat16 (uint16 bits)",
       .note = "embedding storage: float32, float16 or bfloat16",
       .choices = names_of<kDtypeNames>()},
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
      {.key = "k",
       .member = &C::k,
       .help = "Neighbours per document (1..1024)",
       .note = "neighbours per document (1..1024)",
       .min = 1,
       .max = 1024},
      {.key = "method",
       .member = named_enum<&C::method, kMethodNames>(),
       .help = "exact (every pair, by the ring of ranks), ivf (approximate: clusters by k-means, each document "
               "searches the "
               "members of its --nprobe nearest clusters; recall measured on a sample) or auto (exact up to 1,000,000 "
               "documents on --backend cpu and 10,000,000 on cuda, ivf above)",
       .note = "exact (every pair, the ring), ivf (approximate) or auto (exact up to 10^6 docs, 10^7 on cuda)",
       .choices = names_of<kMethodNames>()},
      {.key = "backend",
       .member = named_enum<&C::backend, kBackendNames>(),
       .help =
           "cpu (BLAS + faiss heaps) or cuda (one GPU per rank: BF16 tensor cores; the exact ring over NCCL, or the "
           "ivf's clusters searched on each rank's GPU; the same lists)",
       .note = "cpu (BLAS) or cuda (one GPU per rank, when built with CUDA)",
       .choices = names_of<kBackendNames>()},
      {.key = "query_tile",
       .member = &C::query_tile,
       .help = "Queries per similarity tile",
       .note = "cpu: queries per similarity tile",
       .min = 1},
      {.key = "database_tile",
       .member = &C::database_tile,
       .help = "Database rows per similarity tile",
       .note = "cpu: database rows per similarity tile",
       .min = 1},
      {.key = "gpu_query_tile",
       .member = &C::gpu_query_tile,
       .help = "cuda: queries per tensor-core score tile (lower it if the GPU runs out of memory)",
       .note = "cuda: queries per score tile",
       .min = 1},
      {.key = "gpu_database_tile",
       .member = &C::gpu_database_tile,
       .help =
           "cuda: database rows per score tile (one tile of scores is kept; two with --gpu-select-sms); 0 (default): "
           "16384 where weave's own GEMM runs (see --gpu-gemm), else 4096",
       .note = "cuda: database rows per score tile (0: 16384 own GEMM, 4096 cuBLASLt)",
       .min = 0,
       .zero_means = "chosen by --gpu-gemm"},
      {.key = "gpu_scores",
       .member = named_enum<&C::gpu_scores, kScoresNames>(),
       .help = "cuda: score tile type: bf16 (half the bytes; faster) or fp32",
       .note = "cuda: score tile type, bf16 or fp32",
       .choices = names_of<kScoresNames>()},
      {.key = "gpu_gemm",
       .member = named_enum<&C::gpu_gemm, kGemmNames>(),
       .help =
           "cuda: auto (default): on an H100/H200 with k <= 32 and bf16 scores, every tile is multiplied by weave's "
           "own "
           "GEMM, and those after each query's first write only the 256-column pieces of score rows that reach each "
           "query's bar instead of the whole score tile; cublaslt: every tile by cuBLASLt, then scanned",
       .note = "cuda: auto (own filtering GEMM where it applies) or cublaslt",
       .choices = names_of<kGemmNames>()},
      {.key = "gpu_select_sms",
       .member = &C::gpu_select_sms,
       .help =
           "cuda: SMs reserved for the selection beside the GEMM of the next tile; 0 (default): GEMM and selection "
           "take "
           "turns on all SMs. On an H100, cuBLASLt's GEMM does not start beside a kernel that holds SMs, so > 0 only "
           "serializes (slower)",
       .note = "cuda: SMs reserved for the selection (0: kernels alternate)",
       .min = 0,
       .zero_means = "GEMM and selection alternate on all SMs"},
      {.key = "gpu_resident_rows",
       .member = &C::gpu_resident_rows,
       .help = "cuda: own rows kept on the GPU at once; more are streamed from host memory in sub-blocks of this many, "
               "each uploaded once per ring step (0, the default: all of them if they fit, else as many as fit). ivf: "
               "the own rows are held on the GPU if they fit (and are at most this many), else they stay in host "
               "memory and each unit's rows are uploaded",
       .note = "cuda: own rows kept on the GPU at once (0: all that fit)",
       .min = 0,
       .zero_means = "as many as fit in GPU memory"},
      {.key = "nlist",
       .member = &C::nlist,
       .help = "ivf: clusters (0, the default: the power of two nearest sqrt(N), at least 8 documents each)",
       .note = "ivf: clusters (0: the power of two nearest sqrt(N))",
       .min = 0,
       .zero_means = "automatic"},
      {.key = "nprobe",
       .member = &C::nprobe,
       .help =
           "ivf: clusters each document searches (0, the default: the least that reaches --target-recall on the recall "
           "sample)",
       .note = "ivf: clusters each document searches (0: least reaching target_recall)",
       .min = 0,
       .zero_means = "automatic"},
      {.key = "target_recall",
       .member = &C::target_recall,
       .help = "ivf: recall@k the automatic --nprobe must reach on the recall sample",
       .note = "ivf: recall@k the automatic nprobe reaches on the recall sample",
       .min = 0,
       .min_exclusive = true,
       .max = 1},
      {.key = "train_sample",
       .member = &C::train_sample,
       .help = "ivf: k-means training rows, drawn by a hash of the global id (0, the default: 64 per cluster)",
       .note = "ivf: k-means training rows (0: 64 per cluster)",
       .min = 0,
       .zero_means = "automatic"},
      {.key = "train_iterations",
       .member = &C::train_iterations,
       .help = "ivf: k-means iterations",
       .note = "ivf: k-means iterations",
       .min = 0},
      {.key = "recall_sample",
       .member = &C::recall_sample,
       .help = "ivf: documents whose lists are checked against exact search; the recall is written into knn.h5 and the "
               "report (0: none, then --nprobe must be given)",
       .note = "ivf: documents checked against exact search (0: none; needs nprobe)",
       .min = 0},
      {.key = "round_rows",
       .member = &C::round_rows,
       .help = "ivf: rows (cluster members + queries) one rank receives and searches per round; bounds memory (0, the "
               "default: all in one round, at most 1 GiB of rows)",
       .note = "ivf: rows one rank searches per round (0: automatic, <= 1 GiB)",
       .min = 0,
       .zero_means = "automatic"},
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
      {.key = "algorithm",
       .member = named_enum<&C::algorithm, kAlgorithmNames>(),
       .help = "greedy or iclm",
       .note = "greedy (distributed path cover + stitching) or iclm (the paper's, on rank 0)",
       .choices = names_of<kAlgorithmNames>()},
      {.key = "stitch_k",
       .member = &C::stitch_k,
       .help =
           "Stitching the greedy's paths: meeting points per path end in the kNN graph, and neighbours per end in the "
           "exact levels",
       .note = "meeting points per path end when stitching",
       .min = 2,
       .max = 1024},
      {.key = "stitch_exact_ends",
       .member = &C::stitch_exact_ends,
       .help =
           "Stitch by exact kNN among the path ends once at most this many remain (0 = automatic: the E^2 d cost stays "
           "linear in the documents and, above 128 dimensions, no more than at 128; larger = better links, slower)",
       .note = "stitch by exact kNN among path ends once at most this many remain (0: automatic)",
       .min = 0,
       .zero_means = "automatic"},
      {.key = "tail_fraction",
       .member = &C::tail_fraction,
       .help = "Finish the greedy sequentially, in batches of bounded size, once a round accepts fewer edges than "
               "this share of the fragments still competing",
       .note = "finish the greedy in sequential batches below this share of accepted edges a round",
       .min = 0},
      {.key = "local_pass_share",
       .member = &C::local_pass_share,
       .help = "Before the greedy's rounds, let each rank accept the edges it can decide alone, when at least this "
               "share of the kNN graph's edges join documents of one rank (0 = always, above 1 = never; one rank "
               "always does: it is the whole greedy)",
       .note = "the greedy's rank-local pass from this share of rank-local edges",
       .min = 0},
      {.key = "max_rounds",
       .member = &C::max_rounds,
       .help = "Finish the greedy in sequential batches after this many rounds",
       .note = "... or after this many rounds",
       .min = 1},
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
      {.key = "threshold",
       .member = &C::threshold,
       .help = "Cosine similarity at or above which a kNN edge joins two documents, in (-1, 1]; a pair outside both "
               "documents' k-lists is never seen (docs/algorithms.md: what a kNN graph misses)",
       .note = "kNN edges of cosine similarity >= this join documents into a group",
       .min = -1,
       .min_exclusive = true,
       .max = 1},
      {.key = "keep",
       .member = named_enum<&C::keep, kKeepNames>(),
       .help =
           "Which document of a group is kept: longest (most tokens, ties by lowest global id) or first (lowest global "
           "id)",
       .note = "the document kept per group: longest (then lowest id) or first (lowest id)",
       .choices = names_of<kKeepNames>()},
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
      {.key = "context_length",
       .member = &C::context_lengths,
       .help = "Tokens per context; several (comma-separated, e.g. 4096,8192,32768) for a curriculum, in one pass",
       .note = "tokens per context; several = a curriculum, one file each",
       .min = 1,
       .max = static_cast<double>(1 << 30),
       .json_key = "context_lengths"},
      {.key = "policy",
       .member = named_enum<&C::policy, kPolicyNames>(),
       .help = "split (ICLM: documents continue across contexts) or pad (Llama 2 Long: whole documents, a context "
               "right-padded when the next does not fit; one longer than L alone, truncated)",
       .note = "split (documents continue across contexts) or pad (whole documents, padded)",
       .choices = names_of<kPolicyNames>()},
      {.key = "tail",
       .member = named_enum<&C::tail, kTailNames>(),
       .help = "The last partial context: drop or pad",
       .note = "split: the last partial context is dropped or padded",
       .choices = names_of<kTailNames>()},
      {.key = "separator_tokens",
       .member = &C::separator_tokens,
       .help = "Tokens the trainer inserts after each document (EOS), counted in the stream",
       .note = "tokens the trainer adds after each document (EOS)",
       .min = 0},
      {.key = "upsample",
       .member = &C::upsample,
       .help =
           "Long-document upsampling: min_tokens=T,factor=F (documents of at least T tokens appear F times; fractions "
           "drawn per document)",
       .note = "\"min_tokens=T,factor=F\": documents of at least T tokens F times"},
      {.key = "source_weights",
       .member = &C::source_weights,
       .help = "Per-source copies: SOURCE=WEIGHT,... e.g. 0=1.0,1=2.5 (fractions drawn per document; needs /sources)",
       .note = "\"0=1.0,1=2.5\": copies per source (fractions drawn from the seed)"},
      {.key = "seed", .member = &C::seed, .help = "Seed of the fractional copies", .note = "for the fractional copies"},
      {.key = "tokens",
       .member = &C::tokens,
       .help =
           "The corpus's token store: a Megatron-LM indexed dataset PREFIX (PREFIX.idx + PREFIX.bin), one sequence per "
           "corpus row, checked against /lengths; or a text manifest listing several PREFIXes (one per line) whose "
           "sequences, in order, are the corpus's rows",
       .note = "the corpus's token store (Megatron PREFIX[.idx]); with it, out_dir/dataset.bin/.idx"},
      {.key = "eod_id",
       .member = &C::eod_id,
       .help = "Token id written at each document's separator positions (--dataset)",
       .note = "with tokens: the token id written after each document (required then)"},
      {.key = "pad_id",
       .member = &C::pad_id,
       .help = "Token id of the right padding of padded contexts (--dataset)",
       .note = "with tokens: the token id of padding (required with policy pad or tail pad)"},
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
      {.key = "path",
       .member = &C::path,
       .help = "Corpus HDF5 file or manifest of shards",
       .note = "an existing corpus (HDF5 file or manifest); without it [synth] makes one",
       .json_key = "corpus",
       .toml_example = "\"corpus.h5\"",
       .flag = false},
      {.key = "on_zero_vector",
       .member = named_enum<&C::on_zero_vector, kZeroVectorNames>(),
       .help = "All-zero embedding rows: error, drop (remove the document), keep (similarity 0 to all)",
       .note = "a row of norm zero: error, drop (left out of every stage) or keep",
       .choices = names_of<kZeroVectorNames>()},
      {.key = "max_block_rows",
       .member = &C::max_block_rows,
       .help = "Rows per HDF5 read call (bounds staging memory)",
       .note = "rows per HDF5 read (bounds the staging buffer and the kNN ring's chunks)",
       .min = 1},
      {.key = "lengths_from",
       .member = &C::lengths_from,
       .help = "For a corpus without /lengths: the token store (Megatron PREFIX, or a manifest of them) whose sequence "
               "lengths are the documents' token lengths; give every stage the same",
       .note = "a corpus without /lengths: its token store's sequence lengths (every stage)",
       .omit_empty = true,
       .toml_example = "\"tokens\""},
  };
  return table;
}

nlohmann::json to_json(const CorpusOptions& c) {
  nlohmann::json j = nlohmann::json::object();
  util::put_options(c, corpus_options(), j);
  return j;
}

}  // namespace weave
