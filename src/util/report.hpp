// The --report FILE.json facility: per-stage wall time (min/mean/max over ranks, with the rank of
// each), counters summed over ranks (bytes moved, ...), the traffic of every rank through Comm
// since the report began, peak memory per rank, quality figures and the effective configuration. Stages and counters are recorded on every rank in the same order.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "mpi/comm.hpp"
#include "mpi/traffic.hpp"

namespace weave::util {

/// Peak resident set size of this process in bytes (getrusage).
std::int64_t peak_memory_bytes();

/// What the kernel did for this process so far (getrusage): first touches of fresh memory show as
/// page faults and system time, which can be a large share of a stage that allocates gigabytes.
struct KernelUsage {
  double page_faults = 0;     ///< minor and major
  double system_seconds = 0;  ///< CPU time in the kernel
};
KernelUsage kernel_usage();

class Report {
 public:
  Report(const mpi::Comm& comm, std::string command);

  class StageTimer {
   public:
    StageTimer(Report& report, std::string name);
    StageTimer(const StageTimer&) = delete;
    StageTimer& operator=(const StageTimer&) = delete;
    ~StageTimer();
    /// Stops the clock now (otherwise the destructor does).
    void stop();

   private:
    Report& report_;
    std::string name_;
    std::chrono::steady_clock::time_point start_;
    KernelUsage kernel_at_start_;
    double bytes_sent_at_start_;
    bool running_ = true;
  };

  /// Times a stage from now until the returned object is stopped or destroyed.
  StageTimer stage(std::string name) { return StageTimer(*this, std::move(name)); }
  /// Adds this rank's share of a counter (e.g. bytes sent); reported as total, min, max over ranks.
  void add_counter(const std::string& name, double local_value);
  /// A global figure (same value on every rank): quality, counts, ...
  void set_figure(const std::string& name, nlohmann::json value);
  void set_config(nlohmann::json config) { config_ = std::move(config); }

  /// Collective: reduces over ranks and returns the document (complete on rank 0).
  nlohmann::json collect() const;
  /// Collective: writes collect() to path via path.tmp + rename (rank 0). No-op for an empty path.
  void write(const std::string& path) const;

 private:
  const mpi::Comm& comm_;
  std::string command_;
  struct StageRecord {
    std::string name;
    double seconds;
    double peak_memory;    ///< this process's peak resident size when the stage ended
    double shared_memory;  ///< shared_memory_bytes() when the stage ended
    KernelUsage kernel;  ///< page faults and system time during the stage
    double bytes_sent;   ///< point-to-point bytes sent to other ranks during the stage
  };
  std::vector<StageRecord> stages_;                       ///< this rank's stages, in order
  std::vector<std::pair<std::string, double>> counters_;  ///< this rank's values, in order
  nlohmann::json figures_ = nlohmann::json::object();
  nlohmann::json config_ = nlohmann::json::object();
  mpi::Traffic traffic_at_start_;
};

}  // namespace weave::util
