// order.h5: /order int64 [N], /path_offsets int64 [P+1], /link_similarity float32 [N] (docs/format.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/hdf5.hpp"
#include "mpi/comm.hpp"
#include "weave/ids.hpp"

namespace weave::order {

/// Collective. order_block and link_similarity: positions block_range(N, P, rank). boundaries:
/// positions (> 0) where a new path starts, sorted, concatenated over ranks in rank order.
void write_order_file(const mpi::Comm& comm, const std::string& path, std::int64_t num_docs,
                      const std::vector<std::int64_t>& order_block, const std::vector<float>& link_similarity,
                      const std::vector<std::int64_t>& boundaries, const nlohmann::json& attributes);

/// This rank's positions block_range(N, P, rank) of /order (collective), and the attributes. Throws
/// UserError when the file has no /order; the permutation itself is checked by the reader's user
/// (it knows N).
struct OrderBlock {
  std::int64_t num_docs = 0;
  BlockRange positions;
  std::vector<std::int64_t> docs;
  nlohmann::json corpus;  ///< the corpus it was made from (corpus/provenance.hpp); null in older files
  nlohmann::json dedup;   ///< made with --dedup: {path, threshold, kept_documents, removed_documents}; else null
  nlohmann::json attributes;  ///< algorithm, rounds, quality (parsed), dedup (parsed), creator_version: those present

  // With OrderColumns::kAll only:
  std::vector<float> link_similarity;      ///< at `positions`
  std::int64_t paths = 0;                  ///< rows of /path_offsets - 1
  BlockRange offset_rows;                  ///< block_range(paths + 1, P, rank)
  std::vector<std::int64_t> path_offsets;  ///< /path_offsets at offset_rows
};
/// What read_order_file reads besides /order and the attributes.
enum class OrderColumns { kOrder, kAll };
OrderBlock read_order_file(const mpi::Comm& comm, const std::string& path, OrderColumns columns = OrderColumns::kOrder);
/// The same from a file opened already (on comm).
OrderBlock read_order_file(const mpi::Comm& comm, io::File file, OrderColumns columns = OrderColumns::kOrder);

/// Collective: throws the same UserError everywhere unless the blocks hold every id of [0, n)
/// exactly once (names the first bad position). With `kept` (1/0 per id of this rank's
/// block_range(n, P, rank), and kept_count over all ranks): every kept id exactly once instead.
void check_permutation(const mpi::Comm& comm, const std::string& path, const OrderBlock& block, std::int64_t n,
                       const std::vector<std::uint8_t>* kept = nullptr, std::int64_t kept_count = 0);

}  // namespace weave::order
