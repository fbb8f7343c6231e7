// Shared by the C API's translation units: the handles' contents, the error convention and
// the buffer convention.  bcvk_text.cpp (text and sampling, no device) also builds into the C API
// fuzzer; bcvk.cpp has everything that needs the engine.
#pragma once

#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>

#include "include/bcvk/bcvk.h"
#include "loaders/format_error.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/generate/chat_template.h"
#include "runtime/generate/sampler.h"

namespace bcvk::engine {
class Engine;
}

struct bcvk_model {
  // What the text entry points read; owned by `owner` (the engine, or the fuzzer's text-only
  // model), so they work without a device.
  const bcvk::loaders::Tokenizer* tokenizer = nullptr;
  const bcvk::generate::ChatFormat* chat = nullptr;
  std::string chat_error;                  // why chat is null
  std::string source;                      // the model's path, for messages
  bcvk::engine::Engine* engine = nullptr;  // null for a text-only model
  std::shared_ptr<void> owner;
  bool validation = false;
};
struct bcvk_sampler {
  bcvk::generate::Sampler sampler;
};

namespace bcvk::capi {

// The calling thread's message for bcvk_last_error().
std::string& last_error();

inline bcvk_status fail(bcvk_status status, std::string message) {
  last_error() = std::move(message);
  return status;
}

class Failure : public std::runtime_error {
 public:
  Failure(bcvk_status status, const std::string& what)
      : std::runtime_error(what), status_(status) {}
  bcvk_status status() const { return status_; }

 private:
  bcvk_status status_;
};

// The session's own overflow message, matched at its start only: a message that merely quotes
// user text ("unknown role 'context overflow'") is not an overflow (found by the C API fuzzer).
inline bool is_context_overflow(const std::string& what) {
  return what.rfind("context overflow: ", 0) == 0;
}

// Runs `body`, turning any exception into a status and a message.  Device errors are mapped by
// the device-side entry points before they get here.
template <class F>
bcvk_status guarded(F&& body) noexcept {
  try {
    body();
    last_error().clear();
    return BCVK_OK;
  } catch (const Failure& e) {
    return fail(e.status(), e.what());
  } catch (const bcvk::loaders::FormatError& e) {
    return fail(BCVK_ERROR_BAD_MODEL, e.what());
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

// Copies `s` out under the buffer convention of the header.
void copy_out(const std::string& s, char* text, size_t capacity, size_t* length);

}  // namespace bcvk::capi
