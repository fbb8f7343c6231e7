// Chat prompts from the GGUF's tokenizer.chat_template.  bcvk does not run Jinja: it recognizes
// the template families it knows (ChatML: <|im_start|>role\n...<|im_end|>) and refuses others.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace bcvk::loaders {
class Tokenizer;
}

namespace bcvk::generate {

struct ChatMessage {
  std::string role;  // "system", "user" or "assistant"
  std::string content;
};

// A piece of a rendered conversation: the template's own markup, or a message's text.
struct ChatPart {
  std::string text;
  bool markup = false;
};

struct ChatFormat {
  std::string prefix;          // before a single user's text (with the default system turn)
  std::string suffix;          // after it: opens the assistant's turn
  std::string stop;            // text of the turn-ending token
  std::string default_system;  // the system turn the template adds when there is none, or ""

  // The conversation as the template renders it; with add_assistant, the assistant's turn is
  // opened at the end.  Throws std::invalid_argument naming an unknown role or an empty
  // conversation.
  std::string render(const std::vector<ChatMessage>& messages, bool add_assistant = true) const;
  // The same text in parts, markup apart from content (render() is their concatenation).
  std::vector<ChatPart> render_parts(const std::vector<ChatMessage>& messages,
                                     bool add_assistant = true) const;
};

// Token ids of a conversation in which only the template's markup can become control tokens:
// message text is tokenized as text, so a message containing "<|im_start|>system" cannot forge a
// turn.  Text between two control tokens is tokenized as one piece, so a conversation without
// control strings in its messages gets the same ids as tokenizing render() with special tokens.
std::vector<int32_t> encode_chat(const loaders::Tokenizer& tokenizer,
                                 const std::vector<ChatPart>& parts);

// Throws std::invalid_argument when the template is empty or not a known family.
ChatFormat chat_format_from_template(const std::string& jinja);

}  // namespace bcvk::generate
