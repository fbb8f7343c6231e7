// Compressed models as the loader reads them (docs/FORMATS.md, "Compressed models"): files are
// built here by hand with the plain GGUF writer, independently of bcvk compress's writer.  A
// well-formed circulant tensor is read back value for value and its dense weight is absent; every
// inconsistency -- wrong B, shape that does not match the config, missing metadata, both forms
// present, unsupported type -- is refused with an error naming the tensor.
#include <gtest/gtest.h>

#include <cmath>

#include <map>

#include "loaders/gguf/gguf_writer.h"
#include "loaders/half.h"
#include "loaders/llama_model.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk {
namespace {

using loaders::LlamaModelFile;

// How a test wants the circulant stand-in for blk.0.ffn_gate.weight (n_ff x n_embd = 96 x 64).
struct CirculantSpec {
  uint32_t block = 16;
  std::vector<uint64_t> dims;  // empty: the right [B, q, p]
  gguf::GgmlType type = gguf::GgmlType::F32;
  uint64_t rows = 96, cols = 64;  // metadata
  bool keep_dense = false;
  const char* drop_key = nullptr;  // "block_size", "rows" or "cols"
  float poison = 0;                // non-zero: the value written at element 7
  // The Q8_0 packed-spectra form (blk.0.ffn_gate.circulant_spectra, dims [q*B, p]); with
  // `both`, the columns tensor is written too.
  bool spectra = false, both = false;
};

class CirculantTensorTest : public ::testing::Test {
 protected:
  test::TempDir dir;
  std::filesystem::path dense_path;
  void SetUp() override {
    dense_path = dir / "dense.gguf";
    test::TinyModel::random(test::TinyConfig{}).write_gguf(dense_path);
  }
  // The tiny model with blk.0.ffn_gate replaced as `s` says; values c[i] = i / 1000.
  std::filesystem::path write(const CirculantSpec& s, const std::string& name) {
    const auto in = gguf::GgufFile::open(dense_path);
    gguf::GgufWriter w(static_cast<uint32_t>(in.alignment()));
    for (const auto& [k, v] : in.metadata()) w.set(k, v);
    const uint32_t B = s.block;
    std::vector<uint64_t> dims = s.dims;
    if (dims.empty() && s.spectra) dims = {(64 + B - 1) / B * B, (96 + B - 1) / B};
    if (dims.empty()) dims = {B, (64 + B - 1) / B, (96 + B - 1) / B};
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    std::vector<float> c(n);
    for (size_t i = 0; i < n; ++i) c[i] = float(i) / 1000.0f;
    if (s.poison != 0) c[7] = s.poison;
    for (const auto& t : in.tensors()) {
      if (t.name == "blk.0.ffn_gate.weight") {
        if (s.keep_dense) w.add_tensor_view(t.name, t.dims, t.type, in.tensor_data(t));
        if (s.both)
          w.add_tensor_from_f32("blk.0.ffn_gate.circulant", {B, 64 / B, 96 / B},
                                gguf::GgmlType::F32, std::vector<float>(96 * 64 / B));
        w.add_tensor_from_f32(
            s.spectra ? "blk.0.ffn_gate.circulant_spectra" : "blk.0.ffn_gate.circulant", dims,
            s.type, c);
        continue;
      }
      w.add_tensor_view(t.name, t.dims, t.type, in.tensor_data(t));
    }
    const std::map<std::string, uint64_t> keys = {
        {"block_size", B}, {"rows", s.rows}, {"cols", s.cols}};
    for (const auto& [field, value] : keys)
      if (!s.drop_key || field != s.drop_key)
        w.set_u32("bcvk.circulant.blk.0.ffn_gate.circulant." + field, uint32_t(value));
    const auto path = dir / name;
    w.write(path);
    return path;
  }
  // The loader's error for `s`, which must name the circulant tensor and contain `needle`.
  void expect_refused(const CirculantSpec& s, const std::string& needle) {
    const auto path = write(s, "bad.gguf");
    try {
      LlamaModelFile::open(path);
      ADD_FAILURE() << "loaded a file that should be refused (" << needle << ")";
    } catch (const loaders::FormatError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("blk.0.ffn_gate.circulant"), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    }
  }
};

TEST_F(CirculantTensorTest, NamesAndKeysAreTheDocumentedOnes) {
  EXPECT_EQ(loaders::circulant_tensor_name(7, "down"), "blk.7.ffn_down.circulant");
  EXPECT_EQ(loaders::circulant_key(7, "down", "block_size"),
            "bcvk.circulant.blk.7.ffn_down.circulant.block_size");
}

TEST_F(CirculantTensorTest, AWellFormedTensorIsReadInPlaceOfTheDenseWeight) {
  for (auto type : {gguf::GgmlType::F32, gguf::GgmlType::F16}) {
    for (uint32_t B : {16u, 48u}) {  // 48 pads the 64 columns to 2 x 48
      CirculantSpec s;
      s.block = B;
      s.type = type;
      const auto m = LlamaModelFile::open(write(s, "ok.gguf"));
      EXPECT_TRUE(m.compressed());
      const auto& L = m.layers()[0];
      ASSERT_TRUE(L.circulant.gate.present());
      EXPECT_FALSE(L.circulant.up.present());
      EXPECT_FALSE(m.layers()[1].circulant.gate.present());
      EXPECT_TRUE(L.gate.data.empty()) << "the dense weight must not be readable";
      EXPECT_EQ(L.gate.rows, 96u);
      EXPECT_EQ(L.gate.cols, 64u);
      EXPECT_EQ(L.circulant.gate.block, B);
      EXPECT_EQ(L.circulant.gate.rows, 96u);
      EXPECT_EQ(L.circulant.gate.cols, 64u);
      const uint64_t p = (96 + B - 1) / B, q = (64 + B - 1) / B;
      EXPECT_EQ(L.circulant.gate.parameters(), p * q * B);
      const auto c = L.circulant.gate.to_f32();
      ASSERT_EQ(c.size(), p * q * B);
      for (size_t i = 0; i < c.size(); ++i) {
        const float want = type == gguf::GgmlType::F32
                               ? float(i) / 1000.0f
                               : loaders::half_to_float(loaders::float_to_half(float(i) / 1000.0f));
        ASSERT_EQ(c[i], want) << "parameter " << i;
      }
    }
  }
  EXPECT_FALSE(LlamaModelFile::open(dense_path).compressed());
}

TEST_F(CirculantTensorTest, DimsThatDisagreeWithTheBlockSizeAreRefused) {
  CirculantSpec s;
  s.block = 16;
  s.dims = {32, 2, 3};  // stored with B = 32, metadata says 16
  expect_refused(s, "block size 16");
  s.dims = {16, 4, 5};  // p should be 6
  expect_refused(s, "[B, q, p] = [16, 4, 6]");
  s.dims = {16, 24};  // not 3-D
  expect_refused(s, "has dims [16, 24]");
}

TEST_F(CirculantTensorTest, AShapeThatDoesNotMatchTheConfigIsRefused) {
  CirculantSpec s;
  s.rows = 64;
  s.cols = 96;  // the down projection's shape, stored as gate
  expect_refused(s, "the config needs 96 x 64");
}

TEST_F(CirculantTensorTest, MissingMetadataIsRefused) {
  for (const char* key : {"block_size", "rows", "cols"}) {
    CirculantSpec s;
    s.drop_key = key;
    expect_refused(s,
                   std::string("has no metadata \"bcvk.circulant.blk.0.ffn_gate.circulant.") + key);
  }
}

// A NaN or infinite parameter makes every output NaN (the model then "generates" <|endoftext|>):
// refused at load with the tensor and element named, in f32 and f16 files.
TEST_F(CirculantTensorTest, NonFiniteParametersAreRefused) {
  for (const float bad : {NAN, INFINITY, -INFINITY})
    for (const auto type : {gguf::GgmlType::F32, gguf::GgmlType::F16}) {
      CirculantSpec s;
      s.poison = bad;
      s.type = type;
      expect_refused(s, "holds a non-finite value");
      expect_refused(s, "at element 7");
    }
}

TEST_F(CirculantTensorTest, ZeroOrOversizedBlockIsRefused) {
  CirculantSpec s;
  s.block = 0;
  s.dims = {1, 64, 96};
  expect_refused(s, "block size 0");
  s.block = 200;  // larger than both sides of 96 x 64
  s.dims = {200, 1, 1};
  expect_refused(s, "block size 200, outside 1..96");
}

TEST_F(CirculantTensorTest, BothDenseAndCirculantIsRefused) {
  CirculantSpec s;
  s.keep_dense = true;
  expect_refused(s, "are both present");
}

TEST_F(CirculantTensorTest, QuantizedCirculantTensorsAreRefused) {
  CirculantSpec s;
  s.block = 32;  // 32 x 2 x 3 values: a whole number of Q8_0 blocks
  s.type = gguf::GgmlType::Q8_0;
  expect_refused(s, "has type Q8_0");
}

// Q8_0 packed spectra (docs/FORMATS.md): read as stored, with the same metadata keys; the values
// are each 32-group's f16 scale times its signed bytes (checked against the scale bound here).
TEST_F(CirculantTensorTest, Q8SpectraAreReadInPlaceOfTheDenseWeight) {
  EXPECT_EQ(loaders::circulant_spectra_tensor_name(7, "down"), "blk.7.ffn_down.circulant_spectra");
  for (uint32_t B : {16u, 32u, 64u}) {
    CirculantSpec s;
    s.block = B;
    s.spectra = true;
    s.type = gguf::GgmlType::Q8_0;
    const auto m = LlamaModelFile::open(write(s, "ok.gguf"));
    const auto& t = m.layers()[0].circulant.gate;
    ASSERT_TRUE(t.present());
    EXPECT_TRUE(t.spectra);
    EXPECT_EQ(t.type, gguf::GgmlType::Q8_0);
    EXPECT_EQ(t.name, "blk.0.ffn_gate.circulant_spectra");
    EXPECT_EQ(t.block, B);
    EXPECT_TRUE(m.layers()[0].gate.data.empty());
    const uint64_t p = (96 + B - 1) / B, q = (64 + B - 1) / B;
    const auto v = t.to_f32();
    ASSERT_EQ(v.size(), p * q * B);
    for (size_t i = 0; i < v.size(); ++i) {
      // The group's largest value is its last, (32 g + 31) / 1000; the step is that / 127.
      const double step = double(i / 32 * 32 + 31) / 1000.0 / 127.0;
      ASSERT_NEAR(v[i], double(i) / 1000.0, 0.51 * step + 1e-3 * step * 127) << i;
    }
  }
}

TEST_F(CirculantTensorTest, MalformedQ8SpectraAreRefused) {
  CirculantSpec s;
  s.spectra = true;
  s.type = gguf::GgmlType::F32;
  expect_refused(s, "circulant spectra tensors are Q8_0");
  s.type = gguf::GgmlType::Q8_0;
  s.dims = {64, 5};  // p should be 6
  expect_refused(s, "[q*B, p] = [64, 6]");
  s.dims = {32, 2, 6};  // a 3-D tensor of the right size
  expect_refused(s, "has dims [32, 2, 6]");
  s.dims = {};
  s.block = 1;  // odd: packed spectra do not exist
  expect_refused(s, "even block size");
  s.block = 16;
  s.both = true;
  expect_refused(s, "are both present");
  s.both = false;
  s.drop_key = "block_size";
  expect_refused(s, "has no metadata \"bcvk.circulant.blk.0.ffn_gate.circulant.block_size");
}

TEST_F(CirculantTensorTest, MissingDenseAndCirculantNamesBoth) {
  const auto in = gguf::GgufFile::open(dense_path);
  gguf::GgufWriter w(static_cast<uint32_t>(in.alignment()));
  for (const auto& [k, v] : in.metadata()) w.set(k, v);
  for (const auto& t : in.tensors())
    if (t.name != "blk.1.ffn_down.weight")
      w.add_tensor_view(t.name, t.dims, t.type, in.tensor_data(t));
  w.write(dir / "missing.gguf");
  try {
    LlamaModelFile::open(dir / "missing.gguf");
    ADD_FAILURE() << "loaded a model without blk.1.ffn_down";
  } catch (const loaders::FormatError& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "blk.1.ffn_down.weight\" is missing (and no \"blk.1.ffn_down.circulant"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace bcvk
