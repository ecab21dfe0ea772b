// Records for each rank in one flat buffer, counted before they are written, then exchanged.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "util/release.hpp"
#include "util/uninit_vector.hpp"

namespace weave::mpi {

/// Records of `fields` 64-bit words, for each rank, in one flat buffer sized once: count every
/// record (count(rank)), allocate(), put every record in the same ranks' order (put(rank) returns
/// where its words go), then exchange(). Exchange buffers grown by doubling, or held as a vector
/// per rank, made a quarter of the order stage's page faults at 10^7 documents (order/stitch.cpp).
class FlatBoxes {
 public:
  FlatBoxes(int ranks, std::size_t fields) : counts_(static_cast<std::size_t>(ranks), 0), fields_(fields) {}
  void count(int rank) { ++counts_[static_cast<std::size_t>(rank)]; }
  /// After the counts: room for them all.
  void allocate() {
    next_.assign(counts_.size(), 0);
    for (std::size_t r = 1; r < counts_.size(); ++r) next_[r] = next_[r - 1] + counts_[r - 1];
    words_.resize(static_cast<std::size_t>(next_.back() + counts_.back()) * fields_);
  }
  std::int64_t* put(int rank) {
    return words_.data() + static_cast<std::size_t>(next_[static_cast<std::size_t>(rank)]++) * fields_;
  }
  /// Collective: what the ranks put for this one, in rank order (this object is emptied, and its
  /// buffer freed, so the memory is there for what the caller makes of the records). With
  /// `records_from`: how many records each rank sent.
  util::UninitVector<std::int64_t> exchange(const Comm& comm, std::vector<std::int64_t>* records_from = nullptr) {
    for (auto& c : counts_) c *= static_cast<std::int64_t>(fields_);
    std::vector<std::int64_t> received_counts;
    util::UninitVector<std::int64_t> received = comm.alltoallv_flat(words_, counts_, &received_counts);
    if (records_from) {
      records_from->assign(received_counts.begin(), received_counts.end());
      for (auto& c : *records_from) c /= static_cast<std::int64_t>(fields_);
    }
    util::release(words_);
    counts_.assign(counts_.size(), 0);
    return received;
  }

 private:
  std::vector<std::int64_t> counts_, next_;
  util::UninitVector<std::int64_t> words_;  ///< every record is put before the exchange
  std::size_t fields_;
};

}  // namespace weave::mpi
