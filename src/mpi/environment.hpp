// MPI_Init / MPI_Finalize as a scope, plus the thread level Weave asks for.
#pragma once

namespace weave::mpi {

class Environment {
 public:
  Environment(int& argc, char**& argv);
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// Ends every process of MPI_COMM_WORLD with `status` (used when ranks cannot agree on an error).
  [[noreturn]] static void abort(int status);
};

}  // namespace weave::mpi
