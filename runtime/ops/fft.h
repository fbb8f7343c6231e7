// Batched 1-D real FFTs on the device through VkFFT (the one translation unit that includes
// vkFFT.h is fft.cpp).  Used by runtime/ops/block_circulant; test: tests/ops/fft_test.cpp.
#pragma once

#include <compare>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string_view>

#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace bcvk::ops {

enum class FftDirection { kForward, kInverse };  // R2C; C2R (unnormalized: scaled by size)

struct FftShape {
  FftDirection direction = FftDirection::kForward;
  uint32_t size = 0;     // B, points per sequence
  uint32_t batches = 0;  // sequences per call
  auto operator<=>(const FftShape&) const = default;
};

// Bytes of the real buffer a plan of `shape` binds: VkFFT's R2C descriptor covers the padded
// layout, batches x (size + 2) floats, even though the data is unpadded (batches x size).
uint64_t fft_real_buffer_bytes(uint32_t size, uint32_t batches);
// Bytes of the complex buffer: batches x (size / 2 + 1) complex floats.
uint64_t fft_complex_buffer_bytes(uint32_t size, uint32_t batches);

// One VkFFT application, bound for its life to `real` ([batches][size] floats, unpadded) and
// `complex` ([batches][size/2+1] complex floats): forward reads real and writes complex, inverse
// the reverse.  The buffers must outlive the plan.
class FftPlan {
 public:
  // `cache_file` (may be empty): VkFFT's compiled kernels for this shape, loaded when present and
  // valid, else compiled from source and saved there atomically.
  FftPlan(vk::Context& ctx, FftShape shape, const vk::Buffer& real, const vk::Buffer& complex,
          const std::filesystem::path& cache_file);
  ~FftPlan();
  FftPlan(const FftPlan&) = delete;
  FftPlan& operator=(const FftPlan&) = delete;

  const FftShape& shape() const { return shape_; }
  bool loaded_from_cache() const { return loaded_from_cache_; }
  // Records the transform into `stream` (no barriers: the caller orders it like any dispatch).
  void record(vk::Stream& stream, std::string_view label) const;

 private:
  struct Impl;
  FftShape shape_;
  bool loaded_from_cache_ = false;
  std::unique_ptr<Impl> impl_;
};

// The plans of one pair of buffers, created on first use and shared by every caller of a shape.
class FftPlans {
 public:
  FftPlans(vk::Context& ctx, const vk::Buffer& real, const vk::Buffer& complex);
  const FftPlan& get(FftShape shape);
  uint64_t created() const { return created_; }          // plans made (from source or disk cache)
  uint64_t from_source() const { return from_source_; }  // of which compiled from GLSL

 private:
  vk::Context& ctx_;
  const vk::Buffer& real_;
  const vk::Buffer& complex_;
  std::map<FftShape, std::unique_ptr<FftPlan>> plans_;
  uint64_t created_ = 0, from_source_ = 0;
};

// Where FftPlans keeps compiled plans: next to the pipeline cache, or nowhere when there is none.
std::filesystem::path fft_cache_file(const vk::PhysicalDeviceInfo& info, FftShape shape);

}  // namespace bcvk::ops
