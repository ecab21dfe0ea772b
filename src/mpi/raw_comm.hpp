// The MPI_Comm behind a Comm, for the code that must hand it to a library: the MPI layer itself and
// the HDF5 layer (MPI-IO file access). It includes <mpi.h>; nothing else includes it.
#pragma once

#include <mpi.h>

#include "mpi/comm.hpp"

namespace weave::mpi {

class RawComm {
 public:
  static MPI_Comm of(const Comm& comm);
};

/// Throws InternalError with MPI_Error_string when rc != MPI_SUCCESS.
void check(int rc, const char* what);

}  // namespace weave::mpi
