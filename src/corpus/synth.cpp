#include "corpus/synth.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "corpus/half_precision.hpp"
#include "io/atomic_output.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "util/progress.hpp"
#include "util/config_json.hpp"
#include "util/random.hpp"
#include "util/report.hpp"
#include "weave/ids.hpp"
#include "weave/version.hpp"

namespace weave::corpus {

namespace {
// Independent random streams per purpose, so changing one option does not reshuffle the others.
enum Stream : std::uint64_t { kCentroid = 1, kDuplicate, kTopic, kNoise, kLength, kSource, kDuplicateNoise };
constexpr std::int64_t kDuplicateWindow = 1000;  ///< a duplicate copies one of the 1000 previous documents
}  // namespace

SynthGenerator::SynthGenerator(const SynthConfig& config) : config_(config) {
  const int d = config.dim;
  centroids_.resize(static_cast<std::size_t>(config.topics) * d);
  for (int t = 0; t < config.topics; ++t) {
    util::CounterRng rng(config.seed, kCentroid, static_cast<std::uint64_t>(t));
    float* c = centroids_.data() + static_cast<std::size_t>(t) * d;
    double norm2 = 0;
    for (int j = 0; j < d; ++j) {
      c[j] = static_cast<float>(rng.normal());
      norm2 += static_cast<double>(c[j]) * c[j];
    }
    const double inv = 1.0 / std::sqrt(norm2);
    for (int j = 0; j < d; ++j) c[j] = static_cast<float>(c[j] * inv);
  }
}

bool SynthGenerator::is_duplicate(std::int64_t id) const {
  if (id == 0 || config_.duplicate_share <= 0) return false;
  util::CounterRng rng(config_.seed, kDuplicate, static_cast<std::uint64_t>(id));
  return rng.uniform() < config_.duplicate_share;
}

void SynthGenerator::original(std::int64_t id, float* x, std::int32_t& topic) const {
  const int d = config_.dim;
  util::CounterRng topic_rng(config_.seed, kTopic, static_cast<std::uint64_t>(id));
  topic = static_cast<std::int32_t>(topic_rng.below(static_cast<std::uint64_t>(config_.topics)));
  const float* c = centroids_.data() + static_cast<std::size_t>(topic) * d;
  util::CounterRng noise(config_.seed, kNoise, static_cast<std::uint64_t>(id));
  // Noise of expected norm topic_spread (each coordinate N(0, spread^2 / d)).
  const double scale = config_.topic_spread / std::sqrt(static_cast<double>(d));
  for (int j = 0; j < d; ++j) x[j] = static_cast<float>(c[j] + scale * noise.normal());
}

std::int64_t SynthGenerator::length_of(std::int64_t id) const {
  util::CounterRng rng(config_.seed, kLength, static_cast<std::uint64_t>(id));
  const double len = config_.median_tokens * std::exp(config_.length_sigma * rng.normal());
  const double clamped = std::clamp(std::round(len), static_cast<double>(config_.min_tokens),
                                    static_cast<double>(config_.max_tokens));
  return static_cast<std::int64_t>(clamped);
}

SynthDocument SynthGenerator::generate(std::int64_t id, float* x) const {
  SynthDocument doc;
  util::CounterRng source_rng(config_.seed, kSource, static_cast<std::uint64_t>(id));
  doc.source = static_cast<std::int32_t>(source_rng.below(static_cast<std::uint64_t>(config_.sources)));
  if (!is_duplicate(id)) {
    original(id, x, doc.topic);
    doc.length = length_of(id);
    return doc;
  }
  // A near-copy of an earlier original: walk back from a random earlier document to an original.
  util::CounterRng rng(config_.seed, kDuplicate, static_cast<std::uint64_t>(id));
  rng.uniform();  // the draw is_duplicate() used
  std::int64_t j = id - 1 - static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(std::min(id, kDuplicateWindow))));
  while (is_duplicate(j)) --j;  // document 0 is never a duplicate
  original(j, x, doc.topic);
  doc.length = length_of(j);
  doc.duplicate_of = j;
  util::CounterRng noise(config_.seed, kDuplicateNoise, static_cast<std::uint64_t>(id));
  const double scale = config_.duplicate_noise / std::sqrt(static_cast<double>(config_.dim));
  for (int k = 0; k < config_.dim; ++k) x[k] = static_cast<float>(x[k] + scale * noise.normal());
  return doc;
}

void write_synth_corpus(const mpi::Comm& comm, const SynthConfig& config, bool quiet, util::Report& report) {
  mpi::collectively(comm, [&] { config.validate(); });
  mpi::collectively(comm, [&] {
    if (config.docs < comm.size())
      throw UserError(fmt::format("--docs {} is smaller than the {} ranks of this job", config.docs, comm.size()));
  });
  // Before any work: the output path, with room for the embeddings and four per-document columns.
  const double row_bytes = static_cast<double>(config.dim) * (config.dtype == EmbeddingDtype::kFloat32 ? 4 : 2) + 24;
  io::check_output_path(comm, config.out, static_cast<double>(config.docs) * row_bytes);
  auto timer = report.stage("synth");
  const SynthGenerator generator(config);
  const std::int64_t d = config.dim;
  const BlockRange mine = block_range(config.docs, comm.size(), comm.rank());

  io::AtomicOutput output(comm, config.out);
  {
    std::optional<io::File> created;
    mpi::collectively(comm, [&] { created.emplace(io::File::create(comm, output.tmp_path())); });
    io::File& file = *created;
    io::StoredType emb_type = io::StoredType::kFloat32;
    if (config.dtype == EmbeddingDtype::kFloat16) emb_type = io::StoredType::kFloat16;
    if (config.dtype == EmbeddingDtype::kBFloat16) emb_type = io::StoredType::kUint16;
    io::create_dataset(file, "/embeddings", emb_type, {config.docs, d});
    io::create_dataset(file, "/lengths", io::StoredType::kInt32, {config.docs});
    io::create_dataset(file, "/doc_ids", io::StoredType::kInt64, {config.docs});
    io::create_dataset(file, "/sources", io::StoredType::kInt32, {config.docs});
    io::create_dataset(file, "/topics", io::StoredType::kInt32, {config.docs});
    if (config.dtype == EmbeddingDtype::kBFloat16) io::write_attribute(file, "/embeddings", "dtype", std::string("bfloat16"));

    // Chunks of ~16 MiB of embeddings; every rank makes the same number of collective writes.
    const std::int64_t chunk = std::max<std::int64_t>(1, (std::int64_t{4} << 20) / d);
    const std::int64_t steps = comm.max((mine.size() + chunk - 1) / chunk);
    util::Progress progress(comm, "synth", config.docs, "docs", quiet);
    std::vector<float> emb;
    std::vector<std::uint16_t> emb16;
    std::vector<std::int32_t> lengths, sources, topics;
    std::vector<std::int64_t> ids;
    for (std::int64_t s = 0; s < steps; ++s) {
      const std::int64_t begin = std::min(mine.begin + s * chunk, mine.end);
      const std::int64_t n = std::min(chunk, mine.end - begin);
      emb.resize(static_cast<std::size_t>(n * d));
      lengths.resize(n), sources.resize(n), topics.resize(n), ids.resize(n);
      for (std::int64_t i = 0; i < n; ++i) {
        const SynthDocument doc = generator.generate(begin + i, emb.data() + i * d);
        lengths[i] = static_cast<std::int32_t>(doc.length);
        sources[i] = doc.source;
        topics[i] = doc.topic;
        ids[i] = config.first_doc_id + begin + i;
      }
      if (config.dtype == EmbeddingDtype::kBFloat16) {
        emb16.resize(emb.size());
        std::transform(emb.begin(), emb.end(), emb16.begin(), float_to_bfloat16);
        io::write_rows(file, "/embeddings", begin, n, d, emb16.data());
      } else if (config.dtype == EmbeddingDtype::kFloat16) {
        emb16.resize(emb.size());
        std::transform(emb.begin(), emb.end(), emb16.begin(), float_to_half);
        io::write_float16_rows(file, "/embeddings", begin, n, d, emb16.data());
      } else {
        io::write_rows(file, "/embeddings", begin, n, d, emb.data());
      }
      io::write_rows(file, "/lengths", begin, n, 1, lengths.data());
      io::write_rows(file, "/doc_ids", begin, n, 1, ids.data());
      io::write_rows(file, "/sources", begin, n, 1, sources.data());
      io::write_rows(file, "/topics", begin, n, 1, topics.data());
      progress.advance(n);
    }
    progress.finish();
    io::write_attribute(file, "/", "creator", std::string("weave synth"));
    io::write_attribute(file, "/", "creator_version", std::string(kVersion));
    io::write_attribute(file, "/", "synth_config", to_json(config).dump());
    report.add_counter("bytes_written", static_cast<double>(mine.size()) *
                                            (static_cast<double>(d) * (config.dtype == EmbeddingDtype::kFloat32 ? 4 : 2) + 20));
    file.close();
  }
  output.commit();
}

}  // namespace weave::corpus
