// Block search: any block of query rows against any block of database rows, each row with its own
// global id — the exact k best of every query among the database rows (itself excluded), in the
// total order (similarity desc, id asc), by the canonical similarity. What the approximate search
// (knn/ivf/) runs on its cluster pieces, its k-means and its assignment; on the CPU (BLAS tiles,
// knn/cpu/row_search.hpp) or on this rank's GPU (knn/cuda/cuda_block_search.hpp), the same lists.
//
// Rows the search works on many times (the rank's own rows, the rows a round received) are *held*:
// handed over once (on the GPU: uploaded and converted once) and then picked by index, so the IVF's
// units, its k-means sample and its assignment move no rows between host and GPU.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "knn/backend.hpp"
#include "mpi/comm.hpp"

namespace weave::knn {

/// Rows of a search, one of three kinds:
///  - given rows in host memory (`rows`, count x dim) with their global `ids` (null for queries:
///    then no database row is excluded as "itself");
///  - held rows picked by index (`picks`: count indices into the held rows, see BlockSearch::hold_own);
///  - a run of held own rows, [first_held, first_held + count).
/// Held rows carry their own ids.
struct RowSet {
  const float* rows = nullptr;
  const std::int64_t* ids = nullptr;
  std::int64_t count = 0;
  const std::int64_t* picks = nullptr;
  std::int64_t first_held = 0;

  bool held() const { return rows == nullptr; }
  static RowSet held_picks(const std::int64_t* picks, std::int64_t count) { return {nullptr, nullptr, count, picks, 0}; }
  static RowSet held_run(std::int64_t first, std::int64_t count) { return {nullptr, nullptr, count, nullptr, first}; }
};

/// One search of a batch: its queries against its database.
struct SearchUnit {
  RowSet queries;
  RowSet database;
};

class BlockSearch {
 public:
  virtual ~BlockSearch() = default;
  virtual std::string name() const = 0;

  /// The rows held for later searches: own rows [0, count) with ids first, first + 1, ... (kept
  /// until the next hold_own; not copied on the CPU, so they must outlive the searches).
  virtual void hold_own(const float* rows, std::int64_t count, std::int64_t dim, GlobalId first) = 0;
  /// More held rows after the own ones, indices [own count, own count + count), with their ids
  /// (replacing the previous extra rows; copied or referenced as hold_own).
  virtual void hold_extra(const float* rows, const std::int64_t* ids, std::int64_t count) = 0;
  /// Frees what hold_own and hold_extra keep.
  virtual void release_held() = 0;

  /// Each unit's queries against its database; out: the lists of every unit's queries, one unit after
  /// another (sum of the query counts x k), best first, padded with -1 / NaN.
  virtual void search_units(std::span<const SearchUnit> units, std::int64_t dim, int k, KnnLists& out) = 0;
  /// One unit.
  void search(const RowSet& queries, const RowSet& database, std::int64_t dim, int k, KnnLists& out) {
    const SearchUnit unit{queries, database};
    search_units(std::span<const SearchUnit>(&unit, 1), dim, k, out);
  }

  /// sums[c * dim + j] += round(2^32 x component j of row i) for every row i of `rows` with
  /// cluster[i] = c (rounded half away from zero: exact integers, so any order of addition gives
  /// the same sums). k-means's centroid sums, where the rows are (on the GPU).
  virtual void add_fixed_point_sums(const RowSet& rows, const std::int32_t* cluster, int clusters, std::int64_t dim,
                                    std::int64_t* sums) = 0;

  /// Pairs scored canonically so far (candidates within the fast score's error bound).
  virtual double rescored_pairs() const = 0;
};

/// The k-means fixed point: 2^-32 units (|component| <= 1, so 2^31 rows fit in an int64 sum).
inline constexpr double kFixedPointScale = 0x1.0p32;

/// round(x * 2^32), half away from zero (std::llround's rounding, without the library call: x * 2^32
/// has at most 24 significant bits, so adding 0.5 is exact wherever it can change the result).
inline std::int64_t to_fixed_point(float x) {
  const double v = static_cast<double>(x) * kFixedPointScale;
  return static_cast<std::int64_t>(v + std::copysign(0.5, v));  // no branch: signs are a coin toss
}

/// On the CPU, or on this rank's GPU (collective for cuda: one GPU per rank, by node-local rank;
/// UserError when the build or the node has none). gpu_resident_rows (cuda): the most own rows held
/// on the GPU (0: as many as fit); beyond, the held rows stay in host memory and each unit's rows
/// are gathered there and uploaded.
std::unique_ptr<BlockSearch> make_block_search(KnnBackend backend, const mpi::Comm& comm,
                                               std::int64_t gpu_resident_rows = 0);

}  // namespace weave::knn
