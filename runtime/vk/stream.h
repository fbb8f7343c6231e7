// A Stream records many dispatches, copies and barriers into one command buffer and submits
// them once; with profiling on it brackets each labelled dispatch with timestamp queries.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/vk/kernel.h"

namespace bcvk::vk {

struct Groups {
  uint32_t x = 1, y = 1, z = 1;
};

// One timed dispatch of the last submit.
struct DispatchTiming {
  std::string label;
  uint64_t start_ns = 0;  // device clock, nanoseconds; only differences are meaningful
  uint64_t end_ns = 0;
  double ms() const { return (end_ns - start_ns) * 1e-6; }
};

class Stream {
 public:
  // `max_timed` bounds the dispatches timed per submit; later ones run untimed and are counted.
  explicit Stream(const Device& device, bool profile = false, uint32_t max_timed = 4096);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Records `kernel` over `groups` workgroups with `views` bound in order.
  void dispatch(Kernel& kernel, std::span<const BufferView> views, const void* push,
                uint32_t push_size, Groups groups, std::string_view label = {});
  template <class Push>
  void dispatch(Kernel& kernel, std::initializer_list<BufferView> views, const Push& push,
                Groups groups, std::string_view label = {}) {
    dispatch(kernel, std::span<const BufferView>(views.begin(), views.size()), &push,
             static_cast<uint32_t>(sizeof(Push)), groups, label);
  }

  // For libraries that record their own commands (VkFFT): begin_external() starts recording if
  // needed and returns the command buffer; end_external() closes the span, which is timed as one
  // labelled dispatch when profiling.  The caller adds barriers as for any dispatch.
  VkCommandBuffer begin_external(std::string_view label);
  void end_external();

  // Makes every earlier shader or transfer write visible to every later shader or transfer.
  // bcvk ops are mostly dependent in sequence, so one full barrier is the common case.
  void barrier();
  void copy(BufferView src, BufferView dst);  // sizes must match

  // Ends recording, submits once, waits on the fence; the next call starts a new recording.
  void submit_and_wait();

  bool profiling() const { return query_pool_ != VK_NULL_HANDLE; }
  // Timings of the last submit_and_wait, in recording order.
  const std::vector<DispatchTiming>& timings() const { return timings_; }
  uint32_t untimed_dispatches() const { return untimed_; }
  uint32_t recorded_commands() const { return commands_; }

 private:
  void begin_if_needed();
  void release() noexcept;

  const Device& device_;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cmd_ = VK_NULL_HANDLE;
  VkFence fence_ = VK_NULL_HANDLE;
  VkQueryPool query_pool_ = VK_NULL_HANDLE;
  uint32_t max_timed_ = 0;
  bool recording_ = false;
  uint32_t commands_ = 0;
  uint32_t untimed_ = 0;
  bool external_timed_ = false;
  std::string pending_external_label_;
  std::vector<std::string> labels_;
  std::vector<DispatchTiming> timings_;
};

}  // namespace bcvk::vk
