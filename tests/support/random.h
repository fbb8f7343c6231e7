// Deterministic test data (splitmix64): the same bytes on every machine and run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace bcvk::test {

class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float uniform(float lo, float hi) {
    return lo + (hi - lo) * static_cast<float>((next() >> 40) * 0x1p-24);
  }

 private:
  uint64_t s_;
};

inline std::vector<std::byte> random_bytes(size_t n, uint64_t seed) {
  std::vector<std::byte> v(n);
  Rng r(seed);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t x = r.next();
    for (int k = 0; k < 8; ++k) v[i + k] = static_cast<std::byte>(x >> (8 * k));
  }
  for (uint64_t x = r.next(); i < n; ++i, x >>= 8) v[i] = static_cast<std::byte>(x);
  return v;
}

}  // namespace bcvk::test
