#include "pack/context_dataset.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <memory>
#include <span>

#include <fmt/format.h>

#include "io/indexed_dataset.hpp"
#include "mpi/ask_owners.hpp"
#include "mpi/collective_error.hpp"
#include "pack/contexts_file.hpp"
#include "util/large_buffer.hpp"
#include "util/progress.hpp"
#include "weave/error.hpp"

namespace weave::pack {

namespace {

/// Writes `count` copies of token id `id` (already checked to fit the type) at `out`.
void fill(std::byte* out, std::int64_t count, std::int64_t id, const io::TokenType& type) {
  std::byte one[8];
  const auto u = static_cast<std::uint64_t>(id);
  std::memcpy(one, &u, 8);  // little-endian: the low `type.bytes` bytes are the id
  for (std::int64_t x = 0; x < count; ++x) std::memcpy(out + x * type.bytes, one, static_cast<std::size_t>(type.bytes));
}

/// One segment's document tokens: `tokens` tokens at byte `byte` of dataset `shard` of the store, to `out`.
struct SegmentCopy {
  std::int64_t shard;
  std::int64_t byte;
  std::int64_t tokens;
  std::byte* out;
};

/// Output bytes a chunk of contexts holds at most.
constexpr std::int64_t kChunkBytes = std::int64_t{256} << 20;

/// Lays out contexts [first, last) of the block at `tokens` (separators and padding written, one
/// copy per segment) and copies their segments' tokens from the store; returns the tokens copied.
std::int64_t fill_chunk(const ContextsBlock& b, std::span<const std::int64_t> where, std::int64_t first,
                        std::int64_t last, std::int64_t L, const DatasetIds& ids, const io::TokenType& type,
                        const std::string& contexts_path, const corpus::TokenStoreBlock& store,
                        std::vector<std::unique_ptr<io::TokenReader>>& readers, std::byte* tokens) {
  std::vector<SegmentCopy> copies;
  std::int64_t copied = 0;
  for (std::int64_t c = first; c < last; ++c) {
    std::byte* out = tokens + (c - first) * L * type.bytes;
    std::int64_t at = 0;  // tokens of this context laid out so far
    for (std::int64_t s = b.offsets[c] - b.offsets.front(); s < b.offsets[c + 1] - b.offsets.front(); ++s) {
      const std::int64_t shard = where[3 * s], pointer = where[3 * s + 1], doc_tokens = where[3 * s + 2];
      const std::int64_t begin = b.doc_offset[s], end = begin + b.length[s];
      // The document's own tokens, then its separator positions (EOD).
      const std::int64_t own = std::max<std::int64_t>(0, std::min(end, doc_tokens) - begin);
      if (own > 0) copies.push_back({shard, pointer + begin * type.bytes, own, out + at * type.bytes});
      if (b.length[s] > own) fill(out + (at + own) * type.bytes, b.length[s] - own, ids.eod, type);
      copied += own;
      at += b.length[s];
    }
    WEAVE_ASSERT(at == b.num_tokens[c], "context dataset: segments do not add up to num_tokens");
    if (at < L) {
      if (ids.pad < 0)
        throw UserError(fmt::format("{}: context {} has {} tokens of {}: padding needs --pad-id", contexts_path,
                                    b.contexts.begin + c, at, L), b.contexts.begin + c);
      fill(out + at * type.bytes, L - at, ids.pad, type);
    }
  }
  // Then the tokens, in the order they lie in the store: the order permutes the documents, so in
  // context order every segment is a read at a random place (from the disk: a seek and a
  // readahead wasted each); sorted, the chunk's reads sweep each file once, front to back.
  std::sort(copies.begin(), copies.end(), [](const SegmentCopy& x, const SegmentCopy& y) {
    return x.shard != y.shard ? x.shard < y.shard : x.byte < y.byte;
  });
  for (const SegmentCopy& copy : copies) {
    auto& reader = readers[static_cast<std::size_t>(copy.shard)];
    if (!reader) reader = std::make_unique<io::TokenReader>(store.shards[static_cast<std::size_t>(copy.shard)].info);
    reader->read(copy.byte, 0, copy.tokens, copy.out);
  }
  return copied;
}

}  // namespace

DatasetWork write_context_dataset(const mpi::Comm& comm, const std::string& contexts_path, std::int64_t L,
                                   const corpus::CorpusBlock& corpus, const corpus::TokenStoreBlock& store,
                                   DatasetIds ids, const std::string& prefix) {
  const io::TokenType type = store.type;
  DatasetWork work;
  const double start = util::wall_seconds();
  const ContextsBlock b = ContextsFile::open(comm, contexts_path).read_block();
  // Where each segment's document sits in the store: (dataset, byte offset, tokens), from the document's owner.
  const auto where = mpi::ask_owners<std::int64_t>(
      comm, b.doc_id, 3, [&](std::int64_t doc) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(doc)); },
      [&](std::int64_t doc, std::int64_t* a) {
        const corpus::TokenLocation at = store.locate(corpus, LocalId(doc - corpus.range.begin));
        a[0] = at.shard;
        a[1] = at.pointer;
        a[2] = at.tokens;
      });
  const auto contexts = static_cast<std::int64_t>(b.num_tokens.size());
  const std::vector<std::int64_t> lengths(static_cast<std::size_t>(contexts), L);
  io::IndexedDatasetWriter writer(comm, prefix, type, lengths);

  // The rank's contexts in chunks, each laid out and filled in one of two buffers while the other
  // is written (a thread writes it): the write overlaps the next chunk's reads, and memory is two
  // chunks, not the rank's whole output. At least ~8 chunks, at most 256 MiB each.
  const std::int64_t context_bytes = L * type.bytes;
  const std::int64_t chunk_contexts =
      std::clamp<std::int64_t>(contexts / 8, 1, std::max<std::int64_t>(1, kChunkBytes / context_bytes));
  const auto buffer_bytes = static_cast<std::size_t>(std::min(contexts, chunk_contexts) * context_bytes);
  const util::LargeBuffer buffers[2] = {util::LargeBuffer(buffer_bytes), util::LargeBuffer(buffer_bytes)};
  std::future<void> writing[2];
  double wait_seconds = 0;
  auto wait_for = [&](std::future<void>& w) {
    if (!w.valid()) return;
    const double t = util::wall_seconds();
    w.get();  // rethrows the writer's error
    wait_seconds += util::wall_seconds() - t;
  };
  std::int64_t copied = 0;
  // One reader (a mapping) per dataset of the store, opened when a segment first needs it.
  std::vector<std::unique_ptr<io::TokenReader>> readers(store.shards.size());
  mpi::collectively(comm, [&] {
    try {
      for (std::int64_t first = 0, k = 0; first < contexts; first += chunk_contexts, ++k) {
        const std::int64_t last = std::min(contexts, first + chunk_contexts);
        std::future<void>& slot = writing[k % 2];
        wait_for(slot);  // the buffer's previous chunk is on disk
        std::byte* const tokens = buffers[k % 2].data();
        copied += fill_chunk(b, where, first, last, L, ids, type, contexts_path, store, readers, tokens);
        slot = std::async(std::launch::async, [&writer, tokens, first, last, context_bytes] {
          writer.write_tokens(first * context_bytes,
                              std::span<const std::byte>(tokens, static_cast<std::size_t>((last - first) * context_bytes)));
        });
      }
      for (auto& w : writing) wait_for(w);
    } catch (...) {
      for (auto& w : writing)  // no write may outlive its buffer
        if (w.valid()) w.wait();
      throw;
    }
  });
  const double filled = util::wall_seconds();
  writer.finish();
  work.tokens_copied = copied;
  work.write_seconds = wait_seconds + (util::wall_seconds() - filled);
  work.read_seconds = filled - start - wait_seconds;
  return work;
}

}  // namespace weave::pack
