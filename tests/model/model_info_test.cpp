// What bcvk info reports (runtime/model/model_info): parameters and tensor bytes counted from the
// tiny model's known shapes; a missing tensor and a missing tokenizer reported as problems (the
// file is not ready to run) rather than thrown; a compressed file's projections, block sizes and
// record; the JSON keys of GGUF files and Hugging Face directories.
#include "runtime/model/model_info.h"

#include <gtest/gtest.h>

#include "runtime/model/mlp_patch.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk::model {
namespace {

// The tiny model's parameters from its shapes, written out: embeddings (tied), final norm, and
// per layer two norms, Q, K, V, O and the three MLP matrices.
uint64_t tiny_parameters(const test::TinyConfig& c) {
  const uint64_t hd = c.n_embd / c.n_heads, kv = uint64_t(c.n_kv_heads) * hd;
  const uint64_t layer = 2ull * c.n_embd + uint64_t(c.n_embd) * c.n_embd * 2 +
                         2ull * c.n_embd * kv + 3ull * c.n_embd * c.n_ff;
  return uint64_t(c.n_vocab) * c.n_embd + c.n_embd + c.n_layers * layer;
}

TEST(ModelInfo, CountsParametersAndFindsNoProblemInAGoodFile) {
  test::TempDir dir;
  const test::TinyConfig c;
  test::TinyModel::random(c).write_gguf(dir / "m.gguf");
  const auto f = gguf::GgufFile::open(dir / "m.gguf");
  const GgufInfo info = inspect_gguf(f, (dir / "m.gguf").string());
  EXPECT_EQ(info.parameters, tiny_parameters(c));
  EXPECT_EQ(info.tensor_bytes, tiny_parameters(c) * 4);  // all F32
  EXPECT_EQ(info.tensor_types.at("F32"), 2u + 9u * c.n_layers);
  EXPECT_TRUE(info.problems.empty()) << info.problems.front();
  EXPECT_FALSE(info.compression);
  EXPECT_EQ(info.config.n_layers, c.n_layers);
  const auto j = info_json(f, info, "m.gguf", false);
  EXPECT_EQ(j["ready_to_run"], true);
  EXPECT_EQ(j["parameters"], tiny_parameters(c));
  EXPECT_EQ(j["tensors"].size(), 2u + 9u * c.n_layers);
  EXPECT_FALSE(j.contains("compression"));
}

TEST(ModelInfo, AMissingTensorAndAMissingTokenizerAreProblemsNotErrors) {
  test::TempDir dir;
  test::TinyConfig c;
  c.omit_tensor = "blk.1.ffn_up.weight";
  c.tokenizer = false;
  test::TinyModel::random(c).write_gguf(dir / "broken.gguf");
  const auto f = gguf::GgufFile::open(dir / "broken.gguf");
  const GgufInfo info = inspect_gguf(f, (dir / "broken.gguf").string());
  ASSERT_EQ(info.problems.size(), 2u);
  EXPECT_NE(info.problems[0].find("blk.1.ffn_up.weight"), std::string::npos) << info.problems[0];
  EXPECT_EQ(info.problems[1].rfind("tokenizer: ", 0), 0u) << info.problems[1];
  const auto j = info_json(f, info, "broken.gguf", false);
  EXPECT_EQ(j["ready_to_run"], false);
  EXPECT_EQ(j["problems"].size(), 2u);
}

TEST(ModelInfo, ACompressedFileSaysWhatItStoresAndHowItWasMade) {
  test::TempDir dir;
  test::TinyConfig c;
  c.n_layers = 3;
  test::TinyModel::random(c).write_gguf(dir / "dense.gguf");
  const auto dense = loaders::LlamaModelFile::open(dir / "dense.gguf");
  const auto spec = compress::PatchSpec::parse("0-1:up:16;2:down:32", 3);
  std::vector<compress::CirculantProjection> stored;
  for (auto& pp : MlpPatch::project(dense, spec))
    stored.push_back({pp.layer, pp.projection, std::move(pp.circulant)});
  compress::CompressionRecord rec;
  rec.bcvk_version = "test";
  rec.patch = "0-1:up:16;2:down:32";
  rec.source = "dense.gguf";
  compress::write_compressed_gguf(*dense.gguf(), stored, rec, dir / "c.gguf");

  const auto f = gguf::GgufFile::open(dir / "c.gguf");
  const GgufInfo info = inspect_gguf(f, (dir / "c.gguf").string());
  EXPECT_TRUE(info.problems.empty());
  ASSERT_TRUE(info.compression);
  EXPECT_EQ(info.compression->projections, 3u);
  EXPECT_EQ(info.compression->block_sizes, "B=16 x2, B=32 x1");
  // up: 96 x 64 at B = 16 is 6 x 4 blocks of 16; down: 64 x 96 at B = 32 is 2 x 3 blocks of 32.
  EXPECT_EQ(info.compression->parameters, 2u * 6 * 4 * 16 + 2 * 3 * 32);
  ASSERT_TRUE(info.compression->record);
  EXPECT_EQ(info.compression->record->patch, "0-1:up:16;2:down:32");
  const auto j = info_json(f, info, "c.gguf", false)["compression"];
  EXPECT_EQ(j["circulant_projections"], 3);
  EXPECT_EQ(j["source"], "dense.gguf");
}

TEST(ModelInfo, HuggingFaceDirectoriesReportTheSameHyperparameters) {
  test::TempDir dir;
  const test::TinyConfig c;
  const auto tm = test::TinyModel::random(c);
  tm.write_gguf(dir / "m.gguf");
  tm.write_hf(dir / "hf");
  const auto hf = loaders::LlamaModelFile::open(dir / "hf");
  const auto f = gguf::GgufFile::open(dir / "m.gguf");
  const auto jh = info_json(hf, "hf"),
             jg = info_json(f, inspect_gguf(f, (dir / "m.gguf").string()), "m.gguf", false);
  EXPECT_EQ(jh["format"], "safetensors");
  EXPECT_EQ(jh["parameters"], tiny_parameters(c));
  EXPECT_EQ(jh["hyperparameters"], jg["hyperparameters"]);
  EXPECT_EQ(jh["tensors"].size(), 2u + 9u * c.n_layers);
}

}  // namespace
}  // namespace bcvk::model
