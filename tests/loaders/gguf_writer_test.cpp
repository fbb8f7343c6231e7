// GGUF writer: write -> read -> write is bit-identical, the real model re-writes to the same
// bytes llama.cpp wrote, Q8_0 quantization matches hand-computed blocks, writes are atomic.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "loaders/gguf/dequantize.h"
#include "loaders/gguf/gguf_writer.h"
#include "loaders/half.h"

namespace bcvk {
namespace {

using gguf::GgmlType;
using gguf::GgufFile;
using gguf::GgufWriter;

GgufWriter sample_writer() {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_i32("some.i32", -7);
  w.set_u64("some.u64", 1ull << 40);
  w.set_f32("some.f32", 0.1f);
  w.set_bool("some.bool", true);
  w.set_strings("tokenizer.ggml.tokens", {"a", "Ġb", "<|im_end|>", "ü"});
  w.set_i32s("tokenizer.ggml.token_type", {1, 1, 3, 1});
  w.set_f32s("some.f32s", {1.5f, -2.25f});
  std::vector<float> v(64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = std::sin(0.37f * i) * 3.0f;
  w.add_tensor_from_f32("t.f32", {64}, GgmlType::F32, v);
  w.add_tensor_from_f32("t.f16", {32, 2}, GgmlType::F16, v);
  w.add_tensor_from_f32("t.bf16", {16, 4}, GgmlType::BF16, v);
  w.add_tensor_from_f32("t.q8_0", {64}, GgmlType::Q8_0, v);
  return w;
}

TEST(GgufWriter, WriteReadWriteIsBitIdentical) {
  const auto bytes = sample_writer().to_bytes();
  const GgufFile f = GgufFile::parse(bytes, "w.gguf");
  EXPECT_EQ(f.require_string("general.architecture"), "llama");
  EXPECT_EQ(f.find("llama.block_count")->type, gguf::ValueType::U32);
  EXPECT_EQ(f.find("some.i32")->as_int(), -7);
  EXPECT_EQ(f.get_uint("some.u64"), 1ull << 40);
  EXPECT_EQ(f.get_float("some.f32"), double(0.1f));
  EXPECT_EQ(f.get_bool("some.bool"), true);
  EXPECT_EQ(*f.find("tokenizer.ggml.tokens")->as_array()->at(3).as_string(), "ü");
  ASSERT_EQ(f.tensors().size(), 4u);
  for (const auto& t : f.tensors()) EXPECT_EQ(t.file_offset % 32, 0u) << t.name;
  const auto f32 = gguf::dequantize_tensor(f, *f.tensor("t.f32"));
  EXPECT_EQ(f32[5], std::sin(0.37f * 5) * 3.0f);
  const auto f16 = gguf::dequantize_tensor(f, *f.tensor("t.f16"));
  EXPECT_EQ(f16[5], loaders::half_to_float(loaders::float_to_half(f32[5])));

  GgufWriter again;
  again.copy_from(f);
  EXPECT_EQ(again.to_bytes(), bytes);
}

TEST(GgufWriter, DefaultModelRewritesToTheSameBytes) {
  const std::string path = std::string(BCVK_MODEL_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup.sh";
  const GgufFile f = GgufFile::open(path);
  GgufWriter w;
  w.copy_from(f);
  const auto bytes = w.to_bytes();
  std::ifstream in(path, std::ios::binary);
  std::vector<char> orig((std::istreambuf_iterator<char>(in)), {});
  ASSERT_EQ(bytes.size(), orig.size());
  EXPECT_EQ(std::memcmp(bytes.data(), orig.data(), orig.size()), 0);
}

TEST(GgufWriter, Q8_0MatchesHandComputedBlock) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = 0.5f * (j - 16);  // -8 .. 7.5: max |x| = 8
  const auto q = gguf::quantize_q8_0(x);
  ASSERT_EQ(q.size(), 34u);
  uint16_t h;
  std::memcpy(&h, q.data(), 2);
  EXPECT_EQ(h, loaders::float_to_half(8.0f / 127.0f));
  EXPECT_EQ(static_cast<int8_t>(q[2]), -127);                  // -8 / (8/127)
  EXPECT_EQ(static_cast<int8_t>(q[2 + 16]), 0);
  EXPECT_EQ(static_cast<int8_t>(q[2 + 17]), 8);                // 0.5 * 127 / 8 = 7.94 -> 8
  EXPECT_EQ(static_cast<int8_t>(q[2 + 31]), 119);              // 7.5 * 127 / 8 = 119.06
  const std::vector<float> zeros(32, 0.0f);
  const auto z = gguf::quantize_q8_0(zeros);
  for (std::byte b : z) EXPECT_EQ(b, std::byte{0});
}

TEST(GgufWriter, RejectsInconsistentTensors) {
  GgufWriter w;
  std::vector<std::byte> b(10);
  EXPECT_THROW(w.add_tensor("x", {4}, GgmlType::F32, b), std::invalid_argument);
  EXPECT_THROW(w.add_tensor("x", {33}, GgmlType::Q8_0, b), std::invalid_argument);
  std::vector<std::byte> ok(16);
  w.add_tensor("x", {4}, GgmlType::F32, ok);
  EXPECT_THROW(w.add_tensor("x", {4}, GgmlType::F32, ok), std::invalid_argument);
  const std::vector<float> v(4);
  EXPECT_THROW(w.add_tensor_from_f32("y", {4}, GgmlType::Q4_K, v), std::invalid_argument);
}

TEST(GgufWriter, WritesAtomically) {
  const auto dir = std::filesystem::temp_directory_path() / ("bcvk-writer-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / "m.gguf";
  std::ofstream(path) << "old contents";
  sample_writer().write(path);
  EXPECT_EQ(GgufFile::open(path).tensors().size(), 4u);
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
  EXPECT_THROW(sample_writer().write(dir / "missing" / "m.gguf"), std::runtime_error);
  std::filesystem::remove_all(dir);
}

// A full disk names the file and the reason (it said only "GGUF write failed" once the file
// outgrew the write buffer).
TEST(GgufWriter, AFullDiskNamesTheFileAndTheReason) {
  GgufWriter w = sample_writer();
  const std::vector<float> big(1 << 20, 0.5f);  // 4 MiB: many buffer flushes
  w.add_tensor_from_f32("big", {1 << 20}, GgmlType::F32, big);
  try {
    w.write("/dev/full");
    FAIL() << "writing to /dev/full succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/full: write failed: No space left on device"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace bcvk
