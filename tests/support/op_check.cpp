#include "tests/support/op_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "runtime/vk/transfer.h"

namespace bcvk::test {
namespace {

constexpr uint8_t kSentinel[4] = {0xad, 0xdb, 0xba, 0x7f};  // 0x7fbadbad: a NaN as a float

std::string where(const OpCase& c, size_t i) {
  std::ostringstream s;
  s << "index " << i;
  if (c.row) s << " (row " << i / c.row << ", column " << i % c.row << ")";
  return s.str();
}

std::string header(const OpCase& c) {
  return c.op + " [" + c.shape + "]: ";
}

// First and count of mismatching elements, for the exact comparisons.
template <class T>
::testing::AssertionResult equal_elements(const OpCase& c, std::span<const T> got,
                                          std::span<const T> want, const char* what) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << header(c) << got.size() << " " << what << " read back, "
                                         << want.size() << " expected";
  size_t bad = 0, first = got.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want[i] && bad++ == 0) first = i;
  if (!bad) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << header(c) << bad << " of " << got.size() << " " << what << " differ; first at "
         << where(c, first) << ": got " << +got[first] << ", want " << +want[first];
}

}  // namespace

double normalized_error(double got, double value, double scale) {
  if (std::isnan(got) != std::isnan(value)) return std::numeric_limits<double>::infinity();
  if (std::isnan(got) || got == value) return 0.0;  // NaN expected and got: equal for a test
  if (std::isinf(scale)) return 0.0;                // any value will do
  if (scale == 0.0 || std::isinf(got) || std::isinf(value))
    return std::numeric_limits<double>::infinity();
  return std::abs(got - value) / scale;
}

::testing::AssertionResult within(const OpCase& c, std::span<const float> got, const Expected& want,
                                  double bound) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << header(c) << got.size() << " values read back, " << want.size() << " expected";
  size_t bad = 0, first = 0, worst = 0;
  double worst_error = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = normalized_error(got[i], want.value(i), want.scale(i));
    if (e > bound && bad++ == 0) first = i;
    if (e > worst_error || std::isnan(e)) worst_error = e, worst = i;
  }
  // In the test's XML record (ctest --output-junit, gtest --gtest_output): the measured margin.
  std::ostringstream w;
  w << worst_error;
  ::testing::Test::RecordProperty("worst_normalized_error", w.str());
  if (!bad) return ::testing::AssertionSuccess() << header(c) << "worst error " << worst_error;
  return ::testing::AssertionFailure()
         << header(c) << bad << " of " << got.size() << " values off (bound " << bound
         << "); first at " << where(c, first) << ": got " << got[first] << ", want "
         << want.value(first) << " (scale " << want.scale(first) << ", error "
         << normalized_error(got[first], want.value(first), want.scale(first)) << "); worst "
         << worst_error << " at " << where(c, worst);
}

::testing::AssertionResult equal_words(const OpCase& c, std::span<const uint32_t> got,
                                       std::span<const uint32_t> want) {
  return equal_elements(c, got, want, "words");
}

::testing::AssertionResult equal_bytes(const OpCase& c, std::span<const std::byte> got,
                                       std::span<const std::byte> want) {
  const auto g = std::span(reinterpret_cast<const uint8_t*>(got.data()), got.size());
  const auto w = std::span(reinterpret_cast<const uint8_t*>(want.data()), want.size());
  return equal_elements(c, g, w, "bytes");
}

GuardedBuffer::GuardedBuffer(vk::Context& ctx, VkDeviceSize guard, VkDeviceSize payload)
    : ctx_(&ctx),
      guard_(guard),
      payload_(payload),
      buffer_(ctx.allocator(), guard + payload + guard, vk::MemoryUse::kDevice, "guarded") {
  std::vector<std::byte> band(guard_);
  for (size_t i = 0; i < band.size(); ++i) band[i] = std::byte{kSentinel[i % 4]};
  vk::upload(ctx.allocator(), buffer_, 0, band);
  vk::upload(ctx.allocator(), buffer_, guard_ + payload_, band);
}

// The guard is a multiple of both the device's binding alignment and 256 bytes, so the payload
// can be bound where any op binds its buffers.
static VkDeviceSize guard_bytes(vk::Context& ctx) {
  return std::lcm<VkDeviceSize>(
      256, std::max<VkDeviceSize>(1, ctx.info().min_storage_buffer_offset_alignment));
}

GuardedBuffer::GuardedBuffer(vk::Context& ctx, std::span<const std::byte> payload)
    : GuardedBuffer(ctx, guard_bytes(ctx), payload.size()) {
  if (!payload.empty()) vk::upload(ctx.allocator(), buffer_, guard_, payload);
}

GuardedBuffer GuardedBuffer::poisoned(vk::Context& ctx, size_t bytes) {
  std::vector<std::byte> p(bytes);
  for (size_t i = 0; i < bytes; ++i) p[i] = std::byte{kSentinel[i % 4]};
  return GuardedBuffer(ctx, p);
}

::testing::AssertionResult GuardedBuffer::guards_intact(const OpCase& c) const {
  std::vector<std::byte> all(guard_ + payload_ + guard_);
  vk::download(ctx_->allocator(), buffer_, 0, all);
  for (size_t i = 0; i < guard_; ++i) {
    const size_t before = i, after = guard_ + payload_ + i;
    if (all[before] != std::byte{kSentinel[before % 4]})
      return ::testing::AssertionFailure()
             << header(c) << "wrote " << guard_ - before << " bytes before its output";
    if (all[after] != std::byte{kSentinel[i % 4]})
      return ::testing::AssertionFailure()
             << header(c) << "wrote past its output, at byte " << i << " after its end";
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::byte> GuardedBuffer::read_bytes() const {
  std::vector<std::byte> v(payload_);
  if (payload_) vk::download(ctx_->allocator(), buffer_, guard_, v);
  return v;
}

}  // namespace bcvk::test
