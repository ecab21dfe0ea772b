#include "knn/cuda/own_rows.hpp"

#include <algorithm>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/select_kernels.hpp"

namespace weave::knn::cuda {

OwnRows::OwnRows(const RowBlock& rows, std::int64_t dim, std::int64_t resident_rows, std::int64_t piece_rows,
                 std::int64_t chunk_rows)
    : rows_(rows),
      dim_(dim),
      resident_rows_(std::clamp<std::int64_t>(resident_rows, 1, std::max<std::int64_t>(rows.count, 1))) {
  const auto n = static_cast<std::size_t>(rows.count);
  const auto d = static_cast<std::size_t>(dim);
  const auto resident = static_cast<std::size_t>(resident_rows_);
  // Largest first, so an out-of-memory message names the buffer that matters.
  rows32_ = DeviceArray<float>(resident * d, "the queries (float32)");
  rows16_ = DeviceArray<std::uint16_t>(resident * d, "the queries (bfloat16)");
  if (streaming())
    chunk32_ = DeviceArray<float>(static_cast<std::size_t>(chunk_rows) * d, "a chunk of own rows (streamed)");
  norm_ = DeviceArray<float>(n, "the query norms");
  residual_ = DeviceArray<float>(n, "the query norms");
  if (streaming()) {
    // The sub-blocks are uploaded again and again: page-locked to the end.
    pinned_ = PinnedHost(rows.rows, n * d * sizeof(float));
    make_resident(0);
  } else {
    uploads_.emplace(rows.rows, rows.count, dim, piece_rows,
                     OwnRowUpload::Target{rows32_.data(), rows16_.data(), norm_.data(), residual_.data()});
    resident_first_ = 0;
  }
}

void OwnRows::make_wait(const Stream& stream, std::int64_t row_end) {
  if (uploads_) uploads_->make_wait(stream, row_end);
}

void OwnRows::make_resident(std::int64_t s0) {
  if (resident_first_ == s0) return;
  const std::int64_t rows = std::min(resident_rows_, rows_.count - s0);
  check(cudaMemcpyAsync(rows32_.data(), rows_.rows + s0 * dim_, static_cast<std::size_t>(rows * dim_) * 4,
                        cudaMemcpyHostToDevice, stream_.get()),
        "cudaMemcpyAsync(queries)");
  convert_rows_to_bf16(rows32_.data(), rows, dim_, rows16_.data(), norm_.data() + s0, residual_.data() + s0,
                       stream_.get());
  stream_.synchronize();
  resident_first_ = s0;
  ++query_uploads_;
}

const float* OwnRows::chunk_rows32(const Chunk& chunk) {
  if (!streaming()) return rows32_.data() + chunk.own_offset * dim_;
  if (chunk_offset_ != chunk.own_offset) {
    // Waited for: from pageable memory even cudaMemcpy may return before its DMA lands, and the
    // default stream does not order the non-blocking streams of the search (this raced).
    check(cudaMemcpyAsync(chunk32_.data(), rows_.rows + chunk.own_offset * dim_,
                          static_cast<std::size_t>(chunk.count * dim_) * 4, cudaMemcpyHostToDevice, stream_.get()),
          "cudaMemcpyAsync(own rows)");
    stream_.synchronize();
    chunk_offset_ = chunk.own_offset;
  }
  return chunk32_.data();
}

}  // namespace weave::knn::cuda
