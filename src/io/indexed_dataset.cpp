#include "io/indexed_dataset.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "io/atomic_output.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::io {

namespace {

constexpr std::array<char, 9> kMagic = {'M', 'M', 'I', 'D', 'I', 'D', 'X', '\0', '\0'};
constexpr std::int64_t kHeaderBytes = 9 + 8 + 1 + 8 + 8;  // magic, version, dtype code, two counts

/// bytes at offset of the open file fd (named path in errors) into out, however many pread calls it takes.
void read_fully(int fd, const std::string& path, std::int64_t offset, std::int64_t bytes, void* out) {
  auto* to = static_cast<char*>(out);
  while (bytes > 0) {
    const ssize_t got = ::pread(fd, to, static_cast<std::size_t>(bytes), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0)
      throw UserError(fmt::format("{}: read failed at byte {}: {}", path, offset,
                                  got < 0 ? std::strerror(errno) : "unexpected end of file"));
    to += got, offset += got, bytes -= got;
  }
}

/// A file read by offset (pread), closed on scope exit.
class PositionedFile {
 public:
  explicit PositionedFile(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) throw UserError(fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) throw UserError(fmt::format("{}: cannot stat: {}", path_, std::strerror(errno)));
    size_ = static_cast<std::int64_t>(st.st_size);
  }
  PositionedFile(const PositionedFile&) = delete;
  PositionedFile& operator=(const PositionedFile&) = delete;
  ~PositionedFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::int64_t size() const { return size_; }
  /// bytes at offset into out; the caller has checked that they lie inside the file.
  void read_at(std::int64_t offset, std::int64_t bytes, void* out) const { read_fully(fd_, path_, offset, bytes, out); }

 private:
  std::string path_;
  int fd_ = -1;
  std::int64_t size_ = 0;
};

/// A file written by offset (pwrite); created (emptied) when `create`.

template <typename T>
T little_endian_at(const unsigned char* p) {
  T value{};
  std::memcpy(&value, p, sizeof(T));  // the format is little-endian, like every machine Weave runs on
  return value;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

}  // namespace

/// One file open for positioned writes (pwrite at any offset, from any thread).
class PositionedWriter {
 public:
  PositionedWriter(std::string path, bool create) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | (create ? O_CREAT | O_TRUNC : 0), 0644);
    if (fd_ < 0) throw UserError(fmt::format("{}: cannot open for writing: {}", path_, std::strerror(errno)));
  }
  PositionedWriter(const PositionedWriter&) = delete;
  PositionedWriter& operator=(const PositionedWriter&) = delete;
  ~PositionedWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  void write_at(std::int64_t offset, const void* data, std::int64_t bytes) const {
    const auto* from = static_cast<const char*>(data);
    while (bytes > 0) {
      const ssize_t put = ::pwrite(fd_, from, static_cast<std::size_t>(bytes), static_cast<off_t>(offset));
      if (put < 0 && errno == EINTR) continue;
      if (put <= 0) throw UserError(fmt::format("{}: write failed at byte {}: {}", path_, offset, std::strerror(errno)));
      from += put, offset += put, bytes -= put;
    }
  }
  void close() {
    if (fd_ >= 0 && ::close(fd_) != 0) {
      fd_ = -1;
      throw UserError(fmt::format("{}: close failed: {}", path_, std::strerror(errno)));
    }
    fd_ = -1;
  }

 private:
  std::string path_;
  int fd_ = -1;
};

IndexedDatasetInfo read_indexed_dataset_info(const mpi::Comm& comm, const std::string& path) {
  // Rank 0 reads and checks; every rank gets the result.
  const std::string prefix = indexed_dataset_prefix(path);
  IndexedDatasetInfo info;
  info.prefix = prefix;
  std::int64_t fields[6] = {0, 0, 0, 0, 0, 0};  // code, sequences, document entries, idx bytes, bin bytes
  mpi::collectively(comm, [&] {
    if (!comm.is_root()) return;
    const std::string idx = prefix + ".idx", bin = prefix + ".bin";
    const PositionedFile f(idx);
    if (f.size() < kHeaderBytes)
      throw UserError(fmt::format("{}: {} bytes, shorter than the {}-byte header of a Megatron indexed dataset", idx,
                                  f.size(), kHeaderBytes));
    std::array<unsigned char, kHeaderBytes> h{};
    f.read_at(0, kHeaderBytes, h.data());
    if (std::memcmp(h.data(), kMagic.data(), kMagic.size()) != 0)
      throw UserError(fmt::format("{}: not a Megatron indexed dataset index (its first bytes are not MMIDIDX)", idx));
    const auto version = little_endian_at<std::uint64_t>(h.data() + 9);
    if (version != 1) throw UserError(fmt::format("{}: index version {} (Weave reads version 1)", idx, version));
    const std::uint8_t code = h[17];
    if (!token_type_of_code(code))
      throw UserError(fmt::format("{}: unknown dtype code {} (known: 1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, "
                                  "6 float64, 7 float32, 8 uint16)", idx, code));
    const auto sequences = little_endian_at<std::uint64_t>(h.data() + 18);
    const auto documents = little_endian_at<std::uint64_t>(h.data() + 26);
    const std::int64_t limit = std::int64_t{1} << 52;  // counts this large are garbage, not data
    if (sequences > static_cast<std::uint64_t>(limit) || documents > static_cast<std::uint64_t>(limit))
      throw UserError(fmt::format("{}: implausible counts in the header ({} sequences, {} document entries)", idx,
                                  sequences, documents));
    const auto s = static_cast<std::int64_t>(sequences), d = static_cast<std::int64_t>(documents);
    const std::int64_t want = kHeaderBytes + 12 * s + 8 * d;
    if (f.size() != want)
      throw UserError(fmt::format("{}: {} bytes, but a header of {} sequences and {} document entries needs {} "
                                  "({})", idx, f.size(), s, d, want,
                                  f.size() < want ? "truncated" : "extra bytes: sequence modes of a multimodal "
                                                                  "dataset are not a token store"));
    if (d != s + 1)
      throw UserError(fmt::format("{}: {} document entries for {} sequences: a token store has one sequence per "
                                  "document ({} entries)", idx, d, s, s + 1));
    const PositionedFile b(bin);
    fields[0] = code, fields[1] = s, fields[2] = d, fields[3] = f.size(), fields[4] = b.size();
  });
  comm.bcast(std::span<std::int64_t>(fields, 5), 0);
  info.type = *token_type_of_code(static_cast<std::uint8_t>(fields[0]));
  info.sequences = fields[1];
  info.document_entries = fields[2];
  info.idx_bytes = fields[3];
  info.bin_bytes = fields[4];
  return info;
}

std::optional<TokenType> token_type_of_code(std::uint8_t code) {
  switch (code) {
    case 1: return TokenType{1, 1, "uint8", true, false};
    case 2: return TokenType{2, 1, "int8", true, true};
    case 3: return TokenType{3, 2, "int16", true, true};
    case 4: return TokenType{4, 4, "int32", true, true};
    case 5: return TokenType{5, 8, "int64", true, true};
    case 6: return TokenType{6, 8, "float64", false, true};
    case 7: return TokenType{7, 4, "float32", false, true};
    case 8: return TokenType{8, 2, "uint16", true, false};
    default: return std::nullopt;
  }
}

std::string indexed_dataset_prefix(const std::string& path) {
  if (ends_with(path, ".idx") || ends_with(path, ".bin")) return path.substr(0, path.size() - 4);
  return path;
}

bool is_indexed_dataset(const std::string& path) {
  try {
    const PositionedFile f(indexed_dataset_prefix(path) + ".idx");
    if (f.size() < static_cast<std::int64_t>(kMagic.size())) return false;
    std::array<char, 9> head{};
    f.read_at(0, static_cast<std::int64_t>(head.size()), head.data());
    return head == kMagic;
  } catch (const UserError&) {
    return false;
  }
}

IndexedDatasetBlock read_indexed_dataset(const mpi::Comm& comm, const IndexedDatasetInfo& info_in, std::int64_t first,
                                         std::int64_t count) {
  const std::string idx = info_in.prefix + ".idx", bin = info_in.prefix + ".bin";
  IndexedDatasetBlock block;
  block.info = info_in;
  block.first = first;
  const IndexedDatasetInfo& info = block.info;
  // The rows are the ranks' blocks in rank order (pointers are checked against a prefix sum).
  const auto firsts = comm.allgather<std::int64_t>(first);
  const auto counts = comm.allgather<std::int64_t>(count);
  for (int r = 0; r + 1 < comm.size(); ++r)
    WEAVE_ASSERT(firsts[r] + counts[r] == firsts[r + 1], "read_indexed_dataset: rows not in rank order");
  WEAVE_ASSERT(first >= 0 && count >= 0 && first + count <= info.sequences, "read_indexed_dataset: rows out of range");
  const std::int64_t s = info.sequences, bytes = info.type.bytes;

  std::int64_t local_bytes = 0;
  mpi::collectively(comm, [&] {
    const PositionedFile f(idx);
    std::vector<std::int32_t> lengths(static_cast<std::size_t>(count));
    block.pointers.resize(static_cast<std::size_t>(count));
    std::vector<std::int64_t> documents(static_cast<std::size_t>(count + 1));
    if (count > 0) {
      f.read_at(kHeaderBytes + 4 * first, 4 * count, lengths.data());
      f.read_at(kHeaderBytes + 4 * s + 8 * first, 8 * count, block.pointers.data());
    }
    f.read_at(kHeaderBytes + 12 * s + 8 * first, 8 * (count + 1), documents.data());
    block.lengths.assign(lengths.begin(), lengths.end());
    for (std::int64_t i = 0; i < count; ++i) {
      if (lengths[i] < 0)
        throw UserError(fmt::format("{}: row {} has a negative length ({})", idx, first + i, lengths[i]), first + i);
      local_bytes += lengths[i] * bytes;
    }
    for (std::int64_t i = 0; i <= count; ++i)
      if (documents[i] != first + i)
        throw UserError(fmt::format("{}: document entry {} is {}, not {}: a token store has one sequence per "
                                    "document", idx, first + i, documents[i], first + i), first + i);
  });
  const std::int64_t offset = comm.exscan_sum(local_bytes);
  const std::int64_t total = comm.sum(local_bytes);
  mpi::collectively(comm, [&] {
    std::int64_t at = offset;
    for (std::int64_t i = 0; i < count; ++i) {
      if (block.pointers[i] != at)
        throw UserError(fmt::format("{}: row {} points to byte {} of the .bin, but the lengths before it put it at {}",
                                    idx, first + i, block.pointers[i], at), first + i);
      at += block.lengths[i] * bytes;
      if (at > info.bin_bytes)
        throw UserError(fmt::format("{}: {} bytes, but row {} ends at byte {} (truncated?)", bin, info.bin_bytes,
                                    first + i, at), first + i);
    }
    if (comm.is_root() && total != info.bin_bytes)
      throw UserError(fmt::format("{}: {} bytes, but the index describes {} ({} tokens of {} bytes): extra bytes", bin,
                                  info.bin_bytes, total, total / bytes, bytes));
  });
  block.info.tokens = total / bytes;
  return block;
}

TokenReader::TokenReader(const IndexedDatasetInfo& info) : path_(info.prefix + ".bin"), bytes_(info.type.bytes) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw UserError(fmt::format("{}: cannot open: {}", path_, std::strerror(errno)));
  // Mapped read-only: a segment is then one memcpy from the page cache, not a system call (a
  // million small preads cost more than the bytes they copy). Where mapping fails, pread.
  struct stat st {};
  if (::fstat(fd_, &st) == 0 && st.st_size > 0) {
    void* m = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd_, 0);
    if (m != MAP_FAILED) {
      map_ = static_cast<const std::byte*>(m);
      map_bytes_ = st.st_size;
    }
  }
}

TokenReader::~TokenReader() {
  if (map_) ::munmap(const_cast<std::byte*>(map_), static_cast<std::size_t>(map_bytes_));
  if (fd_ >= 0) ::close(fd_);
}

void TokenReader::read(std::int64_t pointer, std::int64_t first, std::int64_t count, std::byte* out) const {
  const std::int64_t offset = pointer + first * bytes_, bytes = count * bytes_;
  if (map_ && offset >= 0 && offset + bytes <= map_bytes_) {
    std::memcpy(out, map_ + offset, static_cast<std::size_t>(bytes));
    return;
  }
  read_fully(fd_, path_, offset, bytes, out);  // also names a read past the end
}

IndexedDatasetWriter::IndexedDatasetWriter(const mpi::Comm& comm, const std::string& prefix, TokenType type,
                                           std::span<const std::int64_t> lengths)
    : comm_(comm), type_(type), lengths_(lengths.begin(), lengths.end()) {
  const auto count = static_cast<std::int64_t>(lengths_.size());
  std::int64_t local_tokens = 0;
  mpi::collectively(comm, [&] {
    for (std::int64_t length : lengths_) {
      if (length < 0 || length > std::numeric_limits<std::int32_t>::max())
        throw UserError(fmt::format("{}.idx: a sequence of {} tokens does not fit the format's int32 lengths", prefix,
                                    length));
      local_tokens += length;
    }
  });
  token_bytes_ = local_tokens * type.bytes;
  first_ = comm.exscan_sum(count);
  sequences_ = comm.sum(count);
  byte_offset_ = comm.exscan_sum(token_bytes_);
  bin_ = std::make_unique<AtomicOutput>(comm, prefix + ".bin");
  idx_ = std::make_unique<AtomicOutput>(comm, prefix + ".idx");
  mpi::collectively(comm, [&] {  // rank 0 creates both files and writes the header
    if (!comm.is_root()) return;
    PositionedWriter b(bin_->tmp_path(), true);
    b.close();
    PositionedWriter f(idx_->tmp_path(), true);
    std::array<unsigned char, kHeaderBytes> h{};
    std::memcpy(h.data(), kMagic.data(), kMagic.size());
    const std::uint64_t version = 1, s = static_cast<std::uint64_t>(sequences_), d = s + 1;
    std::memcpy(h.data() + 9, &version, 8);
    h[17] = type.code;
    std::memcpy(h.data() + 18, &s, 8);
    std::memcpy(h.data() + 26, &d, 8);
    f.write_at(0, h.data(), kHeaderBytes);
    const std::int64_t last = sequences_;  // the document index's closing entry
    f.write_at(kHeaderBytes + 12 * sequences_ + 8 * sequences_, &last, 8);
    f.close();
  });
  mpi::collectively(comm, [&] { bin_writer_ = std::make_unique<PositionedWriter>(bin_->tmp_path(), false); });
}

IndexedDatasetWriter::~IndexedDatasetWriter() = default;

void IndexedDatasetWriter::write_tokens(std::int64_t offset, std::span<const std::byte> bytes) const {
  WEAVE_ASSERT(offset >= 0 && offset + static_cast<std::int64_t>(bytes.size()) <= token_bytes_,
               "indexed dataset: tokens written outside the rank's byte range");
  if (!bytes.empty()) bin_writer_->write_at(byte_offset_ + offset, bytes.data(), static_cast<std::int64_t>(bytes.size()));
}

void IndexedDatasetWriter::finish() {
  const auto count = static_cast<std::int64_t>(lengths_.size());
  mpi::collectively(comm_, [&] {
    bin_writer_->close();
    std::vector<std::int32_t> length32(lengths_.begin(), lengths_.end());
    std::vector<std::int64_t> pointers(static_cast<std::size_t>(count)), documents(static_cast<std::size_t>(count));
    for (std::int64_t i = 0, at = byte_offset_; i < count; at += lengths_[i] * type_.bytes, ++i)
      pointers[i] = at, documents[i] = first_ + i;
    PositionedWriter f(idx_->tmp_path(), false);
    if (count > 0) {
      f.write_at(kHeaderBytes + 4 * first_, length32.data(), 4 * count);
      f.write_at(kHeaderBytes + 4 * sequences_ + 8 * first_, pointers.data(), 8 * count);
      f.write_at(kHeaderBytes + 12 * sequences_ + 8 * first_, documents.data(), 8 * count);
    }
    f.close();
  });
  bin_->commit();
  idx_->commit();
}

void write_indexed_dataset(const mpi::Comm& comm, const std::string& prefix, TokenType type,
                           std::span<const std::int64_t> lengths, std::span<const std::byte> tokens) {
  IndexedDatasetWriter writer(comm, prefix, type, lengths);
  WEAVE_ASSERT(static_cast<std::int64_t>(tokens.size()) == writer.token_bytes(),
               "write_indexed_dataset: tokens do not match the lengths");
  mpi::collectively(comm, [&] { writer.write_tokens(0, tokens); });
  writer.finish();
}

}  // namespace weave::io
