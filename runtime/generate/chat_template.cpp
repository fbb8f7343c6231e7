#include "runtime/generate/chat_template.h"

#include <stdexcept>

namespace bcvk::generate {

ChatFormat chat_format_from_template(const std::string& t) {
  if (t.empty()) throw std::invalid_argument("--chat: the model has no tokenizer.chat_template");
  if (t.find("<|im_start|>") != std::string::npos) {
    ChatFormat f;
    // SmolLM2's template adds a default system turn when the conversation has none.
    if (t.find("You are a helpful AI assistant named SmolLM") != std::string::npos)
      f.prefix = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n";
    f.prefix += "<|im_start|>user\n";
    f.suffix = "<|im_end|>\n<|im_start|>assistant\n";
    f.stop = "<|im_end|>";
    return f;
  }
  throw std::invalid_argument("--chat: this model's chat template is not a format bcvk knows (ChatML)");
}

}  // namespace bcvk::generate
