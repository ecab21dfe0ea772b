#include "util/report.hpp"

#include <sys/resource.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "util/memory.hpp"
#include "weave/error.hpp"
#include "weave/version.hpp"

namespace weave::util {

std::int64_t peak_memory_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

KernelUsage kernel_usage() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return {static_cast<double>(usage.ru_minflt) + static_cast<double>(usage.ru_majflt),
          static_cast<double>(usage.ru_stime.tv_sec) + 1e-6 * static_cast<double>(usage.ru_stime.tv_usec)};
}

Report::Report(const mpi::Comm& comm, std::string command)
    : comm_(comm), command_(std::move(command)), traffic_at_start_(mpi::traffic()) {}

Report::StageTimer::StageTimer(Report& report, std::string name)
    : report_(report),
      name_(std::move(name)),
      start_(std::chrono::steady_clock::now()),
      kernel_at_start_(kernel_usage()),
      bytes_sent_at_start_(mpi::traffic().bytes_sent) {}

Report::StageTimer::~StageTimer() { stop(); }

void Report::StageTimer::stop() {
  if (!running_) return;
  running_ = false;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const KernelUsage now = kernel_usage();
  report_.stages_.push_back({name_, s, static_cast<double>(peak_memory_bytes()),
                             static_cast<double>(shared_memory_bytes()),
                             {now.page_faults - kernel_at_start_.page_faults,
                              now.system_seconds - kernel_at_start_.system_seconds},
                             mpi::traffic().bytes_sent - bytes_sent_at_start_});
}

void Report::add_counter(const std::string& name, double local_value) {
  for (auto& [n, v] : counters_) {
    if (n == name) {
      v += local_value;
      return;
    }
  }
  counters_.emplace_back(name, local_value);
}

void Report::set_figure(const std::string& name, nlohmann::json value) { figures_[name] = std::move(value); }

namespace {
/// min/mean/max over ranks of one value, with the rank of the min and the max.
nlohmann::json spread(const std::vector<double>& per_rank) {
  std::size_t lo = 0, hi = 0;
  double total = 0;
  for (std::size_t r = 0; r < per_rank.size(); ++r) {
    if (per_rank[r] < per_rank[lo]) lo = r;
    if (per_rank[r] > per_rank[hi]) hi = r;
    total += per_rank[r];
  }
  return {{"min", per_rank[lo]},
          {"min_rank", lo},
          {"mean", total / static_cast<double>(per_rank.size())},
          {"max", per_rank[hi]},
          {"max_rank", hi},
          {"total", total}};
}
}  // namespace

nlohmann::json Report::collect() const {
  const mpi::Traffic moved = mpi::traffic() - traffic_at_start_;  // before collect's own collectives
  // Every rank records the same stages and counters in the same order; check before reducing.
  const auto n_stages = comm_.allgather<std::int64_t>(static_cast<std::int64_t>(stages_.size()));
  const auto n_counters = comm_.allgather<std::int64_t>(static_cast<std::int64_t>(counters_.size()));
  for (int r = 0; r < comm_.size(); ++r)
    WEAVE_ASSERT(n_stages[r] == n_stages[0] && n_counters[r] == n_counters[0],
                 "report: ranks recorded different stages or counters");
  nlohmann::json doc;
  doc["creator"] = "weave";
  doc["creator_version"] = kVersion;
  doc["command"] = command_;
  doc["ranks"] = comm_.size();
  doc["configuration"] = config_;
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& [name, seconds, peak, shared, kernel, sent] : stages_) {
    nlohmann::json s = spread(comm_.allgather<double>(seconds));
    s.erase("total");
    nlohmann::json m = spread(comm_.allgather<double>(peak));
    m.erase("total");
    nlohmann::json sh = spread(comm_.allgather<double>(shared));
    sh.erase("total");
    stages.push_back({{"stage", name},
                      {"wall_seconds", s},
                      {"peak_memory_bytes", m},
                      {"shared_memory_bytes", sh},
                      {"page_faults", spread(comm_.allgather<double>(kernel.page_faults))},
                      {"system_seconds", spread(comm_.allgather<double>(kernel.system_seconds))},
                      {"bytes_sent", spread(comm_.allgather<double>(sent))}});
  }
  doc["stages"] = stages;
  nlohmann::json counters = nlohmann::json::object();
  for (const auto& [name, value] : counters_) counters[name] = spread(comm_.allgather<double>(value));
  doc["counters"] = counters;
  doc["traffic"] = {{"bytes_sent", spread(comm_.allgather<double>(moved.bytes_sent))},
                    {"bytes_received", spread(comm_.allgather<double>(moved.bytes_received))},
                    {"messages_sent", spread(comm_.allgather<double>(static_cast<double>(moved.messages_sent)))},
                    {"collectives", spread(comm_.allgather<double>(static_cast<double>(moved.collectives)))},
                    {"collective_bytes", spread(comm_.allgather<double>(moved.collective_bytes))}};
  auto mem = comm_.allgather<double>(static_cast<double>(peak_memory_bytes()));
  nlohmann::json m = spread(mem);
  m.erase("total");
  doc["peak_memory_bytes"] = m;
  nlohmann::json sh = spread(comm_.allgather<double>(static_cast<double>(shared_memory_bytes())));
  sh.erase("total");
  doc["shared_memory_bytes"] = sh;
  doc["figures"] = figures_;
  return doc;
}

void Report::write(const std::string& path) const {
  if (path.empty()) return;
  const nlohmann::json doc = collect();
  if (!comm_.is_root()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    if (!out) throw UserError(fmt::format("{}: cannot write the report (does the folder exist?)", path));
    out << doc.dump(2) << "\n";
    if (!out) throw UserError(fmt::format("{}: error while writing the report", path));
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace weave::util
