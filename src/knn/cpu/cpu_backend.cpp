#include "knn/cpu/cpu_backend.hpp"

#include <algorithm>

#include "knn/cpu/row_search.hpp"
#include "weave/error.hpp"

namespace weave::knn {

void CpuBackend::begin(const RowBlock& queries, std::int64_t dim, int k, std::int64_t chunk_rows) {
  queries_ = queries;
  dim_ = dim;
  topk_.emplace(queries.count, k);
  if (comm_.size() > 1) {
    ring_.emplace(comm_, dim);
    for (auto& slot : slots_) slot.resize(static_cast<std::size_t>(chunk_rows * dim));
  }
}

const float* CpuBackend::rows_of(const Chunk& chunk) const {
  return chunk.slot == Chunk::kOwnRows ? queries_.rows + chunk.own_offset * dim_ : slots_[chunk.slot].data();
}

void CpuBackend::start_shift(const Chunk& send, int recv_slot, std::int64_t recv_rows) {
  WEAVE_ASSERT(ring_ && recv_slot != send.slot, "CpuBackend: bad shift");
  ring_->start(rows_of(send), send.count, slots_[recv_slot].data(), recv_rows);
}

double CpuBackend::finish_shift() { return ring_->wait(); }

void CpuBackend::search(const Chunk& held) {
  const float slack = float_dot_error_bound(dim_);
  const float* database = rows_of(held);
  TopK& topk = *topk_;
  scores_.resize(static_cast<std::size_t>(query_tile_ * database_tile_));
  std::int64_t rescored = 0;
  for (std::int64_t q0 = 0; q0 < queries_.count; q0 += query_tile_) {
    const std::int64_t nq = std::min(query_tile_, queries_.count - q0);
    for (std::int64_t b0 = 0; b0 < held.count; b0 += database_tile_) {
      const std::int64_t nb = std::min(database_tile_, held.count - b0);
      similarity_tile(queries_.rows + q0 * dim_, static_cast<int>(nq), database + b0 * dim_, static_cast<int>(nb),
                      static_cast<int>(dim_), scores_.data());
      const GlobalId db_first(held.first.value + b0);
#pragma omp parallel reduction(+ : rescored) if (nq * nb >= kParallelTileScores)
      {
        std::vector<std::int32_t> picked;
        std::vector<float> scratch;
#pragma omp for schedule(dynamic, 16)
        for (std::int64_t i = 0; i < nq; ++i) {
          const std::int64_t q = q0 + i;
          const std::int64_t self = queries_.first.value + q;
          const float* row = scores_.data() + i * nb;
          const float* qrow = queries_.rows + q * dim_;
          float floor = topk.threshold(q) - slack;
          row_candidates(row, nb, self - db_first.value, topk.k(), slack, floor, picked, scratch);
          float bar = floor;
          for (const std::int32_t b : picked) {
            if (row[b] < bar) continue;
            topk.offer(q, canonical_similarity(qrow, database + (b0 + b) * dim_, dim_), GlobalId(db_first.value + b));
            ++rescored;
            bar = std::max(floor, topk.threshold(q) - slack);
          }
        }
      }
      if (ring_) ring_->poll();  // lets MPI move the chunk in flight between tiles
    }
  }
  rescored_pairs_ += static_cast<double>(rescored);
}

KnnLists CpuBackend::finish() {
  KnnLists out;
  out.k = topk_->k();
  topk_->finish(out.neighbors, out.similarities);
  topk_.reset();
  return out;
}

}  // namespace weave::knn
