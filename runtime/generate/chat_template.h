// Chat prompts from the GGUF's tokenizer.chat_template.  bcvk does not run Jinja: it recognizes
// the template families it knows (ChatML: <|im_start|>role\n...<|im_end|>) and refuses others.
#pragma once

#include <string>

namespace bcvk::generate {

struct ChatFormat {
  std::string prefix;     // before the user's text
  std::string suffix;     // after it: opens the assistant's turn
  std::string stop;       // text of the turn-ending token
};

// Throws std::invalid_argument when the template is empty or not a known family.
ChatFormat chat_format_from_template(const std::string& jinja);

}  // namespace bcvk::generate
