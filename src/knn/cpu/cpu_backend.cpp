#include "knn/cpu/cpu_backend.hpp"

#include <algorithm>

extern "C" {
// Fortran BLAS (OpenBLAS through Debian's libblas.so.3 alternative), as faiss itself declares it.
int sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
           const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c, const int* ldc);
}

namespace weave::knn {

namespace {

/// scores[q * nb + b] = <database row b, query row q>, one SGEMM: S^T = D^T^T Q^T in column-major.
void similarity_tile(const float* queries, int nq, const float* database, int nb, int d, float* scores) {
  const float one = 1.0f, zero = 0.0f;
  sgemm_("T", "N", &nb, &nq, &d, &one, database, &d, queries, &d, &zero, scores, &nb);
}

}  // namespace

void CpuBackend::search(const RowBlock& queries, const RowBlock& database, std::int64_t dim, TopK& topk,
                        const std::function<void()>& between_tiles) {
  const float slack = float_dot_error_bound(dim);
  scores_.resize(static_cast<std::size_t>(query_tile_ * database_tile_));
  for (std::int64_t q0 = 0; q0 < queries.count; q0 += query_tile_) {
    const std::int64_t nq = std::min(query_tile_, queries.count - q0);
    for (std::int64_t b0 = 0; b0 < database.count; b0 += database_tile_) {
      const std::int64_t nb = std::min(database_tile_, database.count - b0);
      similarity_tile(queries.rows + q0 * dim, static_cast<int>(nq), database.rows + b0 * dim, static_cast<int>(nb),
                      static_cast<int>(dim), scores_.data());
      const GlobalId db_first(database.first.value + b0);
#pragma omp parallel for schedule(dynamic, 16)
      for (std::int64_t i = 0; i < nq; ++i) {
        const std::int64_t q = q0 + i;
        const std::int64_t self = queries.first.value + q;
        const float* row = scores_.data() + i * nb;
        const float* qrow = queries.rows + q * dim;
        float bar = topk.threshold(q) - slack;
        for (std::int64_t b = 0; b < nb; ++b) {
          if (row[b] < bar) continue;
          const std::int64_t id = db_first.value + b;
          if (id == self) continue;
          topk.offer(q, canonical_similarity(qrow, database.rows + (b0 + b) * dim, dim), GlobalId(id));
          bar = topk.threshold(q) - slack;
        }
      }
      between_tiles();
    }
  }
}

}  // namespace weave::knn
