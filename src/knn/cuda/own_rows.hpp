// A rank's own rows on its GPU: the queries of its lists and, in turn, a chunk of the ring's
// database. FP32 (for the canonical re-score), BF16 (for the GEMMs) and the norms of the error bound.
//
// Two ways, chosen by resident_rows:
// - all resident (resident_rows >= the rows): they go up piece by piece while the first ring step
//   searches (OwnRowUpload), and work that needs rows [0, r) waits for their pieces (make_wait);
// - streamed (fewer): a sub-block of resident_rows queries is on the GPU at a time (make_resident),
//   and an own chunk the ring searches or sends is uploaded into a chunk buffer of its own
//   (chunk_rows32). The host rows are page-locked for the repeated uploads where the system allows.
#pragma once

#include <cstdint>
#include <optional>

#include "knn/backend.hpp"
#include "knn/cuda/device_array.hpp"
#include "knn/cuda/own_row_upload.hpp"
#include "knn/cuda/pinned_host.hpp"
#include "knn/cuda/stream.hpp"

namespace weave::knn::cuda {

class OwnRows {
 public:
  /// rows: read until destruction. piece_rows: the upload piece (all resident). chunk_rows: the
  /// largest own chunk (streamed).
  OwnRows(const RowBlock& rows, std::int64_t dim, std::int64_t resident_rows, std::int64_t piece_rows,
          std::int64_t chunk_rows);

  bool streaming() const { return resident_rows_ < rows_.count; }

  /// All resident: uploads of rows [0, row_end) are queued (queue them with make_wait).
  bool queued_through(std::int64_t row_end) const { return !uploads_ || uploads_->queued_rows() >= row_end; }
  /// All resident: some rows are not queued for upload yet.
  bool uploading() const { return !queued_through(rows_.count); }
  /// Work queued on `stream` from now on waits until rows [0, row_end) are on the GPU (FP32, BF16,
  /// norms); queues their uploads if need be. Streamed: nothing to wait for (see make_resident).
  void make_wait(const Stream& stream, std::int64_t row_end);

  /// Streamed: rows [s0, s0 + resident_rows) become the resident queries (FP32, BF16, norms), on
  /// the GPU when this returns. The caller makes sure no queued work still reads the ones before.
  bool is_resident(std::int64_t s0) const { return resident_first_ == s0; }
  void make_resident(std::int64_t s0);

  /// Resident query row q (q counts from the rank's first row; q in the resident sub-block).
  const float* rows32(std::int64_t q) const { return rows32_.data() + (q - resident_first_) * dim_; }
  const std::uint16_t* rows16(std::int64_t q) const { return rows16_.data() + (q - resident_first_) * dim_; }
  /// The norms of any row already resident once (they are kept for every row).
  const float* norm(std::int64_t q) const { return norm_.data() + q; }
  const float* residual(std::int64_t q) const { return residual_.data() + q; }

  /// The FP32 rows of an own chunk, on the GPU: resident, or (streamed) uploaded into the chunk
  /// buffer when this returns.
  const float* chunk_rows32(const Chunk& chunk);

  std::size_t bytes() const {
    return rows32_.bytes() + rows16_.bytes() + chunk32_.bytes() + norm_.bytes() + residual_.bytes();
  }
  std::int64_t query_uploads() const { return query_uploads_; }
  std::int64_t upload_pieces() const { return uploads_ ? uploads_->pieces() : 0; }
  bool pinned() const { return pinned_.pinned(); }

 private:
  RowBlock rows_;
  std::int64_t dim_;
  std::int64_t resident_rows_;
  std::int64_t resident_first_ = -1;
  std::int64_t chunk_offset_ = -1;  ///< streamed: the own rows in chunk32_
  std::int64_t query_uploads_ = 0;
  DeviceArray<float> rows32_;
  DeviceArray<std::uint16_t> rows16_;
  DeviceArray<float> chunk32_;
  DeviceArray<float> norm_;  ///< per row: |bf16 row|, |row - bf16 row| (the slack's inputs)
  DeviceArray<float> residual_;
  Stream stream_;  ///< streamed uploads
  PinnedHost pinned_;
  std::optional<OwnRowUpload> uploads_;  ///< all resident
};

}  // namespace weave::knn::cuda
