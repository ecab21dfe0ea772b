// knn.h5: /neighbors int64 [N, k] and /similarities float32 [N, k] (docs/format.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "corpus/provenance.hpp"
#include "io/hdf5.hpp"
#include "knn/exact_ring.hpp"

namespace weave::knn {

struct KnnFileAttributes {
  std::string method;
  std::string backend;
  nlohmann::json configuration;
  /// Method-specific attributes (ivf: nlist, nprobe, recall_at_k, ...).
  std::vector<std::pair<std::string, std::int64_t>> integers;
  std::vector<std::pair<std::string, double>> reals;
  /// ivf: the cluster centroids, clusters x dim unit rows (the same on every rank), as /centroids.
  std::vector<float> centroids;
  /// The corpus's row sum (knn/row_sum.hpp, stored form), as /row_sum; not written when empty.
  std::vector<std::int64_t> row_sum;
};

/// Collective: writes every rank's rows of the lists through the .tmp + rename protocol.
void write_knn_file(const mpi::Comm& comm, const std::string& path, const corpus::CorpusBlock& block,
                    const KnnLists& lists, const KnnFileAttributes& attributes);

/// This rank's rows [range) of a knn file (collective). Throws UserError for a file that is not one.
struct KnnFileBlock {
  std::int64_t num_docs = 0;
  int k = 0;
  BlockRange range;
  KnnLists lists;
  nlohmann::json corpus;  ///< the corpus it was made from (corpus/provenance.hpp); null in older files
  /// method, backend, metric, creator_version, the ivf's nlist, nprobe, train_sample,
  /// recall_queries, recall_at_k, target_recall: those the file has
  nlohmann::json attributes;
  /// /row_sum (knn/row_sum.hpp, stored form) on every rank; empty in files from before it.
  std::vector<std::int64_t> row_sum;
};
/// Collective; the lists are checked (check_lists).
KnnFileBlock read_knn_file(const mpi::Comm& comm, const std::string& path);
/// The same from a file opened already (on comm).
KnnFileBlock read_knn_file(const mpi::Comm& comm, io::File file);

/// read_knn_file, checked to belong to the corpus read as `corpus`: as many documents, and a
/// `corpus` record that matches it (compared as `compared` says; with `force` a mismatch warns).
KnnFileBlock read_knn_file_for(const mpi::Comm& comm, const std::string& path, const corpus::CorpusInfo& corpus,
                               corpus::Compared compared, bool force);

/// Throws a UserError naming the file, dataset, row and column of the first entry (this rank's) that
/// no stage can use: an id outside [0, N) other than -1, -1 before a real neighbour (padding comes
/// last), the document itself, or a similarity that is not a finite cosine in [-1, 1].
void check_lists(const std::string& path, const KnnFileBlock& block);

}  // namespace weave::knn
