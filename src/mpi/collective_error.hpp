// Errors that reach every rank.
//
// A rank that finds bad input must not simply throw: the other ranks would wait forever in the next
// collective. Code that can fail on some ranks runs inside collectively(comm, fn): afterwards either
// every rank continues, or every rank throws the same UserError (the one with the smallest
// order_key, i.e. the first bad row of the corpus), marked collective so main() exits 2 everywhere.
#pragma once

#include <exception>
#include <utility>

#include "mpi/comm.hpp"
#include "weave/error.hpp"

namespace weave::mpi {

/// Agrees over `comm` on the failure (if any) of this rank's part of a step. Pass nullptr when this
/// rank succeeded. Throws the agreed error on every rank.
void agree_on_error(const Comm& comm, std::exception_ptr local_error);

/// Runs fn on every rank, then agrees on the outcome (see agree_on_error).
template <typename F>
void collectively(const Comm& comm, F&& fn) {
  std::exception_ptr error;
  try {
    std::forward<F>(fn)();
  } catch (...) {
    error = std::current_exception();
  }
  agree_on_error(comm, error);
}

}  // namespace weave::mpi
