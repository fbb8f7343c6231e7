// libFuzzer target: the C API's text entry points (bcvk_tokenize, bcvk_detokenize,
// bcvk_apply_chat_template, bcvk_tokenize_chat, bcvk_sampler_sample) on a text-only handle of
// the default model (its tokenizer and chat template; no device).  Input: byte 0 picks the entry
// point, byte 1 a flag, byte 2 the output capacity; the rest is the text, ids, messages
// ("role\0content\0..."), or logits.  A status outside the header's, a result past its buffer, a
// missing NUL, or a chat whose messages became control tokens is a bug.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/capi/internal.h"
#include "tests/fuzz/text_model.h"

namespace {
std::optional<bcvk::fuzz::TextModel> text_model;
bcvk_model model;

[[noreturn]] void bug(const char* what, bcvk_status s) {
  std::fprintf(stderr, "capi_text_fuzzer: %s (%s: %s)\n", what, bcvk_status_name(s),
               bcvk_last_error());
  std::abort();
}

void check_status(bcvk_status s) {
  if (s != BCVK_OK && s != BCVK_ERROR_INVALID_ARGUMENT && s != BCVK_ERROR_BUFFER_TOO_SMALL &&
      s != BCVK_ERROR_UNSUPPORTED)
    bug("an unexpected status", s);
  if (s != BCVK_OK && !*bcvk_last_error()) bug("an error without a message", s);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  text_model.emplace(bcvk::fuzz::TextModel::load());
  model.tokenizer = &text_model->tokenizer;
  model.chat = &text_model->chat;
  model.source = "default model";
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const int op = data[0] % 5, flag = data[1];
  const size_t capacity = data[2];
  const char* rest = reinterpret_cast<const char*>(data + 3);
  const size_t n = size - 3;
  std::vector<int32_t> ids(capacity + 1, -7);  // one guard element past the capacity
  std::vector<char> text(capacity + 1, '#');
  size_t count = 0;
  bcvk_status s = BCVK_OK;
  if (op == 0) {
    s = bcvk_tokenize(&model, rest, n, int(flag % 3) - 1, flag & 4, capacity ? ids.data() : nullptr,
                      capacity, &count);
    if (s == BCVK_OK && count > capacity) bug("tokenize wrote past its capacity", s);
    if (ids[capacity] != -7) bug("tokenize wrote past its capacity", s);
  } else if (op == 1) {
    std::vector<int32_t> in(n / 4);
    if (!in.empty()) std::memcpy(in.data(), rest, in.size() * 4);
    s = bcvk_detokenize(&model, in.data(), in.size(), flag & 1, capacity ? text.data() : nullptr,
                        capacity, &count);
    if (s == BCVK_OK && capacity && (count >= capacity || text[count] != '\0'))
      bug("detokenize: no NUL", s);
    if (text[capacity] != '#') bug("detokenize wrote past its capacity", s);
  } else if (op == 2 || op == 3) {
    // Messages: role\0content\0 pairs (a role outside the three known ones is refused).
    std::vector<std::string> parts;
    std::string cur;
    for (size_t i = 0; i < n; ++i) {
      if (rest[i] == '\0') {
        parts.push_back(cur);
        cur.clear();
      } else {
        cur += rest[i];
      }
    }
    parts.push_back(cur);
    std::vector<bcvk_chat_message> msgs;
    for (size_t i = 0; i + 1 < parts.size(); i += 2)
      msgs.push_back({parts[i].c_str(), parts[i + 1].c_str()});
    if (op == 2) {
      s = bcvk_apply_chat_template(&model, msgs.data(), msgs.size(), flag & 1,
                                   capacity ? text.data() : nullptr, capacity, &count);
      if (s == BCVK_OK && capacity && (count >= capacity || text[count] != '\0'))
        bug("chat: no NUL", s);
      if (text[capacity] != '#') bug("chat template wrote past its capacity", s);
    } else {
      s = bcvk_tokenize_chat(&model, msgs.data(), msgs.size(), flag & 1,
                             capacity ? ids.data() : nullptr, capacity, &count);
      if (ids[capacity] != -7) bug("tokenize_chat wrote past its capacity", s);
      if (s == BCVK_OK) {
        // Control tokens come from the template only: one <|im_start|> per turn (the default
        // system turn when the first message is not a system one), one for the assistant's.
        const int32_t start = text_model->tokenizer.find("<|im_start|>");
        size_t starts = 0;
        for (size_t i = 0; i < count; ++i) starts += ids[i] == start;
        const bool default_system = !text_model->chat.default_system.empty() &&
                                    std::strcmp(msgs.front().role, "system") != 0;
        if (starts != msgs.size() + default_system + (flag & 1)) bug("a forged turn", s);
      }
    }
  } else {
    std::vector<float> logits(n / 4);
    if (!logits.empty()) std::memcpy(logits.data(), rest, logits.size() * 4);
    bcvk_sampler_options o;
    bcvk_sampler_options_init(&o);
    o.temperature = flag & 1 ? 0.8f : 0.0f;
    bcvk_sampler* sampler = nullptr;
    if (bcvk_sampler_create(&o, &sampler) != BCVK_OK) bug("no sampler", BCVK_OK);
    int32_t token = -1;
    s = bcvk_sampler_sample(sampler, logits.data(), logits.size(), &token);
    if (s == BCVK_OK &&
        (token < 0 || size_t(token) >= logits.size() || !(logits[size_t(token)] > -INFINITY)))
      bug("a sampled token that has no probability", s);
    bcvk_sampler_free(sampler);
  }
  check_status(s);
  return 0;
}
