// The output protocol: a stage writes NAME.tmp and renames it to NAME only after every rank
// succeeded. A failed or killed run never clobbers an existing NAME; a failed run removes its .tmp.
#pragma once

#include <string>

#include "mpi/comm.hpp"

namespace weave::io {

/// Collective, cheap: throws the same UserError on every rank unless `path` can be written — its
/// folder exists, it is not a folder itself, a file can be created beside it (probed by creating and
/// removing NAME.tmp, which also catches read-only file systems and permissions) and, when
/// estimated_bytes > 0 and the file system says, there is room for about that many bytes. Stages
/// call it before they compute, so a bad output path costs seconds, not the whole run.
void check_output_path(const mpi::Comm& comm, const std::string& path, double estimated_bytes = 0);

class AtomicOutput {
 public:
  /// Collective. Checks that the output folder exists and removes a stale NAME.tmp.
  AtomicOutput(const mpi::Comm& comm, std::string final_path);
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  /// Without commit(): removes NAME.tmp (on rank 0, after the others let go of it).
  ~AtomicOutput();

  /// Where the stage writes.
  const std::string& tmp_path() const { return tmp_path_; }
  const std::string& final_path() const { return final_path_; }

  /// Collective: every rank has closed its handles on tmp_path(); agrees that all ranks
  /// succeeded, then renames NAME.tmp to NAME. Throws (everywhere) if any rank failed.
  void commit();

 private:
  const mpi::Comm& comm_;
  std::string final_path_;
  std::string tmp_path_;
  bool committed_ = false;
};

}  // namespace weave::io
