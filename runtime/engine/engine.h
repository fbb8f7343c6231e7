// An Engine is one loaded model ready to serve: its file, tokenizer and chat format, the device
// context, the weights and (for a compressed file) its block-circulant MLPs.  It is the one
// object the C API and `bcvk serve` share.  Several EngineSessions may run on different threads:
// their device work is serialized by the engine's lock (one queue, one set of kernel caches).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "loaders/llama_model.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/generate/chat_template.h"
#include "runtime/generate/request.h"
#include "runtime/generate/sampler.h"
#include "runtime/model/mlp_patch.h"
#include "runtime/model/model.h"
#include "runtime/model/session.h"
#include "runtime/vk/context.h"

namespace bcvk::engine {

constexpr uint32_t kDefaultContext = 4096;

struct EngineOptions {
  std::string device;  // index or name substring; "" = BCVK_DEVICE or the best
  model::WeightMode weights = model::WeightMode::kNative;
  uint32_t context = 0;  // longest session context; 0 = min(model's, kDefaultContext)
  ops::KvType kv = ops::KvType::kF16;
  bool validation = false;  // the Khronos validation layer (also BCVK_VALIDATION=1)
  // (tensors done, total) while uploading; may be empty.
  std::function<void(size_t, size_t)> progress;
};

class Engine {
 public:
  // Throws loaders::FormatError for a bad file, vk::Error when no device fits or it cannot hold
  // the model, std::invalid_argument for bad options.
  Engine(const std::string& path, EngineOptions options = {});
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const loaders::LlamaModelFile& file() const { return file_; }
  const loaders::LlamaConfig& config() const { return file_.config(); }
  // Null for a Hugging Face directory (bcvk reads tokenizers from GGUF metadata only).
  const loaders::Tokenizer* tokenizer() const { return tokenizer_ ? &*tokenizer_ : nullptr; }
  // Null when the model has no chat template bcvk knows; chat_error() says why.
  const generate::ChatFormat* chat() const { return chat_ ? &*chat_ : nullptr; }
  const std::string& chat_error() const { return chat_error_; }
  // The token that ends an assistant turn (the chat format's stop, else EOS), or -1.
  int32_t end_of_turn() const { return end_of_turn_; }
  uint32_t context_length() const { return model_->context_length(); }
  const std::string& name() const { return name_; }  // the file's stem
  vk::Context& vk_context() { return *ctx_; }
  model::Model& model() { return *model_; }
  const model::MlpPatch* patch() const { return patch_.get(); }
  std::mutex& device_lock() { return device_lock_; }

 private:
  loaders::LlamaModelFile file_;
  std::optional<loaders::Tokenizer> tokenizer_;
  std::optional<generate::ChatFormat> chat_;
  std::string chat_error_;
  int32_t end_of_turn_ = -1;
  std::string name_;
  std::mutex device_lock_;
  std::unique_ptr<vk::Context> ctx_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<model::MlpPatch> patch_;
};

// A KV cache and activations of its own on a shared Engine; one thread at a time.
class EngineSession {
 public:
  EngineSession(Engine& engine, uint32_t context = 0);  // 0: the engine's context
  ~EngineSession();
  EngineSession(const EngineSession&) = delete;
  EngineSession& operator=(const EngineSession&) = delete;

  // Logits of the last token.  Throws std::invalid_argument on context overflow or a bad id.
  std::span<const float> prefill(std::span<const int32_t> tokens);
  std::span<const float> decode(int32_t token);
  std::span<const float> logits() const { return logits_; }
  void reset();
  uint32_t position() const { return session_->position(); }
  uint32_t context_length() const { return session_->context_length(); }
  Engine& engine() { return engine_; }

 private:
  Engine& engine_;
  std::unique_ptr<model::Session> session_;
  std::vector<float> logits_;
};

using generate::GenerateRequest;

struct GenerateResult {
  std::string text;
  uint32_t prompt_tokens = 0, completion_tokens = 0;
  std::string finish_reason;  // "stop", "length" or "cancelled"
  double first_token_s = 0;   // prefill until the first token was chosen
  double total_s = 0;
};

// Runs `request` on `session` from position 0 (the session is reset first).  Throws
// std::invalid_argument when the prompt is empty or prompt + max_tokens exceeds the context.
GenerateResult generate_text(EngineSession& session, const GenerateRequest& request);

// Holds back text that could still become a stop string; a stop string cuts the text before it.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops);
  // Returns the text that is now final.  After a stop string was seen, stopped() is true and
  // later pushes return "".
  std::string push(const std::string& piece);
  std::string finish();  // the held-back rest (no stop string came)
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

// Length of the longest prefix of `s` that ends on a UTF-8 character boundary.
size_t complete_utf8(const std::string& s);

}  // namespace bcvk::engine
