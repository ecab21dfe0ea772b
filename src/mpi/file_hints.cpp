#include "mpi/file_hints.hpp"

#include <cstdlib>
#include <string>

#include "mpi/raw_comm.hpp"

namespace weave::mpi {

namespace {

/// Whether the environment sets the MPI library's own collective-buffering size.
bool user_sets_collective_buffer() {
  for (const char* variable : {"OMPI_MCA_io_ompio_bytes_per_agg", "ROMIO_HINTS", "MPICH_MPIIO_HINTS"})
    if (std::getenv(variable) != nullptr) return true;
  return false;
}

}  // namespace

FileHints::FileHints(bool for_reading) {
  if (!for_reading || user_sets_collective_buffer()) return;
  check(MPI_Info_create(&info_), "MPI_Info_create");
  check(MPI_Info_set(info_, "cb_buffer_size", std::to_string(kCollectiveBufferBytes).c_str()), "MPI_Info_set");
}

FileHints::~FileHints() {
  if (info_ != MPI_INFO_NULL) MPI_Info_free(&info_);
}

std::optional<std::int64_t> collective_buffer_bytes(MPI_File file) {
  MPI_Info info = MPI_INFO_NULL;
  check(MPI_File_get_info(file, &info), "MPI_File_get_info");
  char value[MPI_MAX_INFO_VAL + 1] = {};
  int found = 0;
  const int rc = MPI_Info_get(info, "cb_buffer_size", MPI_MAX_INFO_VAL, value, &found);
  MPI_Info_free(&info);
  check(rc, "MPI_Info_get");
  if (!found) return std::nullopt;
  return std::stoll(value);
}

}  // namespace weave::mpi
