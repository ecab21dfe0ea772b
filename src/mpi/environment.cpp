#include "mpi/environment.hpp"

#include <cstdlib>

#include "mpi/raw_comm.hpp"

namespace weave::mpi {

Environment::Environment(int& argc, char**& argv) {
  int provided = 0;
  // Only the main thread calls MPI; OpenMP/BLAS threads never do.
  check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as return codes, which mpi::check turns into exceptions.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
}

Environment::~Environment() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Environment::abort(int status) {
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);
}

}  // namespace weave::mpi
