// The one way op tests check a kernel's output (tests/ops/*_test.cpp and the block-circulant op
// test):
//  - every output element has an expected value and a scale; its normalized error is
//    |got - value| / scale, and one per-op bound applies to all of them (scale 0: the element
//    must equal the value bit for bit, as untouched padding and exact gathers must);
//  - the output lives between two guard bands of a sentinel pattern, so a write before or after
//    the region the op owns fails the test even where no expected value covers it;
//  - a failure names the op, the shape, how many elements are off, the first bad index (with its
//    row and column when the case has rows) and the worst error.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "runtime/vk/context.h"
#include "runtime/vk/memory.h"

namespace bcvk::test {

// What a failure message names.
struct OpCase {
  std::string op;     // "rms_norm"
  std::string shape;  // "D=576 T=4"
  uint64_t row = 0;   // elements per row of the output (0: print flat indices only)
};

// Expected output: a value and the scale its error is normalized by, per element.
class Expected {
 public:
  explicit Expected(size_t n = 0) : value_(n, 0.0), scale_(n, 0.0) {}
  void set(size_t i, double value, double scale) {
    value_[i] = value;
    scale_[i] = scale;
  }
  void exact(size_t i, double value) { set(i, value, 0.0); }
  void push(double value, double scale) {
    value_.push_back(value);
    scale_.push_back(scale);
  }
  size_t size() const { return value_.size(); }
  double value(size_t i) const { return value_[i]; }
  double scale(size_t i) const { return scale_[i]; }

 private:
  std::vector<double> value_, scale_;
};

// The normalized error of one element: infinite for an unexpected NaN or infinity, or for any
// difference at scale 0; zero at an infinite scale (any number is right there).
double normalized_error(double got, double value, double scale);

// Every element's normalized error <= bound (got.size() must equal want.size()).
::testing::AssertionResult within(const OpCase& c, std::span<const float> got, const Expected& want,
                                  double bound);
inline ::testing::AssertionResult within(const OpCase& c, const std::vector<float>& got,
                                         const Expected& want, double bound) {
  return within(c, std::span<const float>(got), want, bound);
}

// Element-wise equality of integer (or bit-pattern) outputs.
::testing::AssertionResult equal_words(const OpCase& c, std::span<const uint32_t> got,
                                       std::span<const uint32_t> want);
::testing::AssertionResult equal_bytes(const OpCase& c, std::span<const std::byte> got,
                                       std::span<const std::byte> want);

// A device buffer whose payload (what the op reads or writes) sits between two guard bands.
class GuardedBuffer {
 public:
  GuardedBuffer(vk::Context& ctx, std::span<const std::byte> payload);
  template <class T>
  static GuardedBuffer of(vk::Context& ctx, const std::vector<T>& v) {
    return GuardedBuffer(ctx, std::as_bytes(std::span<const T>(v)));
  }
  // A payload of `bytes` filled with the sentinel: a value the op never writes shows as NaN.
  static GuardedBuffer poisoned(vk::Context& ctx, size_t bytes);

  // The payload, at an offset that satisfies the device's binding alignment.
  vk::BufferView view() const { return buffer_.view(guard_, payload_); }
  VkDeviceSize payload_bytes() const { return payload_; }

  // Both guard bands hold the sentinel still; a failure names the op and the first changed byte.
  ::testing::AssertionResult guards_intact(const OpCase& c) const;

  std::vector<std::byte> read_bytes() const;
  template <class T>
  std::vector<T> read() const {
    const auto b = read_bytes();
    std::vector<T> v(b.size() / sizeof(T));
    std::memcpy(v.data(), b.data(), v.size() * sizeof(T));
    return v;
  }

 private:
  GuardedBuffer(vk::Context& ctx, VkDeviceSize guard, VkDeviceSize payload);
  vk::Context* ctx_;
  VkDeviceSize guard_, payload_;
  vk::Buffer buffer_;
};

}  // namespace bcvk::test
