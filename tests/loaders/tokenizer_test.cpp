// Tokenizer: hand-worked BPE and SentencePiece vocabularies, the pre-tokenizer's splits, the
// default model's ids against llama.cpp's (tests/data/tokenizer_reference.json, made by
// scripts/fixtures/make_tokenizer_fixture.py), and decode(encode(s)) == s for any valid UTF-8.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loaders/gguf/gguf_writer.h"
#include "loaders/tokenizer/tokenizer.h"

namespace bcvk {
namespace {

using loaders::PreTokenizer;
using loaders::Tokenizer;

const std::string kModel = std::string(BCVK_MODEL_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";

std::vector<std::string> split(const PreTokenizer& p, std::string_view s) {
  std::vector<std::string> out;
  for (auto v : p.split(s)) out.emplace_back(v);
  return out;
}

TEST(PreTokenizer, SmollmSplitsDigitsThenGpt2) {
  const PreTokenizer p(PreTokenizer::patterns_for("smollm"));
  EXPECT_EQ(split(p, "abc123 def"), (std::vector<std::string>{"abc", "1", "2", "3", " def"}));
  EXPECT_EQ(split(p, "I'm here"), (std::vector<std::string>{"I", "'m", " here"}));
  EXPECT_EQ(split(p, "a  b"), (std::vector<std::string>{"a", " ", " b"}));
  EXPECT_EQ(split(p, "x!!  "), (std::vector<std::string>{"x", "!!", "  "}));
  EXPECT_EQ(split(p, "Grüße\n\nwelt"), (std::vector<std::string>{"Grüße", "\n", "\n", "welt"}));
  EXPECT_TRUE(split(p, "").empty());
  EXPECT_THROW(PreTokenizer::patterns_for("no-such-pre"), std::invalid_argument);
  EXPECT_THROW(PreTokenizer({"(unclosed"}), std::invalid_argument);
}

// A byte-level BPE vocabulary small enough to work by hand.
gguf::GgufFile tiny_bpe(std::vector<std::byte>& storage) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", "gpt2");
  // GPT-2's byte map: ' ' is U+0120 "Ġ".
  std::vector<std::string> tokens = {"<|end|>", "a", "b", "c", "Ġ", "ab", "abc", "Ġa", "Ġab", "<s>"};
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_i32s("tokenizer.ggml.token_type", {3, 1, 1, 1, 1, 1, 1, 1, 1, 3});
  w.set_strings("tokenizer.ggml.merges", {"a b", "Ġ a", "ab c", "Ġa b"});
  w.set_u32("tokenizer.ggml.bos_token_id", 9);
  w.set_u32("tokenizer.ggml.eos_token_id", 0);
  storage = w.to_bytes();
  return gguf::GgufFile::parse(storage, "tiny.gguf");
}

TEST(Tokenizer, BytePairMergesByRank) {
  std::vector<std::byte> s;
  const Tokenizer t = Tokenizer::from_gguf(tiny_bpe(s));
  EXPECT_EQ(t.encode("abc"), (std::vector<int32_t>{6}));          // a b -> ab, ab c -> abc
  // "Ġab": a b (rank 0) merges before Ġ a (rank 1), and there is no "Ġ ab" merge.
  EXPECT_EQ(t.encode("ab ab"), (std::vector<int32_t>{5, 4, 5}));
  EXPECT_EQ(t.encode(" ac"), (std::vector<int32_t>{7, 3}));  // Ġ a merges; no "Ġa c"
  EXPECT_EQ(t.encode("cab"), (std::vector<int32_t>{3, 5}));       // c + ab
  EXPECT_EQ(t.encode("abc", true), (std::vector<int32_t>{9, 6}));  // BOS on request
  EXPECT_EQ(t.decode(std::vector<int32_t>{5, 8}), "ab ab");
  EXPECT_EQ(t.decode(std::vector<int32_t>{5, 4, 5}), "ab ab");
}

TEST(Tokenizer, SpecialTokensAreMatchedWhole) {
  std::vector<std::byte> s;
  const Tokenizer t = Tokenizer::from_gguf(tiny_bpe(s));
  EXPECT_EQ(t.encode("ab<|end|>ab"), (std::vector<int32_t>{5, 0, 5}));
  EXPECT_EQ(t.encode("<|end|><|end|>"), (std::vector<int32_t>{0, 0}));
  EXPECT_EQ(t.decode(std::vector<int32_t>{5, 0, 5}), "ab<|end|>ab");
  EXPECT_TRUE(t.is_control(0));
  EXPECT_FALSE(t.is_control(5));
}

TEST(Tokenizer, SpecialTextCanStayPlainAndControlTokensCanBeHidden) {
  std::vector<std::byte> s;
  const Tokenizer t = Tokenizer::from_gguf(tiny_bpe(s));
  EXPECT_EQ(t.decode(std::vector<int32_t>{5, 0, 5}, false), "abab");
  EXPECT_EQ(t.decode(std::vector<int32_t>{5, 0, 5}, true), "ab<|end|>ab");
}

TEST(Tokenizer, SentencePieceByScoreWithByteFallback) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "llama");
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "ab",
                                     "\xE2\x96\x81" "ab"};
  std::vector<float> scores = {0, 0, 0, -1, -2, -3, -4, -0.5f, -6};
  std::vector<int32_t> types = {2, 3, 3, 1, 1, 1, 1, 1, 1};
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    tokens.push_back(name);
    scores.push_back(0);
    types.push_back(6);
  }
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.bos_token_id", 1);
  w.set_u32("tokenizer.ggml.eos_token_id", 2);
  const auto bytes = w.to_bytes();
  const Tokenizer t = Tokenizer::from_gguf(gguf::GgufFile::parse(bytes, "spm.gguf"));
  EXPECT_TRUE(t.adds_bos());
  // "▁ab": "ab" (score -0.5) merges before "▁a" (-4); then "▁" + "ab" -> "▁ab".
  EXPECT_EQ(t.encode("ab"), (std::vector<int32_t>{1, 8}));
  // 'z' is not in the vocabulary: byte fallback <0x7A>.
  EXPECT_EQ(t.encode("az", false), (std::vector<int32_t>{6, 9 + 0x7A}));
  EXPECT_EQ(t.decode(t.encode("az ab", false)), "az ab");
}

TEST(Tokenizer, RejectsInvalidUtf8AndBadIds) {
  std::vector<std::byte> s;
  const Tokenizer t = Tokenizer::from_gguf(tiny_bpe(s));
  try {
    t.encode("ab\xC3(");
    FAIL() << "invalid UTF-8 accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("byte 2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(t.decode(std::vector<int32_t>{99}), std::out_of_range);
  EXPECT_THROW(t.decode(std::vector<int32_t>{-1}), std::out_of_range);
}

TEST(Tokenizer, BadMetadataIsAFormatError) {
  gguf::GgufWriter w;
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_strings("tokenizer.ggml.tokens", {"a"});
  auto b = w.to_bytes();
  EXPECT_THROW(Tokenizer::from_gguf(gguf::GgufFile::parse(b, "x.gguf")), loaders::FormatError);  // no merges
  w.set_strings("tokenizer.ggml.merges", {});
  w.set_i32s("tokenizer.ggml.token_type", {1, 1});
  b = w.to_bytes();
  EXPECT_THROW(Tokenizer::from_gguf(gguf::GgufFile::parse(b, "x.gguf")), loaders::FormatError);  // 2 types, 1 token
  w.set_i32s("tokenizer.ggml.token_type", {1});
  w.set_u32("tokenizer.ggml.bos_token_id", 5);
  b = w.to_bytes();
  EXPECT_THROW(Tokenizer::from_gguf(gguf::GgufFile::parse(b, "x.gguf")), loaders::FormatError);  // bos out of range
  w.set_string("tokenizer.ggml.model", "wordpiece");
  b = w.to_bytes();
  EXPECT_THROW(Tokenizer::from_gguf(gguf::GgufFile::parse(b, "x.gguf")), loaders::FormatError);
}

class DefaultModelTokenizer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(std::filesystem::exists(kModel)) << kModel << " is missing: run scripts/setup.sh";
    file_ = new gguf::GgufFile(gguf::GgufFile::open(kModel));
    tok_ = new Tokenizer(Tokenizer::from_gguf(*file_));
  }
  static void TearDownTestSuite() {
    delete tok_;
    delete file_;
  }
  static gguf::GgufFile* file_;
  static Tokenizer* tok_;
};
gguf::GgufFile* DefaultModelTokenizer::file_ = nullptr;
Tokenizer* DefaultModelTokenizer::tok_ = nullptr;

TEST_F(DefaultModelTokenizer, IdsMatchLlamaCppForEveryReferenceString) {
  std::ifstream in(std::string(BCVK_TEST_DATA_DIR) + "/tokenizer_reference.json");
  ASSERT_TRUE(in) << "missing tests/data/tokenizer_reference.json";
  const auto j = nlohmann::json::parse(in);
  size_t checked = 0, tricky = 0;
  for (const auto& e : j["entries"]) {
    const std::string text = e["text"];
    const auto expected = e["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok_->encode(text, false), expected) << "text: \"" << text << "\"";
    std::string representable;  // bytes without a token are dropped by both implementations
    for (unsigned char c : text)
      if (tok_->byte_has_token(c)) representable += static_cast<char>(c);
    EXPECT_EQ(tok_->decode(expected), representable) << "decode of the reference ids of \"" << text << "\"";
    ++checked;
    tricky += e["source"] == "scripts/fixtures/tricky_strings.txt";
  }
  EXPECT_GE(checked, 150u + 50u);
  EXPECT_GE(tricky, 50u);
}

TEST_F(DefaultModelTokenizer, KnownFacts) {
  EXPECT_EQ(tok_->vocab_size(), 49152u);
  EXPECT_EQ(tok_->bos(), 1);
  EXPECT_EQ(tok_->eos(), 2);
  EXPECT_FALSE(tok_->adds_bos());
  EXPECT_EQ(tok_->encode("<|im_start|>"), (std::vector<int32_t>{1}));
  // Without special parsing the same text is ordinary characters, and decodes back to itself.
  const auto plain = tok_->encode("<|im_start|>", false, false);
  EXPECT_GT(plain.size(), 1u);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
  EXPECT_EQ(tok_->decode(plain), "<|im_start|>");
}

TEST_F(DefaultModelTokenizer, DecodeEncodeRoundTripsRandomUtf8) {
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  for (int n = 0; n < 300; ++n) {
    std::string s;
    const int len = next() % 40;
    for (int i = 0; i < len; ++i) {
      uint32_t cp;
      switch (next() % 5) {
        case 0: cp = 0x20 + next() % 0x5f; break;     // ASCII
        case 1: cp = " \t\n\r"[next() % 4]; break;     // whitespace
        case 2: cp = 0xA0 + next() % 0x700; break;     // Latin, Greek, Cyrillic, ...
        case 3: cp = 0x4E00 + next() % 0x5000; break;  // CJK
        default: cp = 0x1F300 + next() % 0x300; break; // emoji
      }
      if (cp < 0x80) s += static_cast<char>(cp);
      else if (cp < 0x800) s += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 63))};
      else if (cp < 0x10000)
        s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 63)),
              static_cast<char>(0x80 | (cp & 63))};
      else
        s += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 63)),
              static_cast<char>(0x80 | ((cp >> 6) & 63)), static_cast<char>(0x80 | (cp & 63))};
    }
    ASSERT_EQ(tok_->decode(tok_->encode(s)), s) << "string #" << n;
  }
}

}  // namespace
}  // namespace bcvk
