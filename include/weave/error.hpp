// The two error tiers of Weave.
//
// UserError: bad input or parameters. The message says what is wrong and what to do; the program
// prints it once and every rank exits with status 2.
// InternalError (via WEAVE_ASSERT): a broken invariant, a bug. Aborts loudly, or throws in tests.
#pragma once

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

namespace weave {

class UserError : public std::runtime_error {
 public:
  /// order_key picks which error is reported when several ranks fail at once: the smallest key
  /// wins (use the global row of bad input, so the report does not depend on the rank count).
  explicit UserError(const std::string& message,
                     std::int64_t order_key = std::numeric_limits<std::int64_t>::max() - 1)
      : std::runtime_error(message), order_key_(order_key) {}

  std::int64_t order_key() const { return order_key_; }
  /// True once every rank of the communicator is known to throw this same error.
  bool collective() const { return collective_; }
  void mark_collective() { collective_ = true; }

 private:
  std::int64_t order_key_;
  bool collective_ = false;
};

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
/// Called on a failed WEAVE_ASSERT. Aborts the job by default; tests switch it to throwing.
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line, const std::string& msg);
/// Makes failed assertions throw InternalError instead of aborting (GoogleTest cannot run death
/// tests under MPI).
void set_assertions_throw(bool throw_on_failure);
}  // namespace detail

}  // namespace weave

/// Checks an internal invariant (always on: the cost is negligible next to the I/O and the math).
#define WEAVE_ASSERT(cond, msg)                                                   \
  do {                                                                            \
    if (!(cond)) ::weave::detail::assertion_failed(#cond, __FILE__, __LINE__, (msg)); \
  } while (false)
