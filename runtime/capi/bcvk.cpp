// The C API (include/bcvk/bcvk.h) over engine::Engine: every entry point catches everything,
// maps it to a status and keeps the message for bcvk_last_error().
#include "include/bcvk/bcvk.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "runtime/capi/internal.h"
#include "runtime/engine/engine.h"
#include "runtime/vk/error.h"
#include "runtime/vk/instance.h"

struct bcvk_session {
  bcvk_model* model = nullptr;
  std::unique_ptr<bcvk::engine::EngineSession> session;
};

using namespace bcvk::capi;

namespace {

// guarded() for entry points that reach the device: its errors become DEVICE or OUT_OF_MEMORY.
template <class F>
bcvk_status guarded_device(F&& body) noexcept {
  return guarded([&] {
    try {
      body();
    } catch (const bcvk::vk::Error& e) {
      const bool oom =
          e.result() == VK_ERROR_OUT_OF_DEVICE_MEMORY || e.result() == VK_ERROR_OUT_OF_HOST_MEMORY;
      throw Failure(oom ? BCVK_ERROR_OUT_OF_MEMORY : BCVK_ERROR_DEVICE, e.what());
    }
  });
}

// Validation messages count as failures of the call that caused them.
void check_validation(bcvk_model* m, size_t before) {
  if (!m->validation) return;
  auto& inst = m->engine->vk_context().instance();
  if (inst.validation_message_count() > before) {
    const auto msgs = inst.validation_messages();
    throw Failure(BCVK_ERROR_DEVICE, std::to_string(msgs.size() - before) +
                                         " Vulkan validation message(s); first: " + msgs[before]);
  }
}

size_t validation_count(bcvk_model* m) {
  return m->validation ? m->engine->vk_context().instance().validation_message_count() : 0;
}

void copy_name(char* dst, size_t n, const std::string& s) {
  std::snprintf(dst, n, "%s", s.c_str());
}

// A model's handle from its loaded engine: the text entry points read the tokenizer and chat
// format through it.
void attach(bcvk_model& m, std::unique_ptr<bcvk::engine::Engine> engine) {
  m.engine = engine.get();
  m.tokenizer = engine->tokenizer();
  m.chat = engine->chat();
  m.chat_error = engine->chat_error();
  m.source = engine->file().source();
  m.owner = std::shared_ptr<bcvk::engine::Engine>(std::move(engine));
}

}  // namespace

extern "C" {

bcvk_status bcvk_device_count(uint32_t* count) {
  return guarded_device([&] {
    need(count, "count");
    bcvk::vk::Instance instance;
    *count = static_cast<uint32_t>(instance.devices().size());
  });
}

bcvk_status bcvk_device_get(uint32_t index, bcvk_device_info* info) {
  return guarded_device([&] {
    need(info, "info");
    bcvk::vk::Instance instance;
    const auto& devices = instance.devices();
    if (index >= devices.size())
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "no device " + std::to_string(index) + " (" +
                                                     std::to_string(devices.size()) +
                                                     " device(s))");
    const auto& d = devices[index];
    *info = bcvk_device_info{};
    info->index = d.index;
    copy_name(info->name, sizeof info->name, d.name);
    copy_name(info->type, sizeof info->type, d.type_name());
    copy_name(info->driver, sizeof info->driver, d.driver_name + " " + d.driver_info);
    info->vendor_id = d.vendor_id;
    info->device_id = d.device_id;
    for (const auto& h : d.heaps)
      if (h.device_local && h.size > info->device_local_bytes) info->device_local_bytes = h.size;
    info->unified_memory = d.unified_memory ? 1 : 0;
    try {
      info->is_default = bcvk::vk::select_device(devices, "").index == d.index ? 1 : 0;
    } catch (const bcvk::vk::Error&) {
      info->is_default = 0;
    }
  });
}

void bcvk_model_options_init(bcvk_model_options* o) {
  if (o) *o = bcvk_model_options{nullptr, BCVK_WEIGHTS_NATIVE, 0, 0, BCVK_KV_F16};
}

bcvk_status bcvk_model_load(const char* path, const bcvk_model_options* options,
                            bcvk_model** model) {
  return guarded_device([&] {
    need(model, "model");
    *model = nullptr;
    need(path, "path");
    bcvk_model_options o;
    bcvk_model_options_init(&o);
    if (options) o = *options;
    if (o.weights != BCVK_WEIGHTS_F32 && o.weights != BCVK_WEIGHTS_F16 &&
        o.weights != BCVK_WEIGHTS_NATIVE)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "weights: unknown value " + std::to_string(static_cast<int>(o.weights)));
    if (o.kv != BCVK_KV_F16 && o.kv != BCVK_KV_F32)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "kv: unknown value " + std::to_string(static_cast<int>(o.kv)));
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) || access(path, R_OK) != 0)
      throw Failure(BCVK_ERROR_IO, std::string(path) + ": cannot open: " + std::strerror(errno));
    // A model is a file or a Hugging Face directory: a device or a FIFO is neither (/dev/zero
    // would read forever).
    if (!std::filesystem::is_regular_file(path, ec) && !std::filesystem::is_directory(path, ec))
      throw Failure(BCVK_ERROR_IO,
                    std::string(path) + ": not a regular file or a directory (a device or FIFO)");
    bcvk::engine::EngineOptions eo;
    eo.device = o.device ? o.device : "";
    eo.weights = o.weights == BCVK_WEIGHTS_F16   ? bcvk::model::WeightMode::kF16
                 : o.weights == BCVK_WEIGHTS_F32 ? bcvk::model::WeightMode::kF32
                                                 : bcvk::model::WeightMode::kNative;
    eo.context = o.context;
    eo.kv = o.kv == BCVK_KV_F32 ? bcvk::ops::KvType::kF32 : bcvk::ops::KvType::kF16;
    eo.validation = o.validation != 0;
    auto m = std::make_unique<bcvk_model>();
    attach(*m, std::make_unique<bcvk::engine::Engine>(path, eo));
    m->validation = m->engine->vk_context().instance().validation_enabled();
    check_validation(m.get(), 0);
    *model = m.release();
  });
}

bcvk_status bcvk_model_get_info(const bcvk_model* m, bcvk_model_info* info) {
  return guarded_device([&] {
    need(m, "model");
    need(info, "info");
    if (!m->engine) throw Failure(BCVK_ERROR_UNSUPPORTED, m->source + ": a text-only model");
    const auto& e = *m->engine;
    const auto& c = e.config();
    *info = bcvk_model_info{};
    info->vocab_size = c.n_vocab;
    info->context_length = e.context_length();
    info->n_layers = c.n_layers;
    info->n_embd = c.n_embd;
    auto& model = const_cast<bcvk::engine::Engine&>(e).model();
    info->parameters = model.parameter_count();
    info->device_weight_bytes = model.weight_bytes();
    const auto* t = e.tokenizer();
    info->bos = t ? t->bos() : -1;
    info->eos = t ? t->eos() : -1;
    info->end_of_turn = e.end_of_turn();
    info->has_tokenizer = t ? 1 : 0;
    info->has_chat_template = e.chat() ? 1 : 0;
    info->compressed = e.patch() ? 1 : 0;
  });
}

bcvk_status bcvk_session_create(bcvk_model* m, uint32_t context, bcvk_session** session) {
  return guarded_device([&] {
    need(session, "session");
    *session = nullptr;
    need(m, "model");
    const size_t before = validation_count(m);
    auto s = std::make_unique<bcvk_session>();
    s->model = m;
    if (!m->engine) throw Failure(BCVK_ERROR_UNSUPPORTED, m->source + ": a text-only model");
    s->session = std::make_unique<bcvk::engine::EngineSession>(*m->engine, context);
    check_validation(m, before);
    *session = s.release();
  });
}

void bcvk_session_free(bcvk_session* session) {
  try {
    delete session;
  } catch (...) {
  }
}

bcvk_status bcvk_session_reset(bcvk_session* s) {
  return guarded_device([&] {
    need(s, "session");
    s->session->reset();
  });
}

bcvk_status bcvk_session_prefill(bcvk_session* s, const int32_t* tokens, size_t count) {
  return guarded_device([&] {
    need(s, "session");
    if (!tokens && count) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "tokens is NULL");
    if (count == 0) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "no tokens to run");
    // Compared as room left, so that a count near SIZE_MAX cannot wrap past the check.
    const size_t room = s->session->context_length() - s->session->position();
    if (count > room)
      throw Failure(BCVK_ERROR_CONTEXT_OVERFLOW,
                    "context overflow: " + std::to_string(s->session->position()) + " + " +
                        std::to_string(count) + " tokens exceed the session's context of " +
                        std::to_string(s->session->context_length()));
    const size_t before = validation_count(s->model);
    s->session->prefill(std::span<const int32_t>(tokens, count));
    check_validation(s->model, before);
  });
}

bcvk_status bcvk_session_decode(bcvk_session* s, int32_t token) {
  return bcvk_session_prefill(s, &token, 1);
}

bcvk_status bcvk_session_logits(const bcvk_session* s, const float** logits, size_t* vocab_size) {
  return guarded_device([&] {
    need(s, "session");
    need(logits, "logits");
    need(vocab_size, "vocab_size");
    const auto l = s->session->logits();
    if (l.empty())
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "no logits yet: prefill or decode first");
    *logits = l.data();
    *vocab_size = l.size();
  });
}

bcvk_status bcvk_session_position(const bcvk_session* s, uint32_t* position) {
  return guarded_device([&] {
    need(s, "session");
    need(position, "position");
    *position = s->session->position();
  });
}

}  // extern "C"
