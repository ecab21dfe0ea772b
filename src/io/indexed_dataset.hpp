// Megatron-LM's indexed dataset: PREFIX.idx (header, then per sequence its length and byte offset
// in PREFIX.bin, then the document index) and PREFIX.bin (the tokens, one dtype); the layout is in
// docs/format.md. The token store of a corpus is one: one sequence per document, aligned by row.
// Reads are positioned reads of the ranges a rank needs: no rank reads a whole file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "io/atomic_output.hpp"
#include "mpi/comm.hpp"

namespace weave::io {

/// A token dtype of the format, by the code the .idx stores.
struct TokenType {
  std::uint8_t code = 0;
  int bytes = 0;
  const char* name = "";
  bool is_integer = true;
  bool is_signed = false;

  /// The largest token id the type holds (integer types).
  std::int64_t largest_id() const {
    const int bits = 8 * bytes - (is_signed ? 1 : 0);
    return bits >= 63 ? std::numeric_limits<std::int64_t>::max() : (std::int64_t{1} << bits) - 1;
  }
};
/// The type of a dtype code (Megatron's DType: 1 uint8 ... 8 uint16), or nullopt when unknown.
std::optional<TokenType> token_type_of_code(std::uint8_t code);

/// What every rank knows about the whole dataset.
struct IndexedDatasetInfo {
  std::string prefix;
  TokenType type;
  std::int64_t sequences = 0;
  std::int64_t document_entries = 0;  ///< entries of the document index: sequences + 1 here
  std::int64_t idx_bytes = 0, bin_bytes = 0;
  std::int64_t tokens = 0;            ///< sum of the lengths (bin_bytes / type.bytes once checked)
};

/// Rows [first, first + lengths.size()) of the index.
struct IndexedDatasetBlock {
  IndexedDatasetInfo info;
  std::int64_t first = 0;
  std::vector<std::int64_t> lengths;   ///< tokens per sequence
  std::vector<std::int64_t> pointers;  ///< byte offset of each sequence in the .bin
};

/// "PREFIX" for PREFIX, PREFIX.idx or PREFIX.bin.
std::string indexed_dataset_prefix(const std::string& path);
/// Whether path (or PREFIX.idx) starts with the format's magic bytes (rank-local, no error).
bool is_indexed_dataset(const std::string& path);

/// Collective. The header and the file sizes, checked (magic, version, dtype code, the .idx size
/// against the counts, one sequence per document, the .bin exists). Any failure is a UserError
/// naming the file, thrown on every rank.
IndexedDatasetInfo read_indexed_dataset_info(const mpi::Comm& comm, const std::string& path);

/// Collective. Rows [first, first + count) of the index (the ranks' rows in rank order, together
/// every row), checked: the document index, each pointer where the lengths before it put it, the
/// .bin holding every sequence and nothing more. A UserError names the file and the first bad row.
IndexedDatasetBlock read_indexed_dataset(const mpi::Comm& comm, const IndexedDatasetInfo& info, std::int64_t first,
                                         std::int64_t count);

/// The tokens of a dataset's .bin, read by offset; rank-local (each rank opens its own).
class TokenReader {
 public:
  explicit TokenReader(const IndexedDatasetInfo& info);
  TokenReader(const TokenReader&) = delete;
  TokenReader& operator=(const TokenReader&) = delete;
  ~TokenReader();
  /// `count` tokens starting `first` tokens into the sequence at byte `pointer`, into out
  /// (count * type.bytes bytes). UserError naming the file on a failed read.
  void read(std::int64_t pointer, std::int64_t first, std::int64_t count, std::byte* out) const;

 private:
  std::string path_;
  int bytes_ = 0;
  int fd_ = -1;
  const std::byte* map_ = nullptr;  ///< the whole file mapped read-only, or null (then pread)
  std::int64_t map_bytes_ = 0;
};

class PositionedWriter;  // indexed_dataset.cpp: one open file, pwrite at offsets

/// PREFIX.idx and PREFIX.bin written by every rank at once, one document per sequence: the
/// sequences of all ranks in rank order, this rank's given by `lengths`. The constructor
/// (collective) finds the offsets by exclusive scans and has rank 0 create both .tmp files and write
/// the header; each rank then writes its token bytes in pieces, in any order and from any thread
/// (write_tokens: positioned writes into its own byte range), and finish() (collective) writes the
/// index entries and renames the .tmp files when every rank succeeded (the .bin first). Without
/// finish() the .tmp files are removed.
class IndexedDatasetWriter {
 public:
  IndexedDatasetWriter(const mpi::Comm& comm, const std::string& prefix, TokenType type,
                       std::span<const std::int64_t> lengths);
  ~IndexedDatasetWriter();
  IndexedDatasetWriter(const IndexedDatasetWriter&) = delete;
  IndexedDatasetWriter& operator=(const IndexedDatasetWriter&) = delete;

  /// This rank's token bytes (its sequences' tokens, back to back).
  std::int64_t token_bytes() const { return token_bytes_; }
  /// Writes bytes at `offset` of this rank's token bytes. Thread-safe; throws UserError (naming
  /// the file) when the write fails.
  void write_tokens(std::int64_t offset, std::span<const std::byte> bytes) const;
  /// Collective: the index entries, then both files renamed.
  void finish();

 private:
  const mpi::Comm& comm_;
  TokenType type_;
  std::vector<std::int64_t> lengths_;
  std::int64_t first_ = 0, sequences_ = 0, byte_offset_ = 0, token_bytes_ = 0;
  std::unique_ptr<AtomicOutput> bin_, idx_;
  std::unique_ptr<PositionedWriter> bin_writer_;  ///< this rank's handle on the .bin
};

/// Collective. Writes PREFIX.idx and PREFIX.bin, one document per sequence: the sequences of all
/// ranks in rank order, this rank's given by `lengths` (tokens each) and `tokens` (theirs back to
/// back, type.bytes a token, little-endian). Offsets come from exclusive scans; rank 0 writes the
/// header, every rank its own byte ranges (positioned writes). Written as .tmp files renamed when
/// every rank succeeded (the .bin first); byte-identical for any rank count.
void write_indexed_dataset(const mpi::Comm& comm, const std::string& prefix, TokenType type,
                           std::span<const std::int64_t> lengths, std::span<const std::byte> tokens);

}  // namespace weave::io
