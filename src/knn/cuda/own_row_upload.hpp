// The own rows of a rank, uploaded to the GPU piece by piece while the search runs.
//
// All of a rank's rows (3 GB for 1M x 768) used to go up before the first tile: 0.15 s to
// page-lock them, 0.06 s to copy, 0.06 s to unlock, the GPU idle all the while. Here each piece of
// piece_rows rows is copied and converted to BF16 (with its norms) on a stream of its own when the
// search first needs it, and an event marks it done; the search orders its tiles so that the first
// ones need only the first pieces (CudaBackend::search, over OwnRows), and the copies overlap the GEMMs.
// The copies come from pageable memory: the host thread stages each piece (the call returns when
// it is staged) while the GPU works on the tiles queued before; locking pieces instead would need
// page-aligned piece ends, which the caller's rows do not have.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "knn/cuda/stream.hpp"

namespace weave::knn::cuda {

class OwnRowUpload {
 public:
  /// Where the rows go: the FP32 rows, their BF16 copy, their norms and residuals
  /// (convert_rows_to_bf16), row i at offset i (times dim for the rows).
  struct Target {
    float* rows32 = nullptr;
    std::uint16_t* rows16 = nullptr;
    float* norm = nullptr;
    float* residual = nullptr;
  };
  /// host_rows: rows x dim floats, read until finish().
  OwnRowUpload(const float* host_rows, std::int64_t rows, std::int64_t dim, std::int64_t piece_rows, Target target);

  /// Queues the uploads of the pieces not queued yet that hold a row before row_end.
  void queue_through(std::int64_t row_end);
  /// queue_through(row_end); then work queued on `stream` from now on waits until rows [0, row_end)
  /// are on the GPU (FP32, BF16 and norms).
  void make_wait(const Stream& stream, std::int64_t row_end);
  /// Rows [0, queued_rows()) have their uploads queued.
  std::int64_t queued_rows() const;
  /// Pieces queued so far.
  std::int64_t pieces() const { return static_cast<std::int64_t>(done_.size()); }
  /// Waits for every queued upload.
  void finish() { stream_.synchronize(); }

 private:
  const float* host_rows_;
  std::int64_t rows_;
  std::int64_t dim_;
  std::int64_t piece_rows_;
  Target target_;
  Stream stream_;
  std::vector<std::unique_ptr<Event>> done_;  ///< per queued piece
};

}  // namespace weave::knn::cuda
