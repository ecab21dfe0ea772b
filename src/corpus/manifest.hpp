// Manifests: text files that name one file per line (corpus shards; token store datasets).
#pragma once

#include <string>
#include <vector>

namespace weave::corpus {

struct ManifestEntry {
  int line = 0;      ///< 1-based, for messages
  std::string path;  ///< resolved against the manifest's folder when relative, lexically normal
};

/// Whether `bytes` look like text (no control bytes but tab, CR and LF).
bool looks_like_text(const std::string& bytes);

/// The entries of a manifest's text: lines trimmed, blank ones and # comments skipped.
std::vector<ManifestEntry> manifest_entries(const std::string& manifest_path, const std::string& text);

}  // namespace weave::corpus
