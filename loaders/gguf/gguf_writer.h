// GGUF v3 writer: metadata in insertion order, tensors in insertion order, each tensor's data
// at the next multiple of the alignment.  Written atomically (temporary file, then rename).
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <span>
#include <string>
#include <vector>

#include "loaders/gguf/gguf_file.h"

namespace bcvk::gguf {

class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32);

  // Adds or replaces a metadata value (replacing keeps the key's original position).
  void set(const std::string& key, Value value);
  void set_u32(const std::string& key, uint32_t v);
  void set_i32(const std::string& key, int32_t v);
  void set_u64(const std::string& key, uint64_t v);
  void set_f32(const std::string& key, float v);
  void set_bool(const std::string& key, bool v);
  void set_string(const std::string& key, std::string v);
  void set_strings(const std::string& key, const std::vector<std::string>& v);
  void set_i32s(const std::string& key, const std::vector<int32_t>& v);
  void set_f32s(const std::string& key, const std::vector<float>& v);

  // Raw bytes of `type` (must be exactly the tensor's size); copied.
  void add_tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                  std::span<const std::byte> data);
  // Raw bytes the caller keeps alive until write() returns (no copy: for re-writing big files).
  void add_tensor_view(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                       std::span<const std::byte> data);
  // From f32 values, stored as `type`: F32, F16, BF16 or Q8_0 (quantized here).
  void add_tensor_from_f32(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                           std::span<const float> values);

  // Every metadata value and tensor of `file`, unchanged (for re-writing and editing files).
  void copy_from(const GgufFile& file);

  void write(const std::filesystem::path& path) const;
  void write(std::ostream& out) const;
  std::vector<std::byte> to_bytes() const;

 private:
  struct Tensor {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    std::vector<std::byte> owned;
    std::span<const std::byte> data;
  };
  void add(Tensor t);

  uint32_t alignment_;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<Tensor> tensors_;
};

// Q8_0 blocks for `values` (a multiple of 32), as ggml's reference quantizer makes them:
// d = max|x| / 127 stored as f16, q = round(x / d).
std::vector<std::byte> quantize_q8_0(std::span<const float> values);

}  // namespace bcvk::gguf
