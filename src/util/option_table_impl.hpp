// The templates of util/option_table.hpp.
#pragma once

#include <type_traits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "weave/error.hpp"

namespace weave::util {

template <typename Config>
void check_options(const Config& config, const OptionTable<Config>& table) {
  for (const Option<Config>& o : table) {
    std::visit(
        [&](const auto& member) {
          const auto& value = value_of(config, member);
          using T = std::remove_cvref_t<decltype(value)>;
          auto check_number = [&](auto x) {
            if (auto error = option_error(o.key, o.choices, o.min, o.min_exclusive, o.max, o.zero_means,
                                          fmt::format("{}", x), static_cast<double>(x), std::nullopt,
                                          std::is_integral_v<decltype(x)>))
              throw UserError(*error);
          };
          if constexpr (std::is_same_v<T, std::string>) {
            if (auto error = option_error(o.key, o.choices, o.min, o.min_exclusive, o.max, o.zero_means, value,
                                          std::nullopt, value))
              throw UserError(*error);
          } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
            for (auto x : value) check_number(x);
          } else {
            check_number(value);
          }
        },
        o.member);
  }
}

template <typename Config>
void put_options(const Config& config, const OptionTable<Config>& table, nlohmann::json& out) {
  for (const Option<Config>& o : table)
    std::visit(
        [&](const auto& member) {
          const auto& value = value_of(config, member);
          if constexpr (std::is_same_v<std::remove_cvref_t<decltype(value)>, std::string>)
            if (o.omit_empty && value.empty()) return;  // absent: configurations (and run stamps) as before it existed
          out[o.json_key ? o.json_key : o.key] = value;
        },
        o.member);
}

template <typename Config>
std::string toml_value(const Config& config, const Option<Config>& option) {
  return std::visit(
      [&](const auto& member) -> std::string {
        const auto& value = value_of(config, member);
        using T = std::remove_cvref_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) return nlohmann::json(value).dump();  // a quoted string
        else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) return fmt::format("[{}]", fmt::join(value, ", "));
        else if constexpr (std::is_floating_point_v<T>) {
          std::string s = fmt::format("{}", value);
          return s.find_first_of(".e") == std::string::npos ? s + ".0" : s;  // TOML floats need a point
        } else return fmt::format("{}", value);
      },
      option.member);
}

}  // namespace weave::util
