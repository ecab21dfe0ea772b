// C++ element type -> a tag the MPI layer maps to its datatype (mpi/comm.cpp): the templates of
// mpi::Comm name their element type without <mpi.h>.
#pragma once

#include <cstdint>
#include <type_traits>

namespace weave::mpi {

enum class ElementType { kFloat, kDouble, kChar, kInt8, kUint8, kInt16, kUint16, kInt32, kUint32, kInt64, kUint64 };

/// Operations of the reductions.
enum class ReduceOp { kSum, kMin, kMax };

template <typename T>
constexpr ElementType element_type() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, float>) return ElementType::kFloat;
  else if constexpr (std::is_same_v<U, double>) return ElementType::kDouble;
  else if constexpr (std::is_same_v<U, char>) return ElementType::kChar;
  else if constexpr (std::is_same_v<U, std::int8_t>) return ElementType::kInt8;
  else if constexpr (std::is_same_v<U, std::uint8_t>) return ElementType::kUint8;
  else if constexpr (std::is_same_v<U, std::int16_t>) return ElementType::kInt16;
  else if constexpr (std::is_same_v<U, std::uint16_t>) return ElementType::kUint16;
  else if constexpr (std::is_same_v<U, std::int32_t>) return ElementType::kInt32;
  else if constexpr (std::is_same_v<U, std::uint32_t>) return ElementType::kUint32;
  else if constexpr (std::is_same_v<U, std::int64_t> || std::is_same_v<U, long long>) return ElementType::kInt64;
  else if constexpr (std::is_same_v<U, std::uint64_t> || std::is_same_v<U, unsigned long long>) return ElementType::kUint64;
  else static_assert(sizeof(T) == 0, "no MPI datatype for this type");
}

}  // namespace weave::mpi
