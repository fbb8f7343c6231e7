// The C API (include/bcvk/bcvk.h) over engine::Engine: every entry point catches everything,
// maps it to a status and keeps the message for bcvk_last_error().
#include "include/bcvk/bcvk.h"

#include <unistd.h>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#include "loaders/format_error.h"
#include "runtime/engine/engine.h"
#include "runtime/vk/error.h"
#include "runtime/vk/instance.h"

struct bcvk_model {
  std::unique_ptr<bcvk::engine::Engine> engine;
  bool validation = false;
};
struct bcvk_session {
  bcvk_model* model = nullptr;
  std::unique_ptr<bcvk::engine::EngineSession> session;
};
struct bcvk_sampler {
  bcvk::generate::Sampler sampler;
};

namespace {

thread_local std::string last_error;

bcvk_status fail(bcvk_status status, std::string message) {
  last_error = std::move(message);
  return status;
}

bcvk_status ok() {
  last_error.clear();
  return BCVK_OK;
}

class Failure : public std::runtime_error {
 public:
  Failure(bcvk_status status, const std::string& what)
      : std::runtime_error(what), status_(status) {}
  bcvk_status status() const { return status_; }

 private:
  bcvk_status status_;
};

bool is_context_overflow(const std::string& what) {
  return what.find("context overflow") != std::string::npos ||
         what.find("exceeds the context") != std::string::npos;
}

// Runs `body`, turning any exception into a status and a message.
template <class F>
bcvk_status guarded(F&& body) noexcept {
  try {
    body();
    return ok();
  } catch (const Failure& e) {
    return fail(e.status(), e.what());
  } catch (const bcvk::loaders::FormatError& e) {
    return fail(BCVK_ERROR_BAD_MODEL, e.what());
  } catch (const bcvk::vk::Error& e) {
    const bool oom =
        e.result() == VK_ERROR_OUT_OF_DEVICE_MEMORY || e.result() == VK_ERROR_OUT_OF_HOST_MEMORY;
    return fail(oom ? BCVK_ERROR_OUT_OF_MEMORY : BCVK_ERROR_DEVICE, e.what());
  } catch (const std::bad_alloc&) {
    return fail(BCVK_ERROR_OUT_OF_MEMORY, "out of host memory");
  } catch (const std::invalid_argument& e) {
    return fail(
        is_context_overflow(e.what()) ? BCVK_ERROR_CONTEXT_OVERFLOW : BCVK_ERROR_INVALID_ARGUMENT,
        e.what());
  } catch (const std::out_of_range& e) {
    return fail(BCVK_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::system_error& e) {
    return fail(BCVK_ERROR_IO, e.what());
  } catch (const std::exception& e) {
    const std::string w = e.what();
    const bool io = w.find("cannot open") != std::string::npos ||
                    w.find("cannot map") != std::string::npos ||
                    w.find("cannot read") != std::string::npos;
    return fail(io ? BCVK_ERROR_IO : BCVK_ERROR_INTERNAL, w);
  } catch (...) {
    return fail(BCVK_ERROR_INTERNAL, "unknown error");
  }
}

template <class T>
void need(const T* p, const char* what) {
  if (!p) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, std::string(what) + " is NULL");
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

// Copies `s` out under the buffer convention of the header.
void copy_out(const std::string& s, char* text, size_t capacity, size_t* length) {
  need(length, "length");
  *length = s.size();
  if (!text && capacity)
    throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                  "text is NULL but capacity is " + std::to_string(capacity) +
                      " (pass NULL with capacity 0 to ask for the size)");
  if (capacity < s.size() + (text ? 1 : 0) || (!text && !s.empty()))
    throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL, "the text needs " + std::to_string(s.size() + 1) +
                                                   " bytes (with the NUL); the buffer has " +
                                                   std::to_string(capacity));
  if (text) {
    std::memcpy(text, s.data(), s.size());
    text[s.size()] = '\0';
  }
}

const bcvk::loaders::Tokenizer& tokenizer_of(const bcvk_model* m) {
  const auto* t = m->engine->tokenizer();
  if (!t)
    throw Failure(BCVK_ERROR_UNSUPPORTED, m->engine->file().source() +
                                              ": the model has no tokenizer (bcvk reads "
                                              "tokenizers from GGUF files only)");
  return *t;
}

void copy_name(char* dst, size_t n, const std::string& s) {
  std::snprintf(dst, n, "%s", s.c_str());
}

}  // namespace

extern "C" {

const char* bcvk_version(void) {
  return BCVK_VERSION_STRING;
}

const char* bcvk_status_name(bcvk_status s) {
  switch (s) {
    case BCVK_OK:
      return "BCVK_OK";
    case BCVK_ERROR_INVALID_ARGUMENT:
      return "BCVK_ERROR_INVALID_ARGUMENT";
    case BCVK_ERROR_IO:
      return "BCVK_ERROR_IO";
    case BCVK_ERROR_BAD_MODEL:
      return "BCVK_ERROR_BAD_MODEL";
    case BCVK_ERROR_DEVICE:
      return "BCVK_ERROR_DEVICE";
    case BCVK_ERROR_OUT_OF_MEMORY:
      return "BCVK_ERROR_OUT_OF_MEMORY";
    case BCVK_ERROR_CONTEXT_OVERFLOW:
      return "BCVK_ERROR_CONTEXT_OVERFLOW";
    case BCVK_ERROR_BUFFER_TOO_SMALL:
      return "BCVK_ERROR_BUFFER_TOO_SMALL";
    case BCVK_ERROR_UNSUPPORTED:
      return "BCVK_ERROR_UNSUPPORTED";
    case BCVK_ERROR_INTERNAL:
      return "BCVK_ERROR_INTERNAL";
  }
  return "BCVK_ERROR_UNKNOWN_STATUS";
}

const char* bcvk_last_error(void) {
  return last_error.c_str();
}

bcvk_status bcvk_device_count(uint32_t* count) {
  return guarded([&] {
    need(count, "count");
    bcvk::vk::Instance instance;
    *count = static_cast<uint32_t>(instance.devices().size());
  });
}

bcvk_status bcvk_device_get(uint32_t index, bcvk_device_info* info) {
  return guarded([&] {
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
  return guarded([&] {
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
    // A device, a FIFO or a directory is not a model file (/dev/zero would read forever).
    if (!std::filesystem::is_regular_file(path, ec))
      throw Failure(BCVK_ERROR_IO, std::string(path) + ": not a regular file");
    bcvk::engine::EngineOptions eo;
    eo.device = o.device ? o.device : "";
    eo.weights = o.weights == BCVK_WEIGHTS_F16   ? bcvk::model::WeightMode::kF16
                 : o.weights == BCVK_WEIGHTS_F32 ? bcvk::model::WeightMode::kF32
                                                 : bcvk::model::WeightMode::kNative;
    eo.context = o.context;
    eo.kv = o.kv == BCVK_KV_F32 ? bcvk::ops::KvType::kF32 : bcvk::ops::KvType::kF16;
    eo.validation = o.validation != 0;
    auto m = std::make_unique<bcvk_model>();
    m->engine = std::make_unique<bcvk::engine::Engine>(path, eo);
    m->validation = m->engine->vk_context().instance().validation_enabled();
    check_validation(m.get(), 0);
    *model = m.release();
  });
}

void bcvk_model_free(bcvk_model* model) {
  delete model;
}

bcvk_status bcvk_model_get_info(const bcvk_model* m, bcvk_model_info* info) {
  return guarded([&] {
    need(m, "model");
    need(info, "info");
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

bcvk_status bcvk_tokenize(const bcvk_model* m, const char* text, size_t length, int add_bos,
                          int parse_special, int32_t* tokens, size_t capacity, size_t* count) {
  return guarded([&] {
    need(m, "model");
    need(count, "count");
    if (!text && length) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "text is NULL");
    if (add_bos < -1 || add_bos > 1)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "add_bos must be -1, 0 or 1");
    const auto& t = tokenizer_of(m);
    const bool bos = add_bos < 0 ? t.adds_bos() : add_bos == 1;
    if (!tokens && capacity)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "tokens is NULL but capacity is " + std::to_string(capacity) +
                        " (pass NULL with capacity 0 to ask for the count)");
    const auto ids = t.encode(std::string_view(text ? text : "", length), bos, parse_special != 0);
    *count = ids.size();
    if (capacity < ids.size() || (!tokens && !ids.empty()))
      throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL, "the text is " + std::to_string(ids.size()) +
                                                     " tokens; the buffer holds " +
                                                     std::to_string(capacity));
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

bcvk_status bcvk_detokenize(const bcvk_model* m, const int32_t* tokens, size_t count,
                            int render_special, char* text, size_t capacity, size_t* length) {
  return guarded([&] {
    need(m, "model");
    if (!tokens && count) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "tokens is NULL");
    const auto& t = tokenizer_of(m);
    for (size_t i = 0; i < count; ++i)
      if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= t.vocab_size())
        throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                      "token " + std::to_string(i) + " (id " + std::to_string(tokens[i]) +
                          ") is outside the vocabulary of " + std::to_string(t.vocab_size()));
    copy_out(t.decode(std::span<const int32_t>(tokens, count), render_special != 0), text, capacity,
             length);
  });
}

}  // extern "C"

namespace {
std::vector<bcvk::generate::ChatMessage> conversation(const bcvk_chat_message* messages,
                                                      size_t count) {
  if (!messages && count) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "messages is NULL");
  std::vector<bcvk::generate::ChatMessage> conv;
  for (size_t i = 0; i < count; ++i) {
    if (!messages[i].role || !messages[i].content)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "message " + std::to_string(i) + ": role or content is NULL");
    conv.push_back({messages[i].role, messages[i].content});
  }
  return conv;
}

const bcvk::generate::ChatFormat& chat_of(const bcvk_model* m) {
  const auto* chat = m->engine->chat();
  if (!chat) throw Failure(BCVK_ERROR_UNSUPPORTED, m->engine->chat_error());
  return *chat;
}
}  // namespace

extern "C" {

bcvk_status bcvk_apply_chat_template(const bcvk_model* m, const bcvk_chat_message* messages,
                                     size_t count, int add_assistant, char* text, size_t capacity,
                                     size_t* length) {
  return guarded([&] {
    need(m, "model");
    const auto conv = conversation(messages, count);
    copy_out(chat_of(m).render(conv, add_assistant != 0), text, capacity, length);
  });
}

bcvk_status bcvk_tokenize_chat(const bcvk_model* m, const bcvk_chat_message* messages,
                               size_t count, int add_assistant, int32_t* tokens, size_t capacity,
                               size_t* token_count) {
  return guarded([&] {
    need(m, "model");
    need(token_count, "token_count");
    if (!tokens && capacity)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "tokens is NULL but capacity is " + std::to_string(capacity) +
                        " (pass NULL with capacity 0 to ask for the count)");
    const auto conv = conversation(messages, count);
    const auto ids = bcvk::generate::encode_chat(
        tokenizer_of(m), chat_of(m).render_parts(conv, add_assistant != 0));
    *token_count = ids.size();
    if (capacity < ids.size())
      throw Failure(BCVK_ERROR_BUFFER_TOO_SMALL, "the conversation is " +
                                                     std::to_string(ids.size()) +
                                                     " tokens; the buffer holds " +
                                                     std::to_string(capacity));
    if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
  });
}

bcvk_status bcvk_session_create(bcvk_model* m, uint32_t context, bcvk_session** session) {
  return guarded([&] {
    need(session, "session");
    *session = nullptr;
    need(m, "model");
    const size_t before = validation_count(m);
    auto s = std::make_unique<bcvk_session>();
    s->model = m;
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
  return guarded([&] {
    need(s, "session");
    s->session->reset();
  });
}

bcvk_status bcvk_session_prefill(bcvk_session* s, const int32_t* tokens, size_t count) {
  return guarded([&] {
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
  return guarded([&] {
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
  return guarded([&] {
    need(s, "session");
    need(position, "position");
    *position = s->session->position();
  });
}

void bcvk_sampler_options_init(bcvk_sampler_options* o) {
  if (o) *o = bcvk_sampler_options{0.0f, 40, 0.95f, 0};
}

bcvk_status bcvk_sampler_create(const bcvk_sampler_options* options, bcvk_sampler** sampler) {
  return guarded([&] {
    need(sampler, "sampler");
    *sampler = nullptr;
    bcvk_sampler_options o;
    bcvk_sampler_options_init(&o);
    if (options) o = *options;
    if (!(o.temperature >= 0.0f) || o.temperature > 1e6f)
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT,
                    "temperature must be a finite number >= 0 (0: greedy)");
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f))
      throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "top_p must be in (0, 1]");
    bcvk::generate::SamplerOptions so;
    so.temperature = o.temperature;
    so.top_k = o.top_k;
    so.top_p = o.top_p;
    so.seed = o.seed;
    *sampler = new bcvk_sampler{bcvk::generate::Sampler(so)};
  });
}

void bcvk_sampler_free(bcvk_sampler* sampler) {
  delete sampler;
}

bcvk_status bcvk_sampler_sample(bcvk_sampler* s, const float* logits, size_t vocab_size,
                                int32_t* token) {
  return guarded([&] {
    need(s, "sampler");
    need(logits, "logits");
    need(token, "token");
    if (vocab_size == 0) throw Failure(BCVK_ERROR_INVALID_ARGUMENT, "vocab_size is 0");
    *token = s->sampler.sample(std::span<const float>(logits, vocab_size));
  });
}

}  // extern "C"
