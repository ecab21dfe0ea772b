// Owning arrays in GPU memory (plain cudaMalloc). Running out of GPU memory is a sizing problem
// the user can fix, so it is a UserError that says which buffer did not fit and what to lower.
#pragma once

#include <cstddef>
#include <utility>

#include <cuda_runtime.h>

namespace weave::knn::cuda {

/// Throws UserError: `bytes` for `what` did not fit on the current GPU (with the free memory).
[[noreturn]] void throw_out_of_gpu_memory(std::size_t bytes, const char* what);

template <typename T>
class DeviceArray {
 public:
  DeviceArray() = default;
  /// count elements; `what` names the buffer in the out-of-memory message.
  DeviceArray(std::size_t count, const char* what) : count_(count) {
    if (count == 0) return;
    const cudaError_t status = cudaMalloc(&data_, count * sizeof(T));
    if (status != cudaSuccess) {
      cudaGetLastError();  // reset the last-error state so later checks see their own errors
      data_ = nullptr;
      throw_out_of_gpu_memory(count * sizeof(T), what);
    }
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& other) noexcept { *this = std::move(other); }
  DeviceArray& operator=(DeviceArray&& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(count_, other.count_);
    return *this;
  }
  ~DeviceArray() {
    if (data_) cudaFree(data_);
  }

  T* data() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace weave::knn::cuda
