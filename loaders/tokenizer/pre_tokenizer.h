// Regex pre-tokenization: a text is split by each pattern in turn (PCRE2, UTF + UCP, so \p{L},
// \p{N} and lookahead work as written); matches and the text between them both become pieces.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace bcvk::loaders {

class PreTokenizer {
 public:
  // Throws std::invalid_argument naming the pattern and position when one does not compile.
  explicit PreTokenizer(const std::vector<std::string>& patterns);
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;
  PreTokenizer& operator=(PreTokenizer&&) noexcept;

  // `text` must be valid UTF-8.  The pieces concatenate back to `text`.
  std::vector<std::string_view> split(std::string_view text) const;

  // The patterns llama.cpp associates with a `tokenizer.ggml.pre` name; throws for unknown names.
  static std::vector<std::string> patterns_for(const std::string& pre);

 private:
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> regexes_;
};

}  // namespace bcvk::loaders
