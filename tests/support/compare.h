// Small helpers shared by the whole-model tests: a relative L2 error in double, and synthetic
// prompts.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace bcvk::test {

// ||a - b|| / ||b||, accumulated in double (b: a float or a double reference).
template <class Ref>
double rel_l2(const std::vector<float>& a, const std::vector<Ref>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    den += double(b[i]) * b[i];
  }
  return std::sqrt(num / den);
}

// n deterministic token ids below `vocab`.
inline std::vector<int32_t> synthetic_prompt(uint32_t n, uint32_t vocab) {
  std::vector<int32_t> t;
  for (uint32_t i = 0; i < n; ++i) t.push_back(static_cast<int32_t>((i * 29 + 5) % vocab));
  return t;
}

}  // namespace bcvk::test
