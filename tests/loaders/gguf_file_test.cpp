// GGUF reader: every metadata type, tensor infos and data offsets on hand-built files, and a
// clear FormatError (with the byte offset) for every kind of broken or hostile file.
#include <gtest/gtest.h>

#include "loaders/gguf/gguf_file.h"
#include "tests/support/gguf_bytes.h"

namespace bcvk {
namespace {

using gguf::GgufFile;
using loaders::FormatError;
using test::GgufBytes;

// Two tensors: an F32 [4] at 0 and a Q8_0 [32, 2] at 32.
GgufBytes small_model(uint32_t version = 3) {
  GgufBytes g;
  g.header(2, 3, version)
      .kv_str("general.architecture", "llama")
      .kv_u32("llama.block_count", 30)
      .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f);
  g.tensor("a", {4}, 0, 0).tensor("b", {32, 2}, 8, 32);
  g.pad_to(32);
  for (int i = 0; i < 4; ++i) g.pod<float>(1.5f * i);
  g.zeros(16);      // to offset 32
  g.zeros(2 * 34);  // two Q8_0 blocks
  return g;
}

std::string parse_error(const GgufBytes& g) {
  try {
    GgufFile::parse(g.bytes(), "t.gguf");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(GgufFile, ReadsHeaderMetadataAndTensors) {
  for (uint32_t version : {2u, 3u}) {
    const GgufBytes g = small_model(version);
    const GgufFile f = GgufFile::parse(g.bytes(), "t.gguf");
    EXPECT_EQ(f.version(), version);
    EXPECT_EQ(f.alignment(), 32u);
    EXPECT_EQ(f.require_string("general.architecture"), "llama");
    EXPECT_EQ(f.require_uint("llama.block_count"), 30u);
    EXPECT_FLOAT_EQ(static_cast<float>(f.require_float("llama.attention.layer_norm_rms_epsilon")),
                    1e-5f);
    ASSERT_EQ(f.tensors().size(), 2u);
    const auto* a = f.tensor("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->bytes, 16u);
    EXPECT_EQ(f.data_offset() % 32, 0u);
    float third;
    std::memcpy(&third, f.tensor_data(*a).data() + 8, 4);
    EXPECT_EQ(third, 3.0f);
    const auto* b = f.tensor("b");
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->type, gguf::GgmlType::Q8_0);
    EXPECT_EQ(b->elements, 64u);
    EXPECT_EQ(b->bytes, 68u);
    EXPECT_EQ(b->file_offset, f.data_offset() + 32);
  }
}

TEST(GgufFile, EveryValueTypeIncludingNestedArrays) {
  GgufBytes g;
  g.header(0, 14);
  g.str("u8").pod<uint32_t>(0).pod<uint8_t>(200);
  g.str("i8").pod<uint32_t>(1).pod<int8_t>(-5);
  g.str("u16").pod<uint32_t>(2).pod<uint16_t>(60000);
  g.str("i16").pod<uint32_t>(3).pod<int16_t>(-30000);
  g.str("u32").pod<uint32_t>(4).pod<uint32_t>(4000000000u);
  g.str("i32").pod<uint32_t>(5).pod<int32_t>(-2000000000);
  g.str("f32").pod<uint32_t>(6).pod<float>(0.25f);
  g.str("bool").pod<uint32_t>(7).pod<uint8_t>(1);
  g.str("string").pod<uint32_t>(8).str("Grüße, 世界 🦊");
  g.str("u64").pod<uint32_t>(10).pod<uint64_t>(1ull << 40);
  g.str("i64").pod<uint32_t>(11).pod<int64_t>(-(1ll << 40));
  g.str("f64").pod<uint32_t>(12).pod<double>(-2.5);
  g.str("strings").pod<uint32_t>(9).pod<uint32_t>(8).pod<uint64_t>(2).str("a").str("bc");
  g.str("nested").pod<uint32_t>(9).pod<uint32_t>(9).pod<uint64_t>(2);
  g.pod<uint32_t>(5).pod<uint64_t>(1).pod<int32_t>(7);
  g.pod<uint32_t>(5).pod<uint64_t>(2).pod<int32_t>(8).pod<int32_t>(-9);
  const GgufFile f = GgufFile::parse(g.bytes(), "t.gguf");
  EXPECT_EQ(f.get_uint("u8"), 200u);
  EXPECT_EQ(f.find("i8")->as_int(), -5);
  EXPECT_EQ(f.get_uint("u16"), 60000u);
  EXPECT_EQ(f.find("i16")->as_int(), -30000);
  EXPECT_EQ(f.get_uint("u32"), 4000000000u);
  EXPECT_EQ(f.find("i32")->as_int(), -2000000000);
  EXPECT_EQ(f.get_float("f32"), 0.25);
  EXPECT_EQ(f.get_bool("bool"), true);
  EXPECT_EQ(f.get_string("string"), "Grüße, 世界 🦊");
  EXPECT_EQ(f.get_uint("u64"), 1ull << 40);
  EXPECT_EQ(f.find("i64")->as_int(), -(1ll << 40));
  EXPECT_EQ(f.get_float("f64"), -2.5);
  EXPECT_EQ(f.get_float("u32"), 4e9);  // integers are accepted where a float is asked for
  const auto* strings = f.find("strings")->as_array();
  ASSERT_EQ(strings->size(), 2u);
  EXPECT_EQ(*(*strings)[1].as_string(), "bc");
  const auto* nested = f.find("nested")->as_array();
  ASSERT_EQ(nested->size(), 2u);
  EXPECT_EQ((*(*nested)[1].as_array())[1].as_int(), -9);
  EXPECT_THROW(f.get_uint("i8"), FormatError);    // negative: not a count
  EXPECT_THROW(f.get_string("u8"), FormatError);  // wrong type
  EXPECT_EQ(f.get_uint("missing"), std::nullopt);
  EXPECT_THROW(f.require_uint("missing"), FormatError);
}

TEST(GgufFile, OverlappingTensorDataIsRefused) {
  // "b" (F32 [8] at 32) starts inside "a" (F32 [16], 64 bytes at 0).
  GgufBytes g;
  g.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32);
  g.pad_to(32).zeros(96);
  const std::string e = parse_error(g);
  EXPECT_NE(
      e.find("tensor \"b\" (data offset 32) overlaps tensor \"a\" (64 bytes at data offset 0)"),
      std::string::npos)
      << e;
  // Adjacent tensors are fine.
  GgufBytes ok;
  ok.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 32);
  ok.pad_to(32).zeros(64);
  EXPECT_NO_THROW(GgufFile::parse(ok.bytes(), "t.gguf"));
}

TEST(GgufFile, CustomAlignment) {
  GgufBytes g;
  g.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {8}, 0, 64);
  g.pad_to(64).zeros(64 + 32);
  const GgufFile f = GgufFile::parse(g.bytes(), "t.gguf");
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  EXPECT_EQ(f.tensors()[0].file_offset, f.data_offset() + 64);
}

TEST(GgufFile, TruncatedAtEveryOffsetIsAFormatError) {
  const GgufBytes full = small_model();
  for (size_t n = 0; n < full.b.size(); ++n) {
    GgufBytes cut;
    cut.b.assign(full.b.begin(), full.b.begin() + n);
    const std::string e = parse_error(cut);
    ASSERT_FALSE(e.empty()) << "no error when truncated to " << n << " bytes";
    ASSERT_NE(e.find("t.gguf: byte "), std::string::npos) << e;
  }
}

TEST(GgufFile, BadInputsNameWhatIsWrongAndWhere) {
  struct Case {
    const char* name;
    GgufBytes bytes;
    const char* expect;
  };
  std::vector<Case> cases;
  {
    GgufBytes g = small_model();
    g.b[0] = 'X';
    cases.push_back({"magic", g, "byte 0: not a GGUF file"});
  }
  // Pre-GGUF files: the uint32 magic 'ggml' / 'ggjt' written little-endian (bytes "lmgg" /
  // "tjgg"), as llama.cpp's old converters did.
  for (uint32_t old : {0x67676d6cu, 0x67676a74u, 0x67676d66u}) {
    GgufBytes g;
    g.pod<uint32_t>(old).pod<uint32_t>(1);
    g.zeros(16);
    cases.push_back({"pre-GGUF", g, "byte 0: a pre-GGUF ggml file"});
  }
  {
    GgufBytes g;
    g.b = {'F', 'U', 'G', 'G', 0, 0, 0, 3};
    g.zeros(16);
    cases.push_back({"byte-swapped magic", g, "byte 0: a big-endian GGUF file"});
  }
  {
    GgufBytes g;
    g.header(0, 0, 1);
    cases.push_back({"version 1", g, "byte 4: GGUF version 1 is not supported"});
  }
  {
    GgufBytes g;
    g.b = {'G', 'G', 'U', 'F', 0, 0, 0, 3};
    g.zeros(16);
    cases.push_back({"big-endian", g, "big-endian"});
  }
  {
    GgufBytes g;
    g.header(0, 1ull << 60);
    cases.push_back({"huge kv count", g, "metadata count"});
  }
  {
    GgufBytes g;
    g.header(1ull << 60, 0);
    cases.push_back({"huge tensor count", g, "tensor count"});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("k").pod<uint32_t>(8).pod<uint64_t>(1ull << 50);
    cases.push_back({"string longer than file", g, "claims 1125899906842624 bytes"});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("k").pod<uint32_t>(9).pod<uint32_t>(4).pod<uint64_t>(1ull << 40);
    cases.push_back({"array longer than file", g, "array claims"});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("k").pod<uint32_t>(13).pod<uint32_t>(0);
    cases.push_back({"unknown value type", g, "unknown value type 13"});
  }
  {
    GgufBytes g;
    g.header(0, 2).kv_u32("k", 1).kv_u32("k", 2);
    cases.push_back({"duplicate key", g, "duplicate metadata key \"k\""});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("k").pod<uint32_t>(8).str("bad \xC3\x28 utf8");
    cases.push_back({"invalid utf-8", g, "not valid UTF-8"});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("k").pod<uint32_t>(7).pod<uint8_t>(2);
    cases.push_back({"bool 2", g, "neither 0 nor 1"});
  }
  {
    GgufBytes g;
    g.header(0, 1).str("deep").pod<uint32_t>(9);  // an array of arrays of arrays ...
    for (int i = 0; i < 20; ++i) g.pod<uint32_t>(9).pod<uint64_t>(1);
    g.zeros(64);
    cases.push_back({"deep nesting", g, "nested deeper"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {4}, 99, 0).pad_to(32).zeros(32);
    cases.push_back({"unknown tensor type", g, "unknown or unsupported type id 99"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {1ull << 40, 1ull << 40}, 0, 0).pad_to(32).zeros(32);
    cases.push_back({"dims overflow", g, "overflows"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {4, 0}, 0, 0).pad_to(32).zeros(32);
    cases.push_back({"zero dim", g, "zero dimension"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {4, 1, 1, 1, 1}, 0, 0).pad_to(32).zeros(32);
    cases.push_back({"five dims", g, "5 dimensions"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {4}, 0, 8).pad_to(32).zeros(64);
    cases.push_back({"misaligned offset", g, "not a multiple of the alignment 32"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {1024}, 0, 0).pad_to(32).zeros(100);
    cases.push_back({"data past end", g, "extends past the end"});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {4}, 0, 1ull << 62).pad_to(32).zeros(32);
    cases.push_back({"offset past end", g, "extends past the end"});
  }
  {
    GgufBytes g;
    g.header(2, 0).tensor("t", {4}, 0, 0).tensor("t", {4}, 0, 32).pad_to(32).zeros(64);
    cases.push_back({"duplicate tensor", g, "duplicate tensor name \"t\""});
  }
  {
    GgufBytes g;
    g.header(1, 0).tensor("t", {33}, 8, 0).pad_to(32).zeros(64);
    cases.push_back({"partial block", g, "not a multiple of the Q8_0 block size 32"});
  }
  {
    GgufBytes g;
    g.header(0, 1).kv_u32("general.alignment", 48);
    cases.push_back({"bad alignment", g, "power of two"});
  }
  for (const Case& c : cases) {
    const std::string e = parse_error(c.bytes);
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.name << ": got \"" << e << "\"";
    EXPECT_EQ(e.rfind("t.gguf: byte ", 0), 0u) << c.name << ": " << e;
  }
}

TEST(Utf8, Validation) {
  EXPECT_TRUE(loaders::is_valid_utf8("plain ascii"));
  EXPECT_TRUE(loaders::is_valid_utf8("Grüße 世界 🦊"));
  EXPECT_FALSE(loaders::is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(loaders::is_valid_utf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(loaders::is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(loaders::is_valid_utf8("\xE4\xB8"));          // truncated
  EXPECT_FALSE(loaders::is_valid_utf8("\x80"));              // stray continuation
}

}  // namespace
}  // namespace bcvk
