// The model's own tokenizer, built from GGUF metadata: GPT-2-style byte-level BPE ("gpt2") with
// the pre-tokenizer `tokenizer.ggml.pre` names, or SentencePiece-style BPE ("llama").
// Special and control tokens in the text are matched whole, never split.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "loaders/gguf/gguf_file.h"
#include "loaders/tokenizer/pre_tokenizer.h"

namespace bcvk::loaders {

// tokenizer.ggml.token_type values.
enum class TokenType : int32_t { kUndefined = 0, kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4,
                                 kUnused = 5, kByte = 6 };

class Tokenizer {
 public:
  // Throws FormatError naming the key when the metadata is missing or inconsistent.
  static Tokenizer from_gguf(const gguf::GgufFile& file);

  // Throws std::invalid_argument (with the byte offset) for text that is not valid UTF-8.
  // With parse_special false, special-token text ("<|im_end|>") is tokenized as plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = true) const;
  std::vector<int32_t> encode(std::string_view text) const { return encode(text, add_bos_); }
  // Control tokens are rendered as their text (or dropped with render_special false), so
  // decode(encode(s)) == s for valid UTF-8.  Throws std::out_of_range for an id outside the
  // vocabulary.
  std::string decode(std::span<const int32_t> ids, bool render_special = true) const;
  std::string token_text(int32_t id) const;  // one token, decoded

  size_t vocab_size() const { return tokens_.size(); }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  bool adds_bos() const { return add_bos_; }
  const std::string& model() const { return model_; }
  const std::string& pre() const { return pre_; }
  // The id of a token's exact vocabulary string, or -1.
  int32_t find(const std::string& token) const;
  bool is_control(int32_t id) const;
  // False for the few bytes (SmolLM2: 0x04, 0x06, 0x13, 0x14, 0x16, 0x1D) that have no token of
  // their own; encode drops them, so only text without them survives decode(encode(s)).
  bool byte_has_token(uint8_t byte) const;

 private:
  Tokenizer() = default;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_word(const std::string& word, std::vector<int32_t>& out) const;

  std::string model_, pre_;
  std::vector<std::string> tokens_;
  std::vector<TokenType> types_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int32_t> token_ids_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // "left right" -> rank
  std::vector<int32_t> special_ids_;                      // control + user-defined, longest first
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  int32_t bos_ = -1, eos_ = -1, unk_ = -1;
  bool add_bos_ = false;
  bool add_space_prefix_ = true;
  int32_t byte_tokens_[256];  // SPM: <0xXX>; BPE: the token of each byte's mapped character
};

}  // namespace bcvk::loaders
