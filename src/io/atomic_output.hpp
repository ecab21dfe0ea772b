// The output protocol: a stage writes NAME.tmp and renames it to NAME only after every rank
// succeeded. A failed or killed run never clobbers an existing NAME; a failed run removes its .tmp.
#pragma once

#include <string>

#include "mpi/comm.hpp"

namespace weave::io {

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
