#include "runtime/generate/chat_template.h"

#include <stdexcept>

#include "loaders/tokenizer/tokenizer.h"

namespace bcvk::generate {

namespace {
std::string chatml_turn(const std::string& role, const std::string& content) {
  return "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
}

void chatml_turn(std::vector<ChatPart>& out, const std::string& role, const std::string& content) {
  out.push_back({"<|im_start|>", true});
  out.push_back({role + "\n", true});
  out.push_back({content, false});
  out.push_back({"<|im_end|>", true});
  out.push_back({"\n", true});
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

std::vector<ChatPart> ChatFormat::render_parts(const std::vector<ChatMessage>& messages,
                                               bool add_assistant) const {
  if (messages.empty()) throw std::invalid_argument("the conversation has no messages");
  std::vector<ChatPart> out;
  if (messages.front().role != "system" && !default_system.empty())
    chatml_turn(out, "system", default_system);
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw std::invalid_argument("message " + std::to_string(i) + ": unknown role '" + m.role +
                                  "' (system, user or assistant)");
    chatml_turn(out, m.role, m.content);
  }
  if (add_assistant) {
    out.push_back({"<|im_start|>", true});
    out.push_back({"assistant\n", true});
  }
  return out;
}

std::string ChatFormat::render(const std::vector<ChatMessage>& messages, bool add_assistant) const {
  std::string out;
  for (const auto& p : render_parts(messages, add_assistant)) out += p.text;
  return out;
}

std::vector<int32_t> encode_chat(const loaders::Tokenizer& tokenizer,
                                 const std::vector<ChatPart>& parts) {
  std::vector<int32_t> ids;
  if (tokenizer.adds_bos() && tokenizer.bos() >= 0) ids.push_back(tokenizer.bos());
  std::string run;  // text since the last control token, tokenized as one piece
  auto flush = [&] {
    if (run.empty()) return;
    const auto piece = tokenizer.encode(run, false, false);
    ids.insert(ids.end(), piece.begin(), piece.end());
    run.clear();
  };
  for (const auto& p : parts) {
    // Markup that is a control token's text becomes that token; other markup ("user\n") is text.
    const auto special = p.markup ? tokenizer.encode(p.text, false, true) : std::vector<int32_t>{};
    if (special.size() == 1 && tokenizer.encode(p.text, false, false) != special) {
      flush();
      ids.push_back(special[0]);
    } else {
      run += p.text;
    }
  }
  flush();
  return ids;
}

}  // namespace bcvk::generate
