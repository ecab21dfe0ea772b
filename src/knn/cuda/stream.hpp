// Owning CUDA streams and events (every call checked), for the backend's three streams and the
// places that need a stream or a timer for a moment (the NCCL warm-up, the GEMM autotuning).
#pragma once

#include <cuda_runtime.h>

#include "knn/cuda/cuda_check.hpp"

namespace weave::knn::cuda {

/// A non-blocking stream: it does not wait for the legacy default stream, nor that one for it.
class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  ~Stream() { cudaStreamDestroy(stream_); }
  cudaStream_t get() const { return stream_; }
  void synchronize() const { check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  /// timing: the event can be used with elapsed_ms (costs a little; off for ordering only).
  explicit Event(bool timing = false) {
    check(cudaEventCreateWithFlags(&event_, timing ? cudaEventDefault : cudaEventDisableTiming), "cudaEventCreate");
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  ~Event() { cudaEventDestroy(event_); }
  void record(cudaStream_t stream) { check(cudaEventRecord(event_, stream), "cudaEventRecord"); }
  void record(const Stream& stream) { record(stream.get()); }
  /// Work queued on `stream` from now on waits for the work this event last recorded.
  void make_wait(const Stream& stream) const {
    check(cudaStreamWaitEvent(stream.get(), event_, 0), "cudaStreamWaitEvent");
  }
  void synchronize() const { check(cudaEventSynchronize(event_), "cudaEventSynchronize"); }
  /// Milliseconds from `start` to this event (both timing events, both complete).
  float elapsed_ms(const Event& start) const {
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start.event_, event_), "cudaEventElapsedTime");
    return ms;
  }

 private:
  cudaEvent_t event_ = nullptr;
};

}  // namespace weave::knn::cuda
