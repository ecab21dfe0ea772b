// corpus::RowReader: rows of chosen documents read from the files equal read_corpus's rows bit for
// bit (float32, float16, bfloat16, shards of a manifest, rounds of a few rows, dropped zero rows),
// a bad row is an error only when it is read, and the fingerprint from the sampled rows alone is
// read_corpus's. Every rank count.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include "corpus/corpus.hpp"
#include "corpus/provenance.hpp"
#include "corpus/row_reader.hpp"
#include "util/random.hpp"
#include "test_helpers.hpp"
#include "weave/error.hpp"

namespace weave {
namespace {

using testing::CorpusArrays;

CorpusOptions options_for(const std::string& path, std::int64_t max_block_rows = 1 << 20,
                          ZeroVectorPolicy policy = ZeroVectorPolicy::kError) {
  CorpusOptions options;
  options.path = path;
  options.max_block_rows = max_block_rows;
  options.on_zero_vector = policy;
  return options;
}

/// Owned documents picked by a hash of their id (about a third, single rows and runs), given in
/// descending order with repeats: the reader sorts them.
std::vector<std::int64_t> some_owned(const BlockRange& range, std::uint64_t seed) {
  std::vector<std::int64_t> docs;
  for (std::int64_t id = range.end - 1; id >= range.begin; --id)
    if (util::mix64(static_cast<std::uint64_t>(id) ^ seed) % 3 == 0) docs.insert(docs.end(), {id, id});
  return docs;
}

/// Reads `docs` with the reader and compares each row with the full read's, bit for bit.
void expect_rows_equal_full_read(const mpi::Comm& comm, const CorpusOptions& options, std::uint64_t seed,
                                 const std::string& what) {
  const corpus::CorpusBlock full = corpus::read_corpus(comm, options);
  corpus::CorpusBlock documents = corpus::read_corpus(comm, options, corpus::Columns::kDocuments);
  ASSERT_EQ(documents.range, full.range);
  corpus::RowReader reader(comm, documents, options);
  const std::vector<std::int64_t> docs = some_owned(documents.range, seed);
  const corpus::SomeRows rows = reader.read(docs);
  const std::int64_t d = full.info.dim;
  for (std::int64_t doc : docs) {
    const float* got = rows.row(doc);
    const float* want = full.embedding(LocalId(doc - full.range.begin));
    for (std::int64_t j = 0; j < d; ++j)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(got[j]), std::bit_cast<std::uint32_t>(want[j]))
          << what << ": document " << doc << ", column " << j;
  }
  for (std::size_t x = 1; x < rows.docs().size(); ++x) EXPECT_LT(rows.docs()[x - 1], rows.docs()[x]) << what;
  if (!documents.info.embeddings_read) {
    EXPECT_GE(reader.rows_read(), static_cast<std::int64_t>(rows.docs().size())) << what;
  }
  EXPECT_THROW((void)rows.row(documents.range.end), InternalError) << what;  // another rank's or past the end
  // Read again, told of each stretch as it is ready: in order, every row once, with the values the
  // result holds (validated and normalised).
  std::size_t told = 0;
  std::vector<float> seen;
  const corpus::SomeRows again = reader.read(docs, [&](std::size_t first, std::size_t count, const float* stretch) {
    EXPECT_EQ(first, told) << what;
    EXPECT_GT(count, 0u) << what;
    told = first + count;
    seen.insert(seen.end(), stretch, stretch + count * static_cast<std::size_t>(d));
  });
  ASSERT_EQ(again.docs(), rows.docs()) << what;
  ASSERT_EQ(told, rows.docs().size()) << what;
  for (std::size_t x = 0; x < rows.docs().size(); ++x)
    for (std::int64_t j = 0; j < d; ++j)
      ASSERT_EQ(std::bit_cast<std::uint32_t>(seen[x * static_cast<std::size_t>(d) + static_cast<std::size_t>(j)]),
                std::bit_cast<std::uint32_t>(rows.row(rows.docs()[x])[j]))
          << what << ": told row " << x << ", column " << j;
}

TEST(RowReader, RowsEqualTheFullReadBitForBit) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // 3,001 rows of d = 40: wanted rows far apart and close together, over uneven shards.
  const CorpusArrays whole = testing::random_corpus(3001, 40, 17);
  if (comm.is_root()) {
    testing::write_corpus_file(dir.path("whole.h5"), whole);
    const std::vector<std::pair<int, int>> cuts{{0, 1}, {1, 1700}, {1700, 1700}, {1700, 3001}};
    std::ofstream manifest(dir.path("corpus.txt"));
    for (std::size_t s = 0; s < cuts.size(); ++s) {
      const std::string name = "part" + std::to_string(s) + ".h5";
      testing::write_corpus_file(dir.path(name), whole.slice(cuts[s].first, cuts[s].second));
      manifest << name << "\n";
    }
  }
  comm.barrier();
  for (std::uint64_t seed : {1u, 2u}) {
    expect_rows_equal_full_read(comm, options_for(dir.path("whole.h5")), seed, "one file");
    expect_rows_equal_full_read(comm, options_for(dir.path("corpus.txt")), seed, "manifest");
    expect_rows_equal_full_read(comm, options_for(dir.path("corpus.txt"), 3), seed, "manifest, 3-row rounds");
  }
}

TEST(RowReader, Float16AndBFloat16RowsEqualTheFullRead) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  SynthConfig config;
  config.docs = 1237;
  config.dim = 24;
  config.topics = 9;
  config.seed = 3;
  for (EmbeddingDtype dtype : {EmbeddingDtype::kFloat16, EmbeddingDtype::kBFloat16}) {
    config.dtype = dtype;
    const std::string path = testing::write_synth_corpus(comm, dir, config, std::string(to_string(dtype)) + ".h5");
    expect_rows_equal_full_read(comm, options_for(path), 5, to_string(dtype));
    expect_rows_equal_full_read(comm, options_for(path, 7), 5, std::string(to_string(dtype)) + ", 7-row rounds");
  }
}

TEST(RowReader, DroppedZeroRowsKeepTheirFileRows) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(200, 6, 9);
  for (int r : {0, 13, 14, 150, 199}) std::fill(c.embeddings.begin() + r * 6, c.embeddings.begin() + (r + 1) * 6, 0.0f);
  const std::string path = testing::write_corpus_on_root(comm, dir, "z.h5", c);
  // With =drop the block holds its rows (the ids depend on them); =keep reads kept zero rows as zero.
  expect_rows_equal_full_read(comm, options_for(path, 5, ZeroVectorPolicy::kDrop), 3, "dropped zero rows");
  expect_rows_equal_full_read(comm, options_for(path, 5, ZeroVectorPolicy::kKeep), 3, "kept zero rows");
}

TEST(RowReader, ABadRowIsAnErrorOnlyWhenRead) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(97, 8, 4);
  c.embeddings[61 * 8 + 5] = std::numeric_limits<float>::quiet_NaN();
  std::fill(c.embeddings.begin() + 70 * 8, c.embeddings.begin() + 71 * 8, 0.0f);
  const std::string path = testing::write_corpus_on_root(comm, dir, "bad.h5", c);
  const CorpusOptions options = options_for(path, 4);
  corpus::CorpusBlock block = corpus::read_corpus(comm, options, corpus::Columns::kDocuments);  // no row checked
  corpus::RowReader reader(comm, block, options);
  auto read_error = [&](std::vector<std::int64_t> wanted) -> std::string {
    std::vector<std::int64_t> mine;
    for (std::int64_t doc : wanted)
      if (block.range.contains(GlobalId(doc))) mine.push_back(doc);
    try {
      (void)reader.read(mine);
    } catch (const UserError& e) {
      EXPECT_TRUE(e.collective()) << e.what();
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(read_error({0, 1, 60, 62, 69, 71, 96}), "");
  const std::string nan = read_error({2, 61, 62, 70});
  EXPECT_NE(nan.find("bad.h5: /embeddings row 61"), std::string::npos) << nan;
  EXPECT_NE(nan.find("non-finite"), std::string::npos) << nan;
  const std::string zero = read_error({3, 70});
  EXPECT_NE(zero.find("bad.h5: /embeddings row 70"), std::string::npos) << zero;
  EXPECT_NE(zero.find("all zeros"), std::string::npos) << zero;
}

TEST(RowReader, FingerprintFromTheSampledRowsIsReadCorpus) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  // Past one sampled block of 1,024 ids and into the next (ids 16,384 + ...).
  const CorpusArrays c = testing::random_corpus(17000, 4, 21);
  const std::string path = testing::write_corpus_on_root(comm, dir, "f.h5", c);
  const CorpusOptions options = options_for(path, 1000);
  const corpus::CorpusBlock full = corpus::read_corpus(comm, options);
  corpus::CorpusBlock documents = corpus::read_corpus(comm, options, corpus::Columns::kDocuments);
  EXPECT_EQ(documents.info.fingerprint, "");
  corpus::RowReader reader(comm, documents, options);
  corpus::fingerprint_sampled_rows(comm, documents, reader);
  EXPECT_EQ(documents.info.fingerprint, full.info.fingerprint);
  EXPECT_EQ(documents.info.documents_fingerprint, full.info.documents_fingerprint);
  // 1,024 + 616 sampled rows in all, not the 17,000 (the reader reads sampled runs whole).
  EXPECT_EQ(comm.sum(reader.rows_read()), 1024 + (17000 - 16384));
}

}  // namespace
}  // namespace weave
