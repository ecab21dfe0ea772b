// Configuration of the stages: plain structs with defaults, validated before any work starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace weave {

/// Options every stage shares.
struct CommonOptions {
  bool quiet = false;        ///< no progress lines, no configuration print
  std::string report_path;   ///< --report FILE.json; empty = no report
};

/// What to do with an embedding row whose norm is zero (it has no direction to compare by).
enum class ZeroVectorPolicy { kError, kDrop, kKeep };

/// How a corpus (one HDF5 file or a manifest of shards) is read.
struct CorpusOptions {
  std::string path;                                     ///< HDF5 file or text manifest
  ZeroVectorPolicy on_zero_vector = ZeroVectorPolicy::kError;
  std::int64_t max_block_rows = 1 << 20;  ///< rows per HDF5 read call (bounds the staging buffer)
  /// A token store (Megatron PREFIX or a manifest of them) whose sequence lengths are the documents'
  /// token lengths, for a corpus without /lengths; every stage must be given the same one.
  std::string lengths_from;
};

/// Embedding storage type of a corpus written by `weave synth`.
enum class EmbeddingDtype { kFloat32, kFloat16, kBFloat16 };

// The closed sets of option values. Their names (what the command line, TOML and JSON say) are
// given once, in the option tables (util/config.cpp); to_string() returns them.
enum class KnnMethod { kExact, kIvf, kAuto };      ///< exact, ivf, auto
enum class KnnBackend { kCpu, kCuda };             ///< cpu, cuda
enum class GpuScores { kBf16, kFp32 };             ///< bf16, fp32
enum class GpuGemm { kAuto, kCublasLt };           ///< auto, cublaslt
enum class OrderAlgorithm { kGreedy, kIclm };      ///< greedy, iclm
enum class DedupKeep { kLongest, kFirst };         ///< longest, first
enum class PackPolicy { kSplit, kPad };            ///< split, pad
enum class PackTail { kDrop, kPad };               ///< drop, pad

/// `weave synth`: a synthetic corpus of topic clusters with heavy-tailed token lengths.
struct SynthConfig {
  std::int64_t docs = 10000;          ///< number of documents
  int dim = 64;                       ///< embedding dimension
  int topics = 50;                    ///< number of topic centroids
  int sources = 4;                    ///< number of data sources (/sources in [0, sources))
  std::uint64_t seed = 1;             ///< every value derives from (seed, global id)
  double topic_spread = 1.0;          ///< noise norm relative to the unit topic centroid
  double duplicate_share = 0.02;      ///< share of near-duplicates of an earlier document
  double duplicate_noise = 0.02;      ///< noise norm of a near-duplicate
  double median_tokens = 300;         ///< median of the log-normal token length
  double length_sigma = 1.4;          ///< sigma of log(length): 1.4 puts ~0.05% of docs past 32K
  std::int64_t min_tokens = 16;
  std::int64_t max_tokens = 262144;
  std::int64_t first_doc_id = 0;      ///< /doc_ids = first_doc_id + global id
  EmbeddingDtype dtype = EmbeddingDtype::kFloat32;
  std::string out;                    ///< output HDF5 file

  /// Throws UserError naming the offending option.
  void validate() const;
};

/// `weave knn`: the k most similar documents of every document.
struct KnnConfig {
  CorpusOptions corpus;
  int k = 10;                          ///< neighbours per document, 1..1024
  /// exact (the ring), ivf (approximate: distributed inverted file) or auto (exact up to
  /// kExactMaxDocs documents on CPUs and kExactMaxDocsGpu on GPUs, ivf above)
  KnnMethod method = KnnMethod::kAuto;
  KnnBackend backend = KnnBackend::kCpu;  ///< cpu (faiss heaps over BLAS); cuda when built with it
  std::int64_t query_tile = 1024;      ///< queries per similarity tile
  std::int64_t database_tile = 4096;   ///< database rows per similarity tile
  std::int64_t gpu_query_tile = 16384;     ///< cuda: queries per tensor-core score tile
  std::int64_t gpu_database_tile = 0;     ///< cuda: database rows per score tile (0: 16384 own GEMM, 4096 cuBLASLt)
  GpuScores gpu_scores = GpuScores::kBf16;  ///< cuda: score tile type, bf16 (half the bytes) or fp32
  GpuGemm gpu_gemm = GpuGemm::kAuto;        ///< cuda: auto (own filtering GEMM where it applies) or cublaslt
  int gpu_select_sms = 0;                 ///< cuda: SMs reserved for the selection (0: none, kernels alternate)
  std::int64_t gpu_resident_rows = 0;     ///< cuda: own rows kept on the GPU at once (0: all that fit)
  // ivf (knn/ivf/ivf_search.hpp); 0 = chosen from the corpus (KnnConfig::resolved_*)
  int nlist = 0;                       ///< clusters (0: the power of two nearest sqrt(N))
  int nprobe = 0;                      ///< clusters each document searches (0: least reaching target_recall)
  double target_recall = 0.95;         ///< recall@k the automatic nprobe must reach on the recall sample
  std::int64_t train_sample = 0;       ///< k-means training rows (0: 64 per cluster)
  int train_iterations = 10;           ///< k-means iterations
  std::int64_t recall_sample = 1000;   ///< queries whose lists are checked against exact search (0: none)
  std::int64_t round_rows = 0;         ///< rows one rank searches per round (0: 1 GiB of rows)
  std::string out;                     ///< output knn.h5

  /// Up to this many documents `auto` is exact (docs/benchmarks.md, "Approximate kNN"): on CPUs the
  /// IVF is ~100x faster than exact at 10^6 x 128; on a GPU the exact ring is still 8x faster than
  /// the IVF at 10^6 x 768 (its host-side phases), and takes ~4 minutes at 10^7 on one H200.
  static constexpr std::int64_t kExactMaxDocs = 1'000'000;
  static constexpr std::int64_t kExactMaxDocsGpu = 10'000'000;

  void validate() const;
  /// What runs for a corpus of n documents: "exact" or "ivf".
  std::string resolved_method(std::int64_t n) const;
  int resolved_nlist(std::int64_t n) const;
  std::int64_t resolved_train_sample(std::int64_t n) const;
  std::int64_t resolved_round_rows(std::int64_t n, int dim, int ranks, int nprobe) const;
  /// UserError for ivf options that do not fit a corpus of n documents.
  void validate_for(std::int64_t n) const;
};

/// `weave order`: one order of all documents from the kNN graph.
struct OrderConfig {
  CorpusOptions corpus;            ///< the corpus the kNN graph was made from (rows for stitching)
  std::string knn;                 ///< knn.h5
  OrderAlgorithm algorithm = OrderAlgorithm::kGreedy;  ///< greedy (distributed) or iclm (the paper's, on rank 0)
  int stitch_k = 8;                ///< meeting points per path end / exact neighbours when stitching
  /// Stitch by exact kNN among the path ends once at most this many remain; 0 = automatic
  /// (E^2 <= 8 N stitch_k, at least 2,048: linear in N).
  std::int64_t stitch_exact_ends = 0;
  double tail_fraction = 0.01;     ///< finish the greedy in sequential batches below this acceptance share
  double local_pass_share = 0.75;  ///< run the greedy's rank-local pass from this share of rank-local edges
  int max_rounds = 200;            ///< ... or after this many rounds
  bool force = false;              ///< order a kNN graph made from another corpus (same size) anyway
  std::string dedup;               ///< dedup.h5: order only the documents it keeps (empty = all)
  std::string out;                 ///< order.h5

  void validate() const;
};

/// `weave dedup`: near-duplicate groups from the kNN graph, one document kept per group.
struct DedupConfig {
  CorpusOptions corpus;            ///< the corpus the kNN graph was made from (token lengths)
  std::string knn;                 ///< knn.h5
  double threshold = 0.95;         ///< kNN edges of similarity >= this join documents into a group
  DedupKeep keep = DedupKeep::kLongest;  ///< longest (most tokens, then lowest id) or first (lowest id)
  bool force = false;              ///< use a kNN graph made from another corpus (same size) anyway
  std::string out;                 ///< dedup.h5

  void validate() const;
};

/// `weave pack`: the ordered token stream cut into fixed-length training contexts.
struct PackConfig {
  CorpusOptions corpus;                  ///< token lengths and user ids
  std::string order;                     ///< order.h5
  std::vector<std::int64_t> context_lengths{8192};  ///< several = a curriculum, one file each
  PackPolicy policy = PackPolicy::kSplit;  ///< split (ICLM): documents continue across contexts
  PackTail tail = PackTail::kDrop;         ///< the last partial context: drop or pad
  std::int64_t separator_tokens = 1;     ///< tokens the trainer adds after each document (EOS)
  std::string upsample;                  ///< "min_tokens=T,factor=F": long documents F times
  std::string source_weights;            ///< "0=1.0,1=2.5": copies per source (fractions sampled)
  std::uint64_t seed = 1;                ///< for the fractional copies (drawn from global ids)
  bool force = false;                    ///< pack an order made from another corpus (same size) anyway
  std::string dedup;                     ///< dedup.h5: leave out the documents it removes (empty = none)
  std::string out;                       ///< contexts.h5 (contexts.L.h5 per length when several)
  std::string tokens;                    ///< the corpus's token store (Megatron PREFIX[.idx]); empty = none
  std::string dataset;                   ///< output Megatron dataset PREFIX (PREFIX.L per length when several)
  std::int64_t eod_id = -1;              ///< token id written at each separator position
  std::int64_t pad_id = -1;              ///< token id of right padding (needed when contexts are padded)

  void validate() const;
  /// The output file for context length L.
  std::string output_for(std::int64_t length) const;
  /// The output dataset prefix for context length L.
  std::string dataset_for(std::int64_t length) const;
};

const char* to_string(ZeroVectorPolicy p);
const char* to_string(EmbeddingDtype d);
const char* to_string(KnnMethod v);
const char* to_string(KnnBackend v);
const char* to_string(GpuScores v);
const char* to_string(GpuGemm v);
const char* to_string(OrderAlgorithm v);
const char* to_string(DedupKeep v);
const char* to_string(PackPolicy v);
const char* to_string(PackTail v);

}  // namespace weave
