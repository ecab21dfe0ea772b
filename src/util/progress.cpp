#include "util/progress.hpp"

#include <cmath>

#include "util/log.hpp"

namespace weave::util {

std::string format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.1f} {}", bytes, units[u]);
}

std::string format_seconds(double s) {
  if (!std::isfinite(s)) return "?";
  if (s < 60) return fmt::format("{:.1f} s", s);
  const auto total = static_cast<std::int64_t>(s + 0.5);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

namespace {
std::string format_rate(double per_second) {
  if (per_second >= 1e9) return fmt::format("{:.2f}G", per_second / 1e9);
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.1f}", per_second);
}
}  // namespace

Progress::Progress(const mpi::Comm& comm, std::string label, std::int64_t total, std::string unit, bool quiet,
                   double interval_seconds)
    : comm_(comm),
      label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      quiet_(quiet),
      interval_(interval_seconds),
      start_(Clock::now()),
      last_print_(start_) {}

void Progress::advance(std::int64_t local_done) {
  done_ += comm_.sum(local_done);
  if (quiet_ || !comm_.is_root()) return;
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_print_).count() < interval_) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : INFINITY;
  const double pct = total_ > 0 ? 100.0 * static_cast<double>(done_) / static_cast<double>(total_) : 100.0;
  print_root(comm_, "[{}] {:5.1f}% {}/{} {} {} {}/s ETA {}\n", label_, pct, done_, total_, unit_,
             format_rate(rate), unit_, format_seconds(eta));
}

void Progress::finish() {
  if (quiet_) return;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  print_root(comm_, "[{}] done: {} {} in {} ({} {}/s)\n", label_, done_, unit_, format_seconds(elapsed),
             format_rate(rate), unit_);
}

}  // namespace weave::util
