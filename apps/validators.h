// Checks on flag values that CLI11 does not make: it clamps integers past their type's range
// (a seed of 2^64 + 5 became 2^64 - 1) and takes an empty string as a path.
#pragma once

#include <CLI/CLI.hpp>

#include <charconv>
#include <cstdint>
#include <string>

namespace bcvk::apps {

// A decimal integer that fits in 64 bits unsigned, taken exactly.
inline CLI::Validator exact_uint64() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        uint64_t v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec == std::errc::result_out_of_range)
          return "'" + s + "' is larger than 2^64 - 1 (18446744073709551615)";
        if (ec != std::errc() || end != s.data() + s.size() || s.empty())
          return "'" + s + "' is not a non-negative integer";
        return {};
      },
      "UINT64");
}

// A path to write: given, it must not be empty.
inline CLI::Validator output_path() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        return s.empty() ? std::string("an empty path; give a file name") : std::string();
      },
      "PATH");
}

}  // namespace bcvk::apps
