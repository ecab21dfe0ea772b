#include "pack/pack_stage.hpp"

#include <filesystem>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "corpus/corpus.hpp"
#include "corpus/metadata.hpp"
#include "corpus/provenance.hpp"
#include "corpus/token_store.hpp"
#include "dedup/dedup_file.hpp"
#include "io/atomic_output.hpp"
#include "mpi/ask_owners.hpp"
#include "mpi/collective_error.hpp"
#include "order/order_file.hpp"
#include "pack/context_dataset.hpp"
#include "pack/context_rows.hpp"
#include "pack/contexts_file.hpp"
#include "pack/repetition.hpp"
#include "util/config_json.hpp"
#include "util/log.hpp"
#include "util/report.hpp"

namespace weave::pack {

namespace {

/// Token lengths (and user ids) of arbitrary documents, fetched from their owners, in input order.
struct DocColumns {
  std::vector<std::int64_t> lengths, user_ids, sources;
};

DocColumns fetch_columns(const mpi::Comm& comm, const corpus::CorpusBlock& corpus, const std::vector<std::int64_t>& docs) {
  const bool ids = corpus.info.has_doc_ids, sources = corpus.info.has_sources;
  const std::size_t width = 1 + (ids ? 1 : 0) + (sources ? 1 : 0);
  const auto values = mpi::ask_owners<std::int64_t>(
      comm, docs, width, [&](std::int64_t d) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(d)); },
      [&](std::int64_t d, std::int64_t* out) {
        const std::int64_t i = d - corpus.range.begin;
        *out++ = corpus.lengths[i];
        if (ids) *out++ = corpus.doc_ids[i];
        if (sources) *out = corpus.sources[i];
      });
  DocColumns out;
  for (std::size_t j = 0; j < docs.size(); ++j) {
    const std::int64_t* v = values.data() + j * width;
    out.lengths.push_back(*v++);
    if (ids) out.user_ids.push_back(*v++);
    if (sources) out.sources.push_back(*v);
  }
  return out;
}

nlohmann::json input_files(const corpus::CorpusInfo& info, const std::string& order_path) {
  nlohmann::json files = nlohmann::json::array();
  std::error_code ec;
  for (const auto& s : info.shards) files.push_back({{"path", s.path}, {"bytes", s.file_bytes}, {"role", "corpus"}});
  files.push_back({{"path", order_path},
                   {"bytes", static_cast<std::int64_t>(std::filesystem::file_size(order_path, ec))},
                   {"role", "order"}});
  return files;
}

struct Totals {
  std::int64_t documents = 0, stream_documents = 0, document_tokens = 0, separator_tokens = 0, stream_tokens = 0, contexts = 0,
               segments = 0, padding_tokens = 0, dropped_tail_tokens = 0, truncated_tokens = 0;
  nlohmann::json json() const {
    return {{"documents", documents},           {"stream_documents", stream_documents},
            {"document_tokens", document_tokens},
            {"separator_tokens", separator_tokens}, {"stream_tokens", stream_tokens},
            {"contexts", contexts},             {"segments", segments},
            {"padding_tokens", padding_tokens}, {"dropped_tail_tokens", dropped_tail_tokens},
            {"truncated_tokens", truncated_tokens}};
  }
};

/// Each segment's first token within its context (a context's cu_seqlens without the last value,
/// num_tokens). A context's segments may start on an earlier rank: the carry into this rank is the
/// tokens the earlier ranks put into the context that is open at their end (an exclusive scan that
/// restarts at every rank holding a context start; O(P) values allgathered).
std::vector<std::int32_t> context_offsets(const mpi::Comm& comm, const Segments& segs) {
  std::int64_t since_start = 0;
  bool has_start = false;
  for (std::size_t j = 0; j < segs.size(); ++j) {
    if (segs.starts_context[j]) since_start = 0, has_start = true;
    since_start += segs.length[j];
  }
  const auto tails = comm.allgather<std::int64_t>(since_start);
  const auto starts = comm.allgather<std::int64_t>(has_start ? 1 : 0);
  std::int64_t carry = 0;
  for (int r = 0; r < comm.rank(); ++r) carry = starts[r] ? tails[r] : carry + tails[r];
  std::vector<std::int32_t> out(segs.size());
  std::int64_t at = carry;
  for (std::size_t j = 0; j < segs.size(); ++j) {
    if (segs.starts_context[j]) at = 0;
    out[j] = static_cast<std::int32_t>(at);
    at += segs.length[j];
  }
  return out;
}

/// Packs for one context length and writes its file; returns the totals.
Totals pack_one(const mpi::Comm& comm, const PackConfig& config, std::int64_t L, const corpus::CorpusBlock& corpus,
                const ExpandedOrder& stream, const DocColumns& columns) {
  std::vector<std::int64_t> tokens(columns.lengths.size());
  std::int64_t local_tokens = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) local_tokens += tokens[i] = columns.lengths[i] + config.separator_tokens;
  Totals t;
  t.documents = corpus.info.num_docs;
  t.stream_documents = stream.total;
  t.stream_tokens = comm.sum(local_tokens);
  t.separator_tokens = t.stream_documents * config.separator_tokens;
  t.document_tokens = t.stream_tokens - t.separator_tokens;
  const ContextRows rows = config.policy == PackPolicy::kPad ? pad_rows(comm, stream.total, stream.docs, tokens, L)
                                                  : split_rows(comm, stream.docs, tokens, L, config.tail == PackTail::kPad);
  const Segments& segs = rows.segs;
  t.contexts = rows.contexts;
  t.segments = rows.segments;
  t.padding_tokens = rows.padding_tokens;
  t.dropped_tail_tokens = rows.dropped_tail_tokens;
  t.truncated_tokens = rows.truncated_tokens;
  std::vector<std::int64_t> user_ids;
  if (corpus.info.has_doc_ids)
    for (auto i : segs.source_index) user_ids.push_back(columns.user_ids[i]);
  std::vector<std::int32_t> copies;
  for (auto i : segs.source_index) copies.push_back(stream.copy[i]);
  const std::vector<std::int32_t> in_context = context_offsets(comm, segs);

  io::AtomicOutput output(comm, config.output_for(L));
  ContextsAttributes attributes;
  attributes.context_length = L;
  attributes.policy = to_string(config.policy);
  attributes.tail = to_string(config.tail);
  attributes.separator_tokens = config.separator_tokens;
  attributes.totals = t.json();
  attributes.configuration = to_json(config).dump();
  attributes.input_files = input_files(corpus.info, config.order).dump();
  attributes.corpus = corpus::corpus_record(corpus.info).dump();
  write_contexts_file(comm, output.tmp_path(), rows, {copies, in_context, corpus.info.has_doc_ids ? &user_ids : nullptr},
                      attributes);
  output.commit();
  return t;
}

/// The EOD and pad ids must be tokens of the store's dtype.
void check_token_ids(const mpi::Comm& comm, const PackConfig& config, const corpus::TokenStoreBlock& store) {
  mpi::collectively(comm, [&] {
    const io::TokenType& type = store.type;
    if (!type.is_integer)
      throw UserError(fmt::format("{}.idx: {} tokens: a token store holds integer ids", store.shards.front().info.prefix,
                                  type.name));
    for (auto [option, id] : {std::pair{"--eod-id", config.eod_id}, std::pair{"--pad-id", config.pad_id}})
      if (id > type.largest_id())
        throw UserError(fmt::format("{} {} does not fit the token store's {} tokens (at most {})", option, id,
                                    type.name, type.largest_id()));
  });
  // Megatron's GPTDataset masks the loss where the label is the pad id, and treats a pad id that is
  // also a special token as no pad id at all: padding must have an id of its own.
  if (config.pad_id >= 0 && config.pad_id == config.eod_id)
    util::warn_root(comm, "weave: warning: --pad-id {} is also --eod-id: a trainer cannot tell padding from document "
                          "ends (Megatron's GPTDataset then masks the loss of neither, or of both); give padding an id "
                          "of its own\n", config.pad_id);
}

}  // namespace

void run_pack_stage(const mpi::Comm& comm, const PackConfig& config, const CommonOptions& common, util::Report& report) {
  mpi::collectively(comm, [&] {
    config.validate();
    parse_repetition(config);  // throws on malformed --upsample / --source-weights, before any work
  });
  // Before any work: every output path (at least one segment a document: ~24 bytes each).
  const corpus::CorpusInfo info = corpus::read_corpus_info(comm, config.corpus.path);
  for (const std::int64_t L : config.context_lengths) {
    io::check_output_path(comm, config.output_for(L), static_cast<double>(info.num_docs) * 24);
    if (!config.dataset.empty()) {
      io::check_output_path(comm, config.dataset_for(L) + ".bin");
      io::check_output_path(comm, config.dataset_for(L) + ".idx");
    }
  }
  auto read_timer = report.stage("read");
  // Lengths, ids and sources only: the embeddings play no part in packing.
  const corpus::CorpusBlock corpus = corpus::read_corpus(comm, config.corpus, corpus::Columns::kDocuments);
  report.add_counter("corpus_bytes_read", corpus.bytes_read);
  const order::OrderBlock order = order::read_order_file(comm, config.order);
  // With --dedup: the order may be of the whole corpus or of the kept documents; removed ones are left out.
  std::optional<dedup::DedupBlock> dedup;
  if (!config.dedup.empty()) {
    dedup = dedup::read_dedup_file(comm, config.dedup, corpus.info.num_docs);
    corpus::check_made_from(comm, config.dedup, dedup->corpus, corpus.info, corpus::Compared::kDocuments,
                            corpus::forced(config.force));
  }
  order::check_permutation(comm, config.order, order, corpus.info.num_docs, dedup ? &dedup->kept : nullptr,
                           dedup ? dedup->kept_documents : 0);
  corpus::check_made_from(comm, config.order, order.corpus, corpus.info, corpus::Compared::kDocuments,
                          corpus::forced(config.force));
  // The token store, checked against the corpus before any work (rows, lengths), and the ids against its dtype.
  std::optional<corpus::TokenStoreBlock> store;
  if (!config.tokens.empty()) {
    store = corpus::read_token_store(comm, config.tokens, corpus);
    check_token_ids(comm, config, *store);
  }
  const Repetition repetition = parse_repetition(config);
  mpi::collectively(comm, [&] {
    if (!repetition.source_weights.empty() && !corpus.info.has_sources)
      throw UserError(fmt::format("--source-weights: the corpus {} has no /sources", config.corpus.path));
  });
  read_timer.stop();
  // The stream: the order itself, or its passes with copies (pack/repetition.hpp).
  auto repeat_timer = report.stage("repeat");
  ExpandedOrder stream;
  if (repetition.active || dedup) {
    // A removed document gets no copy: the stream is the order without it.
    std::vector<std::int64_t> kept(order.docs.size(), 1);
    if (dedup) {
      const auto answers = mpi::ask_owners<std::int64_t>(
          comm, order.docs, 1, [&](std::int64_t d) { return block_owner(corpus.info.num_docs, comm.size(), GlobalId(d)); },
          [&](std::int64_t d, std::int64_t* out) { *out = dedup->kept[d - dedup->range.begin]; });
      kept.assign(answers.begin(), answers.end());
    }
    std::vector<std::int64_t> copies(kept);
    if (repetition.active) {
      const DocColumns own = fetch_columns(comm, corpus, order.docs);
      for (std::size_t i = 0; i < copies.size(); ++i)
        if (kept[i])
          copies[i] = repetition.copies(order.docs[i], own.lengths[i],
                                        own.sources.empty() ? 0 : static_cast<std::int32_t>(own.sources[i]));
    }
    stream = expand_order(comm, order.docs, copies);
  } else {
    stream.total = order.num_docs;
    stream.docs = order.docs;
    stream.copy.assign(order.docs.size(), 0);
  }
  const DocColumns columns = fetch_columns(comm, corpus, stream.docs);
  repeat_timer.stop();
  nlohmann::json all = nlohmann::json::object();
  for (const std::int64_t L : config.context_lengths) {
    auto timer = report.stage(fmt::format("pack_{}", L));
    const Totals t = pack_one(comm, config, L, corpus, stream, columns);
    timer.stop();
    if (!config.dataset.empty()) {
      auto dataset_timer = report.stage(fmt::format("dataset_{}", L));
      const DatasetWork work = write_context_dataset(comm, config.output_for(L), L, corpus, *store,
                                                     {config.eod_id, config.pad_id}, config.dataset_for(L));
      report.add_counter("tokens_copied", static_cast<double>(work.tokens_copied));
      report.add_counter(fmt::format("dataset_{}_read_seconds", L), work.read_seconds);
      report.add_counter(fmt::format("dataset_{}_write_seconds", L), work.write_seconds);
      dataset_timer.stop();
      if (!common.quiet)
        util::print_root(comm, "weave pack: wrote {}.bin/.idx ({} of {} tokens, Megatron indexed dataset)\n",
                         config.dataset_for(L), util::count_of(t.contexts, "sequence"), L);
    }
    all[std::to_string(L)] = t.json();
    if (!common.quiet)
      util::print_root(comm, "weave pack: wrote {} ({} of {} tokens, {}, {:.2f} segments per context; "
                             "{} padding, {} dropped tail tokens)\n",
                       config.output_for(L), util::count_of(t.contexts, "context"), L,
                       util::count_of(t.segments, "segment"),
                       t.contexts ? static_cast<double>(t.segments) / static_cast<double>(t.contexts) : 0.0,
                       t.padding_tokens, t.dropped_tail_tokens);
  }
  report.set_figure("totals_per_context_length", all);
}

}  // namespace weave::pack
