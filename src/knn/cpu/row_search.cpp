#include "knn/cpu/row_search.hpp"

#include <algorithm>

extern "C" {
// Fortran BLAS (OpenBLAS through Debian's libblas.so.3 alternative), as faiss itself declares it.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
           const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
}

namespace weave::knn {

void similarity_tile(const float* queries, int nq, const float* database, int nb, int d, float* scores) {
  // S^T = D^T^T Q^T in column-major.
  const float one = 1.0f, zero = 0.0f;
  sgemm_("T", "N", &nb, &nq, &d, &one, database, &d, queries, &d, &zero, scores, &nb);
}

// The same tile loop as the ring's CpuBackend::search, with ids per row instead of a range. Sharing
// one template between the two measured 8% slower in the ring (100,000 x 128, 2 ranks, interleaved
// runs), so each keeps its loop.
void RowSearcher::search(const RowSet& queries, const RowSet& database, std::int64_t dim, TopK& topk,
                         std::int64_t first_topk_row) {
  if (queries.count == 0 || database.count == 0) return;
  const float slack = float_dot_error_bound(dim);
  const std::int64_t query_tile = std::min(query_tile_, queries.count);
  const std::int64_t database_tile = std::min(database_tile_, database.count);
  scores_.resize(static_cast<std::size_t>(query_tile * database_tile));
  std::int64_t rescored = 0;
  for (std::int64_t q0 = 0; q0 < queries.count; q0 += query_tile) {
    const std::int64_t nq = std::min(query_tile, queries.count - q0);
    for (std::int64_t b0 = 0; b0 < database.count; b0 += database_tile) {
      const std::int64_t nb = std::min(database_tile, database.count - b0);
      similarity_tile(queries.rows + q0 * dim, static_cast<int>(nq), database.rows + b0 * dim, static_cast<int>(nb),
                      static_cast<int>(dim), scores_.data());
#pragma omp parallel reduction(+ : rescored) if (nq * nb >= kParallelTileScores)
      {
        std::vector<std::int32_t> picked;
        std::vector<float> scratch;
#pragma omp for schedule(dynamic, 16)
        for (std::int64_t i = 0; i < nq; ++i) {
          const std::int64_t q = q0 + i;
          const std::int64_t row_of_q = first_topk_row + q;
          const std::int64_t self = queries.ids ? queries.ids[q] : -1;
          const float* scores = scores_.data() + i * nb;
          const float* query = queries.rows + q * dim;
          // The query's own row may be anywhere among rows gathered from many ranks: the bar counts
          // one entry more instead of searching for it.
          float floor = topk.threshold(row_of_q) - slack;
          row_candidates(scores, nb, -1, topk.k() + (self >= 0 ? 1 : 0), slack, floor, picked, scratch);
          float bar = floor;
          for (const std::int32_t b : picked) {
            if (scores[b] < bar || database.ids[b0 + b] == self) continue;
            topk.offer(row_of_q, canonical_similarity(query, database.rows + (b0 + b) * dim, dim),
                       GlobalId(database.ids[b0 + b]));
            ++rescored;
            bar = std::max(floor, topk.threshold(row_of_q) - slack);
          }
        }
      }
    }
  }
  rescored_pairs_ += static_cast<double>(rescored);
}

}  // namespace weave::knn
