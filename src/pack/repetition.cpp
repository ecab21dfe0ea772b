#include "pack/repetition.hpp"

#include <charconv>
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "util/random.hpp"
#include "weave/error.hpp"

namespace weave::pack {

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  std::string part;
  while (std::getline(in, part, sep))
    if (!part.empty()) out.push_back(part);
  return out;
}

double number(const std::string& text, const std::string& option, const std::string& item) {
  try {
    std::size_t used = 0;
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v) || v < 0) throw std::invalid_argument("bad");
    return v;
  } catch (const std::exception&) {
    throw UserError(fmt::format("{} '{}': {} is not a non-negative number", option, item, text));
  }
}

}  // namespace

Repetition parse_repetition(const PackConfig& config) {
  Repetition r;
  r.seed = config.seed;
  if (!config.upsample.empty()) {
    bool have_min = false, have_factor = false;
    for (const auto& item : split(config.upsample, ',')) {
      const auto eq = item.find('=');
      const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
      if (key == "min_tokens") {
        r.min_tokens = static_cast<std::int64_t>(number(value, "--upsample", item));
        have_min = true;
      } else if (key == "factor") {
        r.factor = number(value, "--upsample", item);
        have_factor = true;
      } else {
        throw UserError(fmt::format("--upsample '{}': expected min_tokens=T,factor=F", config.upsample));
      }
    }
    if (!have_min || !have_factor)
      throw UserError(fmt::format("--upsample '{}': give both min_tokens=T and factor=F", config.upsample));
    r.active = true;
  }
  for (const auto& item : split(config.source_weights, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos)
      throw UserError(fmt::format("--source-weights '{}': expected SOURCE=WEIGHT pairs, e.g. 0=1.0,1=2.5", item));
    std::int32_t source = 0;
    const std::string key = item.substr(0, eq);
    const auto [ptr, ec] = std::from_chars(key.data(), key.data() + key.size(), source);
    if (ec != std::errc() || ptr != key.data() + key.size())
      throw UserError(fmt::format("--source-weights '{}': source {} is not an integer", item, key));
    if (r.source_weights.count(source)) throw UserError(fmt::format("--source-weights: source {} given twice", source));
    r.source_weights[source] = number(item.substr(eq + 1), "--source-weights", item);
    r.active = true;
  }
  return r;
}

std::int64_t Repetition::copies(std::int64_t global_id, std::int64_t length, std::int32_t source) const {
  if (!active) return 1;
  double x = length >= min_tokens ? factor : 1.0;
  if (auto it = source_weights.find(source); it != source_weights.end()) x *= it->second;
  const double whole = std::floor(x);
  util::CounterRng rng(seed, 0x636f70696573, static_cast<std::uint64_t>(global_id));
  return static_cast<std::int64_t>(whole) + (rng.uniform() < x - whole ? 1 : 0);
}

ExpandedOrder expand_order(const mpi::Comm& comm, const std::vector<std::int64_t>& docs,
                           const std::vector<std::int64_t>& copies) {
  const int p = comm.size();
  std::int64_t local_max = 0;
  for (auto m : copies) local_max = std::max(local_max, m);
  const std::int64_t passes = comm.max(local_max);
  // Pass j: the documents with more than j copies. This rank's count per pass, their offsets.
  std::vector<std::int64_t> count(static_cast<std::size_t>(passes), 0);
  for (auto m : copies)
    for (std::int64_t j = 0; j < m; ++j) ++count[j];
  std::vector<std::int64_t> rank_counts(static_cast<std::size_t>(passes * p));  // [pass][rank]
  for (std::int64_t j = 0; j < passes; ++j) {
    const auto all = comm.allgather<std::int64_t>(count[j]);
    std::copy(all.begin(), all.end(), rank_counts.begin() + j * p);
  }
  auto pass_size = [&](std::int64_t j) {
    std::int64_t n = 0;
    for (int r = 0; r < p; ++r) n += rank_counts[j * p + r];
    return n;
  };
  auto first_rank_of = [&](std::int64_t j, int r) {
    std::int64_t n = 0;
    for (int x = 0; x < r; ++x) n += rank_counts[j * p + x];
    return n;
  };
  // The document at pass-rank q of pass j (collective: its holder broadcasts it).
  auto doc_at = [&](std::int64_t j, std::int64_t q) {
    int holder = 0;
    while (q >= first_rank_of(j, holder) + rank_counts[j * p + holder]) ++holder;
    std::int64_t doc = -1;
    if (comm.rank() == holder) {
      std::int64_t seen = first_rank_of(j, holder);
      for (std::size_t i = 0; i < docs.size(); ++i)
        if (copies[i] > j && seen++ == q) {
          doc = docs[i];
          break;
        }
    }
    return comm.bcast_value(doc, holder);
  };
  std::vector<std::int64_t> rotation(static_cast<std::size_t>(passes), 0), base(static_cast<std::size_t>(passes), 0);
  ExpandedOrder out;
  for (std::int64_t j = 0; j < passes; ++j) {
    const std::int64_t n = pass_size(j);
    base[j] = out.total;
    out.total += n;
    if (j == 0 || n == 0) continue;
    rotation[j] = n / 2;
    const std::int64_t n_prev = pass_size(j - 1);
    const std::int64_t last_prev = doc_at(j - 1, ((rotation[j - 1] - 1) % n_prev + n_prev) % n_prev);
    if (n > 1 && doc_at(j, rotation[j]) == last_prev) rotation[j] = (rotation[j] + 1) % n;
  }
  // Each copy to the owner of its stream position.
  std::vector<std::vector<std::int64_t>> send(static_cast<std::size_t>(p));
  std::vector<std::int64_t> next(static_cast<std::size_t>(passes), 0);
  for (std::int64_t j = 0; j < passes; ++j) next[j] = first_rank_of(j, comm.rank());
  for (std::size_t i = 0; i < docs.size(); ++i)
    for (std::int64_t j = 0; j < copies[i]; ++j) {
      const std::int64_t n = pass_size(j);
      const std::int64_t position = base[j] + ((next[j]++ - rotation[j]) % n + n) % n;
      auto& box = send[block_owner(out.total, p, GlobalId(position))];
      box.insert(box.end(), {position, docs[i], j});
    }
  const BlockRange mine = out.total > 0 ? block_range(out.total, p, comm.rank()) : BlockRange{};
  out.docs.assign(static_cast<std::size_t>(mine.size()), -1);
  out.copy.assign(static_cast<std::size_t>(mine.size()), 0);
  for (const auto& part : comm.alltoallv(send))
    for (std::size_t x = 0; x + 2 < part.size(); x += 3) {
      out.docs[part[x] - mine.begin] = part[x + 1];
      out.copy[part[x] - mine.begin] = static_cast<std::int32_t>(part[x + 2]);
    }
  return out;
}

}  // namespace weave::pack
