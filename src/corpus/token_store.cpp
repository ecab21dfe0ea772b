#include "corpus/token_store.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path, const CorpusBlock& corpus) {
  const io::IndexedDatasetInfo info = io::read_indexed_dataset_info(comm, path);
  const std::string idx = info.prefix + ".idx";
  mpi::collectively(comm, [&] {
    if (info.sequences != corpus.info.total_rows)
      throw UserError(fmt::format("{}: {} but the corpus {} has {} rows: a token store holds one sequence per "
                                  "document, in the corpus's row order",
                                  idx, util::count_of(info.sequences, "sequence"), corpus.info.path, corpus.info.total_rows));
  });
  // Index rows by rank, in rank order and covering every row: up to the last file row of this rank's
  // documents (rows dropped as zero vectors between two ranks' documents go to the earlier rank).
  const std::int64_t my_end = corpus.size() > 0 ? corpus.file_row(LocalId(corpus.size() - 1)) + 1 : 0;
  const auto ends = comm.allgather<std::int64_t>(my_end);
  std::int64_t begin = 0;
  for (int r = 0; r < comm.rank(); ++r) begin = std::max(begin, ends[r]);
  std::int64_t end = std::max(begin, my_end);
  if (comm.rank() == comm.size() - 1) end = info.sequences;

  TokenStoreBlock out;
  out.index = io::read_indexed_dataset(comm, info, begin, end - begin);
  mpi::collectively(comm, [&] {
    for (std::int64_t i = 0; i < corpus.size(); ++i) {
      const std::int64_t row = corpus.file_row(LocalId(i));
      const std::int64_t tokens = out.index.lengths[row - begin];
      if (tokens != corpus.lengths[i])
        throw UserError(fmt::format("{}: row {} has {} tokens, but /lengths of {} says {}", idx, row, tokens,
                                    corpus.info.path, corpus.lengths[i]),
                        row);
    }
  });
  return out;
}

}  // namespace weave::corpus
