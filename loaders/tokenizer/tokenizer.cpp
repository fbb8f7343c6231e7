#include "loaders/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <queue>
#include <stdexcept>

namespace bcvk::loaders {

namespace {

// GPT-2's reversible byte <-> character map: printable Latin-1 bytes map to themselves, the
// other 68 bytes to U+0100 onwards in byte order, so every byte string is printable text.
struct ByteMap {
  std::string byte_to_utf8[256];
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;
  ByteMap() {
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
      const uint32_t cp = printable ? b : next++;
      cp_to_byte[cp] = static_cast<uint8_t>(b);
      std::string s;
      if (cp < 0x80) s += static_cast<char>(cp);
      else {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
      byte_to_utf8[b] = s;
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  return 4;
}

uint32_t decode_cp(std::string_view s, size_t& i) {
  const auto c = static_cast<unsigned char>(s[i]);
  const size_t n = std::min(utf8_len(c), s.size() - i);
  uint32_t cp = n == 1 ? c : (c & (0x7F >> n));
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  i += n;
  return cp;
}

size_t first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_len(static_cast<unsigned char>(s[i]));
    if (!is_valid_utf8(s.substr(i, std::min(n, s.size() - i))) || i + n > s.size()) return i;
    i += n;
  }
  return std::string_view::npos;
}

const char* kSpmSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's visible space

// A merge candidate between adjacent symbols; lower rank (or higher score) first, then leftmost.
struct Bigram {
  int left, right;
  double priority;  // smaller merges first
  size_t size;      // combined length when queued, to detect stale entries
  bool operator<(const Bigram& o) const {
    return priority > o.priority || (priority == o.priority && left > o.left);
  }
};

struct Symbol {
  int prev, next;
  size_t start, len;
};

// Runs BPE over `text`'s UTF-8 characters with the given priority (nullopt: no merge).
template <class Priority>
std::vector<Symbol> merge_symbols(const std::string& text, Priority priority) {
  std::vector<Symbol> sym;
  for (size_t i = 0; i < text.size();) {
    const size_t n = std::min(utf8_len(static_cast<unsigned char>(text[i])), text.size() - i);
    sym.push_back({static_cast<int>(sym.size()) - 1, static_cast<int>(sym.size()) + 1, i, n});
    i += n;
  }
  if (!sym.empty()) sym.back().next = -1;
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int l, int r) {
    if (l < 0 || r < 0) return;
    const std::string_view a(text.data() + sym[l].start, sym[l].len), b(text.data() + sym[r].start, sym[r].len);
    if (auto p = priority(a, b)) queue.push({l, r, *p, a.size() + b.size()});
  };
  for (int i = 0; i + 1 < static_cast<int>(sym.size()); ++i) try_add(i, i + 1);
  while (!queue.empty()) {
    const Bigram bg = queue.top();
    queue.pop();
    Symbol& l = sym[bg.left];
    Symbol& r = sym[bg.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != bg.size || l.next != bg.right) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) sym[r.next].prev = bg.left;
    try_add(l.prev, bg.left);
    try_add(bg.left, l.next);
  }
  std::vector<Symbol> out;
  for (int i = sym.empty() ? -1 : 0; i >= 0; i = sym[i].next) out.push_back(sym[i]);
  return out;
}

}  // namespace

Tokenizer Tokenizer::from_gguf(const gguf::GgufFile& f) {
  Tokenizer t;
  auto fail = [&](const std::string& what) -> void { throw FormatError(f.name(), 0, what); };
  t.model_ = f.require_string("tokenizer.ggml.model");
  t.pre_ = f.get_string("tokenizer.ggml.pre").value_or("default");
  const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
  if (!tokens || !tokens->as_array() || tokens->element_type != gguf::ValueType::STRING)
    fail("tokenizer.ggml.tokens is missing or not an array of strings");
  for (const auto& v : *tokens->as_array()) t.tokens_.push_back(*v.as_string());
  if (t.tokens_.empty()) fail("tokenizer.ggml.tokens is empty");
  const size_t n = t.tokens_.size();
  t.types_.assign(n, TokenType::kNormal);
  if (const gguf::Value* types = f.find("tokenizer.ggml.token_type")) {
    const auto* a = types->as_array();
    if (!a || a->size() != n) fail("tokenizer.ggml.token_type does not have one entry per token");
    for (size_t i = 0; i < n; ++i) {
      const auto v = (*a)[i].as_int();
      if (!v || *v < 0 || *v > 6) fail("tokenizer.ggml.token_type[" + std::to_string(i) + "] is not a token type");
      t.types_[i] = static_cast<TokenType>(*v);
    }
  }
  if (const gguf::Value* scores = f.find("tokenizer.ggml.scores")) {
    const auto* a = scores->as_array();
    if (!a || a->size() != n) fail("tokenizer.ggml.scores does not have one entry per token");
    for (const auto& v : *a) t.scores_.push_back(static_cast<float>(v.as_float().value_or(0)));
  }
  for (size_t i = 0; i < n; ++i) t.token_ids_.emplace(t.tokens_[i], static_cast<int32_t>(i));

  auto id_key = [&](const char* key, int32_t def) -> int32_t {
    const auto v = f.get_uint(key);
    if (!v) return def;
    if (*v >= n) fail(std::string(key) + " = " + std::to_string(*v) + " is outside the vocabulary");
    return static_cast<int32_t>(*v);
  };
  t.bos_ = id_key("tokenizer.ggml.bos_token_id", -1);
  t.eos_ = id_key("tokenizer.ggml.eos_token_id", -1);
  t.unk_ = id_key("tokenizer.ggml.unknown_token_id", -1);

  if (t.model_ == "gpt2") {
    t.add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(false);
    const gguf::Value* merges = f.find("tokenizer.ggml.merges");
    if (!merges || !merges->as_array()) fail("tokenizer.ggml.merges is missing (byte-level BPE needs it)");
    int32_t rank = 0;
    for (const auto& v : *merges->as_array()) {
      const std::string* m = v.as_string();
      if (!m || m->find(' ', 1) == std::string::npos) fail("tokenizer.ggml.merges[" + std::to_string(rank) + "] is not \"a b\"");
      t.merge_ranks_.emplace(*m, rank++);
    }
    try {
      t.pre_tokenizer_ = std::make_unique<PreTokenizer>(PreTokenizer::patterns_for(t.pre_));
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
    for (int b = 0; b < 256; ++b) t.byte_tokens_[b] = t.find(byte_map().byte_to_utf8[b]);
  } else if (t.model_ == "llama") {
    t.add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token").value_or(true);
    t.add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    if (t.scores_.empty()) fail("tokenizer.ggml.scores is missing (SentencePiece BPE needs it)");
    for (int b = 0; b < 256; ++b) {
      char name[8];
      std::snprintf(name, sizeof name, "<0x%02X>", b);
      t.byte_tokens_[b] = t.find(name);
    }
  } else {
    fail("tokenizer model \"" + t.model_ + "\" is not supported (gpt2 and llama are)");
  }

  for (size_t i = 0; i < n; ++i)
    if ((t.types_[i] == TokenType::kControl || t.types_[i] == TokenType::kUserDefined) && !t.tokens_[i].empty())
      t.special_ids_.push_back(static_cast<int32_t>(i));
  std::stable_sort(t.special_ids_.begin(), t.special_ids_.end(),
                   [&](int32_t a, int32_t b) { return t.tokens_[a].size() > t.tokens_[b].size(); });
  return t;
}

int32_t Tokenizer::find(const std::string& token) const {
  auto it = token_ids_.find(token);
  return it == token_ids_.end() ? -1 : it->second;
}

bool Tokenizer::byte_has_token(uint8_t byte) const { return byte_tokens_[byte] >= 0; }

bool Tokenizer::is_control(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < types_.size() && types_[id] == TokenType::kControl;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos,
                                       bool parse_special) const {
  if (const size_t bad = first_invalid_utf8(text); bad != std::string_view::npos)
    throw std::invalid_argument("text is not valid UTF-8 at byte " + std::to_string(bad));
  std::vector<int32_t> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  // Split around special tokens, longest match first; the text between is tokenized normally.
  size_t last = 0;
  auto flush = [&](size_t end) {
    if (end > last) {
      const std::string_view chunk = text.substr(last, end - last);
      if (model_ == "gpt2") encode_bpe(chunk, out);
      else encode_spm(chunk, out);
    }
  };
  for (size_t i = 0; parse_special && i < text.size();) {
    int32_t hit = -1;
    for (int32_t id : special_ids_) {
      if (text.compare(i, tokens_[id].size(), tokens_[id]) == 0) {
        hit = id;
        break;
      }
    }
    if (hit < 0) {
      ++i;
      continue;
    }
    flush(i);
    out.push_back(hit);
    i += tokens_[hit].size();
    last = i;
  }
  flush(text.size());
  return out;
}

void Tokenizer::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  const ByteMap& bm = byte_map();
  for (std::string_view piece : pre_tokenizer_->split(text)) {
    std::string word;
    for (unsigned char c : piece) word += bm.byte_to_utf8[c];
    bpe_word(word, out);
  }
}

void Tokenizer::bpe_word(const std::string& word, std::vector<int32_t>& out) const {
  if (const int32_t whole = find(word); whole >= 0 && merge_ranks_.empty()) {
    out.push_back(whole);
    return;
  }
  std::string key;
  const auto symbols = merge_symbols(word, [&](std::string_view a, std::string_view b) -> std::optional<double> {
    key.assign(a).append(" ").append(b);
    auto it = merge_ranks_.find(key);
    if (it == merge_ranks_.end()) return std::nullopt;
    return static_cast<double>(it->second);
  });
  for (const Symbol& s : symbols) {
    const std::string text = word.substr(s.start, s.len);
    if (const int32_t id = find(text); id >= 0) {
      out.push_back(id);
      continue;
    }
    // No token for the merged text: fall back to one token per byte's character.  A byte whose
    // character is not in the vocabulary either is dropped, as llama.cpp does: emitting the
    // unknown token instead would be worse (SmolLM2's is <|endoftext|>).
    for (size_t i = 0; i < text.size();) {
      const size_t start = i;
      decode_cp(text, i);
      const int32_t id = find(text.substr(start, i - start));
      if (id >= 0) out.push_back(id);
    }
  }
}

void Tokenizer::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
  std::string s;
  if (add_space_prefix_) s += kSpmSpace;
  for (char c : text) {
    if (c == ' ') s += kSpmSpace;
    else s += c;
  }
  const auto symbols = merge_symbols(s, [&](std::string_view a, std::string_view b) -> std::optional<double> {
    const int32_t id = find(std::string(a).append(b));
    if (id < 0) return std::nullopt;
    return -static_cast<double>(scores_[id]);  // higher score merges first
  });
  for (const Symbol& sym : symbols) {
    const std::string piece = s.substr(sym.start, sym.len);
    if (const int32_t id = find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    for (unsigned char c : piece) {  // byte fallback
      if (byte_tokens_[c] >= 0) out.push_back(byte_tokens_[c]);
      else if (unk_ >= 0) out.push_back(unk_);
    }
  }
}

std::string Tokenizer::token_text(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size())
    throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary of " +
                            std::to_string(tokens_.size()));
  const std::string& t = tokens_[id];
  const TokenType type = types_[id];
  if (type == TokenType::kControl || type == TokenType::kUserDefined) return t;
  if (model_ == "gpt2") {
    std::string bytes;
    const ByteMap& bm = byte_map();
    for (size_t i = 0; i < t.size();) {
      const size_t start = i;
      const uint32_t cp = decode_cp(t, i);
      auto it = bm.cp_to_byte.find(cp);
      if (it != bm.cp_to_byte.end()) bytes += static_cast<char>(it->second);
      else bytes.append(t, start, i - start);  // not a mapped byte: keep the text
    }
    return bytes;
  }
  if (type == TokenType::kByte && t.size() == 6 && t.rfind("<0x", 0) == 0)
    return std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
  std::string s;
  for (size_t i = 0; i < t.size();) {
    if (t.compare(i, 3, kSpmSpace) == 0) {
      s += ' ';
      i += 3;
    } else {
      s += t[i++];
    }
  }
  return s;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  std::string out;
  bool chunk_start = true;  // encode_spm prefixes a space at the start of every text chunk
  for (const int32_t id : ids) {
    std::string piece = token_text(id);
    const bool special = types_[id] == TokenType::kControl || types_[id] == TokenType::kUserDefined;
    if (!render_special && types_[id] == TokenType::kControl) {
      chunk_start = true;
      continue;
    }
    if (model_ == "llama" && add_space_prefix_ && chunk_start && !special && !piece.empty() && piece[0] == ' ')
      piece.erase(0, 1);
    chunk_start = special;
    out += piece;
  }
  return out;
}

}  // namespace bcvk::loaders
