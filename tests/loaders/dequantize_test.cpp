// Dequantization: hand-worked blocks for every type (values derived on paper from the block
// layouts), and random blocks checked against gguf-py's decoding (tests/data/dequant_reference.json,
// made by scripts/fixtures/make_dequant_fixture.py).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "loaders/gguf/dequantize.h"
#include "loaders/half.h"

namespace bcvk {
namespace {

using gguf::GgmlType;

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& block, size_t n) {
  std::vector<float> y(n);
  gguf::dequantize(t, std::as_bytes(std::span<const uint8_t>(block)), y);
  return y;
}

void put_half(std::vector<uint8_t>& b, size_t off, float v) {
  const uint16_t h = loaders::float_to_half(v);
  b[off] = h & 0xff;
  b[off + 1] = h >> 8;
}

TEST(Half, ExactValuesAndRounding) {
  EXPECT_EQ(loaders::float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(loaders::float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(loaders::float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(loaders::float_to_half(65520.0f), 0x7c00);        // rounds up to inf
  EXPECT_EQ(loaders::float_to_half(0x1p-24f), 0x0001);        // smallest subnormal
  EXPECT_EQ(loaders::float_to_half(1.0f + 0x1p-11f), 0x3c00);  // tie to even (down)
  EXPECT_EQ(loaders::float_to_half(1.0f + 3 * 0x1p-11f), 0x3c02);  // tie to even (up)
  EXPECT_EQ(loaders::half_to_float(0x3555), 0.333251953125f);
  EXPECT_EQ(loaders::half_to_float(0x0001), 0x1p-24f);
  EXPECT_TRUE(std::isinf(loaders::half_to_float(0xfc00)));
  EXPECT_TRUE(std::isnan(loaders::half_to_float(0x7e00)));
  for (uint32_t h = 0; h < 0x7c00; ++h)  // every finite positive half survives the round trip
    ASSERT_EQ(loaders::float_to_half(loaders::half_to_float(static_cast<uint16_t>(h))), h) << h;
  EXPECT_EQ(loaders::bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(loaders::float_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(loaders::float_to_bf16(1.00390625f), 0x3f80);  // tie to even
}

TEST(Dequantize, Q4_0) {
  std::vector<uint8_t> b(18);
  put_half(b, 0, 0.5f);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  const auto y = decode(GgmlType::Q4_0, b, 32);
  EXPECT_EQ(y[0], -4.0f);   // (0 - 8) * 0.5
  EXPECT_EQ(y[15], 3.5f);   // (15 - 8) * 0.5
  EXPECT_EQ(y[16], 3.5f);   // high nibble of qs[0] = 15
  EXPECT_EQ(y[31], -4.0f);
}

TEST(Dequantize, Q4_1) {
  std::vector<uint8_t> b(20);
  put_half(b, 0, 0.25f);
  put_half(b, 2, -1.0f);
  b[4] = 0x3a;  // value 0 gets 10, value 16 gets 3
  const auto y = decode(GgmlType::Q4_1, b, 32);
  EXPECT_EQ(y[0], 1.5f);     // 10 * 0.25 - 1
  EXPECT_EQ(y[16], -0.25f);  // 3 * 0.25 - 1
  EXPECT_EQ(y[1], -1.0f);
}

TEST(Dequantize, Q5_0AndQ5_1FifthBit) {
  std::vector<uint8_t> b(22);
  put_half(b, 0, 1.0f);
  b[2] = 0x01;  // qh bit 0: value 0
  b[5] = 0x80;  // qh bit 31: value 31
  b[6 + 15] = 0xf0;  // value 31's low nibble bits = 15
  auto y = decode(GgmlType::Q5_0, b, 32);
  EXPECT_EQ(y[0], 0.0f);    // 16 - 16
  EXPECT_EQ(y[1], -16.0f);  // 0 - 16
  EXPECT_EQ(y[31], 15.0f);  // 31 - 16
  std::vector<uint8_t> c(24);
  put_half(c, 0, 2.0f);
  put_half(c, 2, 0.5f);
  c[4 + 2] = 0x01;  // qh bit 16: value 16
  c[8 + 0] = 0x37;  // value 0: 7, value 16: 3 | 16 = 19
  y = decode(GgmlType::Q5_1, c, 32);
  EXPECT_EQ(y[0], 14.5f);   // 7 * 2 + 0.5
  EXPECT_EQ(y[16], 38.5f);  // 19 * 2 + 0.5
}

TEST(Dequantize, Q8_0) {
  std::vector<uint8_t> b(34);
  put_half(b, 0, 0.125f);
  b[2] = 0x80;  // -128
  b[3] = 0x7f;  // 127
  b[33] = 0xff;  // -1
  const auto y = decode(GgmlType::Q8_0, b, 32);
  EXPECT_EQ(y[0], -16.0f);
  EXPECT_EQ(y[1], 15.875f);
  EXPECT_EQ(y[31], -0.125f);
}

TEST(Dequantize, Q2_K) {
  std::vector<uint8_t> b(84);
  b[0] = 0x21;   // sub-block 0 (values 0..15): scale 1, min 2
  b[15] = 0x03;  // sub-block 15 (values 240..255): scale 3, min 0
  b[16] = 0x03;  // qs[0], shift 0: value 0 = 3
  b[16 + 63] = 0xc0;  // qs[63], shift 6: second half, group 3, sub-block 1, l = 15: value 255 = 3
  put_half(b, 80, 2.0f);   // d
  put_half(b, 82, 0.5f);   // dmin
  const auto y = decode(GgmlType::Q2_K, b, 256);
  EXPECT_EQ(y[0], 5.0f);     // 2 * 1 * 3 - 0.5 * 2
  EXPECT_EQ(y[1], -1.0f);    // q = 0
  EXPECT_EQ(y[255], 18.0f);  // 2 * 3 * 3
  EXPECT_EQ(y[16], 0.0f);    // sub-block 1: scale 0, min 0
}

TEST(Dequantize, Q3_K) {
  std::vector<uint8_t> b(110);
  // Scale 0 = 33 -> 33 - 32 = 1 (low nibble 1 in s[0], high bits 2 in s[8] bits 0..1).
  b[96 + 0] = 0x01;
  b[96 + 8] = 0x02;
  // Scale 15: low nibble from s[7] >> 4, high bits from s[11] bits 6..7; make it 0 -> -32.
  b[0] = 0x01;        // hmask[0] bit 0: value 0 keeps its q (no -4)
  b[32] = 0x02;       // qs[0] shift 0: q = 2
  put_half(b, 108, 0.5f);
  const auto y = decode(GgmlType::Q3_K, b, 256);
  EXPECT_EQ(y[0], 1.0f);     // 0.5 * 1 * 2
  EXPECT_EQ(y[1], -2.0f);    // 0.5 * 1 * (0 - 4)
  EXPECT_EQ(y[255], 64.0f);  // 0.5 * (0 - 32) * (0 - 4)
}

TEST(Dequantize, Q4_KAndQ5_K) {
  std::vector<uint8_t> b(144);
  put_half(b, 0, 1.0f);   // d
  put_half(b, 2, 0.25f);  // dmin
  b[4 + 0] = 2;           // sub-block 0 scale 2
  b[4 + 4] = 4;           // sub-block 0 min 4
  // Sub-block 7 (j >= 4): sc = (s[11] & 15) | ((s[3] >> 6) << 4), mn = (s[11] >> 4) | ((s[7] >> 6) << 4)
  b[4 + 11] = 0x21;       // sc low 1, mn low 2
  b[4 + 3] = 0x40;        // sc high bits 1 -> sc = 17
  b[16] = 0x07;           // value 0 = 7
  b[16 + 96 + 31] = 0xf0;  // chunk 3, high nibble, l = 31 -> value 255 = 15
  auto y = decode(GgmlType::Q4_K, b, 256);
  EXPECT_EQ(y[0], 13.0f);     // 1 * 2 * 7 - 0.25 * 4
  EXPECT_EQ(y[255], 254.5f);  // 17 * 15 - 0.25 * 2
  std::vector<uint8_t> c(176);
  put_half(c, 0, 1.0f);
  put_half(c, 2, 0.0f);
  c[4 + 0] = 1;           // sub-block 0 scale 1
  c[4 + 1] = 1;           // sub-block 1 scale 1
  c[16 + 0] = 0x03;       // qh[0]: bit 0 (chunk 0 low) and bit 1 (chunk 0 high)
  c[48 + 0] = 0x21;       // value 0 low nibble 1, value 32 high nibble 2
  y = decode(GgmlType::Q5_K, c, 256);
  EXPECT_EQ(y[0], 17.0f);   // 1 + 16
  EXPECT_EQ(y[32], 18.0f);  // 2 + 16
  EXPECT_EQ(y[1], 0.0f);
}

TEST(Dequantize, Q6_K) {
  std::vector<uint8_t> b(210);
  b[0] = 0x05;           // ql[0] low: value 0 low bits 5; high nibble: value 64 low bits 0
  b[128] = 0x02 | 0x30;  // qh[0]: value 0 high bits 2 -> 37; value 64 high bits 3 -> 48
  b[192 + 0] = 2;        // scale of values 0..15
  b[192 + 4] = static_cast<uint8_t>(-1);  // scale of values 64..79
  put_half(b, 208, 0.5f);
  const auto y = decode(GgmlType::Q6_K, b, 256);
  EXPECT_EQ(y[0], 5.0f);    // 0.5 * 2 * (37 - 32)
  EXPECT_EQ(y[64], -8.0f);  // 0.5 * -1 * (48 - 32)
  EXPECT_EQ(y[1], -32.0f);  // 0.5 * 2 * (0 - 32)
}

TEST(Dequantize, RejectsWrongSizesAndTypes) {
  std::vector<std::byte> b(18);
  std::vector<float> y(31);
  EXPECT_THROW(gguf::dequantize(GgmlType::Q4_0, b, y), std::invalid_argument);
  std::vector<float> y32(32);
  std::vector<std::byte> short_block(17);
  EXPECT_THROW(gguf::dequantize(GgmlType::Q4_0, short_block, y32), std::invalid_argument);
  EXPECT_THROW(gguf::dequantize(GgmlType::IQ4_NL, b, y32), std::invalid_argument);
  EXPECT_FALSE(gguf::can_dequantize(GgmlType::Q8_K));
}

GgmlType type_named(const std::string& name) {
  for (uint32_t id = 0; id < 64; ++id)
    if (auto t = gguf::ggml_type_traits(id); t && t->name == name) return t->type;
  throw std::runtime_error("unknown type " + name);
}

TEST(Dequantize, MatchesGgufPyOnRandomBlocks) {
  std::ifstream in(std::string(BCVK_TEST_DATA_DIR) + "/dequant_reference.json");
  ASSERT_TRUE(in) << "missing tests/data/dequant_reference.json";
  const auto j = nlohmann::json::parse(in);
  std::set<std::string> seen;
  for (const auto& [name, entry] : j["types"].items()) {
    const std::string hex = entry["hex"];
    std::vector<uint8_t> bytes(hex.size() / 2);
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
    const std::vector<float> expected = entry["values"].get<std::vector<float>>();
    const auto y = decode(type_named(name), bytes, expected.size());
    float scale = 0;
    for (float v : expected) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], expected[i], 1e-6f * scale) << name << " value " << i;
    seen.insert(name);
  }
  for (const char* t : {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    EXPECT_TRUE(seen.count(t)) << t << " missing from the fixture";
}

TEST(Dequantize, ToF16) {
  std::vector<uint8_t> b(34);
  put_half(b, 0, 0.5f);
  b[2] = 3;
  std::vector<uint16_t> h(32);
  gguf::dequantize_to_f16(GgmlType::Q8_0, std::as_bytes(std::span<const uint8_t>(b)), h);
  EXPECT_EQ(h[0], loaders::float_to_half(1.5f));
  EXPECT_EQ(h[1], 0);
}

}  // namespace
}  // namespace bcvk
