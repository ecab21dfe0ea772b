#include "mpi/traffic.hpp"

namespace weave::mpi {

Traffic& traffic() {
  static Traffic counters;
  return counters;
}

}  // namespace weave::mpi
