// The machine's SGEMM rate for the ring's tile shape (database_tile x query_tile x d), through the
// same BLAS (Debian's libblas.so.3 -> OpenBLAS) that weave knn uses. Prints one RESULT line.
// Usage: sgemm_rate D [QUERY_TILE DATABASE_TILE SECONDS]
#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

extern "C" int sgemm_(const char*, const char*, const int*, const int*, const int*, const float*, const float*,
                      const int*, const float*, const int*, const float*, float*, const int*);

int main(int argc, char** argv) {
  const int d = argc > 1 ? std::stoi(argv[1]) : 128;
  const int nq = argc > 2 ? std::stoi(argv[2]) : 1024;
  const int nb = argc > 3 ? std::stoi(argv[3]) : 4096;
  const double budget = argc > 4 ? std::stod(argv[4]) : 3.0;
  std::vector<float> q(static_cast<std::size_t>(nq) * d, 0.01f), db(static_cast<std::size_t>(nb) * d, 0.02f),
      c(static_cast<std::size_t>(nq) * nb);
  const float one = 1.0f, zero = 0.0f;
  auto call = [&] { sgemm_("T", "N", &nb, &nq, &d, &one, db.data(), &d, q.data(), &d, &zero, c.data(), &nb); };
  call();  // warm up (thread pool, page faults)
  int calls = 0;
  const auto t0 = std::chrono::steady_clock::now();
  double seconds = 0;
  while (seconds < budget) {
    call();
    ++calls;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  const double gflops = 2.0 * nq * nb * d * calls / seconds / 1e9;
  fmt::print("RESULT baseline=sgemm m={} n={} k={} calls={} seconds={:.3f} gflops={:.2f}\n", nb, nq, d, calls, seconds, gflops);
  return 0;
}
