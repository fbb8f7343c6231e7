#include "loaders/gguf/gguf_writer.h"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "loaders/atomic_write.h"
#include "loaders/half.h"

namespace bcvk::gguf {

namespace {

template <class T>
void put(std::ostream& out, T v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof v);
}

void put_string(std::ostream& out, const std::string& s) {
  put<uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

void put_value(std::ostream& out, const Value& v) {
  switch (v.type) {
    case ValueType::U8: put<uint8_t>(out, static_cast<uint8_t>(*v.as_uint())); break;
    case ValueType::I8: put<int8_t>(out, static_cast<int8_t>(*v.as_int())); break;
    case ValueType::U16: put<uint16_t>(out, static_cast<uint16_t>(*v.as_uint())); break;
    case ValueType::I16: put<int16_t>(out, static_cast<int16_t>(*v.as_int())); break;
    case ValueType::U32: put<uint32_t>(out, static_cast<uint32_t>(*v.as_uint())); break;
    case ValueType::I32: put<int32_t>(out, static_cast<int32_t>(*v.as_int())); break;
    case ValueType::U64: put<uint64_t>(out, *v.as_uint()); break;
    case ValueType::I64: put<int64_t>(out, *v.as_int()); break;
    case ValueType::F32: put<float>(out, static_cast<float>(std::get<double>(v.data))); break;
    case ValueType::F64: put<double>(out, std::get<double>(v.data)); break;
    case ValueType::BOOL: put<uint8_t>(out, std::get<bool>(v.data) ? 1 : 0); break;
    case ValueType::STRING: put_string(out, std::get<std::string>(v.data)); break;
    case ValueType::ARRAY: {
      const auto& items = std::get<std::vector<Value>>(v.data);
      put<uint32_t>(out, static_cast<uint32_t>(v.element_type));
      put<uint64_t>(out, items.size());
      for (const Value& item : items) put_value(out, item);
      break;
    }
  }
}

uint64_t tensor_bytes(const std::string& name, const std::vector<uint64_t>& dims, GgmlType type) {
  const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
  if (!traits) throw std::invalid_argument("tensor " + name + ": unknown type");
  if (dims.empty() || dims.size() > 4) throw std::invalid_argument("tensor " + name + ": 1 to 4 dimensions");
  uint64_t n = 1;
  for (uint64_t d : dims) {
    if (d == 0 || __builtin_mul_overflow(n, d, &n)) throw std::invalid_argument("tensor " + name + ": bad shape");
  }
  if (dims[0] % traits->block_elements)
    throw std::invalid_argument("tensor " + name + ": first dimension is not a multiple of the block size");
  return n / traits->block_elements * traits->block_bytes;
}

Value scalar(ValueType t, std::variant<uint64_t, int64_t, double, bool, std::string, std::vector<Value>> d) {
  Value v;
  v.type = t;
  v.data = std::move(d);
  return v;
}

}  // namespace

std::vector<std::byte> quantize_q8_0(std::span<const float> x) {
  if (x.size() % 32) throw std::invalid_argument("Q8_0 needs a multiple of 32 values");
  std::vector<std::byte> out(x.size() / 32 * 34);
  for (size_t b = 0; b < x.size() / 32; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b * 32 + j]));
    const float d = amax / 127.0f;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    const uint16_t h = loaders::float_to_half(d);
    std::byte* p = out.data() + b * 34;
    std::memcpy(p, &h, 2);
    for (int j = 0; j < 32; ++j) p[2 + j] = static_cast<std::byte>(static_cast<int8_t>(std::lround(x[b * 32 + j] * id)));
  }
  return out;
}

GgufWriter::GgufWriter(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1))) throw std::invalid_argument("alignment must be a power of two");
  if (alignment != 32) set_u32("general.alignment", alignment);
}

void GgufWriter::set(const std::string& key, Value value) {
  for (auto& [k, v] : metadata_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  metadata_.emplace_back(key, std::move(value));
}

void GgufWriter::set_u32(const std::string& k, uint32_t v) { set(k, scalar(ValueType::U32, uint64_t{v})); }
void GgufWriter::set_i32(const std::string& k, int32_t v) { set(k, scalar(ValueType::I32, int64_t{v})); }
void GgufWriter::set_u64(const std::string& k, uint64_t v) { set(k, scalar(ValueType::U64, v)); }
void GgufWriter::set_f32(const std::string& k, float v) { set(k, scalar(ValueType::F32, double{v})); }
void GgufWriter::set_bool(const std::string& k, bool v) { set(k, scalar(ValueType::BOOL, v)); }
void GgufWriter::set_string(const std::string& k, std::string v) { set(k, scalar(ValueType::STRING, std::move(v))); }

void GgufWriter::set_strings(const std::string& k, const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(scalar(ValueType::STRING, s));
  Value a = scalar(ValueType::ARRAY, std::move(items));
  a.element_type = ValueType::STRING;
  set(k, std::move(a));
}

void GgufWriter::set_i32s(const std::string& k, const std::vector<int32_t>& v) {
  std::vector<Value> items;
  for (int32_t x : v) items.push_back(scalar(ValueType::I32, int64_t{x}));
  Value a = scalar(ValueType::ARRAY, std::move(items));
  a.element_type = ValueType::I32;
  set(k, std::move(a));
}

void GgufWriter::set_f32s(const std::string& k, const std::vector<float>& v) {
  std::vector<Value> items;
  for (float x : v) items.push_back(scalar(ValueType::F32, double{x}));
  Value a = scalar(ValueType::ARRAY, std::move(items));
  a.element_type = ValueType::F32;
  set(k, std::move(a));
}

void GgufWriter::add(Tensor t) {
  for (const auto& e : tensors_)
    if (e.name == t.name) throw std::invalid_argument("duplicate tensor name " + t.name);
  const uint64_t expect = tensor_bytes(t.name, t.dims, t.type);
  if (t.data.size() != expect)
    throw std::invalid_argument("tensor " + t.name + ": " + std::to_string(t.data.size()) + " bytes given, " +
                                std::to_string(expect) + " expected");
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                            std::span<const std::byte> data) {
  Tensor t{name, std::move(dims), type, std::vector<std::byte>(data.begin(), data.end()), {}};
  t.data = t.owned;
  add(std::move(t));
}

void GgufWriter::add_tensor_view(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                                 std::span<const std::byte> data) {
  add(Tensor{name, std::move(dims), type, {}, data});
}

void GgufWriter::add_tensor_from_f32(const std::string& name, std::vector<uint64_t> dims, GgmlType type,
                                     std::span<const float> values) {
  std::vector<std::byte> bytes;
  switch (type) {
    case GgmlType::F32:
      bytes.resize(values.size() * 4);
      std::memcpy(bytes.data(), values.data(), bytes.size());
      break;
    case GgmlType::F16:
    case GgmlType::BF16:
      bytes.resize(values.size() * 2);
      for (size_t i = 0; i < values.size(); ++i) {
        const uint16_t h = type == GgmlType::F16 ? loaders::float_to_half(values[i]) : loaders::float_to_bf16(values[i]);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
      break;
    case GgmlType::Q8_0:
      bytes = quantize_q8_0(values);
      break;
    default:
      throw std::invalid_argument("tensor " + name + ": the writer quantizes to F32, F16, BF16 and Q8_0 only");
  }
  Tensor t{name, std::move(dims), type, std::move(bytes), {}};
  t.data = t.owned;
  add(std::move(t));
}

void GgufWriter::copy_from(const GgufFile& file) {
  for (const auto& [k, v] : file.metadata()) set(k, v);
  for (const auto& t : file.tensors()) add_tensor_view(t.name, t.dims, t.type, file.tensor_data(t));
}

void GgufWriter::write(std::ostream& out) const {
  uint64_t pos = 0;
  auto counted = [&](auto&& fn) {
    const auto before = out.tellp();
    fn();
    pos += static_cast<uint64_t>(out.tellp() - before);
  };
  counted([&] {
    out.write("GGUF", 4);
    put<uint32_t>(out, 3);
    put<uint64_t>(out, tensors_.size());
    put<uint64_t>(out, metadata_.size());
    for (const auto& [k, v] : metadata_) {
      put_string(out, k);
      put<uint32_t>(out, static_cast<uint32_t>(v.type));
      put_value(out, v);
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
      put_string(out, t.name);
      put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) put<uint64_t>(out, d);
      put<uint32_t>(out, static_cast<uint32_t>(t.type));
      put<uint64_t>(out, offset);
      offset = (offset + t.data.size() + alignment_ - 1) / alignment_ * alignment_;
    }
  });
  static const char zeros[256] = {};
  auto pad = [&](uint64_t n) {
    while (n) {
      const uint64_t k = std::min<uint64_t>(n, sizeof zeros);
      out.write(zeros, static_cast<std::streamsize>(k));
      n -= k;
    }
  };
  pad((alignment_ - pos % alignment_) % alignment_);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const Tensor& t = tensors_[i];
    out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
    // Pad after every tensor but the last, as llama.cpp does, so re-written files match.
    if (i + 1 < tensors_.size()) pad((alignment_ - t.data.size() % alignment_) % alignment_);
  }
  // A failed stream is the caller's to report: write(path) names the file and the reason (a
  // full disk), which a bare "write failed" here would hide.
}

void GgufWriter::write(const std::filesystem::path& path) const {
  loaders::write_file_atomically(path, [&](std::ostream& out) { write(out); });
}

std::vector<std::byte> GgufWriter::to_bytes() const {
  std::ostringstream out(std::ios::binary);
  write(out);
  const std::string s = out.str();
  std::vector<std::byte> b(s.size());
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

}  // namespace bcvk::gguf
