// Bad corpora give one UserError, the same on every rank, naming file, dataset and row; the row
// reported is the first bad row of the corpus whatever the rank count. (The exit status 2 of the
// program is checked end to end by tests/e2e/bad_inputs.py.)
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "corpus/corpus.hpp"
#include "io/hdf5.hpp"
#include "test_helpers.hpp"
#include "weave/error.hpp"

namespace weave {
namespace {

using testing::CorpusArrays;

/// Reads the corpus and returns the agreed error message ("" if it read fine).
std::string read_error(const mpi::Comm& comm, const std::string& path) {
  CorpusOptions options;
  options.path = path;
  try {
    corpus::read_corpus(comm, options);
  } catch (const UserError& e) {
    EXPECT_TRUE(e.collective()) << "error not agreed over ranks: " << e.what();
    return e.what();
  }
  return "";
}

/// Writes `c` (on rank 0) into the scratch folder and returns the read error.
std::string error_for(const mpi::Comm& comm, const testing::ScratchDir& dir, const CorpusArrays& c) {
  const std::string path = dir.path("bad.h5");
  if (comm.is_root()) testing::write_corpus_file(path, c);
  comm.barrier();
  return read_error(comm, path);
}

constexpr std::int64_t kRows = 23;

TEST(CorpusErrors, NonFiniteValuesNameTheFirstBadRow) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(kRows, 5, 1);
  c.embeddings[20 * 5 + 2] = std::numeric_limits<float>::infinity();  // on the last rank's block
  c.embeddings[17 * 5 + 4] = std::nanf("");                           // the first bad row
  const std::string msg = error_for(comm, dir, c);
  EXPECT_NE(msg.find("bad.h5: /embeddings row 17"), std::string::npos) << msg;
  EXPECT_NE(msg.find("non-finite"), std::string::npos) << msg;
}

TEST(CorpusErrors, ZeroVectorAndNonPositiveLength) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(kRows, 5, 2);
  c.lengths[21] = 0;
  std::fill(c.embeddings.begin() + 9 * 5, c.embeddings.begin() + 10 * 5, 0.0f);
  std::string msg = error_for(comm, dir, c);
  EXPECT_NE(msg.find("/embeddings row 9"), std::string::npos) << msg;
  EXPECT_NE(msg.find("--on-zero-vector"), std::string::npos) << msg;
  c = testing::random_corpus(kRows, 5, 2);
  c.lengths[21] = -4;
  msg = error_for(comm, dir, c);
  EXPECT_NE(msg.find("/lengths row 21"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-4"), std::string::npos) << msg;
}

TEST(CorpusErrors, DuplicateDocIdsAcrossBlocks) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  CorpusArrays c = testing::random_corpus(kRows, 5, 3);
  c.doc_ids[22] = c.doc_ids[1];  // first and last block
  c.doc_ids[15] = c.doc_ids[14];
  const std::string msg = error_for(comm, dir, c);
  EXPECT_NE(msg.find("/doc_ids row 15"), std::string::npos) << msg;
  EXPECT_NE(msg.find("duplicate doc id " + std::to_string(c.doc_ids[14])), std::string::npos) << msg;
  EXPECT_NE(msg.find("row 14"), std::string::npos) << msg;
}

TEST(CorpusErrors, ShapeProblemsAcrossShards) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  if (comm.is_root()) {
    testing::write_corpus_file(dir.path("a.h5"), testing::random_corpus(10, 5, 4));
    testing::write_corpus_file(dir.path("b.h5"), testing::random_corpus(10, 6, 4));
    std::ofstream(dir.path("m.txt")) << "a.h5\nb.h5\n";
    std::ofstream(dir.path("m2.txt")) << "a.h5\nmissing.h5\n";
  }
  comm.barrier();
  std::string msg = read_error(comm, dir.path("m.txt"));
  EXPECT_NE(msg.find("b.h5: /embeddings has dimension 6"), std::string::npos) << msg;
  msg = read_error(comm, dir.path("m2.txt"));
  EXPECT_NE(msg.find("m2.txt: line 2: shard"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no such file"), std::string::npos) << msg;
}

TEST(CorpusErrors, FewerDocumentsThanRanks) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  const std::string msg = error_for(comm, dir, testing::random_corpus(1, 4, 5));
  if (comm.size() == 1) {
    EXPECT_EQ(msg, "");
  } else {
    EXPECT_NE(msg.find("fewer than the " + std::to_string(comm.size()) + " ranks"), std::string::npos) << msg;
  }
}

TEST(CorpusErrors, ValidCorpusReadsWithoutError) {
  mpi::Comm comm;
  testing::ScratchDir dir(comm);
  EXPECT_EQ(error_for(comm, dir, testing::random_corpus(kRows, 5, 6)), "");
}

}  // namespace
}  // namespace weave
