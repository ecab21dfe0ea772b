// Resolving a corpus path: one HDF5 file, or a text manifest that lists HDF5 shard files.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "corpus/corpus.hpp"
#include "corpus/manifest.hpp"
#include "io/hdf5.hpp"
#include "mpi/collective_error.hpp"
#include "weave/error.hpp"

namespace weave::corpus {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> resolve_on_root(const std::string& path) {
  std::error_code ec;
  if (path.empty()) throw UserError("no corpus given (--corpus FILE.h5 or a manifest of shard files)");
  if (!fs::exists(path, ec)) throw UserError(fmt::format("{}: no such file", path));
  if (fs::is_directory(path, ec))
    throw UserError(fmt::format("{}: is a directory; give an HDF5 file or a manifest listing the shard files", path));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UserError(fmt::format("{}: cannot be opened for reading", path));
  if (io::is_hdf5(path)) return {path};
  // A file named like HDF5 is never taken for a manifest: its error would blame "line 1".
  const std::string extension = fs::path(path).extension().string();
  if (extension == ".h5" || extension == ".hdf5" || extension == ".he5")
    throw UserError(fmt::format("{}: not an HDF5 file (no HDF5 signature; a manifest of shards must not be named {})",
                                path, extension));

  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (text.empty()) throw UserError(fmt::format("{}: empty file; expected an HDF5 corpus or a manifest of shard files", path));
  if (!looks_like_text(text))
    throw UserError(fmt::format("{}: not an HDF5 file, nor a manifest (a text file naming one HDF5 shard per line)", path));

  std::vector<std::string> shards;
  for (const auto& [number, s] : manifest_entries(path, text)) {
    if (!fs::exists(s, ec))
      throw UserError(fmt::format("{}: line {}: shard {}: no such file", path, number, s));
    if (!io::is_hdf5(s)) throw UserError(fmt::format("{}: line {}: shard {}: not an HDF5 file", path, number, s));
    shards.push_back(s);
  }
  if (shards.empty()) throw UserError(fmt::format("{}: manifest lists no shard files (empty corpus)", path));
  return shards;
}

}  // namespace

bool looks_like_text(const std::string& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](unsigned char c) {
    return c == '\n' || c == '\r' || c == '\t' || (c >= 0x20 && c != 0x7f) || c >= 0x80;
  });
}

std::vector<ManifestEntry> manifest_entries(const std::string& manifest_path, const std::string& text) {
  auto trim = [](const std::string& s) {
    const auto b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return std::string();
    return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
  };
  const fs::path folder = fs::absolute(manifest_path).parent_path();
  std::vector<ManifestEntry> out;
  std::istringstream lines(text);
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    fs::path entry(line);
    if (entry.is_relative()) entry = folder / entry;
    out.push_back({number, entry.lexically_normal().string()});
  }
  return out;
}

std::vector<std::string> resolve_shards(const mpi::Comm& comm, const std::string& path) {
  std::vector<std::string> shards;
  mpi::collectively(comm, [&] {
    if (comm.is_root()) shards = resolve_on_root(path);
  });
  return comm.bcast_strings(shards, 0);
}

}  // namespace weave::corpus
