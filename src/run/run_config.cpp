// weave run's configuration file: TOML with one table per stage, checked key by key.
#include <limits>
#include <map>
#include <ranges>
#include <set>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "pack/repetition.hpp"
#include "run/pipeline.hpp"
#include "util/config_json.hpp"
#include "util/config_options.hpp"
#include "weave/error.hpp"

namespace weave::run {

namespace {

/// weave run's synthetic corpus: the demo's (20,000 documents; weave synth's own default is 10,000).
SynthConfig run_synth_defaults() {
  SynthConfig c;
  c.docs = 20000;
  return c;
}

/// The keys of an option table with their defaults and notes, as lines of the default TOML.
template <typename Config>
std::string default_lines(const util::OptionTable<Config>& table, const Config& defaults = {}) {
  std::string out;
  for (const auto& o : table) {
    const std::string line = o.toml_example ? fmt::format("# {} = {}", o.key, o.toml_example)
                                            : fmt::format("{} = {}", o.key, util::toml_value(defaults, o));
    out += fmt::format("{:<30} # {}\n", line, o.note);
  }
  return out;
}

}  // namespace

const std::string& default_config_toml() {
  static const std::string text = std::string(R"(# weave run: the embedded default configuration. Every key is listed with the value it takes
# when it is left out; a configuration needs only the keys it changes.
out_dir = "weave-run"          # where corpus.h5, knn.h5, order.h5 and contexts.h5 go

[corpus]
)" + default_lines(corpus_options()) + R"(
[synth]                        # the synthetic corpus made when [corpus] has no path (weave synth)
)" + default_lines(synth_options(), run_synth_defaults()) + R"(
[knn]
)") + default_lines(knn_options()) + R"(
[dedup]                        # off by default: near-duplicates (weave dedup) left out of order and pack
enabled = false                # true: run the dedup stage between knn and order (out_dir/dedup.h5)
)" + default_lines(dedup_options()) + R"(
[order]
)" + default_lines(order_options()) + R"(
[pack]
)" + default_lines(pack_options()) + R"()";
  return text;
}

namespace {

template <typename Config>
std::set<std::string> keys_of(const util::OptionTable<Config>& table) {
  std::set<std::string> keys;
  for (const auto& o : table) keys.insert(o.key);
  return keys;
}

std::set<std::string> with(std::set<std::string> keys, const char* key) {
  keys.insert(key);
  return keys;
}

/// Every section and its keys: the parser accepts exactly these (known_config_keys()).
const std::map<std::string, std::set<std::string>>& sections() {
  static const std::map<std::string, std::set<std::string>> s{
      {"corpus", keys_of(corpus_options())},
      {"synth", keys_of(synth_options())},
      {"knn", keys_of(knn_options())},
      {"dedup", with(keys_of(dedup_options()), "enabled")},
      {"order", keys_of(order_options())},
      {"pack", keys_of(pack_options())},
  };
  return s;
}

/// A key and value to show in an example of a section's use (TOML, and as --set takes it).
struct Example {
  const char* key;
  const char* toml;
  const char* bare;
};
Example example_of(const std::string& section) {
  static const std::map<std::string, Example> e{{"corpus", {"path", "\"corpus.h5\"", "corpus.h5"}},
                                                {"synth", {"docs", "1000", "1000"}},
                                                {"knn", {"k", "10", "10"}},
                                                {"dedup", {"enabled", "true", "true"}},
                                                {"order", {"algorithm", "\"greedy\"", "greedy"}},
                                                {"pack", {"context_length", "[8192]", "8192"}}};
  return e.at(section);
}

/// Where a value came from, for messages: the `--set` argument that gave it, or its file and line.
class Origins {
 public:
  explicit Origins(std::string source_name) : source_name_(std::move(source_name)) {}
  void set_by(const std::string& dotted_key, const std::string& argument) { set_[dotted_key] = argument; }
  std::string of(const std::string& dotted_key, const toml::node& node) const {
    if (auto it = set_.find(dotted_key); it != set_.end()) return "--set " + it->second;
    return fmt::format("{}, line {}", source_name_, node.source().begin.line);
  }

 private:
  std::string source_name_;
  std::map<std::string, std::string> set_;
};

const char* type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "a list";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

/// One [section]: every key known, every value of its key's one type (a number may be written as
/// an integer; nothing else converts).
class Section {
 public:
  Section(const toml::table* table, std::string name, const Origins& origins)
      : table_(table), name_(std::move(name)), origins_(origins) {
    if (!table_) return;
    const auto& allowed = sections().at(name_);
    for (const auto& [key, node] : *table_)
      if (!allowed.count(std::string(key.str())))
        throw UserError(fmt::format("configuration: unknown key {}.{} ({}; known: {})", name_, key.str(),
                                    origins_.of(name_ + "." + std::string(key.str()), node), fmt::join(allowed, ", ")));
  }

  /// Sets target from the key when the section has it; returns whether it did.
  template <typename T>
  bool get(const char* key, T& target) const {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (!node) return false;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!node->is_string()) fail(key, *node, "a string");
      target = *node->value<std::string>();
    } else if constexpr (std::is_same_v<T, bool>) {
      if (!node->is_boolean()) fail(key, *node, "true or false");
      target = *node->value<bool>();
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!node->is_number()) fail(key, *node, "a number");
      target = static_cast<T>(*node->value<double>());
    } else {
      if (!node->is_integer()) fail(key, *node, "an integer");
      const std::int64_t v = *node->value<std::int64_t>();
      if (!std::in_range<T>(v))
        throw UserError(fmt::format("configuration: {}.{} = {} is out of range [{}, {}] ({})", name_, key, v,
                                    std::numeric_limits<T>::min(), std::numeric_limits<T>::max(), where(key, *node)));
      target = static_cast<T>(v);
    }
    return true;
  }

  /// Every option of a table that the section sets.
  template <typename Config>
  void get_all(Config& config, const util::OptionTable<Config>& table) const {
    for (const auto& o : table)
      std::visit(
          [&](const auto& member) {
            if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member)>, util::Named<Config>>) {
              std::string name;
              if (!get(o.key, name)) return;
              if (std::find(o.choices.begin(), o.choices.end(), name) == o.choices.end())
                throw UserError(fmt::format("configuration: {}.{} must be {} (got {}) ({})", name_, o.key,
                                            util::one_of(o.choices), name, where(o.key, *table_->get(o.key))));
              member.set(config, name);
            } else {
              using T = std::remove_cvref_t<decltype(config.*member)>;
              if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) get_lengths(o.key, config.*member);
              else get(o.key, config.*member);
            }
          },
          o.member);
  }

  void get_lengths(const char* key, std::vector<std::int64_t>& target) const {
    const toml::node* node = table_ ? table_->get(key) : nullptr;
    if (!node) return;
    target.clear();
    if (node->is_integer()) {
      target.push_back(*node->value<std::int64_t>());
    } else if (const toml::array* a = node->as_array()) {
      for (const auto& x : *a) {
        if (!x.is_integer()) fail(key, *node, "an integer or a list of integers");
        target.push_back(*x.value<std::int64_t>());
      }
    } else {
      fail(key, *node, "an integer or a list of integers");
    }
  }

 private:
  std::string where(const char* key, const toml::node& node) const {
    return origins_.of(name_ + "." + key, node);
  }
  [[noreturn]] void fail(const char* key, const toml::node& node, const char* expected) const {
    throw UserError(fmt::format("configuration: {}.{} must be {}, not {} ({})", name_, key, expected,
                                type_name(node), where(key, node)));
  }
  const toml::table* table_;
  std::string name_;
  const Origins& origins_;
};

/// `--set SECTION.KEY=VALUE` into the parsed table. VALUE is TOML (`20`, `"x.h5"`, `[512, 1024]`);
/// what does not parse as TOML is taken as a bare string (`--set corpus.path=x.h5`), and the key's
/// type check then catches a typo in a number.
void apply_override(toml::table& root, const std::string& argument, Origins& origins) {
  const auto eq = argument.find('=');
  if (eq == std::string::npos || eq == 0)
    throw UserError(fmt::format("--set {}: expected SECTION.KEY=VALUE, e.g. --set knn.k=20", argument));
  const std::string path = argument.substr(0, eq), text = argument.substr(eq + 1);
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + text, "--set " + argument);
  } catch (const toml::parse_error&) {
    parsed = toml::table{{"v", text}};
  }
  if (parsed.size() != 1 || !parsed.contains("v")) parsed = toml::table{{"v", text}};  // e.g. "1\nw = 2"
  const toml::node& value = *parsed.get("v");
  const auto dot = path.find('.');
  if (dot == std::string::npos) {
    if (sections().count(path))
      throw UserError(fmt::format("--set {}: {} is a section; set one of its keys, e.g. --set {}.{}={}", argument,
                                  path, path, example_of(path).key, example_of(path).bare));
    root.insert_or_assign(path, value);
    origins.set_by(path, argument);
    return;
  }
  const std::string section = path.substr(0, dot), key = path.substr(dot + 1);
  if (!root.contains(section)) root.insert(section, toml::table{});
  toml::table* t = root.get_as<toml::table>(section);
  if (!t) throw UserError(fmt::format("--set {}: {} is not a section in the configuration", argument, section));
  t->insert_or_assign(key, value);
  origins.set_by(path, argument);
}

}  // namespace

std::vector<std::string> known_config_keys() {
  std::vector<std::string> keys{"out_dir"};
  for (const auto& [section, names] : sections())
    for (const auto& key : names) keys.push_back(section + "." + key);
  return keys;
}

nlohmann::json RunConfig::to_json() const {
  nlohmann::json j = {{"out_dir", out_dir}, {"synthesize", synthesize}};
  if (synthesize) j["synth"] = weave::to_json(synth);
  j["knn"] = weave::to_json(knn);
  if (dedup_enabled) j["dedup"] = weave::to_json(dedup);
  j["order"] = weave::to_json(order);
  j["pack"] = weave::to_json(pack);
  return j;
}

RunConfig parse_run_config(const std::string& toml_text, const std::string& source_name,
                           const std::vector<std::string>& overrides) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    throw UserError(fmt::format("{}: {} (at {})", source_name, e.description(), where.str()));
  }
  Origins origins(source_name);
  for (const std::string& o : overrides) apply_override(root, o, origins);

  RunConfig c;
  c.synth = run_synth_defaults();
  for (const auto& [key, node] : root) {
    const std::string name(key.str());
    if (name == "out_dir") {
      if (!node.is_string())
        throw UserError(fmt::format("configuration: out_dir must be a string, not {} ({})", type_name(node),
                                    origins.of(name, node)));
    } else if (sections().count(name)) {
      if (!node.is_table())
        throw UserError(fmt::format("configuration: {} is a section, not a value: write [{}] and its keys below it, "
                                    "e.g. [{}] then {} = {} ({})",
                                    name, name, name, example_of(name).key, example_of(name).toml,
                                    origins.of(name, node)));
    } else {
      throw UserError(fmt::format("configuration: unknown section or key {} ({}; known: out_dir, {})", name,
                                  origins.of(name, node), fmt::join(std::views::keys(sections()), ", ")));
    }
  }
  if (auto dir = root["out_dir"].value<std::string>()) c.out_dir = *dir;
  if (c.out_dir.empty()) throw UserError("configuration: out_dir must not be empty");

  CorpusOptions corpus;
  Section cs(root.get_as<toml::table>("corpus"), "corpus", origins);
  cs.get_all(corpus, corpus_options());
  c.synthesize = corpus.path.empty();

  Section ss(root.get_as<toml::table>("synth"), "synth", origins);
  ss.get_all(c.synth, synth_options());
  if (c.synthesize) {
    c.synth.out = c.out_dir + "/corpus.h5";
    corpus.path = c.synth.out;
  }

  c.knn.corpus = corpus;
  Section ks(root.get_as<toml::table>("knn"), "knn", origins);
  ks.get_all(c.knn, knn_options());
  c.knn.out = c.out_dir + "/knn.h5";

  c.dedup.corpus = corpus;
  Section ds(root.get_as<toml::table>("dedup"), "dedup", origins);
  ds.get("enabled", c.dedup_enabled);
  ds.get_all(c.dedup, dedup_options());
  c.dedup.knn = c.knn.out;
  c.dedup.out = c.out_dir + "/dedup.h5";

  c.order.corpus = corpus;
  Section os(root.get_as<toml::table>("order"), "order", origins);
  os.get_all(c.order, order_options());
  c.order.knn = c.knn.out;
  c.order.out = c.out_dir + "/order.h5";

  c.pack.corpus = corpus;
  Section ps(root.get_as<toml::table>("pack"), "pack", origins);
  ps.get_all(c.pack, pack_options());
  c.pack.order = c.order.out;
  if (c.dedup_enabled) c.order.dedup = c.pack.dedup = c.dedup.out;
  c.pack.out = c.out_dir + "/contexts.h5";
  if (!c.pack.tokens.empty()) c.pack.dataset = c.out_dir + "/dataset";

  if (c.synthesize) c.synth.validate();
  c.knn.validate();
  if (c.dedup_enabled) c.dedup.validate();
  c.order.validate();
  c.pack.validate();
  pack::parse_repetition(c.pack);  // malformed [pack] upsample / source_weights: before any stage runs
  return c;
}

}  // namespace weave::run
