#include "runtime/engine/engine.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <stdexcept>

namespace bcvk::engine {

namespace {
uint32_t choose_context(uint32_t asked, const loaders::LlamaConfig& c) {
  if (asked > c.n_ctx)
    throw std::invalid_argument("a context of " + std::to_string(asked) +
                                " tokens is above the model's context of " +
                                std::to_string(c.n_ctx) + " tokens");
  return asked ? asked : std::min(c.n_ctx, kDefaultContext);
}
}  // namespace

Engine::Engine(const std::string& path, EngineOptions options)
    : file_(loaders::LlamaModelFile::open(path)) {
  name_ = std::filesystem::path(path).filename().string();
  if (file_.gguf()) {
    tokenizer_.emplace(loaders::Tokenizer::from_gguf(*file_.gguf()));
    end_of_turn_ = tokenizer_->eos();
    try {
      chat_ = generate::chat_format_from_template(
          file_.gguf()->get_string("tokenizer.chat_template").value_or(""));
      if (const int32_t id = tokenizer_->find(chat_->stop); id >= 0) end_of_turn_ = id;
    } catch (const std::invalid_argument& e) {
      chat_error_ = e.what();
    }
  } else {
    chat_error_ = "the model has no tokenizer (bcvk reads tokenizers from GGUF files only)";
  }
  vk::ContextOptions co;
  co.device = options.device;
  if (options.validation) co.instance.validation = true;
  ctx_ = std::make_unique<vk::Context>(co);
  model::ModelOptions mo;
  mo.weights = options.weights;
  mo.kv = options.kv;
  mo.context = choose_context(options.context, file_.config());
  model_ = std::make_unique<model::Model>(*ctx_, file_, mo, options.progress);
  patch_ = model::MlpPatch::load_stored(*ctx_, file_, options.weights);
}

EngineSession::EngineSession(Engine& engine, uint32_t context) : engine_(engine) {
  std::lock_guard lock(engine_.device_lock());
  session_ = std::make_unique<model::Session>(engine_.model(), 64, false, engine_.patch(), context);
}

EngineSession::~EngineSession() {
  // Freeing device memory touches the engine's shared allocator.
  std::lock_guard lock(engine_.device_lock());
  session_.reset();
}

std::span<const float> EngineSession::prefill(std::span<const int32_t> tokens) {
  std::lock_guard lock(engine_.device_lock());
  logits_ = session_->prefill(tokens);
  return logits_;
}

std::span<const float> EngineSession::decode(int32_t token) {
  return prefill(std::span<const int32_t>(&token, 1));
}

void EngineSession::reset() {
  session_->reset();
  logits_.clear();
}

size_t complete_utf8(const std::string& s) {
  size_t i = s.size();
  for (size_t back = 0; back < 4 && i > 0; ++back) {
    const auto c = static_cast<unsigned char>(s[i - 1]);
    if ((c & 0xC0) == 0x80) {
      --i;
      continue;
    }
    const size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
    return (s.size() - (i - 1) >= need) ? s.size() : i - 1;
  }
  return s.size();
}

StopFilter::StopFilter(std::vector<std::string> stops) : stops_(std::move(stops)) {
  std::erase_if(stops_, [](const std::string& s) { return s.empty(); });
}

std::string StopFilter::push(const std::string& piece) {
  if (stopped_) return {};
  held_ += piece;
  size_t first = std::string::npos;
  for (const auto& s : stops_) first = std::min(first, held_.find(s));
  if (first != std::string::npos) {
    stopped_ = true;
    std::string out = held_.substr(0, first);
    held_.clear();
    return out;
  }
  // Keep the longest tail that is the start of some stop string.
  size_t keep = 0;
  for (const auto& s : stops_)
    for (size_t n = std::min(s.size() - 1, held_.size()); n > keep; --n)
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopFilter::finish() {
  std::string out = stopped_ ? std::string() : held_;
  held_.clear();
  return out;
}

GenerateResult generate_text(EngineSession& session, const GenerateRequest& r) {
  Engine& e = session.engine();
  const loaders::Tokenizer* tok = e.tokenizer();
  if (!tok)
    throw std::invalid_argument("the model has no tokenizer: text generation needs a GGUF model");
  if (r.prompt.empty()) throw std::invalid_argument("the prompt is empty");
  if (r.max_tokens == 0) throw std::invalid_argument("max_tokens must be at least 1");
  if (r.prompt.size() + r.max_tokens > session.context_length())
    throw std::invalid_argument("the prompt (" + std::to_string(r.prompt.size()) +
                                " tokens) plus max_tokens " + std::to_string(r.max_tokens) +
                                " exceeds the context of " +
                                std::to_string(session.context_length()) + " tokens");
  using clock = std::chrono::steady_clock;
  const auto t0 = clock::now();
  GenerateResult out;
  out.prompt_tokens = static_cast<uint32_t>(r.prompt.size());
  generate::Sampler sampler(r.sampler);
  StopFilter filter(r.stop);
  session.reset();
  std::span<const float> logits = session.prefill(r.prompt);
  std::string pending;  // bytes of a character not yet complete
  bool cancelled = false;
  auto emit = [&](const std::string& text) {
    if (text.empty()) return true;
    out.text += text;
    return !r.on_text || r.on_text(text);
  };
  out.finish_reason = "length";
  for (uint32_t i = 0; i < r.max_tokens; ++i) {
    if (r.cancelled && r.cancelled()) {
      cancelled = true;
      break;
    }
    const int32_t next = sampler.sample(logits);
    if (i == 0) out.first_token_s = std::chrono::duration<double>(clock::now() - t0).count();
    if (next == tok->eos() || next == e.end_of_turn()) {
      out.finish_reason = "stop";
      break;
    }
    ++out.completion_tokens;
    pending += tok->token_text(next);
    const size_t ready = complete_utf8(pending);
    const std::string text = filter.push(pending.substr(0, ready));
    pending.erase(0, ready);
    if (!emit(text)) {
      cancelled = true;
      break;
    }
    if (filter.stopped()) {
      out.finish_reason = "stop";
      break;
    }
    if (i + 1 < r.max_tokens) logits = session.decode(next);
  }
  if (cancelled) {
    out.finish_reason = "cancelled";
  } else if (!filter.stopped()) {
    std::string rest = filter.push(pending);
    if (!filter.stopped())
      rest += filter.finish();
    else
      out.finish_reason = "stop";
    emit(rest);
  }
  out.total_s = std::chrono::duration<double>(clock::now() - t0).count();
  return out;
}

}  // namespace bcvk::engine
