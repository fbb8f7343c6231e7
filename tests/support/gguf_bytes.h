// Builds GGUF files byte by byte for tests, straight from the spec, independent of bcvk's own
// writer, so reader tests never compare the reader with code that shares its assumptions.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace bcvk::test {

class GgufBytes {
 public:
  std::vector<uint8_t> b;

  template <class T>
  GgufBytes& pod(T v) {
    uint8_t tmp[sizeof(T)];
    std::memcpy(tmp, &v, sizeof(T));
    b.insert(b.end(), tmp, tmp + sizeof(T));
    return *this;
  }
  GgufBytes& str(const std::string& s) {
    pod<uint64_t>(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  GgufBytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    for (char c : std::string("GGUF")) b.push_back(static_cast<uint8_t>(c));
    return pod<uint32_t>(version).pod<uint64_t>(tensors).pod<uint64_t>(kvs);
  }
  GgufBytes& kv_u32(const std::string& k, uint32_t v) { return str(k).pod<uint32_t>(4).pod(v); }
  GgufBytes& kv_str(const std::string& k, const std::string& v) {
    return str(k).pod<uint32_t>(8).str(v);
  }
  GgufBytes& kv_f32(const std::string& k, float v) { return str(k).pod<uint32_t>(6).pod(v); }
  GgufBytes& tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type,
                    uint64_t offset) {
    str(name).pod<uint32_t>(static_cast<uint32_t>(dims.size()));
    for (uint64_t d : dims) pod(d);
    return pod(type).pod(offset);
  }
  GgufBytes& pad_to(size_t alignment) {
    while (b.size() % alignment) b.push_back(0);
    return *this;
  }
  GgufBytes& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
  std::span<const std::byte> bytes() const { return std::as_bytes(std::span<const uint8_t>(b)); }
};

}  // namespace bcvk::test
