// The MPI-IO hints Weave gives the files it opens to read through HDF5's MPI-IO driver. For the
// HDF5 layer only (it includes <mpi.h>, as raw_comm.hpp does).
#pragma once

#include <cstdint>
#include <optional>

#include <mpi.h>

namespace weave::mpi {

/// The collective-buffering buffer of each MPI-IO aggregator rank for files opened to read
/// ("cb_buffer_size", a hint the MPI standard reserves; ROMIO and Open MPI's OMPIO both honour it).
/// Open MPI's default, 32 MiB, is allocated whole by one rank in eight for a read of rows scattered
/// over the file (the order stage's path ends), however few: at 64 ranks of 20,000 documents it was
/// most of the growth of the order stage's peak over 2 ranks. Reads at 4 MiB are as fast here as at
/// 32 MiB (faster at 8 ranks; docs/benchmarks.md, "The MPI-IO buffer and the shared memory in a
/// rank's peak"). Files written keep the MPI's size: their data go by independent writes of each
/// rank's block (io/hdf5.cpp), so the buffer serves only HDF5's collective metadata writes.
inline constexpr std::int64_t kCollectiveBufferBytes = std::int64_t{4} << 20;

/// An MPI_Info with Weave's hints for a file opened to read, freed with the object. Empty
/// (MPI_INFO_NULL) for a file written, or when the user has set the MPI library's own setting for it
/// (OMPI_MCA_io_ompio_bytes_per_agg, ROMIO_HINTS, MPICH_MPIIO_HINTS): a hint would override it.
class FileHints {
 public:
  explicit FileHints(bool for_reading);
  ~FileHints();
  FileHints(const FileHints&) = delete;
  FileHints& operator=(const FileHints&) = delete;

  MPI_Info info() const { return info_; }

 private:
  MPI_Info info_ = MPI_INFO_NULL;
};

/// The "cb_buffer_size" hint an open MPI-IO file reports (MPI_File_get_info), if any.
std::optional<std::int64_t> collective_buffer_bytes(MPI_File file);

}  // namespace weave::mpi
