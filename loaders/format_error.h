// The error every loader throws for a bad file: it names the file and the byte offset.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

namespace bcvk::loaders {

class FormatError : public std::runtime_error {
 public:
  FormatError(const std::string& file, uint64_t offset, const std::string& what)
      : std::runtime_error(file + ": byte " + std::to_string(offset) + ": " + what),
        file_(file),
        offset_(offset) {}
  const std::string& file() const { return file_; }
  uint64_t offset() const { return offset_; }

 private:
  std::string file_;
  uint64_t offset_;
};

// True when `s` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF).
bool is_valid_utf8(std::string_view s);

}  // namespace bcvk::loaders
