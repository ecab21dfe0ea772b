// Validation and JSON forms of the public configuration structs.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "util/config_json.hpp"
#include "weave/error.hpp"

namespace weave {

const char* to_string(ZeroVectorPolicy p) {
  switch (p) {
    case ZeroVectorPolicy::kError: return "error";
    case ZeroVectorPolicy::kDrop: return "drop";
    case ZeroVectorPolicy::kKeep: return "keep";
  }
  return "?";
}

ZeroVectorPolicy parse_zero_vector_policy(const std::string& s) {
  if (s == "error") return ZeroVectorPolicy::kError;
  if (s == "drop") return ZeroVectorPolicy::kDrop;
  if (s == "keep") return ZeroVectorPolicy::kKeep;
  throw UserError(fmt::format("--on-zero-vector must be error, drop or keep (got {})", s));
}

const char* to_string(EmbeddingDtype d) {
  switch (d) {
    case EmbeddingDtype::kFloat32: return "float32";
    case EmbeddingDtype::kFloat16: return "float16";
    case EmbeddingDtype::kBFloat16: return "bfloat16";
  }
  return "?";
}

void SynthConfig::validate() const {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw UserError(msg);
  };
  need(docs > 0, fmt::format("--docs must be positive (got {})", docs));
  need(dim > 0 && dim <= 65536, fmt::format("--dim must be in [1, 65536] (got {})", dim));
  need(topics > 0, fmt::format("--topics must be positive (got {})", topics));
  need(sources > 0, fmt::format("--sources must be positive (got {})", sources));
  need(topic_spread >= 0, fmt::format("--topic-spread must be >= 0 (got {})", topic_spread));
  need(duplicate_share >= 0 && duplicate_share < 1,
       fmt::format("--duplicate-share must be in [0, 1) (got {})", duplicate_share));
  need(duplicate_noise >= 0, fmt::format("--duplicate-noise must be >= 0 (got {})", duplicate_noise));
  need(median_tokens >= 1, fmt::format("--median-tokens must be >= 1 (got {})", median_tokens));
  need(length_sigma >= 0, fmt::format("--length-sigma must be >= 0 (got {})", length_sigma));
  need(min_tokens >= 1, fmt::format("--min-tokens must be >= 1 (got {})", min_tokens));
  need(max_tokens >= min_tokens,
       fmt::format("--max-tokens ({}) must be >= --min-tokens ({})", max_tokens, min_tokens));
  need(max_tokens <= 2147483647, fmt::format("--max-tokens must fit int32 (got {})", max_tokens));
  need(first_doc_id >= 0, fmt::format("--first-doc-id must be >= 0 (got {})", first_doc_id));
  need(!out.empty(), "--out is required");
}

void KnnConfig::validate() const {
  if (k < 1 || k > 1024) throw UserError(fmt::format("--k must be in [1, 1024] (got {})", k));
  if (method != "exact" && method != "ivf" && method != "auto")
    throw UserError(fmt::format("--method must be exact, ivf or auto (got {})", method));
  if (nlist < 0) throw UserError(fmt::format("--nlist must be >= 0 (0: automatic; got {})", nlist));
  if (nprobe < 0) throw UserError(fmt::format("--nprobe must be >= 0 (0: automatic; got {})", nprobe));
  if (nlist > 0 && nprobe > nlist)
    throw UserError(fmt::format("--nprobe ({}) must be at most --nlist ({}): a document cannot search more clusters "
                                "than there are", nprobe, nlist));
  if (!(target_recall > 0 && target_recall <= 1))
    throw UserError(fmt::format("--target-recall must be in (0, 1] (got {})", target_recall));
  if (train_sample < 0) throw UserError(fmt::format("--train-sample must be >= 0 (0: automatic; got {})", train_sample));
  if (nlist > 0 && train_sample > 0 && train_sample < nlist)
    throw UserError(fmt::format("--train-sample ({}) must be at least --nlist ({}): each cluster starts from a sample row",
                                train_sample, nlist));
  if (train_iterations < 0) throw UserError(fmt::format("--train-iterations must be >= 0 (got {})", train_iterations));
  if (recall_sample < 0) throw UserError(fmt::format("--recall-sample must be >= 0 (got {})", recall_sample));
  if (nprobe == 0 && recall_sample == 0 && method != "exact")
    throw UserError("--recall-sample 0 needs an explicit --nprobe: the automatic nprobe is chosen on the recall sample");
  if (round_rows < 0) throw UserError(fmt::format("--round-rows must be >= 0 (0: automatic; got {})", round_rows));
  if (backend != "cpu" && backend != "cuda")
    throw UserError(fmt::format("--backend must be cpu or cuda (got {})", backend));
  if (query_tile < 1 || database_tile < 1) throw UserError("tile sizes must be positive");
  if (gpu_query_tile < 1) throw UserError("--gpu-query-tile must be positive");
  if (gpu_database_tile < 0) throw UserError("--gpu-database-tile must be >= 0 (0: chosen by --gpu-gemm)");
  if (gpu_select_sms < 0) throw UserError("--gpu-select-sms must be >= 0 (0: GEMM and selection alternate on all SMs)");
  if (gpu_resident_rows < 0) throw UserError("--gpu-resident-rows must be >= 0 (0: as many as fit in GPU memory)");
  if (gpu_scores != "bf16" && gpu_scores != "fp32")
    throw UserError(fmt::format("--gpu-scores must be bf16 or fp32 (got {})", gpu_scores));
  if (gpu_gemm != "auto" && gpu_gemm != "cublaslt")
    throw UserError(fmt::format("--gpu-gemm must be auto or cublaslt (got {})", gpu_gemm));
  if (corpus.max_block_rows < 1) throw UserError("--max-block-rows must be positive");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const KnnConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  j.update({{"k", c.k}, {"method", c.method}, {"backend", c.backend}, {"query_tile", c.query_tile},
            {"database_tile", c.database_tile}, {"gpu_query_tile", c.gpu_query_tile},
            {"gpu_database_tile", c.gpu_database_tile}, {"gpu_scores", c.gpu_scores}, {"gpu_gemm", c.gpu_gemm},
            {"gpu_select_sms", c.gpu_select_sms}, {"gpu_resident_rows", c.gpu_resident_rows}, {"nlist", c.nlist},
            {"nprobe", c.nprobe}, {"target_recall", c.target_recall}, {"train_sample", c.train_sample},
            {"train_iterations", c.train_iterations}, {"recall_sample", c.recall_sample},
            {"round_rows", c.round_rows}, {"out", c.out}});
  return j;
}

std::string KnnConfig::resolved_method(std::int64_t n) const {
  if (method != "auto") return method;
  return n > (backend == "cuda" ? kExactMaxDocsGpu : kExactMaxDocs) ? "ivf" : "exact";
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

void OrderConfig::validate() const {
  if (algorithm != "greedy" && algorithm != "iclm")
    throw UserError(fmt::format("--algorithm must be greedy or iclm (got {})", algorithm));
  if (stitch_k < 2 || stitch_k > 1024) throw UserError(fmt::format("--stitch-k must be in [2, 1024] (got {})", stitch_k));
  if (stitch_exact_ends < 0)
    throw UserError(fmt::format("--stitch-exact-ends must be >= 0 (0 = automatic; got {})", stitch_exact_ends));
  if (tail_fraction < 0) throw UserError("--tail-fraction must be >= 0");
  if (max_rounds < 1) throw UserError("--max-rounds must be >= 1");
  if (knn.empty()) throw UserError("--knn is required");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const OrderConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  j.update({{"knn", c.knn}, {"algorithm", c.algorithm}, {"stitch_k", c.stitch_k},
            {"stitch_exact_ends", c.stitch_exact_ends}, {"tail_fraction", c.tail_fraction},
            {"max_rounds", c.max_rounds}, {"force", c.force}, {"dedup", c.dedup}, {"out", c.out}});
  return j;
}

void DedupConfig::validate() const {
  // A cosine is at most 1: a threshold above it joins nothing, one at or below -1 joins every edge.
  if (!(threshold > -1.0 && threshold <= 1.0))
    throw UserError(fmt::format("--threshold must be in (-1, 1] (a cosine similarity; got {})", threshold));
  if (keep != "longest" && keep != "first") throw UserError(fmt::format("--keep must be longest or first (got {})", keep));
  if (knn.empty()) throw UserError("--knn is required");
  if (out.empty()) throw UserError("--out is required");
}

nlohmann::json to_json(const DedupConfig& c) {
  nlohmann::json j = to_json(c.corpus);
  j.update({{"knn", c.knn}, {"threshold", c.threshold}, {"keep", c.keep}, {"force", c.force}, {"out", c.out}});
  return j;
}

void PackConfig::validate() const {
  if (context_lengths.empty()) throw UserError("--context-length: give at least one length");
  for (auto l : context_lengths)
    if (l <= 0 || l > (std::int64_t{1} << 30))
      throw UserError(fmt::format("--context-length must be in [1, 2^30] (got {})", l));
  for (std::size_t i = 0; i < context_lengths.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (context_lengths[i] == context_lengths[j])  // two would write one file, named as for a curriculum
        throw UserError(fmt::format("--context-length {}: {} is given twice; each length makes one file",
                                    fmt::join(context_lengths, ","), context_lengths[i]));
  if (policy != "split" && policy != "pad") throw UserError(fmt::format("--policy must be split or pad (got {})", policy));
  if (tail != "drop" && tail != "pad") throw UserError(fmt::format("--tail must be drop or pad (got {})", tail));
  if (separator_tokens < 0) throw UserError(fmt::format("--separator-tokens must be >= 0 (got {})", separator_tokens));
  if (order.empty()) throw UserError("--order is required");
  if (out.empty()) throw UserError("--out is required");
  if (!dataset.empty() && tokens.empty())
    throw UserError("--dataset needs --tokens: the token store the contexts' tokens come from");
  if (!dataset.empty() && separator_tokens > 0 && eod_id < 0)
    throw UserError("--dataset needs --eod-id: the token id written after each document (--separator-tokens > 0)");
  if (!dataset.empty() && pad_id < 0 && (policy == "pad" || tail == "pad"))
    throw UserError(fmt::format("--dataset with {} needs --pad-id: the token id of the padding",
                                policy == "pad" ? "--policy pad" : "--tail pad"));
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
  j.update({{"order", c.order}, {"context_lengths", c.context_lengths}, {"policy", c.policy}, {"tail", c.tail},
            {"separator_tokens", c.separator_tokens}, {"upsample", c.upsample}, {"source_weights", c.source_weights},
            {"seed", c.seed}, {"force", c.force}, {"dedup", c.dedup}, {"out", c.out}, {"tokens", c.tokens}, {"dataset", c.dataset},
            {"eod_id", c.eod_id}, {"pad_id", c.pad_id}});
  return j;
}

nlohmann::json to_json(const SynthConfig& c) {
  return {{"docs", c.docs},
          {"dim", c.dim},
          {"topics", c.topics},
          {"sources", c.sources},
          {"seed", c.seed},
          {"topic_spread", c.topic_spread},
          {"duplicate_share", c.duplicate_share},
          {"duplicate_noise", c.duplicate_noise},
          {"median_tokens", c.median_tokens},
          {"length_sigma", c.length_sigma},
          {"min_tokens", c.min_tokens},
          {"max_tokens", c.max_tokens},
          {"first_doc_id", c.first_doc_id},
          {"dtype", to_string(c.dtype)},
          {"out", c.out}};
}

nlohmann::json to_json(const CorpusOptions& c) {
  nlohmann::json j = {{"corpus", c.path}, {"on_zero_vector", to_string(c.on_zero_vector)},
                      {"max_block_rows", c.max_block_rows}};
  if (!c.lengths_from.empty()) j["lengths_from"] = c.lengths_from;  // absent: configurations and stamps as before
  return j;
}

}  // namespace weave
