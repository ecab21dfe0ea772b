#include "mpi/collective_error.hpp"

#include <limits>
#include <string>

#include "mpi/raw_comm.hpp"

namespace weave::mpi {

void agree_on_error(const Comm& comm, std::exception_ptr local_error) {
  constexpr auto kNoError = std::numeric_limits<std::int64_t>::max();
  std::int64_t key = kNoError;
  std::string message;
  bool internal = false;
  if (local_error) {
    try {
      std::rethrow_exception(local_error);
    } catch (const UserError& e) {
      key = e.order_key();
      message = e.what();
    } catch (const std::exception& e) {
      // Not the user's fault, but the other ranks must still stop: report it first.
      key = std::numeric_limits<std::int64_t>::min();
      message = std::string("internal error on rank ") + std::to_string(comm.rank()) + ": " + e.what();
      internal = true;
    }
  }
  // The winner is the smallest key; among equal keys the smallest rank.
  struct {
    long key;
    int rank;
  } mine{static_cast<long>(key), comm.rank()}, winner{};
  static_assert(sizeof(long) == sizeof(std::int64_t));
  count_collective(sizeof(mine));
  check(MPI_Allreduce(&mine, &winner, 1, MPI_LONG_INT, MPI_MINLOC, RawComm::of(comm)), "MPI_Allreduce(MINLOC)");
  if (winner.key == kNoError) return;
  const std::string agreed = comm.bcast_string(message, winner.rank);
  const bool agreed_internal = comm.bcast_value<std::uint8_t>(internal ? 1 : 0, winner.rank) != 0;
  if (agreed_internal) throw InternalError(agreed);
  UserError e(agreed, winner.key);
  e.mark_collective();
  throw e;
}

}  // namespace weave::mpi
