// safetensors reader: an 8-byte little-endian header size, a JSON header naming each tensor's
// dtype, shape and [begin, end) data offsets, then the data.  Memory-mapped; every offset and
// size is checked against the file, and overlapping tensors are refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loaders/format_error.h"
#include "loaders/gguf/ggml_type.h"
#include "loaders/mapped_file.h"

namespace bcvk::loaders {

struct SafeTensor {
  std::string name;
  gguf::GgmlType type = gguf::GgmlType::F32;  // F32, F16 or BF16
  std::vector<uint64_t> shape;                 // row-major, outermost first (PyTorch order)
  uint64_t elements = 0;
  uint64_t file_offset = 0;
  uint64_t bytes = 0;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::filesystem::path& path);
  static SafetensorsFile parse(std::span<const std::byte> bytes, std::string name);

  const std::string& name() const { return name_; }
  const std::map<std::string, SafeTensor>& tensors() const { return tensors_; }
  const SafeTensor* tensor(const std::string& name) const;
  std::span<const std::byte> data(const SafeTensor& t) const { return bytes_.subspan(t.file_offset, t.bytes); }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse_all();

  std::optional<MappedFile> file_;
  std::span<const std::byte> bytes_;
  std::string name_;
  std::map<std::string, SafeTensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace bcvk::loaders
