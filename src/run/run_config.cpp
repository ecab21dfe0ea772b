// weave run's configuration file: TOML with one table per stage, checked key by key.
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "run/pipeline.hpp"
#include "util/config_json.hpp"
#include "weave/error.hpp"

namespace weave::run {

const char* default_config_toml() {
  return R"(# weave run: the embedded default configuration (the README demo).
out_dir = "weave-run"          # where corpus.h5, knn.h5, order.h5 and contexts.h5 go

[corpus]
# path = "corpus.h5"           # an existing corpus (HDF5 file or manifest); without it [synth] makes one
on_zero_vector = "error"

[synth]
docs = 20000
dim = 64
topics = 50
seed = 1

[knn]
k = 10

[order]
algorithm = "greedy"

[pack]
context_length = [8192]
separator_tokens = 1
tail = "drop"
)";
}

namespace {

class Section {
 public:
  Section(const toml::table* table, std::string name, std::set<std::string> allowed)
      : table_(table), name_(std::move(name)) {
    if (!table_) return;
    for (const auto& [key, node] : *table_)
      if (!allowed.count(std::string(key.str())))
        throw UserError(fmt::format("configuration: unknown key {}.{} (known: {})", name_, key.str(),
                                    fmt::join(allowed, ", ")));
  }

  template <typename T>
  void get(const char* key, T& target) const {
    if (!table_) return;
    const toml::node* node = table_->get(key);
    if (!node) return;
    if constexpr (std::is_same_v<T, std::string>) {
      auto v = node->value<std::string>();
      if (!v) fail(key, "a string");
      target = *v;
    } else if constexpr (std::is_floating_point_v<T>) {
      auto v = node->value<double>();
      if (!v) fail(key, "a number");
      target = static_cast<T>(*v);
    } else {
      auto v = node->value<std::int64_t>();
      if (!v || !node->is_integer()) fail(key, "an integer");
      target = static_cast<T>(*v);
    }
  }

  void get_lengths(const char* key, std::vector<std::int64_t>& target) const {
    if (!table_) return;
    const toml::node* node = table_->get(key);
    if (!node) return;
    target.clear();
    if (node->is_integer()) {
      target.push_back(*node->value<std::int64_t>());
    } else if (const toml::array* a = node->as_array()) {
      for (const auto& x : *a) {
        if (!x.is_integer()) fail(key, "an integer or a list of integers");
        target.push_back(*x.value<std::int64_t>());
      }
    } else {
      fail(key, "an integer or a list of integers");
    }
  }

 private:
  [[noreturn]] void fail(const char* key, const char* expected) const {
    throw UserError(fmt::format("configuration: {}.{} must be {}", name_, key, expected));
  }
  const toml::table* table_;
  std::string name_;
};

}  // namespace

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = {{"out_dir", out_dir}, {"synthesize", synthesize}};
  if (synthesize) j["synth"] = weave::to_json(synth);
  j["knn"] = weave::to_json(knn);
  j["order"] = weave::to_json(order);
  j["pack"] = weave::to_json(pack);
  return j;
}

RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
    for (const std::string& o : overrides) {
      const auto eq = o.find('=');
      if (eq == std::string::npos) throw UserError(fmt::format("--set {}: expected SECTION.KEY=VALUE", o));
      const std::string path = o.substr(0, eq), value = o.substr(eq + 1);
      const auto dot = path.find('.');
      toml::table parsed = toml::parse("v = " + value, "--set " + o);
      toml::node* v = parsed.get("v");
      if (dot == std::string::npos) {
        root.insert_or_assign(path, *v);
      } else {
        const std::string section = path.substr(0, dot), key = path.substr(dot + 1);
        if (!root.contains(section)) root.insert(section, toml::table{});
        toml::table* t = root.get_as<toml::table>(section);
        if (!t) throw UserError(fmt::format("--set {}: {} is not a table", o, section));
        t->insert_or_assign(key, *v);
      }
    }
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    throw UserError(fmt::format("{}: {} (at {})", source_name, e.description(), where.str()));
  }

  RunConfig c;
  const std::set<std::string> sections{"corpus", "synth", "knn", "order", "pack", "out_dir"};
  for (const auto& [key, node] : root)
    if (!sections.count(std::string(key.str())))
      throw UserError(fmt::format("configuration: unknown section or key {} (known: {})", key.str(),
                                  fmt::join(sections, ", ")));
  if (auto dir = root["out_dir"].value<std::string>()) c.out_dir = *dir;

  CorpusOptions corpus;
  std::string zero_vector = "error";
  Section cs(root.get_as<toml::table>("corpus"), "corpus", {"path", "on_zero_vector", "max_block_rows"});
  cs.get("path", corpus.path);
  cs.get("on_zero_vector", zero_vector);
  cs.get("max_block_rows", corpus.max_block_rows);
  corpus.on_zero_vector = parse_zero_vector_policy(zero_vector);
  c.synthesize = corpus.path.empty();

  Section ss(root.get_as<toml::table>("synth"), "synth",
             {"docs", "dim", "topics", "sources", "seed", "topic_spread", "duplicate_share", "duplicate_noise",
              "median_tokens", "length_sigma", "min_tokens", "max_tokens", "first_doc_id", "dtype"});
  ss.get("docs", c.synth.docs);
  ss.get("dim", c.synth.dim);
  ss.get("topics", c.synth.topics);
  ss.get("sources", c.synth.sources);
  ss.get("seed", c.synth.seed);
  ss.get("topic_spread", c.synth.topic_spread);
  ss.get("duplicate_share", c.synth.duplicate_share);
  ss.get("duplicate_noise", c.synth.duplicate_noise);
  ss.get("median_tokens", c.synth.median_tokens);
  ss.get("length_sigma", c.synth.length_sigma);
  ss.get("min_tokens", c.synth.min_tokens);
  ss.get("max_tokens", c.synth.max_tokens);
  ss.get("first_doc_id", c.synth.first_doc_id);
  std::string dtype = "float32";
  ss.get("dtype", dtype);
  if (dtype != "float32" && dtype != "float16" && dtype != "bfloat16")
    throw UserError(fmt::format("configuration: synth.dtype must be float32, float16 or bfloat16 (got {})", dtype));
  c.synth.dtype = dtype == "float16" ? EmbeddingDtype::kFloat16 : dtype == "bfloat16" ? EmbeddingDtype::kBFloat16
                                                                                     : EmbeddingDtype::kFloat32;
  if (c.synthesize) {
    c.synth.out = c.out_dir + "/corpus.h5";
    corpus.path = c.synth.out;
  }

  c.knn.corpus = corpus;
  Section ks(root.get_as<toml::table>("knn"), "knn", {"k", "method", "backend", "query_tile", "database_tile",
                                                         "gpu_query_tile", "gpu_database_tile", "gpu_scores",
                                                         "gpu_gemm", "gpu_select_sms", "gpu_resident_rows"});
  ks.get("k", c.knn.k);
  ks.get("method", c.knn.method);
  ks.get("backend", c.knn.backend);
  ks.get("query_tile", c.knn.query_tile);
  ks.get("database_tile", c.knn.database_tile);
  ks.get("gpu_query_tile", c.knn.gpu_query_tile);
  ks.get("gpu_database_tile", c.knn.gpu_database_tile);
  ks.get("gpu_scores", c.knn.gpu_scores);
  ks.get("gpu_gemm", c.knn.gpu_gemm);
  ks.get("gpu_select_sms", c.knn.gpu_select_sms);
  ks.get("gpu_resident_rows", c.knn.gpu_resident_rows);
  c.knn.out = c.out_dir + "/knn.h5";

  c.order.corpus = corpus;
  Section os(root.get_as<toml::table>("order"), "order",
             {"algorithm", "stitch_k", "stitch_exact_ends", "tail_fraction", "max_rounds"});
  os.get("algorithm", c.order.algorithm);
  os.get("stitch_k", c.order.stitch_k);
  os.get("stitch_exact_ends", c.order.stitch_exact_ends);
  os.get("tail_fraction", c.order.tail_fraction);
  os.get("max_rounds", c.order.max_rounds);
  c.order.knn = c.knn.out;
  c.order.out = c.out_dir + "/order.h5";

  c.pack.corpus = corpus;
  Section ps(root.get_as<toml::table>("pack"), "pack",
             {"context_length", "policy", "tail", "separator_tokens", "upsample", "source_weights", "seed"});
  ps.get("upsample", c.pack.upsample);
  ps.get("source_weights", c.pack.source_weights);
  ps.get("seed", c.pack.seed);
  ps.get_lengths("context_length", c.pack.context_lengths);
  ps.get("policy", c.pack.policy);
  ps.get("tail", c.pack.tail);
  ps.get("separator_tokens", c.pack.separator_tokens);
  c.pack.order = c.order.out;
  c.pack.out = c.out_dir + "/contexts.h5";

  if (c.synthesize) c.synth.validate();
  c.knn.validate();
  c.order.validate();
  c.pack.validate();
  return c;
}

}  // namespace weave::run
