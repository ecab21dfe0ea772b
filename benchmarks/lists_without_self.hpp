// For the faiss baselines: their k+1 results per query (the query itself among them) written as k
// int64 ids per row without the query, padded with -1, for the benchmarks' numpy checks.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

inline void write_lists_without_self(const std::string& path, const std::vector<std::int64_t>& ids, std::int64_t n,
                                     int k) {
  std::ofstream out(path, std::ios::binary);
  for (std::int64_t q = 0; q < n; ++q) {
    int written = 0;
    for (int j = 0; j <= k && written < k; ++j) {
      const std::int64_t id = ids[q * (k + 1) + j];
      if (id == q) continue;
      out.write(reinterpret_cast<const char*>(&id), sizeof id);
      ++written;
    }
    for (; written < k; ++written) {
      const std::int64_t none = -1;
      out.write(reinterpret_cast<const char*>(&none), sizeof none);
    }
  }
}
