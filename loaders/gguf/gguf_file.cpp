#include "loaders/gguf/gguf_file.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace bcvk::gguf {

namespace {

constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;  // nesting deeper than this is hostile, not a model
constexpr uint64_t kMaxStringBytes = 1ull << 30;

// Reads little-endian values with a bound check before every access.
class Cursor {
 public:
  Cursor(std::span<const std::byte> b, const std::string& name) : b_(b), name_(name) {}
  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return b_.size() - pos_; }

  [[noreturn]] void fail(uint64_t at, const std::string& what) const {
    throw loaders::FormatError(name_, at, what);
  }

  template <class T>
  T read(const char* what) {
    if (remaining() < sizeof(T))
      fail(pos_, std::string("file ends inside ") + what + " (truncated file)");
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* what) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(what);
    if (len > remaining() || len > kMaxStringBytes)
      fail(at, std::string(what) + " claims " + std::to_string(len) + " bytes but only " +
                   std::to_string(remaining()) + " remain (truncated file?)");
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), len);
    if (!loaders::is_valid_utf8(s)) fail(at, std::string(what) + " is not valid UTF-8");
    pos_ += len;
    return s;
  }

 private:
  std::span<const std::byte> b_;
  const std::string& name_;
  uint64_t pos_ = 0;
};

// Smallest encoding of one element of `type`, to bound counts before allocating.
uint64_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::U8:
    case ValueType::I8:
    case ValueType::BOOL:
      return 1;
    case ValueType::U16:
    case ValueType::I16:
      return 2;
    case ValueType::U32:
    case ValueType::I32:
    case ValueType::F32:
      return 4;
    case ValueType::U64:
    case ValueType::I64:
    case ValueType::F64:
    case ValueType::STRING:
      return 8;
    case ValueType::ARRAY:
      return 12;
  }
  return 1;
}

bool known_type(uint32_t t) {
  return t <= 12;
}

Value read_value(Cursor& c, ValueType type, int depth) {
  Value v;
  v.type = type;
  const uint64_t at = c.pos();
  switch (type) {
    case ValueType::U8:
      v.data = uint64_t{c.read<uint8_t>("a u8 value")};
      break;
    case ValueType::I8:
      v.data = int64_t{c.read<int8_t>("an i8 value")};
      break;
    case ValueType::U16:
      v.data = uint64_t{c.read<uint16_t>("a u16 value")};
      break;
    case ValueType::I16:
      v.data = int64_t{c.read<int16_t>("an i16 value")};
      break;
    case ValueType::U32:
      v.data = uint64_t{c.read<uint32_t>("a u32 value")};
      break;
    case ValueType::I32:
      v.data = int64_t{c.read<int32_t>("an i32 value")};
      break;
    case ValueType::U64:
      v.data = c.read<uint64_t>("a u64 value");
      break;
    case ValueType::I64:
      v.data = c.read<int64_t>("an i64 value");
      break;
    case ValueType::F32:
      v.data = double{c.read<float>("an f32 value")};
      break;
    case ValueType::F64:
      v.data = c.read<double>("an f64 value");
      break;
    case ValueType::BOOL: {
      const uint8_t b = c.read<uint8_t>("a bool value");
      if (b > 1) c.fail(at, "bool value " + std::to_string(b) + " is neither 0 nor 1");
      v.data = b == 1;
      break;
    }
    case ValueType::STRING:
      v.data = c.read_string("a string value");
      break;
    case ValueType::ARRAY: {
      if (depth >= kMaxArrayDepth)
        c.fail(at, "arrays nested deeper than " + std::to_string(kMaxArrayDepth));
      const uint32_t et = c.read<uint32_t>("an array's element type");
      if (!known_type(et)) c.fail(at, "array of unknown value type " + std::to_string(et));
      v.element_type = static_cast<ValueType>(et);
      const uint64_t count_at = c.pos();
      const uint64_t n = c.read<uint64_t>("an array's length");
      if (n > c.remaining() / min_encoded_size(v.element_type))
        c.fail(count_at, "array claims " + std::to_string(n) + " elements, more than the " +
                             std::to_string(c.remaining()) +
                             " remaining bytes can hold (truncated file?)");
      std::vector<Value> items;
      items.reserve(n);
      for (uint64_t i = 0; i < n; ++i) items.push_back(read_value(c, v.element_type, depth + 1));
      v.data = std::move(items);
      break;
    }
  }
  return v;
}

}  // namespace

std::string_view value_type_name(ValueType type) {
  static constexpr std::string_view kNames[] = {"u8",  "i8",  "u16",  "i16",    "u32",
                                                "i32", "f32", "bool", "string", "array",
                                                "u64", "i64", "f64"};
  const auto i = static_cast<uint32_t>(type);
  return i < 13 ? kNames[i] : "?";
}

bool Value::is_integer() const {
  return std::holds_alternative<uint64_t>(data) || std::holds_alternative<int64_t>(data);
}

std::optional<uint64_t> Value::as_uint() const {
  if (auto* u = std::get_if<uint64_t>(&data)) return *u;
  if (auto* i = std::get_if<int64_t>(&data); i && *i >= 0) return static_cast<uint64_t>(*i);
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (auto* i = std::get_if<int64_t>(&data)) return *i;
  if (auto* u = std::get_if<uint64_t>(&data); u && *u <= uint64_t(INT64_MAX))
    return static_cast<int64_t>(*u);
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (auto* d = std::get_if<double>(&data)) return *d;
  if (auto* u = std::get_if<uint64_t>(&data)) return static_cast<double>(*u);
  if (auto* i = std::get_if<int64_t>(&data)) return static_cast<double>(*i);
  return std::nullopt;
}

const std::string* Value::as_string() const {
  return std::get_if<std::string>(&data);
}
const std::vector<Value>* Value::as_array() const {
  return std::get_if<std::vector<Value>>(&data);
}

std::string Value::to_string(size_t max_items) const {
  if (auto* u = std::get_if<uint64_t>(&data)) return std::to_string(*u);
  if (auto* i = std::get_if<int64_t>(&data)) return std::to_string(*i);
  if (auto* d = std::get_if<double>(&data)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", *d);
    return buf;
  }
  if (auto* b = std::get_if<bool>(&data)) return *b ? "true" : "false";
  if (auto* s = std::get_if<std::string>(&data)) {
    // Shortened for display (not when every item is wanted), at a UTF-8 character boundary.
    size_t n = s->size();
    if (max_items != SIZE_MAX && n > 60) {
      n = 60;
      while (n > 0 && (static_cast<unsigned char>((*s)[n]) & 0xC0) == 0x80) --n;
    }
    std::string out = "\"";
    for (char ch : s->substr(0, n)) out += (ch == '\n') ? std::string("\\n") : std::string(1, ch);
    return out + (n < s->size() ? "...\"" : "\"");
  }
  const auto& items = std::get<std::vector<Value>>(data);
  std::string out =
      std::string(value_type_name(element_type)) + "[" + std::to_string(items.size()) + "] [";
  for (size_t k = 0; k < items.size() && k < max_items; ++k)
    out += (k ? ", " : "") + items[k].to_string(max_items);
  return out + (items.size() > max_items ? ", ...]" : "]");
}

GgufFile GgufFile::open(const std::filesystem::path& path) {
  GgufFile f;
  f.file_.emplace(path);
  f.bytes_ = f.file_->bytes();
  f.name_ = path.string();
  f.parse_all();
  return f;
}

GgufFile GgufFile::parse(std::span<const std::byte> bytes, std::string name) {
  GgufFile f;
  f.bytes_ = bytes;
  f.name_ = std::move(name);
  f.parse_all();
  return f;
}

void GgufFile::parse_all() {
  Cursor c(bytes_, name_);
  const uint32_t magic = c.read<uint32_t>("the magic number");
  if (std::memcmp(&magic, "GGUF", 4) != 0) {
    // Pre-GGUF files wrote their magic as a little-endian uint32 ('ggml' = 0x67676d6c), so the
    // bytes on disk read "lmgg", "fmgg", "tjgg".
    for (const char* old : {"lmgg", "fmgg", "tjgg", "ggml", "ggmf", "ggjt"})
      if (std::memcmp(&magic, old, 4) == 0)
        c.fail(0, "a pre-GGUF ggml file (GGML/GGMF/GGJT); convert it to GGUF with llama.cpp");
    if (std::memcmp(&magic, "FUGG", 4) == 0)
      c.fail(0, "a big-endian GGUF file; bcvk reads little-endian GGUF");
    c.fail(0, "not a GGUF file (magic is not \"GGUF\")");
  }
  version_ = c.read<uint32_t>("the version");
  if (version_ == 0x02000000 || version_ == 0x03000000)
    c.fail(4, "a big-endian GGUF file; bcvk reads little-endian GGUF only");
  if (version_ != 2 && version_ != 3)
    c.fail(4, "GGUF version " + std::to_string(version_) + " is not supported (2 and 3 are)");
  const uint64_t tensor_count = c.read<uint64_t>("the tensor count");
  const uint64_t kv_count = c.read<uint64_t>("the metadata count");
  // Each metadata pair needs >= 13 bytes and each tensor info >= 28: bound before reserving.
  if (kv_count > c.remaining() / 13)
    c.fail(16, "metadata count " + std::to_string(kv_count) + " is larger than the file can hold");
  if (tensor_count > c.remaining() / 28)
    c.fail(8, "tensor count " + std::to_string(tensor_count) + " is larger than the file can hold");

  metadata_.reserve(kv_count);
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t at = c.pos();
    std::string key = c.read_string("a metadata key");
    const uint32_t type = c.read<uint32_t>("a metadata value type");
    if (!known_type(type))
      c.fail(at, "metadata key \"" + key + "\" has unknown value type " + std::to_string(type));
    Value v = read_value(c, static_cast<ValueType>(type), 0);
    if (metadata_index_.count(key)) c.fail(at, "duplicate metadata key \"" + key + "\"");
    metadata_index_[key] = metadata_.size();
    metadata_.emplace_back(std::move(key), std::move(v));
  }

  if (const Value* a = find("general.alignment")) {
    const auto al = a->as_uint();
    if (!al || *al == 0 || (*al & (*al - 1)) != 0 || *al > (1u << 20))
      c.fail(0, "general.alignment must be a power of two up to 1 MiB, got " + a->to_string());
    alignment_ = *al;
  }

  tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const uint64_t at = c.pos();
    TensorInfo t;
    t.name = c.read_string("a tensor name");
    const uint32_t n_dims = c.read<uint32_t>("a tensor's dimension count");
    if (n_dims == 0 || n_dims > kMaxDims)
      c.fail(at, "tensor \"" + t.name + "\" has " + std::to_string(n_dims) +
                     " dimensions (1 to 4 allowed)");
    t.elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>("a tensor dimension");
      if (dim == 0) c.fail(at, "tensor \"" + t.name + "\" has a zero dimension");
      if (__builtin_mul_overflow(t.elements, dim, &t.elements) || t.elements > (1ull << 48))
        c.fail(at, "tensor \"" + t.name + "\": the product of its dimensions overflows");
      t.dims.push_back(dim);
    }
    const uint32_t type = c.read<uint32_t>("a tensor type");
    const auto traits = ggml_type_traits(type);
    if (!traits)
      c.fail(at, "tensor \"" + t.name + "\" has unknown or unsupported type id " +
                     std::to_string(type));
    t.type = traits->type;
    if (t.dims[0] % traits->block_elements != 0)
      c.fail(at, "tensor \"" + t.name + "\": first dimension " + std::to_string(t.dims[0]) +
                     " is not a multiple of the " + std::string(traits->name) + " block size " +
                     std::to_string(traits->block_elements));
    t.bytes = t.elements / traits->block_elements * traits->block_bytes;
    t.offset = c.read<uint64_t>("a tensor offset");
    if (t.offset % alignment_ != 0)
      c.fail(at, "tensor \"" + t.name + "\" offset " + std::to_string(t.offset) +
                     " is not a multiple of the alignment " + std::to_string(alignment_));
    if (tensor_index_.count(t.name)) c.fail(at, "duplicate tensor name \"" + t.name + "\"");
    tensor_index_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }

  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  for (TensorInfo& t : tensors_) {
    if (t.offset > bytes_.size() || data_offset_ > bytes_.size() - t.offset ||
        t.bytes > bytes_.size() - data_offset_ - t.offset)
      c.fail(data_offset_ + std::min<uint64_t>(t.offset, bytes_.size()),
             "tensor \"" + t.name + "\" (" + std::to_string(t.bytes) + " bytes at data offset " +
                 std::to_string(t.offset) + ") extends past the end of the " +
                 std::to_string(bytes_.size()) + "-byte file (truncated file?)");
    t.file_offset = data_offset_ + t.offset;
  }
  // Two tensors sharing bytes would silently alias each other's weights.
  std::vector<const TensorInfo*> by_offset;
  for (const TensorInfo& t : tensors_)
    if (t.bytes) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo &a = *by_offset[i - 1], &b = *by_offset[i];
    if (a.offset + a.bytes > b.offset)
      c.fail(b.file_offset, "tensor \"" + b.name + "\" (data offset " + std::to_string(b.offset) +
                                ") overlaps tensor \"" + a.name + "\" (" + std::to_string(a.bytes) +
                                " bytes at data offset " + std::to_string(a.offset) + ")");
  }
}

const Value* GgufFile::find(const std::string& key) const {
  auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].second;
}

std::optional<uint64_t> GgufFile::get_uint(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto u = v->as_uint();
  if (!u)
    throw loaders::FormatError(
        name_, 0,
        "metadata \"" + key + "\" should be a non-negative integer, is " + v->to_string());
  return u;
}

std::optional<double> GgufFile::get_float(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  auto d = v->as_float();
  if (!d)
    throw loaders::FormatError(name_, 0,
                               "metadata \"" + key + "\" should be a number, is " + v->to_string());
  return d;
}

std::optional<std::string> GgufFile::get_string(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->as_string())
    throw loaders::FormatError(name_, 0, "metadata \"" + key + "\" should be a string");
  return *v->as_string();
}

std::optional<bool> GgufFile::get_bool(const std::string& key) const {
  const Value* v = find(key);
  if (!v) return std::nullopt;
  if (auto* b = std::get_if<bool>(&v->data)) return *b;
  throw loaders::FormatError(name_, 0, "metadata \"" + key + "\" should be a bool");
}

uint64_t GgufFile::require_uint(const std::string& key) const {
  if (auto v = get_uint(key)) return *v;
  throw loaders::FormatError(name_, 0, "required metadata \"" + key + "\" is missing");
}

double GgufFile::require_float(const std::string& key) const {
  if (auto v = get_float(key)) return *v;
  throw loaders::FormatError(name_, 0, "required metadata \"" + key + "\" is missing");
}

std::string GgufFile::require_string(const std::string& key) const {
  if (auto v = get_string(key)) return *v;
  throw loaders::FormatError(name_, 0, "required metadata \"" + key + "\" is missing");
}

const TensorInfo* GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> GgufFile::tensor_data(const TensorInfo& t) const {
  return bytes_.subspan(t.file_offset, t.bytes);
}

}  // namespace bcvk::gguf
