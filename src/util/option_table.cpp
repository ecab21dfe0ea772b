#include "util/option_table.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace weave::util {

std::string flag_of(const char* key) {
  std::string flag = std::string("--") + key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string one_of(const std::vector<const char*>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size(); ++i)
    out += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + std::string(choices[i]);
  return out;
}

std::optional<std::string> option_error(const char* key, const std::vector<const char*>& choices,
                                        std::optional<double> min, bool min_exclusive, std::optional<double> max,
                                        const char* zero_means, const std::string& shown, std::optional<double> number,
                                        const std::optional<std::string>& text, bool integer) {
  const std::string flag = flag_of(key);
  if (text && !choices.empty() && std::find(choices.begin(), choices.end(), *text) == choices.end())
    return fmt::format("{} must be {} (got {})", flag, one_of(choices), shown);
  if (!number) return std::nullopt;
  const double v = *number;
  const bool low = min && (min_exclusive ? !(v > *min) : !(v >= *min));
  const bool high = max && !(v <= *max);
  if (!low && !high) return std::nullopt;
  const std::string got = zero_means ? fmt::format("0: {}; got {}", zero_means, shown) : fmt::format("got {}", shown);
  if (min && max)
    return fmt::format("{} must be in {}{}, {}] ({})", flag, min_exclusive ? "(" : "[", *min, *max, got);
  if (min && *min == 1 && !min_exclusive && integer) return fmt::format("{} must be positive ({})", flag, got);
  if (min) return fmt::format("{} must be {} {} ({})", flag, min_exclusive ? ">" : ">=", *min, got);
  return fmt::format("{} must be <= {} ({})", flag, *max, got);
}

}  // namespace weave::util
