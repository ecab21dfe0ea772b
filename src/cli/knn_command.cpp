// `weave knn`: the exact k-nearest-neighbour graph of a corpus (cosine similarity).
#include <memory>

#include "cli/commands.hpp"
#include "knn/knn_stage.hpp"
#include "util/config_json.hpp"

namespace weave::cli {

void add_knn_command(CLI::App& app, Runner& run) {
  auto config = std::make_shared<KnnConfig>();
  auto common = std::make_shared<CommonOptions>();
  auto zero_vector = std::make_shared<std::string>("error");
  CLI::App* cmd = app.add_subcommand(
      "knn", "Compute every document's k most similar documents (cosine) across all ranks: exactly (each rank "
             "keeps its rows as queries while the others' rows travel around the ring of ranks) or approximately "
             "for large corpora (--method ivf: a distributed inverted file, recall measured).");
  cmd->add_option("--corpus", config->corpus.path, "Corpus HDF5 file or manifest of shards")->required();
  cmd->add_option("--out", config->out, "Output knn.h5")->required();
  cmd->add_option("--k", config->k, "Neighbours per document (1..1024)")->capture_default_str();
  cmd->add_option("--method", config->method,
                  "exact (every pair, by the ring of ranks), ivf (approximate: clusters by k-means, each document "
                  "searches the members of its --nprobe nearest clusters; recall measured on a sample) or auto "
                  "(exact up to 1,000,000 documents on --backend cpu and 10,000,000 on cuda, ivf above)")
      ->check(CLI::IsMember({"exact", "ivf", "auto"}))
      ->capture_default_str();
  cmd->add_option("--nlist", config->nlist,
                  "ivf: clusters (0, the default: the power of two nearest sqrt(N), at least 8 documents each)")
      ->capture_default_str();
  cmd->add_option("--nprobe", config->nprobe,
                  "ivf: clusters each document searches (0, the default: the least that reaches --target-recall "
                  "on the recall sample)")
      ->capture_default_str();
  cmd->add_option("--target-recall", config->target_recall,
                  "ivf: recall@k the automatic --nprobe must reach on the recall sample")
      ->capture_default_str();
  cmd->add_option("--train-sample", config->train_sample,
                  "ivf: k-means training rows, drawn by a hash of the global id (0, the default: 64 per cluster)")
      ->capture_default_str();
  cmd->add_option("--train-iterations", config->train_iterations, "ivf: k-means iterations")->capture_default_str();
  cmd->add_option("--recall-sample", config->recall_sample,
                  "ivf: documents whose lists are checked against exact search; the recall is written into knn.h5 "
                  "and the report (0: none, then --nprobe must be given)")
      ->capture_default_str();
  cmd->add_option("--round-rows", config->round_rows,
                  "ivf: rows (cluster members + queries) one rank receives and searches per round; bounds memory "
                  "(0, the default: all in one round, at most 1 GiB of rows)")
      ->capture_default_str();
  cmd->add_option("--backend", config->backend,
                  "cpu (BLAS + faiss heaps) or cuda (one GPU per rank: BF16 tensor cores; the exact ring over NCCL, or the ivf's "
                  "clusters searched on each rank's GPU; the same lists)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->capture_default_str();
  cmd->add_option("--query-tile", config->query_tile, "Queries per similarity tile")->capture_default_str();
  cmd->add_option("--database-tile", config->database_tile, "Database rows per similarity tile")->capture_default_str();
  cmd->add_option("--gpu-query-tile", config->gpu_query_tile,
                  "cuda: queries per tensor-core score tile (lower it if the GPU runs out of memory)")
      ->capture_default_str();
  cmd->add_option("--gpu-database-tile", config->gpu_database_tile,
                  "cuda: database rows per score tile (one tile of scores is kept; two with --gpu-select-sms); 0 "
                  "(default): 16384 where weave's own GEMM runs (see --gpu-gemm), else 4096")
      ->capture_default_str();
  cmd->add_option("--gpu-scores", config->gpu_scores,
                  "cuda: score tile type: bf16 (half the bytes; faster) or fp32")
      ->capture_default_str();
  cmd->add_option("--gpu-gemm", config->gpu_gemm,
                  "cuda: auto (default): on an H100/H200 with k <= 32 and bf16 scores, every tile is multiplied by "
                  "weave's own GEMM, and those after each query's first write only the 256-column pieces of score "
                  "rows that reach each query's bar instead of the whole score tile; cublaslt: every tile by "
                  "cuBLASLt, then scanned")
      ->capture_default_str();
  cmd->add_option("--gpu-select-sms", config->gpu_select_sms,
                  "cuda: SMs reserved for the selection beside the GEMM of the next tile; 0 (default): GEMM and "
                  "selection take turns on all SMs. On an H100, cuBLASLt's GEMM does not start beside a kernel "
                  "that holds SMs, so > 0 only serializes (slower)")
      ->capture_default_str();
  cmd->add_option("--gpu-resident-rows", config->gpu_resident_rows,
                  "cuda: own rows kept on the GPU at once; more are streamed from host memory in sub-blocks of "
                  "this many, each uploaded once per ring step (0, the default: all of them if they fit, else as "
                  "many as fit)")
      ->capture_default_str();
  add_corpus_options(cmd, config->corpus, *zero_vector);
  cmd->get_option("--max-block-rows")
      ->description("Rows per HDF5 read and per block travelling the ring (bounds memory: own rows + 2 blocks)");
  add_common_options(cmd, *common);

  cmd->callback([&run, config, common, zero_vector] {
    config->corpus.on_zero_vector = parse_zero_vector_policy(*zero_vector);
    run = [config, common](const mpi::Comm& comm) {
      run_stage_command(comm, "knn", to_json(*config), *common,
                        [&](util::Report& report) { knn::run_knn_stage(comm, *config, *common, report); });
    };
  });
}

}  // namespace weave::cli
