#include "loaders/safetensors.h"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

namespace bcvk::loaders {

namespace {
constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit is 100 MB
}

SafetensorsFile SafetensorsFile::open(const std::filesystem::path& path) {
  SafetensorsFile f;
  f.file_.emplace(path);
  f.bytes_ = f.file_->bytes();
  f.name_ = path.string();
  f.parse_all();
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const std::byte> bytes, std::string name) {
  SafetensorsFile f;
  f.bytes_ = bytes;
  f.name_ = std::move(name);
  f.parse_all();
  return f;
}

const SafeTensor* SafetensorsFile::tensor(const std::string& name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

void SafetensorsFile::parse_all() {
  auto fail = [&](uint64_t at, const std::string& what) { throw FormatError(name_, at, what); };
  if (bytes_.size() < 8) fail(0, "file ends inside the 8-byte header size (truncated file)");
  uint64_t n = 0;
  std::memcpy(&n, bytes_.data(), 8);
  if (n > kMaxHeader || n > bytes_.size() - 8)
    fail(0, "header size " + std::to_string(n) + " is larger than the " + std::to_string(bytes_.size()) +
                "-byte file allows (truncated file?)");
  const std::string_view text(reinterpret_cast<const char*>(bytes_.data()) + 8, n);
  if (!is_valid_utf8(text)) fail(8, "the JSON header is not valid UTF-8");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    fail(8 + e.byte, std::string("the JSON header does not parse: ") + e.what());
  } catch (const nlohmann::json::exception& e) {  // e.g. a number too large for any type
    fail(8, std::string("the JSON header does not parse: ") + e.what());
  }
  if (!header.is_object()) fail(8, "the JSON header is not an object");
  const uint64_t data_start = 8 + n;
  const uint64_t data_size = bytes_.size() - data_start;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const auto& item : header.items()) {
    const std::string key = item.key();
    const nlohmann::json& v = item.value();
    if (key == "__metadata__") {
      if (!v.is_object()) fail(8, "__metadata__ is not an object");
      for (const auto& [mk, mv] : v.items())
        if (mv.is_string()) metadata_[mk] = mv.get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& what) { fail(8, "tensor \"" + key + "\": " + what); };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      bad("needs dtype, shape and data_offsets");
    SafeTensor t;
    t.name = key;
    const auto& dtype = v["dtype"];
    if (!dtype.is_string()) bad("dtype is not a string");
    const std::string d = dtype.get<std::string>();
    uint64_t size = 0;
    if (d == "F32") t.type = gguf::GgmlType::F32, size = 4;
    else if (d == "F16") t.type = gguf::GgmlType::F16, size = 2;
    else if (d == "BF16") t.type = gguf::GgmlType::BF16, size = 2;
    else bad("dtype " + d + " is not supported (F32, F16, BF16 are)");
    const auto& shape = v["shape"];
    if (!shape.is_array() || shape.size() > 8) bad("shape is not an array of at most 8 sizes");
    t.elements = 1;
    for (const auto& s : shape) {
      if (!s.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
      const uint64_t dim = s.get<uint64_t>();
      if (__builtin_mul_overflow(t.elements, dim, &t.elements) || t.elements > (1ull << 48))
        bad("the product of its shape overflows");
      t.shape.push_back(dim);
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
      bad("data_offsets is not [begin, end]");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (end < begin || end > data_size)
      bad("data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + ") lie outside the " +
          std::to_string(data_size) + "-byte data section (truncated file?)");
    t.bytes = end - begin;
    if (t.bytes != t.elements * size)
      bad("data_offsets span " + std::to_string(t.bytes) + " bytes but dtype and shape need " +
          std::to_string(t.elements * size));
    t.file_offset = data_start + begin;
    if (t.bytes) ranges.emplace_back(begin, end);
    tensors_.emplace(key, std::move(t));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      fail(data_start + ranges[i].first, "two tensors' data_offsets overlap");
}

}  // namespace bcvk::loaders
