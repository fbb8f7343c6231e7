// Internal invariants (runtime/util/check.h): a failed one is a util::InternalError, a
// std::logic_error -- never an input or device error -- naming the file and line and saying it
// is a bug; a holding one costs nothing and builds no message.
#include "runtime/util/check.h"

#include <gtest/gtest.h>

namespace bcvk {
namespace {

TEST(Check, AFailedInvariantNamesFileLineAndSaysItIsABug) {
  const int line = __LINE__ + 2;
  try {
    BCVK_ASSERT(1 + 1 == 3, "arithmetic is off by " + std::to_string(1));
    FAIL() << "a false condition passed";
  } catch (const util::InternalError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("internal error at "), std::string::npos) << m;
    EXPECT_NE(m.find("check_test.cpp:" + std::to_string(line)), std::string::npos) << m;
    EXPECT_NE(m.find("arithmetic is off by 1"), std::string::npos) << m;
    EXPECT_NE(m.find("this is a bug in bcvk"), std::string::npos) << m;
  }
  // A logic_error: callers that map input errors (std::invalid_argument) to a user's mistake
  // cannot mistake it for one.
  EXPECT_THROW(util::internal_error("x"), std::logic_error);
  static_assert(!std::is_base_of_v<std::invalid_argument, util::InternalError>);
  static_assert(!std::is_base_of_v<std::runtime_error, util::InternalError>);
}

TEST(Check, AHoldingInvariantBuildsNoMessage) {
  int built = 0;
  const auto message = [&] {
    ++built;
    return std::string("never");
  };
  BCVK_ASSERT(true, message());
  EXPECT_EQ(built, 0);
}

}  // namespace
}  // namespace bcvk
