#include "corpus/row_reader.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "corpus/half_precision.hpp"
#include "corpus/validate.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "util/progress.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

SomeRows::SomeRows(BlockRange range, std::int64_t dim, std::vector<std::int64_t> docs, util::UninitVector<float> rows)
    : range_(range), dim_(dim), docs_(std::move(docs)), rows_(std::move(rows)) {
  WEAVE_ASSERT(static_cast<std::int64_t>(docs_.size()) < std::numeric_limits<std::int32_t>::max(),
               "row reader: more rows than a 32-bit index holds");
  index_.assign(static_cast<std::size_t>(range_.size()), -1);
  for (std::size_t x = 0; x < docs_.size(); ++x) index_[docs_[x] - range_.begin] = static_cast<std::int32_t>(x);
}

void SomeRows::not_held(std::int64_t doc) {
  throw InternalError(fmt::format("row reader: document {} was not read", doc));
}

namespace {

/// Wanted rows closer than this (in float32 bytes between them) are read as one span. Each run of
/// a selection costs HDF5 and MPI-IO about as much as reading a few KiB, but a round with a span
/// is staged and copied whole: the path ends' rows (2 ranks) read in 0.032-0.039 s with 2-16 KiB
/// at 10^6 x 32 against 0.108 s row by row, and at 10^5 x 768 (rows of 3 KiB, a fifth of them
/// wanted) in 0.058 s row by row against 0.086 s with 4 KiB and 0.096-0.125 s with 16 KiB, which
/// read 4.6x the rows. Below a row at d >= 512.
constexpr double kGapBytes = 2048;

double stored_bytes(const std::string& dtype) {
  if (dtype == "float16" || dtype == "bfloat16") return 2;
  return dtype == "float64" ? 8 : 4;
}

/// Reads `runs` of one shard's /embeddings (shard rows, ascending) into out as float32.
void read_runs(const io::File& file, const Shard& shard, const std::vector<io::RowRun>& runs, std::int64_t d,
               float* out, util::UninitVector<std::uint16_t>& staging) {
  const bool bf16 = shard.embedding_dtype == "bfloat16", f16 = shard.embedding_dtype == "float16";
  if (!bf16 && !f16) {
    io::read_row_runs(file, "/embeddings", runs, d, out);  // HDF5 converts float64
    return;
  }
  std::int64_t rows = 0;
  for (const io::RowRun& run : runs) rows += run.count;
  staging.resize(static_cast<std::size_t>(rows * d));
  if (bf16) io::read_row_runs(file, "/embeddings", runs, d, staging.data());
  else io::read_float16_row_runs(file, "/embeddings", runs, d, staging.data());
  std::transform(staging.begin(), staging.end(), out, bf16 ? bfloat16_to_float : half_to_float);
}

/// One read call: runs of consecutive file rows that cover some wanted rows, and where each
/// wanted row lands among the runs' rows.
struct ReadRound {
  std::vector<io::RowRun> runs;
  std::vector<std::int64_t> staged_at;  ///< per wanted row of the round, its row in the staged rows
  std::int64_t staged = 0;              ///< rows the runs hold
  std::size_t first = 0;                ///< the round's first wanted row (index into the wanted rows)
};

/// Rounds over wanted shard rows (ascending). Rows at most `gap` apart share a run (the rows
/// between them are read and dropped: one span costs HDF5 and the file system less than two), and
/// a round stages at most max_rows rows.
std::vector<ReadRound> plan_rounds(const std::vector<std::int64_t>& rows, std::int64_t gap, std::int64_t max_rows) {
  std::vector<ReadRound> rounds;
  for (std::size_t x = 0; x < rows.size(); ++x) {
    const bool joins = !rounds.empty() && !rounds.back().runs.empty() &&
                       rows[x] - (rounds.back().runs.back().begin + rounds.back().runs.back().count) <= gap;
    const std::int64_t added = joins ? rows[x] - (rounds.back().runs.back().begin + rounds.back().runs.back().count) + 1 : 1;
    if (rounds.empty() || rounds.back().staged + added > max_rows) {
      rounds.emplace_back();
      rounds.back().first = x;
      rounds.back().runs.push_back({rows[x], 1});
      rounds.back().staged = 1;
    } else if (joins) {
      rounds.back().runs.back().count += added;
      rounds.back().staged += added;
    } else {
      rounds.back().runs.push_back({rows[x], 1});
      rounds.back().staged += 1;
    }
    rounds.back().staged_at.push_back(rounds.back().staged - 1);
  }
  return rounds;
}

}  // namespace

SomeRows RowReader::read(std::vector<std::int64_t> docs, const RowsReady& ready) {
  const double start = util::wall_seconds();
  const double handed_before = ready_seconds_;
  SomeRows rows = read_rows(std::move(docs), ready);
  seconds_ += util::wall_seconds() - start - (ready_seconds_ - handed_before);
  return rows;
}

void RowReader::hand_on(const RowsReady& ready, std::size_t first, std::size_t last, const float* rows) {
  if (!ready || first == last) return;
  const double start = util::wall_seconds();
  ready(first, last - first, rows + first * static_cast<std::size_t>(block_.info.dim));
  ready_seconds_ += util::wall_seconds() - start;
}

SomeRows RowReader::read_rows(std::vector<std::int64_t> docs, const RowsReady& ready) {
  std::sort(docs.begin(), docs.end());
  docs.erase(std::unique(docs.begin(), docs.end()), docs.end());
  const CorpusInfo& info = block_.info;
  const std::int64_t d = info.dim;
  const BlockRange range = block_.range;
  for (std::int64_t doc : docs) WEAVE_ASSERT(range.contains(GlobalId(doc)), "row reader: a document of another rank");
  util::UninitVector<float> rows(docs.size() * static_cast<std::size_t>(d));
  if (info.embeddings_read) {
    for (std::size_t x = 0; x < docs.size(); ++x)
      std::copy_n(block_.embeddings.data() + (docs[x] - range.begin) * d, d, rows.data() + x * d);
    hand_on(ready, 0, docs.size(), rows.data());
    return SomeRows(range, d, std::move(docs), std::move(rows));
  }

  // File rows ascend with the ids (dropped or deduplicated rows keep their order), so each shard's
  // documents are one stretch of `docs`.
  std::vector<std::int64_t> file_rows(docs.size());
  for (std::size_t x = 0; x < docs.size(); ++x) file_rows[x] = block_.file_row(LocalId(docs[x] - range.begin));
  const std::int64_t max_rows = std::max<std::int64_t>(1, options_.max_block_rows);
  const double row_bytes = static_cast<double>(d) * 4;
  const auto gap = static_cast<std::int64_t>(kGapBytes / row_bytes);
  util::UninitVector<float> staged;
  util::UninitVector<std::uint16_t> staging;  // written in full by each read
  std::size_t next = 0;
  for (const Shard& shard : info.shards) {
    if (shard.rows == 0) continue;
    std::vector<std::int64_t> shard_rows;
    const std::size_t first = next;
    for (; next < docs.size() && file_rows[next] < shard.first_row + shard.rows; ++next)
      shard_rows.push_back(file_rows[next] - shard.first_row);
    const std::vector<ReadRound> mine = plan_rounds(shard_rows, gap, max_rows);
    const std::int64_t rounds = comm_.max(static_cast<std::int64_t>(mine.size()));
    if (rounds == 0) continue;
    // Every rank opens every shard that some rank reads: parallel HDF5 opens and reads are collective.
    mpi::collectively(comm_, [&] {
      const io::File file = io::File::open(comm_, shard.path);
      for (std::int64_t t = 0; t < rounds; ++t) {
        static const ReadRound kNothing;
        const ReadRound& round = t < static_cast<std::int64_t>(mine.size()) ? mine[t] : kNothing;
        float* out = rows.data() + (first + round.first) * d;
        if (round.staged == static_cast<std::int64_t>(round.staged_at.size())) {
          read_runs(file, shard, round.runs, d, out, staging);  // no row between: straight into place
        } else {
          staged.resize(static_cast<std::size_t>(round.staged * d));
          read_runs(file, shard, round.runs, d, staged.data(), staging);
          for (std::size_t w = 0; w < round.staged_at.size(); ++w)
            std::copy_n(staged.data() + round.staged_at[w] * d, d, out + w * d);
        }
        bytes_read_ += static_cast<double>(round.staged) * stored_bytes(shard.embedding_dtype) * static_cast<double>(d);
        rows_read_ += round.staged;
      }
    });
  }
  // Validated before normalising, as read_corpus does; the first bad row of each rank, the same
  // (lowest rank's) error everywhere. A stretch at a time, validated, normalised and handed on while
  // in cache: a pass over all rows for each step read them from memory each time (stitching's
  // 485 MB a rank at 10^6 x 768 on 2 ranks).
  const auto stretch = static_cast<std::size_t>(std::max<std::int64_t>(1, kStretchBytes / (4 * std::max<std::int64_t>(1, d))));
  mpi::collectively(comm_, [&] {
    for (std::size_t first = 0; first < docs.size(); first += stretch) {
      const std::size_t last = std::min(docs.size(), first + stretch);
      for (std::size_t x = first; x < last; ++x)
        check_embedding(info, file_rows[x], rows.data() + x * d, options_.on_zero_vector);
      for (std::size_t x = first; x < last; ++x) normalise_row(rows.data() + x * d, d);
      hand_on(ready, first, last, rows.data());
    }
  });
  return SomeRows(range, d, std::move(docs), std::move(rows));
}

}  // namespace weave::corpus
