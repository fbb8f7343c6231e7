// GGUF v2/v3 reader: header, metadata, tensor infos and tensor data, memory-mapped, with every
// count, length and offset checked against the file before it is used.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "loaders/format_error.h"
#include "loaders/gguf/ggml_type.h"
#include "loaders/mapped_file.h"

namespace bcvk::gguf {

enum class ValueType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};
std::string_view value_type_name(ValueType type);

// One metadata value.  Integers keep their declared type; accessors convert where exact.
struct Value {
  ValueType type = ValueType::U8;
  ValueType element_type = ValueType::U8;  // for arrays
  std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<Value>> data;

  bool is_integer() const;
  // The value as an integer when it is one and fits; nullopt otherwise.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;  // f32, f64, or any integer
  const std::string* as_string() const;
  const std::vector<Value>* as_array() const;
  std::string to_string(size_t max_items = 8) const;  // for `bcvk info`
};

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> dims;  // dims[0] is contiguous: a [n_in, n_out] weight is n_out x n_in
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;       // relative to the data section
  uint64_t file_offset = 0;  // absolute
  uint64_t elements = 0;
  uint64_t bytes = 0;
};

class GgufFile {
 public:
  // Maps and parses `path`.  Throws loaders::FormatError (file and byte offset) for a malformed
  // file, std::runtime_error when it cannot be opened.
  static GgufFile open(const std::filesystem::path& path);
  // Parses bytes the caller keeps alive (tests, fuzzing).
  static GgufFile parse(std::span<const std::byte> bytes, std::string name);

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }
  uint64_t file_size() const { return bytes_.size(); }

  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(const std::string& key) const;
  // Typed look-ups: nullopt when absent; FormatError when present with an incompatible type.
  std::optional<uint64_t> get_uint(const std::string& key) const;
  std::optional<double> get_float(const std::string& key) const;
  std::optional<std::string> get_string(const std::string& key) const;
  std::optional<bool> get_bool(const std::string& key) const;
  // Throwing versions for keys a model cannot do without.
  uint64_t require_uint(const std::string& key) const;
  double require_float(const std::string& key) const;
  std::string require_string(const std::string& key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* tensor(const std::string& name) const;
  std::span<const std::byte> tensor_data(const TensorInfo& t) const;

 private:
  GgufFile() = default;
  void parse_all();

  std::optional<loaders::MappedFile> file_;
  std::span<const std::byte> bytes_;
  std::string name_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::map<std::string, size_t> metadata_index_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

}  // namespace bcvk::gguf
