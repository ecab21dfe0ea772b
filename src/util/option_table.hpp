// Options described once: each option of a stage's configuration is one row of a table (key, the
// member it sets, help, the comment of the default TOML, allowed values, bounds). The command line
// (cli/option_flags.hpp), `weave run`'s TOML sections (run/run_config.cpp), the JSON of a
// configuration and the per-option checks are all generated from the table; only the checks that
// relate several options are written by hand (KnnConfig::validate, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <type_traits>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace weave::util {

/// An enum option, by the names of its values (the option's choices).
template <typename Config>
struct Named {
  std::string (*get)(const Config&);
  void (*set)(Config&, const std::string&);  ///< called with one of the choices only
};

template <typename Config>
struct Option {
  using Member = std::variant<int Config::*, std::int64_t Config::*, std::uint64_t Config::*, double Config::*,
                              std::string Config::*, std::vector<std::int64_t> Config::*, Named<Config>>;
  const char* key;   ///< snake_case: the TOML and JSON key; the flag is --key with '-' for '_'
  Member member;
  const char* help;  ///< the flag's --help text
  const char* note;  ///< the comment after the key in the default TOML
  std::vector<const char*> choices = {};  ///< allowed values of a string option
  std::optional<double> min = {};         ///< numbers: the smallest allowed value ...
  bool min_exclusive = false;             ///< ... or a bound the value must exceed
  std::optional<double> max = {};         ///< numbers: the largest allowed value
  const char* zero_means = nullptr;       ///< what 0 stands for ("automatic"), named in messages
  const char* json_key = nullptr;         ///< the key in the configuration's JSON when it is not `key`
  bool omit_empty = false;                ///< an empty string is left out of the JSON
  const char* toml_example = nullptr;     ///< no default to print: the TOML line is this example, commented out
  bool flag = true;                       ///< false: the commands name it themselves (--corpus)
};

template <typename Config>
using OptionTable = std::vector<Option<Config>>;

/// "--key-name" for "key_name".
std::string flag_of(const char* key);

/// The message for a value outside an option's choices or bounds, or nullopt when it is allowed.
std::optional<std::string> option_error(const char* key, const std::vector<const char*>& choices,
                                        std::optional<double> min, bool min_exclusive, std::optional<double> max,
                                        const char* zero_means, const std::string& shown, std::optional<double> number,
                                        const std::optional<std::string>& text, bool integer = true);

/// "a, b or c".
std::string one_of(const std::vector<const char*>& choices);

/// The value of an option in `config` (for Named, its name).
template <typename Config, typename Member>
decltype(auto) value_of(const Config& config, const Member& member) {
  if constexpr (std::is_same_v<Member, Named<Config>>) return member.get(config);
  else return (config.*member);
}

/// Throws UserError for the first option of `table` whose value in `config` is not allowed.
template <typename Config>
void check_options(const Config& config, const OptionTable<Config>& table);

/// Every option of `table` as config's value under its key.
template <typename Config>
void put_options(const Config& config, const OptionTable<Config>& table, nlohmann::json& out);

/// The option's default as TOML text (the value of a default-constructed Config).
template <typename Config>
std::string toml_value(const Config& config, const Option<Config>& option);

}  // namespace weave::util

#include "util/option_table_impl.hpp"
