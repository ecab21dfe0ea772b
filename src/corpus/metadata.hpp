#pragma once

#include <string>

#include "corpus/corpus.hpp"

namespace weave::corpus {

/// Resolves the shards and reads/checks their metadata (collective; rank 0 reads, all get it).
CorpusInfo read_corpus_info(const mpi::Comm& comm, const std::string& corpus_path);

}  // namespace weave::corpus
