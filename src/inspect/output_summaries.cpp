#include "inspect/output_summaries.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "corpus/manifest.hpp"
#include "corpus/provenance.hpp"
#include "corpus/token_store.hpp"
#include "io/hdf5.hpp"
#include "io/indexed_dataset.hpp"
#include "knn/knn_file.hpp"
#include "mpi/ask_owners.hpp"
#include "mpi/collective_error.hpp"
#include "order/order_file.hpp"
#include "pack/contexts_file.hpp"
#include "util/exact_sum.hpp"
#include "util/log.hpp"
#include "weave/error.hpp"

namespace weave::inspect {

namespace {

nlohmann::json root_attributes(const io::File& f, std::initializer_list<const char*> names) {
  nlohmann::json out = nlohmann::json::object();
  for (const char* n : names) {
    if (auto s = io::read_string_attribute(f, "/", n)) out[n] = *s;
    else if (auto i = io::read_int_attribute(f, "/", n)) out[n] = *i;
  }
  return out;
}

template <typename T>
std::vector<T> read_block(const io::File& f, const std::string& name, BlockRange r) {
  std::vector<T> out(static_cast<std::size_t>(r.size()));
  io::read_rows(f, name, r.begin, r.size(), 1, out.data());
  return out;
}

/// A text manifest whose first entry is a Megatron indexed dataset: a sharded token store.
bool lists_token_datasets(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4096, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(in.gcount()));
  if (head.empty() || !corpus::looks_like_text(head)) return false;
  // A longer file is cut at its last whole line within the first 4 KiB.
  if (in.gcount() == 4096 && head.rfind('\n') != std::string::npos) head.resize(head.rfind('\n') + 1);
  const auto entries = corpus::manifest_entries(path, head);
  return !entries.empty() && io::is_indexed_dataset(entries.front().path);
}

}  // namespace

InspectedFile open_inspected(const mpi::Comm& comm, const std::string& path) {
  // Rank 0 looks at the name and the first bytes: a .idx or .bin is taken for a token store even
  // without the magic, so its reader names the fault.
  std::string kind = "corpus";
  if (comm.is_root()) {
    if (io::is_indexed_dataset(path) || io::indexed_dataset_prefix(path) != path || lists_token_datasets(path))
      kind = "tokens";
    else if (io::is_hdf5(path))
      kind = "hdf5";
  }
  InspectedFile out{comm.bcast_string(kind, 0), std::nullopt};
  if (out.kind != "hdf5") return out;
  out.kind = "corpus";
  try {
    mpi::collectively(comm, [&] { out.file.emplace(io::File::open(comm, path)); });
  } catch (const UserError&) {
    return out;  // the corpus reader gives the precise error
  }
  // Every rank asks (HDF5's metadata reads are collective); the answers agree.
  const io::File& f = *out.file;
  if (f.has_dataset("/neighbors")) out.kind = "knn";
  else if (f.has_dataset("/order")) out.kind = "order";
  else if (f.has_dataset("/kept")) out.kind = "dedup";
  else if (f.has_dataset("/contexts/segment_offsets")) out.kind = "contexts";
  else out.file.reset();  // a corpus: its reader opens its shards itself
  return out;
}

nlohmann::json summarize_knn(const mpi::Comm& comm, io::File file) {
  const knn::KnnFileBlock b = knn::read_knn_file(comm, std::move(file));
  const int k = b.k;
  util::ExactSum first, last;
  float lo = std::numeric_limits<float>::infinity(), hi = -lo;
  std::int64_t missing = 0;
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(comm.size()));
  for (std::int64_t i = 0; i < b.range.size(); ++i)
    for (int j = 0; j < k; ++j) {
      const std::int64_t v = b.lists.neighbors[i * k + j];
      const float s = b.lists.similarities[i * k + j];
      if (v < 0) {
        ++missing;
        continue;
      }
      lo = std::min(lo, s), hi = std::max(hi, s);
      if (j == 0) first.add(s);
      if (j == k - 1) last.add(s);
      send[block_owner(b.num_docs, comm.size(), GlobalId(v))].push_back(v);
    }
  // In-degree: how often a document is someone's neighbour (hubs concentrate the graph).
  std::vector<std::int64_t> indegree(static_cast<std::size_t>(b.range.size()), 0);
  for (const auto& part : comm.alltoallv(send))
    for (auto v : part) ++indegree[v - b.range.begin];
  std::int64_t max_in = 0, zero_in = 0;
  for (auto d : indegree) max_in = std::max(max_in, d), zero_in += d == 0;
  nlohmann::json j = {{"kind", "knn"},
                      {"documents", b.num_docs},
                      {"k", k},
                      {"mean_similarity_first_neighbor", util::ExactSum::value_of(comm.sum(first.units())) / static_cast<double>(b.num_docs)},
                      {"mean_similarity_kth_neighbor", util::ExactSum::value_of(comm.sum(last.units())) / static_cast<double>(b.num_docs)},
                      {"min_similarity", static_cast<double>(comm.min(lo))},
                      {"max_similarity", static_cast<double>(comm.max(hi))},
                      {"missing_neighbors", comm.sum(missing)},
                      {"max_in_degree", comm.max(max_in)},
                      {"documents_never_a_neighbor", comm.sum(zero_in)}};
  j["attributes"] = b.attributes;
  return j;
}

nlohmann::json summarize_order(const mpi::Comm& comm, io::File file) {
  const std::string path = file.path();
  const order::OrderBlock b = order::read_order_file(comm, std::move(file), order::OrderColumns::kAll);
  if (b.dedup.is_object() && b.dedup.contains("removed_documents")) {
    // An order of the documents a dedup file kept: distinct ids of the whole corpus, as many as were kept.
    const std::int64_t n = b.num_docs + b.dedup["removed_documents"].get<std::int64_t>();
    const std::vector<std::uint8_t> any(static_cast<std::size_t>(block_range(n, comm.size(), comm.rank()).size()), 1);
    order::check_permutation(comm, path, b, n, &any, b.num_docs);
  } else {
    order::check_permutation(comm, path, b, b.num_docs);
  }
  const std::int64_t paths = b.paths;
  const std::vector<std::int64_t>& offsets = b.path_offsets;
  std::int64_t longest = 0;
  for (std::size_t x = 1; x < offsets.size(); ++x) longest = std::max(longest, offsets[x] - offsets[x - 1]);
  // Path lengths across block boundaries: the next block's first offset.
  const auto firsts = comm.allgather<std::int64_t>(offsets.empty() ? -1 : offsets.front());
  if (!offsets.empty() && comm.rank() + 1 < comm.size() && firsts[comm.rank() + 1] >= 0)
    longest = std::max(longest, firsts[comm.rank() + 1] - offsets.back());
  util::ExactSum sum;
  std::int64_t n = 0;
  for (float s : b.link_similarity)
    if (!std::isnan(s)) sum.add(s), ++n;
  nlohmann::json j = {{"kind", "order"},
                      {"documents", b.num_docs},
                      {"paths", paths},
                      {"mean_path_length", static_cast<double>(b.num_docs) / static_cast<double>(std::max<std::int64_t>(1, paths))},
                      {"longest_path", comm.max(longest)},
                      {"mean_link_similarity", util::ExactSum::value_of(comm.sum(sum.units())) /
                                                   static_cast<double>(std::max<std::int64_t>(1, comm.sum(n)))},
                      {"is_permutation", true}};
  j["attributes"] = b.attributes;
  return j;
}

nlohmann::json summarize_dedup(const mpi::Comm& comm, io::File file) {
  const std::string path = file.path();
  std::int64_t n = 0;
  mpi::collectively(comm, [&] {
    for (const char* dataset : {"/kept", "/representative", "/group_size"})
      if (!file.has_dataset(dataset))
        throw UserError(fmt::format("{}: missing dataset {} (a dedup file made by weave dedup has it)", path, dataset));
    n = file.dataset_info("/kept").rows();
    if (n < comm.size())
      throw UserError(fmt::format("{}: {}, fewer than the {} ranks", path, util::count_of(n, "document"), comm.size()));
  });
  const BlockRange r = block_range(n, comm.size(), comm.rank());
  const auto kept = read_block<std::uint8_t>(file, "/kept", r);
  const auto representative = read_block<std::int64_t>(file, "/representative", r);
  const auto size = read_block<std::int64_t>(file, "/group_size", r);
  // Checked from the data, not only the attributes: kept rows represent themselves, removed ones another.
  std::int64_t removed = 0, inconsistent = -1, largest = 1;
  for (std::int64_t i = 0; i < r.size(); ++i) {
    removed += kept[i] ? 0 : 1;
    largest = std::max(largest, size[i]);
    if ((kept[i] != 0) != (representative[i] == r.begin + i) && inconsistent < 0) inconsistent = r.begin + i;
  }
  mpi::collectively(comm, [&] {
    if (inconsistent >= 0)
      throw UserError(fmt::format("{}: row {}: /kept and /representative disagree (a kept document represents itself)",
                                  path, inconsistent),
                      inconsistent);
  });
  nlohmann::json j = {{"kind", "dedup"},
                      {"documents", n},
                      {"kept_documents", n - comm.sum(removed)},
                      {"removed_documents", comm.sum(removed)},
                      {"largest_group", comm.max(largest)}};
  // The attributes, from the same open file (every rank reads them: HDF5's metadata reads are collective).
  nlohmann::json attrs = root_attributes(file, {"keep", "groups", "edges_at_threshold", "removed_tokens", "total_tokens",
                                              "group_size_histogram", "largest_groups", "creator_version"});
  if (auto t = io::read_double_attribute(file, "/", "threshold")) attrs["threshold"] = *t;
  for (const char* name : {"group_size_histogram", "largest_groups"})
    if (attrs.contains(name)) attrs[name] = corpus::parse_record(attrs[name].get<std::string>());
  j["attributes"] = attrs;
  return j;
}

nlohmann::json summarize_contexts(const mpi::Comm& comm, io::File opened, const CorpusOptions* corpus_options) {
  const pack::ContextsFile file = pack::ContextsFile::of(comm, std::move(opened));
  const std::string& path = file.path();
  const std::int64_t contexts = file.contexts(), segments = file.segments(), L = file.context_length();
  // Each rank takes a block of contexts and the (contiguous) segments they hold.
  const pack::ContextsBlock b = file.read_block();
  const BlockRange cr = b.contexts, sr = b.segments;
  std::int64_t used = 0, max_segments = 0, doc_starts = 0;
  for (std::int64_t c = 0; c < cr.size(); ++c) {
    used += b.num_tokens[c];
    max_segments = std::max(max_segments, b.offsets[c + 1] - b.offsets[c]);
  }
  for (auto s : b.is_doc_start) doc_starts += s;
  used = comm.sum(used);
  nlohmann::json j = {{"kind", "contexts"},
                      {"contexts", contexts},
                      {"segments", segments},
                      {"context_length", L},
                      {"tokens", used},
                      {"padding_share", contexts ? 1.0 - static_cast<double>(used) / static_cast<double>(contexts * L) : 0.0},
                      {"mean_segments_per_context", contexts ? static_cast<double>(segments) / static_cast<double>(contexts) : 0.0},
                      {"max_segments_per_context", comm.max(max_segments)},
                      {"document_starts", comm.sum(doc_starts)}};
  if (corpus_options) {
    const corpus::CorpusBlock corpus = corpus::read_corpus(comm, *corpus_options, corpus::Columns::kDocuments);
    // Topics of another corpus would give a meaningless purity (or ids beyond it).
    const nlohmann::json& a = file.attributes();
    corpus::check_made_from(comm, path,
                            corpus::parse_record(a.contains("corpus") ? std::optional(a["corpus"].get<std::string>()) : std::nullopt),
                            corpus.info, corpus::Compared::kDocuments, corpus::OnOtherCorpus::kStop);
    mpi::collectively(comm, [&] {
      for (std::size_t s = 0; s < b.doc_id.size(); ++s)
        if (b.doc_id[s] < 0 || b.doc_id[s] >= corpus.info.num_docs)
          throw UserError(fmt::format("{}: /segments/doc_id row {} is {}, not a document of the corpus {} ({}); give "
                                      "the corpus the contexts were made from",
                                      path, sr.begin + static_cast<std::int64_t>(s), b.doc_id[s], corpus.info.path,
                                      util::count_of(corpus.info.num_docs, "document")),
                          sr.begin + static_cast<std::int64_t>(s));
    });
    if (!corpus.topics.empty()) {
      // Topics of the segments' documents, fetched from their owners.
      const auto topic = mpi::ask_owners<std::int32_t>(
          comm, b.doc_id, 1, [&](std::int64_t d) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(d)); },
          [&](std::int64_t d, std::int32_t* t) { *t = corpus.topics[d - corpus.range.begin]; });
      double purity = 0;
      for (std::int64_t c = 0; c < cr.size(); ++c) {
        std::map<std::int32_t, std::int64_t> by_topic;
        for (std::int64_t s = b.offsets[c] - sr.begin; s < b.offsets[c + 1] - sr.begin; ++s) by_topic[topic[s]] += b.length[s];
        std::int64_t best = 0;
        for (auto& [t, n] : by_topic) best = std::max(best, n);
        purity += b.num_tokens[c] > 0 ? static_cast<double>(best) / b.num_tokens[c] : 0.0;
      }
      j["mean_topic_purity"] = comm.sum(purity) / static_cast<double>(std::max<std::int64_t>(1, contexts));
    }
  }
  nlohmann::json attrs = nlohmann::json::object();
  for (const char* name : {"policy", "tail", "separator_tokens", "total_documents", "total_document_tokens",
                           "total_padding_tokens", "total_dropped_tail_tokens", "total_truncated_tokens",
                           "schema_version", "creator_version"})
    if (file.attributes().contains(name)) attrs[name] = file.attributes()[name];
  // The first contexts' documents and boundaries (cu_seqlens), as a loader sees them: every rank
  // reads them (a few rows), from the same open file.
  if (contexts > 0 && file.has_context_offset()) {
    const std::int64_t shown = std::min<std::int64_t>(3, contexts);
    const pack::ContextsBlock head = file.read(BlockRange{0, shown});
    nlohmann::json first = nlohmann::json::array();
    for (std::int64_t c = 0; c < shown; ++c) {
      std::vector<std::int64_t> docs(head.doc_id.begin() + head.offsets[c], head.doc_id.begin() + head.offsets[c + 1]);
      std::vector<std::int64_t> cu(head.context_offset.begin() + head.offsets[c],
                                   head.context_offset.begin() + head.offsets[c + 1]);
      cu.push_back(head.num_tokens[c]);
      first.push_back({{"context", c}, {"doc_id", docs}, {"cu_seqlens", cu}});
    }
    attrs["first_contexts"] = first;
  }
  j["attributes"] = attrs;
  return j;
}

namespace {

/// Sequences whose document boundaries inspect shows.
constexpr std::int64_t kBoundarySequences = 3;

/// On rank 0, which holds the store's first rows: for each of its first sequences (up to
/// kBoundarySequences), the positions where a document starts (0, and right after each run of
/// `eod` tokens) and its length. Empty elsewhere.
nlohmann::json first_document_starts(const mpi::Comm& comm, const corpus::TokenStoreBlock& store, std::int64_t eod) {
  nlohmann::json out = nlohmann::json::array();
  if (!comm.is_root()) return out;
  const int bytes = store.type.bytes;
  std::vector<std::byte> tokens;
  for (const io::IndexedDatasetBlock& shard : store.shards) {
    if (shard.lengths.empty()) continue;
    const io::TokenReader reader(shard.info);
    for (std::size_t r = 0; r < shard.lengths.size() && static_cast<std::int64_t>(out.size()) < kBoundarySequences; ++r) {
      const std::int64_t length = shard.lengths[r];
      tokens.resize(static_cast<std::size_t>(length * bytes));
      reader.read(shard.pointers[r], 0, length, tokens.data());
      auto token = [&](std::int64_t p) {
        std::uint64_t id = 0;
        std::memcpy(&id, tokens.data() + p * bytes, static_cast<std::size_t>(bytes));  // little-endian
        return static_cast<std::int64_t>(id);
      };
      std::vector<std::int64_t> starts{0};
      for (std::int64_t p = 1; p < length; ++p)
        if (token(p - 1) == eod && token(p) != eod) starts.push_back(p);
      out.push_back({{"sequence", shard.first + static_cast<std::int64_t>(r)}, {"tokens", length}, {"document_starts", starts}});
    }
    if (static_cast<std::int64_t>(out.size()) >= kBoundarySequences) break;
  }
  return out;
}

}  // namespace

nlohmann::json summarize_tokens(const mpi::Comm& comm, const std::string& path, const CorpusOptions* corpus_options,
                                std::int64_t eod_id) {
  corpus::TokenStoreBlock store;
  nlohmann::json out = {{"kind", "tokens"}};
  if (corpus_options != nullptr) {
    const corpus::CorpusBlock corpus = corpus::read_corpus(comm, *corpus_options, corpus::Columns::kDocuments);
    store = corpus::read_token_store(comm, path, corpus);
    out["aligned_with_corpus"] = corpus_options->path;
  } else {
    store = corpus::read_token_store(comm, path);
  }
  std::int64_t shortest = std::numeric_limits<std::int64_t>::max(), longest = 0, idx_bytes = 0, bin_bytes = 0;
  for (const auto& shard : store.shards) {
    for (auto l : shard.lengths) shortest = std::min(shortest, l), longest = std::max(longest, l);
    idx_bytes += shard.info.idx_bytes, bin_bytes += shard.info.bin_bytes;
  }
  shortest = comm.min(shortest), longest = comm.max(longest);
  const std::int64_t n = store.sequences;
  out.update({{"prefix", store.shards.size() == 1 ? store.shards.front().info.prefix : path},
              {"dtype", store.type.name}, {"sequences", n},
              {"tokens", store.tokens}, {"idx_bytes", idx_bytes}, {"bin_bytes", bin_bytes},
              {"shortest_sequence", n > 0 ? shortest : 0}, {"longest_sequence", longest},
              {"mean_sequence", n > 0 ? static_cast<double>(store.tokens) / static_cast<double>(n) : 0.0},
              {"attributes", nlohmann::json::object()}});
  if (store.shards.size() > 1) out["datasets"] = store.shards.size();
  if (eod_id >= 0) {
    out["eod_id"] = eod_id;
    nlohmann::json starts;  // read on rank 0; a failed read is everyone's error
    mpi::collectively(comm, [&] { starts = first_document_starts(comm, store, eod_id); });
    out["first_sequences_document_starts"] = nlohmann::json::parse(comm.bcast_string(starts.dump(), 0));
  }
  return out;
}

std::string to_text(const std::string& path, const nlohmann::json& s) {
  std::string out = fmt::format("{} file {}\n", s["kind"].get<std::string>(), path);
  for (const auto& [key, value] : s.items()) {
    if (key == "kind" || key == "attributes") continue;
    out += fmt::format("  {:30} {}\n", key, value.is_number_float() ? fmt::format("{:.4f}", value.get<double>()) : value.dump());
  }
  for (const auto& [key, value] : s["attributes"].items())
    out += fmt::format("  {:30} {}\n", key, value.is_string() ? value.get<std::string>() : value.dump());
  return out;
}

}  // namespace weave::inspect
