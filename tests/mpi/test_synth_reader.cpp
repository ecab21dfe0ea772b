// `weave synth` and the corpus reader: identical results for any rank count and shard layout,
// and what the reader returns equals an independent computation from the generator.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "corpus/corpus.hpp"
#include "corpus/synth.hpp"
#include "util/report.hpp"
#include "test_helpers.hpp"

namespace weave {
namespace {

using testing::CorpusArrays;

/// The whole corpus as the reader returned it, gathered on every rank (test-sized corpora only).
CorpusArrays gather(const mpi::Comm& comm, const corpus::CorpusBlock& b) {
  CorpusArrays out;
  out.dim = b.info.dim;
  out.embeddings = testing::allgather_concat(comm, b.embeddings);
  out.lengths = testing::allgather_concat(comm, b.lengths);
  out.doc_ids = testing::allgather_concat(comm, b.doc_ids);
  out.sources = testing::allgather_concat(comm, b.sources);
  out.topics = testing::allgather_concat(comm, b.topics);
  return out;
}

void expect_identical(const CorpusArrays& a, const CorpusArrays& b, const std::string& what) {
  EXPECT_EQ(a.dim, b.dim) << what;
  EXPECT_EQ(a.embeddings, b.embeddings) << what;  // bit-identical floats
  EXPECT_EQ(a.lengths, b.lengths) << what;
  EXPECT_EQ(a.doc_ids, b.doc_ids) << what;
  EXPECT_EQ(a.sources, b.sources) << what;
  EXPECT_EQ(a.topics, b.topics) << what;
}

CorpusArrays read_all(const mpi::Comm& comm, const std::string& path, ZeroVectorPolicy policy = ZeroVectorPolicy::kError,
                      std::int64_t max_block_rows = 1 << 20) {
  CorpusOptions options;
  options.path = path;
  options.on_zero_vector = policy;
  options.max_block_rows = max_block_rows;
  return gather(comm, corpus::read_corpus(comm, options));
}

SynthConfig small_config(const std::string& out) {
  SynthConfig c;
  c.docs = 1237;  // not divisible by 2, 3 or 5
  c.dim = 24;
  c.topics = 9;
  c.sources = 3;
  c.seed = 11;
  c.duplicate_share = 0.1;
  c.out = out;
  return c;
}

/// Runs synth on the first q ranks only (a sub-communicator), the others wait.
void synth_on_first_ranks(const mpi::Comm& comm, int q, const SynthConfig& config) {
  mpi::Comm sub = comm.split(comm.rank() < q ? 0 : mpi::Comm::kNoColor);
  if (!sub.is_null()) {
    util::Report report(sub, "synth");
    corpus::write_synth_corpus(sub, config, /*quiet=*/true, report);
  }
  comm.barrier();
}

TEST(Synth, OutputIsIdenticalForEveryRankCount) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  std::vector<CorpusArrays> results;
  for (int q = 1; q <= comm.size(); ++q) {
    const std::string path = dir.path("synth_" + std::to_string(q) + ".h5");
    synth_on_first_ranks(comm, q, small_config(path));
    results.push_back(read_all(comm, path));
  }
  for (int q = 2; q <= comm.size(); ++q) expect_identical(results[0], results[q - 1], "synth at " + std::to_string(q) + " ranks");
}

TEST(Reader, EqualsTheGeneratorNormalisedWhateverTheRankCount) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const SynthConfig config = small_config(dir.path("c.h5"));
  synth_on_first_ranks(comm, comm.size(), config);
  // Oracle: generate every document directly and normalise it.
  const corpus::SynthGenerator gen(config);
  CorpusArrays oracle;
  oracle.dim = config.dim;
  std::vector<float> x(static_cast<std::size_t>(config.dim));
  for (std::int64_t i = 0; i < config.docs; ++i) {
    const auto doc = gen.generate(i, x.data());
    double n2 = 0;
    for (float v : x) n2 += static_cast<double>(v) * v;
    const auto inv = static_cast<float>(1.0 / std::sqrt(n2));
    for (float v : x) oracle.embeddings.push_back(v * inv);
    oracle.lengths.push_back(doc.length);
    oracle.doc_ids.push_back(config.first_doc_id + i);
    oracle.sources.push_back(doc.source);
    oracle.topics.push_back(doc.topic);
    ASSERT_GE(doc.length, config.min_tokens);
    ASSERT_LE(doc.length, config.max_tokens);
    if (doc.duplicate_of >= 0) ASSERT_LT(doc.duplicate_of, i);
  }
  // Every sub-communicator size reads the same corpus.
  for (int q = 1; q <= comm.size(); ++q) {
    mpi::Comm sub = comm.split(comm.rank() < q ? 0 : mpi::Comm::kNoColor);
    if (!sub.is_null()) expect_identical(oracle, read_all(sub, config.out), "reader at " + std::to_string(q) + " ranks");
    comm.barrier();
  }
  // Small read calls give the same result.
  expect_identical(oracle, read_all(comm, config.out, ZeroVectorPolicy::kError, 7), "max_block_rows=7");
}

TEST(Synth, NearDuplicatesAndHeavyTailAreThere) {
  mpi::Comm comm;
  SynthConfig config = small_config("unused");
  config.docs = 200000;
  const corpus::SynthGenerator gen(config);
  std::vector<float> x(static_cast<std::size_t>(config.dim));
  std::int64_t dups = 0, over_32k = 0;
  std::vector<std::int64_t> lengths;
  for (std::int64_t i = comm.rank(); i < config.docs; i += comm.size()) {
    const auto doc = gen.generate(i, x.data());
    dups += doc.duplicate_of >= 0;
    over_32k += doc.length > 32768;
    lengths.push_back(doc.length);
  }
  dups = comm.sum(dups);
  over_32k = comm.sum(over_32k);
  EXPECT_NEAR(static_cast<double>(dups) / config.docs, config.duplicate_share, 0.01);
  EXPECT_GT(over_32k, 0) << "the log-normal tail should pass 32K tokens";
  std::sort(lengths.begin(), lengths.end());
  const auto below_median = comm.sum(static_cast<std::int64_t>(
      std::upper_bound(lengths.begin(), lengths.end(), static_cast<std::int64_t>(config.median_tokens)) - lengths.begin()));
  EXPECT_NEAR(static_cast<double>(below_median) / config.docs, 0.5, 0.01);
}

TEST(Reader, ManifestOfUnevenShardsEqualsTheSingleFile) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const CorpusArrays whole = testing::random_corpus(101, 8, 5);
  if (comm.is_root()) {
    testing::write_corpus_file(dir.path("whole.h5"), whole);
    // Very uneven shards, one of them empty, named relative to the manifest.
    const std::vector<std::pair<int, int>> cuts{{0, 1}, {1, 90}, {90, 90}, {90, 101}};
    std::ofstream manifest(dir.path("corpus.txt"));
    manifest << "# shards of whole.h5\n";
    for (std::size_t s = 0; s < cuts.size(); ++s) {
      const std::string name = "part" + std::to_string(s) + ".h5";
      testing::write_corpus_file(dir.path(name), whole.slice(cuts[s].first, cuts[s].second));
      manifest << name << "\n\n";
    }
  }
  comm.barrier();
  const CorpusArrays single = read_all(comm, dir.path("whole.h5"));
  const CorpusArrays sharded = read_all(comm, dir.path("corpus.txt"));
  expect_identical(single, sharded, "manifest vs single file");
  expect_identical(single, read_all(comm, dir.path("corpus.txt"), ZeroVectorPolicy::kError, 3), "manifest, 3-row reads");
  EXPECT_EQ(single.lengths, whole.lengths);
  EXPECT_EQ(single.doc_ids, whole.doc_ids);
}

TEST(Reader, Float16AndBFloat16ReadBackCloseToFloat32) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  SynthConfig config = small_config(dir.path("f32.h5"));
  synth_on_first_ranks(comm, comm.size(), config);
  const CorpusArrays f32 = read_all(comm, config.out);
  for (auto [dtype, tolerance] : {std::pair{EmbeddingDtype::kFloat16, 2e-3}, std::pair{EmbeddingDtype::kBFloat16, 1.6e-2}}) {
    config.dtype = dtype;
    config.out = dir.path(std::string(to_string(dtype)) + ".h5");
    synth_on_first_ranks(comm, comm.size(), config);
    const CorpusArrays low = read_all(comm, config.out);
    ASSERT_EQ(low.embeddings.size(), f32.embeddings.size());
    double worst = 0;
    for (std::size_t k = 0; k < low.embeddings.size(); ++k)
      worst = std::max(worst, static_cast<double>(std::abs(low.embeddings[k] - f32.embeddings[k])));
    EXPECT_LT(worst, tolerance) << to_string(dtype);
    EXPECT_EQ(low.lengths, f32.lengths);
  }
}

TEST(Reader, ZeroRowsAreDroppedOrKeptIdenticallyForAnyRankCount) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(40, 4, 9);
  const std::vector<int> zero_rows{0, 13, 14, 39};
  for (int r : zero_rows) std::fill(c.embeddings.begin() + r * 4, c.embeddings.begin() + (r + 1) * 4, 0.0f);
  if (comm.is_root()) testing::write_corpus_file(dir.path("z.h5"), c);
  comm.barrier();

  const CorpusArrays kept = read_all(comm, dir.path("z.h5"), ZeroVectorPolicy::kKeep);
  EXPECT_EQ(kept.lengths, c.lengths);
  for (int r : zero_rows)
    for (int j = 0; j < 4; ++j) EXPECT_EQ(kept.embeddings[r * 4 + j], 0.0f);

  for (int q = 1; q <= comm.size(); ++q) {
    mpi::Comm sub = comm.split(comm.rank() < q ? 0 : mpi::Comm::kNoColor);
    if (!sub.is_null()) {
      CorpusOptions options;
      options.path = dir.path("z.h5");
      options.on_zero_vector = ZeroVectorPolicy::kDrop;
      const auto block = corpus::read_corpus(sub, options);
      EXPECT_EQ(block.info.num_docs, 36);
      EXPECT_EQ(block.info.dropped_zero_rows, 4);
      EXPECT_EQ(block.range, block_range(36, sub.size(), sub.rank()));
      const auto rows = testing::allgather_concat(sub, block.file_rows);
      const auto ids = testing::allgather_concat(sub, block.doc_ids);
      std::vector<std::int64_t> expected_rows, expected_ids;
      for (std::int64_t i = 0; i < 40; ++i)
        if (std::find(zero_rows.begin(), zero_rows.end(), i) == zero_rows.end()) {
          expected_rows.push_back(i);
          expected_ids.push_back(c.doc_ids[i]);
        }
      EXPECT_EQ(rows, expected_rows) << "at " << q << " ranks";
      EXPECT_EQ(ids, expected_ids) << "at " << q << " ranks";
    }
    comm.barrier();
  }
}

}  // namespace
}  // namespace weave
