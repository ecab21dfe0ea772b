#include "knn/topk.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace weave::knn {

using Heap = faiss::CMin<float, std::int64_t>;

TopK::TopK(std::int64_t num_queries, int k)
    : nq_(num_queries),
      k_(k),
      values_(static_cast<std::size_t>(num_queries * k)),
      labels_(static_cast<std::size_t>(num_queries * k)),
      count_(static_cast<std::size_t>(num_queries), 0) {}

void TopK::offer(std::int64_t q, float similarity, GlobalId id) {
  float* v = values_.data() + q * k_;
  std::int64_t* l = labels_.data() + q * k_;
  const std::int64_t label = -id.value;
  if (count_[q] < k_) {
    faiss::heap_push<Heap>(static_cast<std::size_t>(++count_[q]), v, l, similarity, label);
  } else if (Heap::cmp2(v[0], similarity, l[0], label)) {  // root is worse than the candidate
    faiss::heap_replace_top<Heap>(static_cast<std::size_t>(k_), v, l, similarity, label);
  }
}

void TopK::finish(std::vector<std::int64_t>& ids, std::vector<float>& sims) {
  ids.assign(static_cast<std::size_t>(nq_ * k_), -1);
  sims.assign(static_cast<std::size_t>(nq_ * k_), std::numeric_limits<float>::quiet_NaN());
  std::vector<int> order(static_cast<std::size_t>(k_));
  for (std::int64_t q = 0; q < nq_; ++q) {
    const float* v = values_.data() + q * k_;
    const std::int64_t* l = labels_.data() + q * k_;
    const int n = count_[q];
    std::iota(order.begin(), order.begin() + n, 0);
    std::sort(order.begin(), order.begin() + n, [&](int a, int b) {
      return v[a] != v[b] ? v[a] > v[b] : -l[a] < -l[b];
    });
    for (int j = 0; j < n; ++j) {
      ids[q * k_ + j] = -l[order[j]];
      sims[q * k_ + j] = v[order[j]];
    }
  }
}

}  // namespace weave::knn
