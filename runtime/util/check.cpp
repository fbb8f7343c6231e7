#include "runtime/util/check.h"

#include <filesystem>

namespace bcvk::util {

void internal_error(const std::string& what, std::source_location where) {
  // The path from runtime/ on: the build machine's directories say nothing to a user.
  std::string file = where.file_name();
  if (const auto at = file.rfind("runtime/"); at != std::string::npos) file = file.substr(at);
  throw InternalError("internal error at " + file + ":" + std::to_string(where.line()) + ": " +
                      what + "; this is a bug in bcvk");
}

}  // namespace bcvk::util
