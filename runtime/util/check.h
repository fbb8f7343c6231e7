// Internal invariants: conditions that hold unless bcvk itself has a bug (an op called with views
// its caller sized wrong, a malformed embedded shader).  They are always checked -- they are
// cheap, and a library inside someone's server must not corrupt memory where a check could
// refuse -- and a failure throws util::InternalError, a std::logic_error, naming the file and
// line.  Bad input never reaches one: it is refused earlier with std::invalid_argument (see
// "Errors" in docs/ARCHITECTURE.md).
#pragma once

#include <source_location>
#include <stdexcept>
#include <string>

namespace bcvk::util {

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

// Throws InternalError("internal error at FILE:LINE: what; this is a bug in bcvk").
[[noreturn]] void internal_error(const std::string& what,
                                 std::source_location where = std::source_location::current());

}  // namespace bcvk::util

// BCVK_ASSERT(cond, what): cond must hold; `what` (a string) is only built when it does not.
#define BCVK_ASSERT(cond, what)                                   \
  do {                                                            \
    if (!(cond)) ::bcvk::util::internal_error(std::string(what)); \
  } while (0)
