#include "run/pipeline.hpp"

#include <filesystem>

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "corpus/synth.hpp"
#include "dedup/dedup_stage.hpp"
#include "io/hdf5.hpp"
#include "knn/knn_stage.hpp"
#include "mpi/collective_error.hpp"
#include "order/order_stage.hpp"
#include "pack/pack_stage.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::run {

namespace {

namespace fs = std::filesystem;

constexpr const char* kStampAttribute = "weave_run_hash";

/// FNV-1a, 64 bits, as hex: stable across machines and runs (std::hash is not).
std::string fingerprint(const std::string& text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", h);
}

/// An existing corpus's identity: its files with sizes and modification times.
std::string corpus_identity(const mpi::Comm& comm, const std::string& path) {
  const auto shards = corpus::resolve_shards(comm, path);
  std::string id;
  if (comm.is_root()) {
    nlohmann::json files = nlohmann::json::array();
    std::error_code ec;
    files.push_back({path, static_cast<std::int64_t>(fs::file_size(path, ec)),
                     static_cast<std::int64_t>(fs::last_write_time(path, ec).time_since_epoch().count())});
    for (const auto& s : shards)
      files.push_back({s, static_cast<std::int64_t>(fs::file_size(s, ec)),
                       static_cast<std::int64_t>(fs::last_write_time(s, ec).time_since_epoch().count())});
    id = files.dump();
  }
  return comm.bcast_string(id, 0);
}

/// The stamp of an existing output ("" if missing or unstamped), read by rank 0.
std::string read_stamp(const mpi::Comm& comm, const std::string& path) {
  std::string stamp;
  if (comm.is_root()) {
    std::error_code ec;
    if (fs::exists(path, ec)) {
      try {
        const mpi::Comm self = mpi::Comm::self();
        const io::File f = io::File::open(self, path);
        stamp = io::read_string_attribute(f, "/", kStampAttribute).value_or("");
      } catch (const std::exception&) {
        stamp.clear();  // unreadable: redo the stage
      }
    }
  }
  return comm.bcast_string(stamp, 0);
}

void write_stamp(const mpi::Comm& comm, const std::string& path, const std::string& stamp) {
  mpi::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const mpi::Comm self = mpi::Comm::self();
    io::File f = io::File::open_rw(self, path);
    io::write_attribute(f, "/", kStampAttribute, stamp);
    f.close();
  });
}

/// Runs `stage` unless every output already carries `stamp` (and every unstamped output, a file of
/// another format written by the same stage before the stamped ones are stamped, exists); stamps
/// the outputs after it ran.
template <typename Stage>
void step(const mpi::Comm& comm, const char* name, const std::vector<std::string>& outputs, const std::string& stamp,
          bool quiet, Stage&& stage, const std::vector<std::string>& unstamped = {}) {
  bool fresh = true;
  for (const auto& o : outputs) fresh = fresh && read_stamp(comm, o) == stamp;
  std::int64_t missing = 0;
  if (comm.is_root())
    for (const auto& o : unstamped) missing += fs::exists(o) ? 0 : 1;
  fresh = fresh && comm.bcast_value(missing, 0) == 0;
  if (fresh) {
    if (!quiet) util::print_root(comm, "[run] {}: up to date ({}), skipped\n", name, fmt::join(outputs, ", "));
    return;
  }
  if (!quiet) util::print_root(comm, "[run] {}: running\n", name);
  stage();
  for (const auto& o : outputs) write_stamp(comm, o, stamp);
}

/// The stages in order, each skipped when its outputs are up to date.
void run_stages(const mpi::Comm& comm, const RunConfig& config, const CommonOptions& common) {
  util::Report report(comm, "run");
  report.set_config(config.to_json());
  CommonOptions stage_common = common;
  stage_common.report_path.clear();  // one report for the whole run

  // Each stamp covers the stage's parameters and the stamps of its inputs.
  const std::string corpus_stamp =
      config.synthesize ? fingerprint("synth" + to_json(config.synth).dump())
                        : fingerprint("corpus" + corpus_identity(comm, config.knn.corpus.path));
  if (config.synthesize)
    step(comm, "synth", {config.synth.out}, corpus_stamp, common.quiet,
         [&] { corpus::write_synth_corpus(comm, config.synth, common.quiet, report); });
  const std::string knn_stamp = fingerprint(corpus_stamp + to_json(config.knn).dump());
  step(comm, "knn", {config.knn.out}, knn_stamp, common.quiet,
       [&] { knn::run_knn_stage(comm, config.knn, stage_common, report); });
  std::string dedup_stamp;
  if (config.dedup_enabled) {
    dedup_stamp = fingerprint(knn_stamp + to_json(config.dedup).dump());
    step(comm, "dedup", {config.dedup.out}, dedup_stamp, common.quiet,
         [&] { dedup::run_dedup_stage(comm, config.dedup, stage_common, report); });
  }
  const std::string order_stamp = fingerprint(knn_stamp + dedup_stamp + to_json(config.order).dump());
  step(comm, "order", {config.order.out}, order_stamp, common.quiet,
       [&] { order::run_order_stage(comm, config.order, stage_common, report); });
  const std::string pack_stamp = fingerprint(order_stamp + to_json(config.pack).dump());
  std::vector<std::string> pack_outputs;
  std::vector<std::string> dataset_files;  // Megatron .bin/.idx: no HDF5 attribute to stamp
  for (auto L : config.pack.context_lengths) {
    pack_outputs.push_back(config.pack.output_for(L));
    if (!config.pack.dataset.empty())
      for (const char* suffix : {".bin", ".idx"}) dataset_files.push_back(config.pack.dataset_for(L) + suffix);
  }
  step(comm, "pack", pack_outputs, pack_stamp, common.quiet,
       [&] { pack::run_pack_stage(comm, config.pack, stage_common, report); }, dataset_files);
  mpi::collectively(comm, [&] { report.write(common.report_path); });
  if (!common.quiet) util::print_root(comm, "[run] done: {}\n", fmt::join(pack_outputs, ", "));
}

}  // namespace

void run_pipeline(const mpi::Comm& comm, const RunConfig& config, const CommonOptions& common) {
  bool created_out_dir = false;  // on rank 0
  mpi::collectively(comm, [&] {
    if (!comm.is_root()) return;
    std::error_code ec;
    created_out_dir = fs::create_directories(config.out_dir, ec);
    if (ec) throw UserError(fmt::format("{}: cannot create the output folder: {}", config.out_dir, ec.message()));
  });
  try {
    run_stages(comm, config, common);
  } catch (...) {
    // A failed run leaves no empty folder it made for nothing; outputs of finished stages stay (resume).
    if (created_out_dir) {
      std::error_code ec;
      if (fs::is_empty(config.out_dir, ec) && !ec) fs::remove(config.out_dir, ec);
    }
    throw;
  }
}

}  // namespace weave::run
