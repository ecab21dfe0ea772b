// Helpers shared by the MPI tests: a scratch folder every rank agrees on, and gathering.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "knn/backend.hpp"
#include "mpi/comm.hpp"
#include "util/random.hpp"
#include "weave/config.hpp"

namespace weave::testing {

/// A fresh folder under the system temp dir, created by rank 0 and named the same on every rank;
/// removed when the object goes out of scope.
class ScratchDir {
 public:
  explicit ScratchDir(const mpi::Comm& comm, const std::string& tag = "weave-test");
  ~ScratchDir();
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  const mpi::Comm& comm_;
  std::filesystem::path dir_;
};

/// All ranks' values concatenated in rank order, on every rank.
template <typename T>
std::vector<T> allgather_concat(const mpi::Comm& comm, const std::vector<T>& local) {
  std::vector<T> on_root = comm.gatherv<T>(std::span<const T>(local), 0);
  auto n = comm.bcast_value<std::int64_t>(static_cast<std::int64_t>(on_root.size()), 0);
  on_root.resize(static_cast<std::size_t>(n));
  if (n > 0) comm.bcast(std::span<T>(on_root), 0);
  return on_root;
}

}  // namespace weave::testing

namespace weave::testing {

/// A small corpus held in memory, written by one process (for building test inputs).
struct CorpusArrays {
  std::int64_t dim = 0;
  std::vector<float> embeddings;   ///< n x dim
  std::vector<std::int64_t> lengths;
  std::vector<std::int64_t> doc_ids;  ///< optional (empty = not written)
  std::vector<std::int32_t> sources;  ///< optional
  std::vector<std::int32_t> topics;   ///< optional
  bool has_doc_ids = false, has_sources = false, has_topics = false;  ///< write the optional columns
  std::int64_t rows() const { return static_cast<std::int64_t>(lengths.size()); }
  /// Rows [begin, end) as a new corpus.
  CorpusArrays slice(std::int64_t begin, std::int64_t end) const;
};

/// Writes a corpus file from this process alone (MPI_COMM_SELF); call it on one rank.
void write_corpus_file(const std::string& path, const CorpusArrays& corpus);

/// A random corpus of unit-ish vectors with lengths in [1, 1000] and ids 10*row+3.
CorpusArrays random_corpus(std::int64_t n, std::int64_t dim, std::uint64_t seed);

/// `distinct` random rows, each stored `copies` times, copies interleaved (row i is distinct row
/// i mod distinct): every document has copies - 1 exact duplicates tied at similarity 1.
CorpusArrays duplicated_corpus(std::int64_t distinct, std::int64_t copies, std::int64_t dim, std::uint64_t seed);

/// Rows from {-1, 0, 1}^dim, none all-zero: few distinct similarity values, many exact ties.
CorpusArrays grid_corpus(std::int64_t n, std::int64_t dim, std::uint64_t seed);

/// weave synth with config s into the scratch folder as `name` (collective); returns the path.
std::string write_synth_corpus(const mpi::Comm& comm, const ScratchDir& dir, SynthConfig s, const std::string& name);

/// Two rows whose float64 dot product depends on the summation order: small random terms plus
/// +2^(2k) and -2^(2k) at random places (small terms summed next to a huge one lose low bits).
void order_sensitive_rows(util::CounterRng& rng, std::size_t d, std::vector<float>& a, std::vector<float>& b);

/// Writes the corpus on rank 0 into the scratch folder; every rank gets the path (collective).
std::string write_corpus_on_root(const mpi::Comm& comm, const ScratchDir& dir, const std::string& name,
                                 const CorpusArrays& corpus);

/// The canonical similarity as docs/algorithms.md defines it, written out independently of
/// src/knn: 32 float64 partial sums (element j into partial (j div 4) mod 32), combined by halving.
float reference_similarity(const float* a, const float* b, std::int64_t d);

/// Brute force: all pairs (those `allowed` if given), canonical similarity, order (sim desc, id
/// asc), self excluded, padded with -1/NaN. Written independently of src/knn.
knn::KnnLists brute_force_knn(const std::vector<float>& unit_rows, std::int64_t n, std::int64_t d, int k,
                              const std::function<bool(std::int64_t query, std::int64_t row)>& allowed = {});

}  // namespace weave::testing
