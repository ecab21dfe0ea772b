#include "corpus/token_store.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "corpus/manifest.hpp"
#include "mpi/collective_error.hpp"
#include "util/log.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace {

namespace fs = std::filesystem;

std::vector<std::string> prefixes_on_root(const std::string& path) {
  if (path.empty()) throw UserError("no token store given (--tokens PREFIX, or a manifest of prefixes)");
  if (io::is_indexed_dataset(path)) return {io::indexed_dataset_prefix(path)};
  std::error_code ec;
  // Not a dataset: a manifest if it is a text file; otherwise the dataset reader names what is wrong.
  if (!fs::is_regular_file(path, ec) || path.ends_with(".idx") || path.ends_with(".bin")) return {path};
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (!looks_like_text(text))
    throw UserError(fmt::format("{}: neither a Megatron indexed dataset (PREFIX.idx + PREFIX.bin) nor a text manifest "
                                "of dataset prefixes", path));
  std::vector<std::string> out;
  for (const auto& entry : manifest_entries(path, text)) out.push_back(io::indexed_dataset_prefix(entry.path));
  if (out.empty())
    throw UserError(fmt::format("{}: neither a Megatron indexed dataset (PREFIX.idx + PREFIX.bin) nor a manifest "
                                "listing any", path));
  return out;
}

/// Every dataset's header, checked to share one dtype; where each dataset's rows start in the store.
struct StoreHeaders {
  std::string path;
  std::vector<io::IndexedDatasetInfo> infos;
  std::vector<std::int64_t> first_row;  ///< per dataset, then the total
  io::TokenType type;
  std::int64_t sequences() const { return first_row.back(); }
};

StoreHeaders read_headers(const mpi::Comm& comm, const std::string& path) {
  StoreHeaders h;
  h.path = path;
  h.first_row.push_back(0);
  for (const auto& prefix : token_store_prefixes(comm, path)) {
    h.infos.push_back(io::read_indexed_dataset_info(comm, prefix));
    h.first_row.push_back(h.first_row.back() + h.infos.back().sequences);
  }
  h.type = h.infos.front().type;
  mpi::collectively(comm, [&] {
    for (const auto& info : h.infos)
      if (info.type.code != h.type.code)
        throw UserError(fmt::format("{}.idx holds {} tokens but {}.idx holds {}: the datasets of a token store share "
                                    "one dtype", info.prefix, info.type.name, h.infos.front().prefix, h.type.name));
  });
  return h;
}

/// The store must hold one sequence per row of the corpus `rows_owner`.
void check_rows(const mpi::Comm& comm, const StoreHeaders& h, std::int64_t expected_rows, const std::string& rows_owner) {
  mpi::collectively(comm, [&] {
    if (h.sequences() != expected_rows)
      throw UserError(fmt::format("{}: {} but the corpus {} has {} rows: a token store holds one sequence per "
                                  "document, in the corpus's row order",
                                  h.infos.size() == 1 ? h.infos.front().prefix + ".idx" : h.path,
                                  util::count_of(h.sequences(), "sequence") +
                                      (h.infos.size() > 1 ? fmt::format(" in {} datasets", h.infos.size()) : ""),
                                  rows_owner, expected_rows));
  });
}

/// Deals rows [begin, end) of the store (this rank's, in rank order over the ranks; the last rank's
/// run to the end) out to the datasets they fall in, and reads those index rows.
TokenStoreBlock read_rows(const mpi::Comm& comm, const StoreHeaders& h, std::int64_t begin, std::int64_t end_or_last) {
  TokenStoreBlock out;
  out.path = h.path;
  out.type = h.type;
  out.shard_first_row = h.first_row;
  out.sequences = h.sequences();
  const std::int64_t end = comm.rank() == comm.size() - 1 ? out.sequences : end_or_last;
  for (std::size_t s = 0; s < h.infos.size(); ++s) {
    const std::int64_t first = std::clamp(begin, h.first_row[s], h.first_row[s + 1]);
    const std::int64_t last = std::clamp(end, h.first_row[s], h.first_row[s + 1]);
    out.shards.push_back(io::read_indexed_dataset(comm, h.infos[s], first - h.first_row[s], last - first));
    out.tokens += out.shards.back().info.tokens;
  }
  return out;
}

}  // namespace

std::vector<std::string> token_store_prefixes(const mpi::Comm& comm, const std::string& path) {
  std::vector<std::string> prefixes;
  mpi::collectively(comm, [&] {
    if (comm.is_root()) prefixes = prefixes_on_root(path);
  });
  return comm.bcast_strings(prefixes, 0);
}

TokenLocation TokenStoreBlock::locate(const CorpusBlock& corpus, LocalId i) const {
  const std::int64_t row = corpus.file_row(i);
  const auto s = static_cast<std::size_t>(
      std::upper_bound(shard_first_row.begin(), shard_first_row.end(), row) - shard_first_row.begin() - 1);
  const io::IndexedDatasetBlock& b = shards[s];
  const std::int64_t local = row - shard_first_row[s] - b.first;
  return {static_cast<std::int64_t>(s), b.pointers[local], b.lengths[local]};
}

TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path, const CorpusBlock& corpus) {
  // Index rows by rank, in rank order and covering every row: up to the last file row of this rank's
  // documents (rows dropped as zero vectors between two ranks' documents go to the earlier rank).
  const std::int64_t my_end = corpus.size() > 0 ? corpus.file_row(LocalId(corpus.size() - 1)) + 1 : 0;
  const auto ends = comm.allgather<std::int64_t>(my_end);
  std::int64_t begin = 0;
  for (int r = 0; r < comm.rank(); ++r) begin = std::max(begin, ends[r]);
  const StoreHeaders headers = read_headers(comm, path);
  check_rows(comm, headers, corpus.info.total_rows, corpus.info.path);
  TokenStoreBlock out = read_rows(comm, headers, begin, std::max(begin, my_end));
  mpi::collectively(comm, [&] {
    for (std::int64_t i = 0; i < corpus.size(); ++i) {
      const TokenLocation at = out.locate(corpus, LocalId(i));
      if (at.tokens != corpus.lengths[i]) {
        const std::int64_t row = corpus.file_row(LocalId(i));
        const std::int64_t in_shard = row - out.shard_first_row[at.shard];
        throw UserError(fmt::format("{}.idx: row {} has {} tokens, but /lengths of {} says {}{}",
                                    out.shards[at.shard].info.prefix, in_shard, at.tokens, corpus.info.path,
                                    corpus.lengths[i],
                                    out.shards.size() > 1 ? fmt::format(" (corpus row {})", row) : std::string()),
                        row);
      }
    }
  });
  return out;
}

std::vector<std::int64_t> token_store_lengths(const mpi::Comm& comm, const std::string& path, const CorpusInfo& corpus,
                                              std::int64_t begin, std::int64_t end) {
  const StoreHeaders headers = read_headers(comm, path);
  check_rows(comm, headers, corpus.total_rows, corpus.path);
  const TokenStoreBlock store = read_rows(comm, headers, begin, end);
  std::vector<std::int64_t> lengths;
  lengths.reserve(static_cast<std::size_t>(end - begin));
  for (const auto& shard : store.shards) lengths.insert(lengths.end(), shard.lengths.begin(), shard.lengths.end());
  return lengths;
}

TokenStoreBlock read_token_store(const mpi::Comm& comm, const std::string& path) {
  const StoreHeaders headers = read_headers(comm, path);
  const BlockRange rows = block_range(headers.sequences(), comm.size(), comm.rank());
  return read_rows(comm, headers, rows.begin, rows.end);
}

}  // namespace weave::corpus
