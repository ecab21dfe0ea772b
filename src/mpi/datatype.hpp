// C++ type -> MPI datatype, the one map every MPI call in Weave uses.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <type_traits>

namespace weave::mpi {

template <typename T>
MPI_Datatype datatype() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>) return MPI_FLOAT;
  else if constexpr (std::is_same_v<U, double>) return MPI_DOUBLE;
  else if constexpr (std::is_same_v<U, char>) return MPI_CHAR;
  else if constexpr (std::is_same_v<U, std::int8_t>) return MPI_INT8_T;
  else if constexpr (std::is_same_v<U, std::uint8_t>) return MPI_UINT8_T;
  else if constexpr (std::is_same_v<U, std::int16_t>) return MPI_INT16_T;
  else if constexpr (std::is_same_v<U, std::uint16_t>) return MPI_UINT16_T;
  else if constexpr (std::is_same_v<U, std::int32_t>) return MPI_INT32_T;
  else if constexpr (std::is_same_v<U, std::uint32_t>) return MPI_UINT32_T;
  else if constexpr (std::is_same_v<U, std::int64_t> || std::is_same_v<U, long long>) return MPI_INT64_T;
  else if constexpr (std::is_same_v<U, std::uint64_t> || std::is_same_v<U, unsigned long long>) return MPI_UINT64_T;
  else static_assert(sizeof(T) == 0, "no MPI datatype for this type");
}

}  // namespace weave::mpi
