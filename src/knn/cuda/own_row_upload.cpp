#include "knn/cuda/own_row_upload.hpp"

#include <algorithm>

#include "knn/cuda/cuda_check.hpp"
#include "knn/cuda/select_kernels.hpp"

namespace weave::knn::cuda {

OwnRowUpload::OwnRowUpload(const float* host_rows, std::int64_t rows, std::int64_t dim, std::int64_t piece_rows,
                           Target target)
    : host_rows_(host_rows), rows_(rows), dim_(dim), piece_rows_(std::max<std::int64_t>(1, piece_rows)),
      target_(target) {}

std::int64_t OwnRowUpload::queued_rows() const {
  return std::min(rows_, static_cast<std::int64_t>(done_.size()) * piece_rows_);
}

void OwnRowUpload::queue_through(std::int64_t row_end) {
  row_end = std::min(row_end, rows_);
  while (queued_rows() < row_end) {
    const std::int64_t first = queued_rows();
    const std::int64_t count = std::min(piece_rows_, rows_ - first);
    const float* host = host_rows_ + first * dim_;
    const auto bytes = static_cast<std::size_t>(count * dim_) * sizeof(float);
    check(cudaMemcpyAsync(target_.rows32 + first * dim_, host, bytes, cudaMemcpyHostToDevice, stream_.get()),
          "cudaMemcpyAsync(own rows)");
    convert_rows_to_bf16(target_.rows32 + first * dim_, count, dim_, target_.rows16 + first * dim_,
                         target_.norm + first, target_.residual + first, stream_.get());
    done_.push_back(std::make_unique<Event>());
    done_.back()->record(stream_);
  }
}

void OwnRowUpload::make_wait(const Stream& stream, std::int64_t row_end) {
  row_end = std::min(row_end, rows_);
  if (row_end <= 0) return;
  queue_through(row_end);
  // Pieces are queued in order on one stream: the one holding row_end - 1 done means all before it.
  done_[static_cast<std::size_t>((row_end - 1) / piece_rows_)]->make_wait(stream);
}

}  // namespace weave::knn::cuda
