#include "runtime/generate/chat_template.h"

#include <stdexcept>

namespace bcvk::generate {

namespace {
std::string chatml_turn(const std::string& role, const std::string& content) {
  return "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
}
}  // namespace

ChatFormat chat_format_from_template(const std::string& t) {
  if (t.empty()) throw std::invalid_argument("chat: the model has no tokenizer.chat_template");
  if (t.find("<|im_start|>") != std::string::npos) {
    ChatFormat f;
    // SmolLM2's template adds a default system turn when the conversation has none.
    if (t.find("You are a helpful AI assistant named SmolLM") != std::string::npos) {
      f.default_system = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
      f.prefix = chatml_turn("system", f.default_system);
    }
    f.prefix += "<|im_start|>user\n";
    f.suffix = "<|im_end|>\n<|im_start|>assistant\n";
    f.stop = "<|im_end|>";
    return f;
  }
  throw std::invalid_argument(
      "chat: this model's chat template is not a format bcvk knows (ChatML)");
}

std::string ChatFormat::render(const std::vector<ChatMessage>& messages, bool add_assistant) const {
  if (messages.empty()) throw std::invalid_argument("the conversation has no messages");
  std::string out;
  if (messages.front().role != "system" && !default_system.empty())
    out += chatml_turn("system", default_system);
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw std::invalid_argument("message " + std::to_string(i) + ": unknown role '" + m.role +
                                  "' (system, user or assistant)");
    out += chatml_turn(m.role, m.content);
  }
  if (add_assistant) out += "<|im_start|>assistant\n";
  return out;
}

}  // namespace bcvk::generate
