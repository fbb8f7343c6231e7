// The only translation unit that includes vkFFT.h (~32k lines, ~15 s to compile): keep it alone.
// volk.h must come before vkFFT.h so VkFFT calls volk's function pointers.
#include "runtime/vk/vulkan.h"
// clang-format off
#include <vkfft_patched/vkFFT.h>
// clang-format on

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <vector>

#include "runtime/ops/fft.h"
#include "runtime/util/check.h"
#include "runtime/vk/error.h"
#include "runtime/vk/pipeline_cache.h"

namespace bcvk::ops {

namespace {

// glslang's process-wide state is initialized once by bcvk (VkFFT is told so), instead of
// once per plan by VkFFT: ~70 ms saved per plan.  Never finalized: it lives as long as the process.
void ensure_glslang() {
  static std::once_flag once;
  std::call_once(once, [] { glslang_initialize_process(); });
}

const char* direction_name(FftDirection d) {
  return d == FftDirection::kForward ? "R2C" : "C2R";
}

std::string describe(FftShape s) {
  return std::string(direction_name(s.direction)) + " size " + std::to_string(s.size) + " x " +
         std::to_string(s.batches) + " batches";
}

std::string cache_kind(FftShape shape) {
  return "vkfft " + describe(shape) + ", VkFFT " + std::to_string(VkFFTGetVersion());
}

// The saved application of `shape` in `file`, verified (vk::load_cache_entry) before VkFFT sees
// it; empty when absent, or -- with one warning -- when damaged, stale or foreign.
std::vector<uint32_t> read_cache(const std::filesystem::path& file,
                                 const vk::PhysicalDeviceInfo& info, FftShape shape) {
  const auto payload = vk::load_cache_entry(file, cache_kind(shape), info, "FFT plan cache");
  if (!payload) return {};
  if (payload->empty() || payload->size() % 4 != 0) {
    std::fprintf(stderr,
                 "bcvk: warning: FFT plan cache %s discarded (its plan has an impossible size); "
                 "rebuilding it\n",
                 file.c_str());
    return {};
  }
  std::vector<uint32_t> data(payload->size() / 4);
  std::memcpy(data.data(), payload->data(), payload->size());
  return data;
}

void write_cache(const std::filesystem::path& file, const vk::PhysicalDeviceInfo& info,
                 FftShape shape, const void* data, uint64_t bytes) {
  if (!data || bytes == 0) return;
  vk::store_cache_entry(file, cache_kind(shape), info,
                        std::string_view(static_cast<const char*>(data), bytes));
}

}  // namespace

uint64_t fft_real_buffer_bytes(uint32_t size, uint32_t batches) {
  return uint64_t(batches) * (size + 2) * 4;
}
uint64_t fft_complex_buffer_bytes(uint32_t size, uint32_t batches) {
  return uint64_t(batches) * (size / 2 + 1) * 8;
}

std::filesystem::path fft_cache_file(const vk::PhysicalDeviceInfo& info, FftShape shape) {
  const auto pipelines = vk::PipelineCache::default_file(info);
  if (pipelines.empty()) return {};
  const std::string stem = pipelines.stem().string();  // pipelines-<vendor>-<device>-<uuid>
  return pipelines.parent_path() / "vkfft" /
         (stem.substr(stem.find('-') + 1) + "-" + direction_name(shape.direction) + "-" +
          std::to_string(shape.size) + "x" + std::to_string(shape.batches) + ".bin");
}

// VkFFT keeps pointers to everything in its configuration: they live here, at stable addresses.
struct FftPlan::Impl {
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkDevice device = VK_NULL_HANDLE;
  VkQueue queue = VK_NULL_HANDLE;
  VkCommandPool pool = VK_NULL_HANDLE;
  VkFence fence = VK_NULL_HANDLE;
  VkBuffer real = VK_NULL_HANDLE, complex = VK_NULL_HANDLE;
  uint64_t real_bytes = 0, complex_bytes = 0;
  VkFFTApplication app{};
  bool initialized = false;

  ~Impl() {
    if (initialized) deleteVkFFT(&app);
    if (fence) vkDestroyFence(device, fence, nullptr);
    if (pool) vkDestroyCommandPool(device, pool, nullptr);
  }

  VkFFTResult init(FftShape s, const std::vector<uint32_t>& saved) {
    VkFFTConfiguration c{};
    c.FFTdim = 1;
    c.size[0] = s.size;
    c.numberBatches = s.batches;
    c.performR2C = 1;
    c.physicalDevice = &physical;
    c.device = &device;
    c.queue = &queue;
    c.commandPool = &pool;
    c.fence = &fence;
    c.isCompilerInitialized = 1;
    c.isInputFormatted = 1;  // the real data is unpadded, in its own buffer
    c.inputBufferNum = 1;
    c.inputBuffer = &real;
    c.inputBufferSize = &real_bytes;
    c.inputBufferStride[0] = s.size;
    c.bufferNum = 1;
    c.buffer = &complex;
    c.bufferSize = &complex_bytes;
    c.bufferStride[0] = s.size / 2 + 1;
    if (s.direction == FftDirection::kForward) {
      c.makeForwardPlanOnly = 1;
    } else {
      c.makeInversePlanOnly = 1;
      c.inverseReturnToInputBuffer = 1;  // C2R writes the real buffer
    }
    if (saved.empty()) {
      c.saveApplicationToString = 1;
    } else {
      c.loadApplicationFromString = 1;
      c.loadApplicationString = const_cast<uint32_t*>(saved.data());
    }
    app = VkFFTApplication{};
    const VkFFTResult r = initializeVkFFT(&app, c);
    initialized = r == VKFFT_SUCCESS;
    return r;
  }
};

FftPlan::FftPlan(vk::Context& ctx, FftShape shape, const vk::Buffer& real,
                 const vk::Buffer& complex, const std::filesystem::path& cache_file)
    : shape_(shape), impl_(std::make_unique<Impl>()) {
  if (shape.size < 2 || shape.batches == 0)
    util::internal_error("empty FFT plan " + describe(shape));
  if (real.size() < fft_real_buffer_bytes(shape.size, shape.batches) ||
      complex.size() < fft_complex_buffer_bytes(shape.size, shape.batches))
    util::internal_error("FFT buffers too small for " + describe(shape));
  ensure_glslang();
  Impl& m = *impl_;
  m.physical = ctx.info().handle;
  m.device = ctx.device().handle();
  m.queue = ctx.device().queue();
  m.real = real.handle();
  m.complex = complex.handle();
  m.real_bytes = real.size();
  m.complex_bytes = complex.size();
  VkCommandPoolCreateInfo pi{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  pi.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pi.queueFamilyIndex = ctx.device().queue_family();
  BCVK_VK_CHECK(vkCreateCommandPool(m.device, &pi, nullptr, &m.pool));
  VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};  // unsignaled, as VkFFT expects
  BCVK_VK_CHECK(vkCreateFence(m.device, &fi, nullptr, &m.fence));

  const std::vector<uint32_t> saved = read_cache(cache_file, ctx.info(), shape);
  if (!saved.empty()) {
    if (m.init(shape, saved) == VKFFT_SUCCESS) {
      loaded_from_cache_ = true;
      return;
    }
    deleteVkFFT(&m.app);  // a stale or foreign cache entry: compile from source instead
    m.initialized = false;
  }
  const VkFFTResult r = m.init(shape, {});
  if (r != VKFFT_SUCCESS)
    throw vk::Error("VkFFT cannot plan " + describe(shape) + " on " + ctx.info().name +
                    " (VkFFTResult " + std::to_string(int(r)) + ")");
  write_cache(cache_file, ctx.info(), shape, m.app.saveApplicationString,
              m.app.applicationStringSize);
}

FftPlan::~FftPlan() = default;

void FftPlan::record(vk::Stream& stream, std::string_view label) const {
  VkCommandBuffer cmd = stream.begin_external(label);
  VkFFTLaunchParams lp{};
  lp.commandBuffer = &cmd;
  const VkFFTResult r =
      VkFFTAppend(&impl_->app, shape_.direction == FftDirection::kForward ? -1 : 1, &lp);
  stream.end_external();
  if (r != VKFFT_SUCCESS)
    throw vk::Error("VkFFT could not record " + describe(shape_) + " (VkFFTResult " +
                    std::to_string(int(r)) + ")");
}

FftPlans::FftPlans(vk::Context& ctx, const vk::Buffer& real, const vk::Buffer& complex)
    : ctx_(ctx), real_(real), complex_(complex) {}

const FftPlan& FftPlans::get(FftShape shape) {
  auto it = plans_.find(shape);
  if (it != plans_.end()) return *it->second;
  const auto t0 = std::chrono::steady_clock::now();
  auto plan =
      std::make_unique<FftPlan>(ctx_, shape, real_, complex_, fft_cache_file(ctx_.info(), shape));
  vk::CompileStats& st = ctx_.compile_stats();
  st.fft_plan_ms +=
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ++st.fft_plans;
  ++created_;
  if (!plan->loaded_from_cache()) {
    ++from_source_;
    ++st.fft_plans_from_source;
  }
  return *plans_.emplace(shape, std::move(plan)).first->second;
}

}  // namespace bcvk::ops
