// A host range page-locked for the backend's streamed uploads. From pageable memory, cudaMemcpy
// stages the bytes through a driver buffer at a fraction of the bus's rate; own rows that do not
// fit the GPU are uploaded again per ring step, so they are locked once for all. Best effort:
// where the system refuses (locked-memory limits), the uploads stay pageable and only slower.
#pragma once

#include <cstddef>
#include <utility>

#include <cuda_runtime.h>

namespace weave::knn::cuda {

class PinnedHost {
 public:
  PinnedHost() = default;
  PinnedHost(const void* begin, std::size_t bytes) {
    if (bytes == 0) return;
    if (cudaHostRegister(const_cast<void*>(begin), bytes, cudaHostRegisterDefault) == cudaSuccess)
      begin_ = begin;
    else
      cudaGetLastError();  // not pinned: clear the error, the copies work from pageable memory
  }
  PinnedHost(PinnedHost&& other) noexcept : begin_(std::exchange(other.begin_, nullptr)) {}
  PinnedHost& operator=(PinnedHost&& other) noexcept {
    std::swap(begin_, other.begin_);
    return *this;
  }
  PinnedHost(const PinnedHost&) = delete;
  PinnedHost& operator=(const PinnedHost&) = delete;
  ~PinnedHost() {
    if (begin_) cudaHostUnregister(const_cast<void*>(begin_));
  }

  bool pinned() const { return begin_ != nullptr; }

 private:
  const void* begin_ = nullptr;
};

/// Page-locked host memory of its own (cudaHostAlloc): a staging buffer the DMA engine reads at the
/// bus's rate while the host fills another.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  /// bytes; `what` names the buffer if the allocation fails (UserError).
  PinnedBuffer(std::size_t bytes, const char* what);
  PinnedBuffer(PinnedBuffer&& other) noexcept : data_(std::exchange(other.data_, nullptr)) {}
  PinnedBuffer& operator=(PinnedBuffer&& other) noexcept {
    std::swap(data_, other.data_);
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() {
    if (data_) cudaFreeHost(data_);
  }

  std::byte* data() const { return static_cast<std::byte*>(data_); }

 private:
  void* data_ = nullptr;
};

}  // namespace weave::knn::cuda
