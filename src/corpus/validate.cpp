#include "corpus/validate.hpp"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "mpi/collective_error.hpp"
#include "util/random.hpp"
#include "weave/error.hpp"
#include "util/log.hpp"

namespace weave::corpus {

namespace {

/// "shard.h5: /lengths row 17 (corpus row 1017)"
std::string where(const CorpusInfo& info, const std::string& dataset, std::int64_t file_row) {
  const auto [shard, row] = info.locate(file_row);
  if (info.shards.size() == 1) return fmt::format("{}: {} row {}", shard->path, dataset, row);
  return fmt::format("{}: {} row {} (corpus row {})", shard->path, dataset, row, file_row);
}

}  // namespace

void check_embedding(const CorpusInfo& info, std::int64_t file_row, const float* x, ZeroVectorPolicy policy) {
  bool zero = true;
  for (std::int64_t j = 0; j < info.dim; ++j) {
    if (!std::isfinite(x[j]))
      throw UserError(fmt::format("{}: embedding has a non-finite value ({}) in column {}",
                                  where(info, "/embeddings", file_row), x[j], j),
                      file_row);
    zero = zero && x[j] == 0.0f;
  }
  if (zero && policy == ZeroVectorPolicy::kError)
    throw UserError(fmt::format("{}: embedding is all zeros (cosine similarity is undefined); fix the row or pass "
                                "--on-zero-vector=drop or =keep",
                                where(info, "/embeddings", file_row)),
                    file_row);
}

void check_values(const CorpusBlock& block, ZeroVectorPolicy policy) {
  const CorpusInfo& info = block.info;
  const std::int64_t d = info.dim;
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const std::int64_t row = block.file_row(LocalId(i));
    if (info.embeddings_read) check_embedding(info, row, block.embeddings.data() + i * d, policy);
    if (block.lengths[i] <= 0)
      throw UserError(fmt::format("{}: token length {} is not positive{}", where(info, "/lengths", row), block.lengths[i],
                                  info.has_lengths ? "" : " (the token store given by --lengths-from has an empty "
                                                          "sequence for this row)"),
                      row);
  }
}

void check_unique_doc_ids(const mpi::Comm& comm, const CorpusBlock& block) {
  struct Entry {
    std::int64_t id;
    std::int64_t row;
  };
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const auto id = block.doc_ids[i];
    auto& to = send[util::mix64(static_cast<std::uint64_t>(id)) % static_cast<std::uint64_t>(comm.size())];
    to.push_back(id);
    to.push_back(block.file_row(LocalId(i)));
  }
  const auto received = comm.alltoallv(send);
  std::vector<Entry> entries;
  for (const auto& from : received)
    for (std::size_t k = 0; k + 1 < from.size(); k += 2) entries.push_back({from[k], from[k + 1]});
  mpi::collectively(comm, [&] {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.id != b.id ? a.id < b.id : a.row < b.row; });
    // The repeat with the smallest row is reported, whatever the rank count.
    const Entry* first = nullptr;
    const Entry* repeat = nullptr;
    for (std::size_t k = 1; k < entries.size(); ++k) {
      if (entries[k].id != entries[k - 1].id) continue;
      std::size_t g = k - 1;
      while (g > 0 && entries[g - 1].id == entries[k].id) --g;
      if (repeat == nullptr || entries[k].row < repeat->row) {
        first = &entries[g];
        repeat = &entries[k];
      }
    }
    if (repeat != nullptr) {
      const auto [shard, row] = block.info.locate(first->row);
      throw UserError(fmt::format("{}: duplicate doc id {} (first seen at {} row {})",
                                  where(block.info, "/doc_ids", repeat->row), repeat->id, shard->path, row),
                      repeat->row);
    }
  });
}

void keep_rows(const mpi::Comm& comm, CorpusBlock& block, const std::vector<std::int64_t>& keep) {
  const std::int64_t d = block.info.dim;
  const auto kept = static_cast<std::int64_t>(keep.size());
  const std::int64_t total = comm.sum(kept);
  // New ids are dense in file order: this rank's kept rows become [offset, offset + kept).
  const std::int64_t offset = comm.exscan_sum(kept);
  const int p = comm.size();
  const bool embeddings = !block.embeddings.empty();
  std::vector<std::vector<float>> send_emb(p);
  std::vector<std::vector<std::int64_t>> send_len(p), send_ids(p), send_rows(p);
  std::vector<std::vector<std::int32_t>> send_src(p), send_top(p);
  for (std::int64_t k = 0; k < kept; ++k) {
    const std::int64_t i = keep[k];
    const int to = block_owner(total, p, GlobalId(offset + k));
    if (embeddings) {
      const float* x = block.embeddings.data() + i * d;
      send_emb[to].insert(send_emb[to].end(), x, x + d);
    }
    send_len[to].push_back(block.lengths[i]);
    send_rows[to].push_back(block.file_row(LocalId(i)));
    if (!block.doc_ids.empty()) send_ids[to].push_back(block.doc_ids[i]);
    if (!block.sources.empty()) send_src[to].push_back(block.sources[i]);
    if (!block.topics.empty()) send_top[to].push_back(block.topics[i]);
  }
  // Senders are ranks in rank order, and each sends its rows in id order: concatenation is sorted.
  auto concat = [](const auto& parts) {
    std::decay_t<decltype(parts[0])> out;
    for (const auto& part : parts) out.insert(out.end(), part.begin(), part.end());
    return out;
  };
  block.embeddings = concat(comm.alltoallv(send_emb));
  block.lengths = concat(comm.alltoallv(send_len));
  block.file_rows = concat(comm.alltoallv(send_rows));
  block.doc_ids = concat(comm.alltoallv(send_ids));
  block.sources = concat(comm.alltoallv(send_src));
  block.topics = concat(comm.alltoallv(send_top));
  block.info.num_docs = total;
  block.range = block_range(total, p, comm.rank());
  WEAVE_ASSERT(static_cast<std::int64_t>(block.lengths.size()) == block.range.size(), "keep_rows: rebalance lost rows");
}

void drop_zero_rows(const mpi::Comm& comm, CorpusBlock& block) {
  const std::int64_t d = block.info.dim;
  std::vector<std::int64_t> keep;
  for (std::int64_t i = 0; i < block.size(); ++i) {
    const float* x = block.embeddings.data() + i * d;
    if (std::any_of(x, x + d, [](float v) { return v != 0.0f; })) keep.push_back(i);
  }
  const auto kept = static_cast<std::int64_t>(keep.size());
  const std::int64_t total = comm.sum(kept);
  const std::int64_t dropped = block.info.total_rows - total;
  block.info.dropped_zero_rows = dropped;
  block.info.num_docs = total;
  if (dropped == 0) return;
  mpi::collectively(comm, [&] {
    if (total < comm.size())
      throw UserError(fmt::format("{}: {} left after dropping {}, fewer than the {} ranks of this job",
                                  block.info.path, util::count_of(total, "document"),
                                  util::count_of(dropped, "all-zero embedding"), comm.size()));
  });
  keep_rows(comm, block, keep);
}

}  // namespace weave::corpus
