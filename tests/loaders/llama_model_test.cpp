// Model loading: a tiny model written by the tests as GGUF and as a Hugging Face directory gives
// the same config and the same weights (Q/K up to the documented RoPE row order); the default
// model loads with its real shapes; safetensors files that lie are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "loaders/llama_model.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk {
namespace {

using loaders::LlamaModelFile;
using loaders::RopeLayout;

using test::TempDir;

void expect_same_weights(const LlamaModelFile& gguf, const LlamaModelFile& hf, float tol) {
  const auto& c = gguf.config();
  auto near = [&](const std::vector<float>& a, const std::vector<float>& b,
                  const std::string& what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_NEAR(a[i], b[i], tol * (1 + std::abs(b[i]))) << what << " at " << i;
  };
  near(gguf.token_embd().to_f32(), hf.token_embd().to_f32(), "token_embd");
  near(gguf.output().to_f32(), hf.output().to_f32(), "output");
  near(gguf.output_norm().to_f32(), hf.output_norm().to_f32(), "output_norm");
  for (uint32_t l = 0; l < c.n_layers; ++l) {
    const auto& G = gguf.layers()[l];
    const auto& H = hf.layers()[l];
    near(G.wq.to_f32(), loaders::permute_hf_to_gguf_rope(H.wq.to_f32(), c.n_heads, c.n_embd), "wq");
    near(G.wk.to_f32(), loaders::permute_hf_to_gguf_rope(H.wk.to_f32(), c.n_kv_heads, c.n_embd),
         "wk");
    near(G.wv.to_f32(), H.wv.to_f32(), "wv");
    near(G.wo.to_f32(), H.wo.to_f32(), "wo");
    near(G.gate.to_f32(), H.gate.to_f32(), "gate");
    near(G.up.to_f32(), H.up.to_f32(), "up");
    near(G.down.to_f32(), H.down.to_f32(), "down");
    near(G.attn_norm.to_f32(), H.attn_norm.to_f32(), "attn_norm");
    near(G.ffn_norm.to_f32(), H.ffn_norm.to_f32(), "ffn_norm");
  }
}

TEST(LlamaModel, GgufAndHuggingFaceGiveTheSameModel) {
  for (bool tied : {true, false}) {
    TempDir dir;
    test::TinyConfig cfg;
    cfg.tied = tied;
    const auto m = test::TinyModel::random(cfg);
    m.write_gguf(dir.path() / "tiny.gguf");
    m.write_hf(dir.path() / "hf");
    const auto g = LlamaModelFile::open(dir.path() / "tiny.gguf");
    const auto h = LlamaModelFile::open(dir.path() / "hf");
    EXPECT_EQ(g.rope_layout(), RopeLayout::kAdjacentPairs);
    EXPECT_EQ(h.rope_layout(), RopeLayout::kHalfSplit);
    for (const auto* c : {&g.config(), &h.config()}) {
      EXPECT_EQ(c->n_layers, cfg.n_layers);
      EXPECT_EQ(c->n_embd, cfg.n_embd);
      EXPECT_EQ(c->n_ff, cfg.n_ff);
      EXPECT_EQ(c->n_heads, cfg.n_heads);
      EXPECT_EQ(c->n_kv_heads, cfg.n_kv_heads);
      EXPECT_EQ(c->n_vocab, cfg.n_vocab);
      EXPECT_EQ(c->head_dim, cfg.n_embd / cfg.n_heads);
      EXPECT_EQ(c->tied_embeddings, tied);
      EXPECT_FLOAT_EQ(c->rope_base, cfg.rope_base);
    }
    expect_same_weights(g, h, 0.0f);
  }
}

TEST(LlamaModel, HalfPrecisionSafetensors) {
  TempDir dir;
  const auto m = test::TinyModel::random({});
  m.write_gguf(dir.path() / "tiny.gguf");
  for (const char* dtype : {"F16", "BF16"}) {
    m.write_hf(dir.path() / dtype, dtype);
    const auto h = LlamaModelFile::open(dir.path() / dtype);
    EXPECT_EQ(h.layers()[0].wq.type,
              std::string(dtype) == "F16" ? gguf::GgmlType::F16 : gguf::GgmlType::BF16);
    expect_same_weights(LlamaModelFile::open(dir.path() / "tiny.gguf"), h,
                        std::string(dtype) == "F16" ? 1e-3f : 8e-3f);
  }
}

TEST(LlamaModel, PermutationMatchesIndependentDefinition) {
  std::vector<float> w(8 * 3);  // 2 heads of 4 rows, 3 columns
  for (size_t i = 0; i < w.size(); ++i) w[i] = float(i);
  EXPECT_EQ(loaders::permute_hf_to_gguf_rope(w, 2, 3), test::hf_to_gguf_rows(w, 2, 3));
  // Head 0, rows 0..3 in HF order [r0 r1 | r2 r3] become r0 r2 r1 r3.
  const auto p = loaders::permute_hf_to_gguf_rope(w, 2, 3);
  EXPECT_EQ(p[3], 6.0f);  // new row 1 = old row 2
  EXPECT_EQ(p[6], 3.0f);  // new row 2 = old row 1
}

TEST(LlamaModel, DefaultModelShapes) {
  const std::string path = std::string(BCVK_MODEL_DIR) + "/SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: run scripts/setup.sh";
  const auto m = LlamaModelFile::open(path);
  const auto& c = m.config();
  EXPECT_EQ(c.n_layers, 30u);
  EXPECT_EQ(c.n_embd, 576u);
  EXPECT_EQ(c.n_ff, 1536u);
  EXPECT_EQ(c.n_heads, 9u);
  EXPECT_EQ(c.n_kv_heads, 3u);
  EXPECT_EQ(c.n_vocab, 49152u);
  EXPECT_TRUE(c.tied_embeddings);
  EXPECT_EQ(m.output().name, "token_embd.weight");
  EXPECT_EQ(m.layers()[29].down.rows, 576u);
  EXPECT_EQ(m.layers()[29].down.cols, 1536u);
  EXPECT_EQ(m.layers()[0].gate.type, gguf::GgmlType::Q4_1);
}

TEST(LlamaModel, ShapeMismatchIsNamed) {
  TempDir dir;
  test::TinyConfig cfg;
  auto m = test::TinyModel::random(cfg);
  m.write_hf(dir.path());
  // Claim a wider MLP than the tensors have.
  nlohmann::json j = nlohmann::json::parse(std::ifstream(dir.path() / "config.json"));
  j["intermediate_size"] = 128;
  std::ofstream(dir.path() / "config.json") << j.dump();
  try {
    LlamaModelFile::open(dir.path());
    FAIL() << "accepted a config that does not match the tensors";
  } catch (const loaders::FormatError& e) {
    EXPECT_NE(
        std::string(e.what()).find("mlp.gate_proj.weight\" is 96 x 64, the config needs 128 x 64"),
        std::string::npos)
        << e.what();
  }
}

// safetensors bytes from a header object and a data size.
std::vector<std::byte> st_bytes(const std::string& header, size_t data = 16) {
  std::vector<std::byte> b(8 + header.size() + data);
  const uint64_t n = header.size();
  std::memcpy(b.data(), &n, 8);
  std::memcpy(b.data() + 8, header.data(), header.size());
  return b;
}

std::string st_error(const std::vector<std::byte>& b) {
  try {
    loaders::SafetensorsFile::parse(b, "m.safetensors");
  } catch (const loaders::FormatError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, ReadsAValidFile) {
  const auto b = st_bytes(
      R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}})");
  const auto f = loaders::SafetensorsFile::parse(b, "m.safetensors");
  ASSERT_NE(f.tensor("a"), nullptr);
  EXPECT_EQ(f.tensor("a")->shape, (std::vector<uint64_t>{2, 2}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST(Safetensors, HeadersThatLieAreRefused) {
  struct Case {
    std::vector<std::byte> bytes;
    const char* expect;
  };
  std::vector<Case> cases = {
      {st_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,32]}})"), "lie outside"},
      {st_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})"), "need 16"},
      {st_bytes(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
       "overlap"},
      {st_bytes(R"({"a":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})"),
       "dtype I64 is not supported"},
      {st_bytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})"),
       "not a non-negative integer"},
      {st_bytes(
           R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}})"),
       "overflows"},
      {st_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})"), "lie outside"},
      {st_bytes(R"({"a": nonsense)"), "does not parse"},
      {st_bytes(R"([1,2,3])"), "not an object"},
      {st_bytes(R"({"a":{"shape":[2]}})"), "needs dtype, shape and data_offsets"},
  };
  std::vector<std::byte> huge(16);
  const uint64_t n = 1ull << 40;
  std::memcpy(huge.data(), &n, 8);
  cases.push_back({huge, "header size 1099511627776"});
  cases.push_back({std::vector<std::byte>(5), "truncated"});
  for (const auto& c : cases) {
    const std::string e = st_error(c.bytes);
    EXPECT_NE(e.find(c.expect), std::string::npos)
        << "expected \"" << c.expect << "\", got \"" << e << "\"";
    EXPECT_EQ(e.rfind("m.safetensors: byte ", 0), 0u) << e;
  }
}

TEST(Safetensors, TruncatedAtEveryOffset) {
  const auto full = st_bytes(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})");
  for (size_t n = 0; n < full.size(); ++n) {
    std::vector<std::byte> cut(full.begin(), full.begin() + n);
    ASSERT_FALSE(st_error(cut).empty()) << "accepted a file cut to " << n << " bytes";
  }
}

}  // namespace
}  // namespace bcvk

namespace bcvk {
namespace {

// Values that would silently turn every output into NaN are refused at load, naming the tensor.
TEST(LlamaModel, NonFiniteNormsAndRopeBaseAreRefused) {
  test::TempDir dir;
  auto error_of = [&](const test::TinyModel& tm, const std::string& name) {
    tm.write_gguf(dir / name);
    try {
      loaders::LlamaModelFile::open(dir / name);
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  test::TinyModel nan_norm = test::TinyModel::random({});
  nan_norm.hf.at("model.layers.1.post_attention_layernorm.weight")[5] = NAN;
  std::string e = error_of(nan_norm, "nan.gguf");
  EXPECT_NE(e.find("tensor \"blk.1.ffn_norm.weight\" holds a non-finite value"), std::string::npos)
      << e;
  EXPECT_NE(e.find("at element 5"), std::string::npos) << e;
  test::TinyModel inf_final = test::TinyModel::random({});
  inf_final.hf.at("model.norm.weight")[0] = INFINITY;
  e = error_of(inf_final, "inf.gguf");
  EXPECT_NE(e.find("output_norm.weight"), std::string::npos) << e;
  test::TinyConfig c;
  c.rope_base = INFINITY;
  e = error_of(test::TinyModel::random(c), "rope.gguf");
  EXPECT_NE(e.find("RoPE frequency base is inf"), std::string::npos) << e;
  // A clean model still loads.
  EXPECT_EQ(error_of(test::TinyModel::random({}), "ok.gguf"), "no error");
}

}  // namespace
}  // namespace bcvk
