// A stage's option table (util/option_table.hpp) as command-line flags: --key-name VALUE, the
// struct's value as the default shown by --help, the allowed values checked by CLI11.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include <CLI/CLI.hpp>

#include "util/option_table.hpp"

namespace weave::cli {

template <typename Config>
void add_option_flags(CLI::App* command, Config& config, const util::OptionTable<Config>& table) {
  for (const util::Option<Config>& o : table)
    if (o.flag) std::visit(
        [&](const auto& member) {
          CLI::Option* flag = nullptr;
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(member)>, util::Named<Config>>) {
            flag = command
                       ->add_option_function<std::string>(
                           util::flag_of(o.key), [&config, set = member.set](const std::string& s) { set(config, s); },
                           o.help)
                       ->default_str(member.get(config));
          } else {
            flag = command->add_option(util::flag_of(o.key), config.*member, o.help)->capture_default_str();
            using T = std::remove_cvref_t<decltype(config.*member)>;
            if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) flag->delimiter(',');  // 4096,8192
          }
          if (!o.choices.empty()) flag->check(CLI::IsMember(std::vector<std::string>(o.choices.begin(), o.choices.end())));
        },
        o.member);
}

}  // namespace weave::cli
