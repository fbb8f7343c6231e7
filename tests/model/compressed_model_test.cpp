// Compressed models (bcvk compress): a file written with circulant parameters in place of dense
// MLP weights loads and runs to the same logits as the in-memory patched model, and to the CPU
// double-precision reference when the weights were block-circulant to begin with; the writer
// refuses to overwrite its input or re-compress; the default model's file shrinks by what it
// drops; a warm start compiles no FFT kernel and finds every pipeline in the cache.
#include "runtime/compress/compressed_gguf.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>

#include "loaders/half.h"
#include "loaders/mapped_file.h"
#include "loaders/prompt_file.h"
#include "runtime/model/session.h"
#include "runtime/ops/block_circulant_fused.h"
#include "tests/support/circulant_model.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk {
namespace {

using compress::PatchSpec;

using test::rel_l2;

std::vector<compress::CirculantProjection> to_stored(
    const std::vector<model::PatchedProjection>& pps) {
  std::vector<compress::CirculantProjection> out;
  for (const auto& pp : pps) out.push_back({pp.layer, pp.projection, pp.circulant});
  return out;
}

compress::CompressionRecord record(const std::string& patch,
                                   gguf::GgmlType dtype = gguf::GgmlType::F32) {
  compress::CompressionRecord r;
  r.bcvk_version = "test";
  r.patch = patch;
  r.dtype = dtype;
  r.source = "tiny.gguf";
  return r;
}

std::string file_bytes(const std::filesystem::path& p) {
  const loaders::MappedFile f(p);
  return std::string(reinterpret_cast<const char*>(f.bytes().data()), f.size());
}

class CompressedModelTest : public test::GpuTest {
 protected:
  test::TempDir dir;
  // A tiny 3-layer model; with circulant_block > 0 its MLP weights are block-circulant already.
  std::filesystem::path tiny(uint32_t circulant_block, const std::string& name) {
    test::write_tiny_model(dir / name, circulant_block);
    return dir / name;
  }
  // Logits of every position: a file's own stored patch (if any) plus `extra`.
  std::vector<float> logits(const loaders::LlamaModelFile& file, const model::MlpPatch* patch,
                            const std::vector<int32_t>& tokens) {
    model::Model m(ctx(), file);
    model::Session s(m, 64, false, patch);
    return s.prefill(tokens, true);
  }
};

TEST_F(CompressedModelTest, LoadedFileGivesTheInMemoryPatchedLogits) {
  const auto dense_path = tiny(0, "dense.gguf");
  const auto dense = loaders::LlamaModelFile::open(dense_path);
  const auto tokens = test::synthetic_prompt(13, dense.config().n_vocab);
  // Every projection at one B; and a mix of layers, projections and a padded block size (48 pads
  // the 64-wide inputs of gate to 96).
  for (const char* text : {"all:all:16", "0,2:gate=48,down=32"}) {
    const auto spec = PatchSpec::parse(text, dense.config().n_layers);
    const auto projections = model::MlpPatch::project(dense, spec);
    // One path for both (kAuto times FFT against direct, and under load may pick differently).
    model::MlpPatch in_memory(ctx(), dense.config(), projections, ops::CirculantPath::kFft);
    const auto want = logits(dense, &in_memory, tokens);

    const auto out = dir / "compressed.gguf";
    const auto st =
        compress::write_compressed_gguf(*dense.gguf(), to_stored(projections), record(text), out);
    EXPECT_EQ(st.projections_replaced, projections.size());
    const auto file = loaders::LlamaModelFile::open(out);
    ASSERT_TRUE(file.compressed());
    const auto stored = model::MlpPatch::stored(file);
    ASSERT_EQ(stored.size(), projections.size()) << text;
    for (size_t i = 0; i < stored.size(); ++i) {
      EXPECT_EQ(stored[i].layer, projections[i].layer);
      EXPECT_EQ(stored[i].projection, projections[i].projection);
      EXPECT_EQ(stored[i].circulant.block, projections[i].circulant.block);
      EXPECT_EQ(stored[i].circulant.c, projections[i].circulant.c)
          << "f32 parameters are stored exactly";
    }
    model::MlpPatch from_file(ctx(), file.config(), stored, ops::CirculantPath::kFft);
    const auto got = logits(file, &from_file, tokens);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_LT(rel_l2(got, want), 1e-6) << text;

    // The compressed model holds no dense weight for what it stores: exactly those bytes less.
    model::Model dense_model(ctx(), dense), compressed_model(ctx(), file);
    const auto& c = dense.config();
    EXPECT_EQ(dense_model.weight_bytes() - compressed_model.weight_bytes(),
              uint64_t(projections.size()) * c.n_embd * c.n_ff * 4)
        << text;
    // Without its stored patch the compressed model cannot run.
    EXPECT_THROW({ model::Session s(compressed_model); }, std::invalid_argument);
  }
}

TEST_F(CompressedModelTest, HalfPrecisionParametersGiveTheRoundedPatch) {
  const auto dense = loaders::LlamaModelFile::open(tiny(0, "dense.gguf"));
  const auto spec = PatchSpec::parse("all:all:32", dense.config().n_layers);
  auto projections = model::MlpPatch::project(dense, spec);
  const auto out = dir / "compressed-f16.gguf";
  const auto st = compress::write_compressed_gguf(*dense.gguf(), to_stored(projections),
                                                  record("all:all:32", gguf::GgmlType::F16), out);
  uint64_t params = 0;
  for (const auto& pp : projections) params += pp.circulant.c.size();
  EXPECT_EQ(st.circulant_bytes_added, params * 2);
  // The reference: the same parameters rounded to f16 on the host.
  for (auto& pp : projections)
    for (float& v : pp.circulant.c) v = loaders::half_to_float(loaders::float_to_half(v));
  model::MlpPatch rounded(ctx(), dense.config(), projections, ops::CirculantPath::kFft);
  const auto tokens = test::synthetic_prompt(9, dense.config().n_vocab);
  const auto want = logits(dense, &rounded, tokens);
  const auto file = loaders::LlamaModelFile::open(out);
  const auto stored = model::MlpPatch::stored(file);
  ASSERT_EQ(stored.size(), projections.size());
  for (size_t i = 0; i < stored.size(); ++i)
    for (size_t k = 0; k < stored[i].circulant.c.size(); ++k)
      ASSERT_EQ(stored[i].circulant.c[k], projections[i].circulant.c[k])
          << "projection " << i << " parameter " << k;
  model::MlpPatch from_file(ctx(), file.config(), stored, ops::CirculantPath::kFft);
  EXPECT_LT(rel_l2(logits(file, &from_file, tokens), want), 1e-6);
}

TEST_F(CompressedModelTest, CompressedLogitsMatchTheCpuReference) {
  // Weights block-circulant to begin with: compressing loses nothing, so the dense file's CPU
  // double-precision forward is the exact answer for the compressed file.
  const auto dense_path = tiny(16, "circulant.gguf");
  const auto dense = loaders::LlamaModelFile::open(dense_path);
  const auto tokens = test::synthetic_prompt(10, dense.config().n_vocab);
  const auto ref = test::cpu_forward(dense, tokens, true);  // the default f16 KV cache
  const auto projections = model::MlpPatch::project(dense, PatchSpec::parse("all:all:16", 3));
  const auto out = dir / "compressed.gguf";
  compress::write_compressed_gguf(*dense.gguf(), to_stored(projections), record("all:all:16"), out);
  const auto file = loaders::LlamaModelFile::open(out);
  model::MlpPatch patch(ctx(), file.config(), model::MlpPatch::stored(file));
  const auto got = logits(file, &patch, tokens);
  const uint32_t V = dense.config().n_vocab;
  for (size_t p = 0; p < tokens.size(); ++p) {
    const std::vector<float> row(got.begin() + p * V, got.begin() + (p + 1) * V);
    const std::vector<float> want(ref[p].begin(), ref[p].end());
    EXPECT_LT(rel_l2(row, want), 1e-4) << "position " << p;
  }
}

// --weights on a compressed file: native keeps what the file stores (f16 parameters -> f16
// spectra on the device), f32 and f16 force it.  The f16 weights take half the device bytes and
// give the f32 weights' logits to f16 rounding of the spectra.
TEST_F(CompressedModelTest, StoredWeightsFollowTheFileAndTheWeightMode) {
  using model::WeightMode;
  using ops::CirculantWeights;
  // A dense model: its projected parameters (means of wrapped diagonals) are not f16 values, so
  // f16 on the device rounds them whichever path (FFT or direct) the timing picks.
  const auto dense = loaders::LlamaModelFile::open(tiny(0, "dense.gguf"));
  EXPECT_EQ(model::MlpPatch::load_stored(ctx(), dense, WeightMode::kNative), nullptr);
  const auto projections = model::MlpPatch::project(dense, PatchSpec::parse("all:all:16", 3));
  const auto f16_path = dir / "f16.gguf", f32_path = dir / "f32.gguf";
  compress::write_compressed_gguf(*dense.gguf(), to_stored(projections),
                                  record("all:all:16", gguf::GgmlType::F16), f16_path);
  compress::write_compressed_gguf(*dense.gguf(), to_stored(projections), record("all:all:16"),
                                  f32_path);
  const auto f16_file = loaders::LlamaModelFile::open(f16_path);
  const auto f32_file = loaders::LlamaModelFile::open(f32_path);
  EXPECT_EQ(model::MlpPatch::stored_weights(f16_file, WeightMode::kNative), CirculantWeights::kF16);
  EXPECT_EQ(model::MlpPatch::stored_weights(f16_file, WeightMode::kF32), CirculantWeights::kF32);
  EXPECT_EQ(model::MlpPatch::stored_weights(f32_file, WeightMode::kNative), CirculantWeights::kF32);
  EXPECT_EQ(model::MlpPatch::stored_weights(f32_file, WeightMode::kF16), CirculantWeights::kF16);
  EXPECT_EQ(model::MlpPatch::load_stored(ctx(), f16_file, WeightMode::kNative)->weights(),
            CirculantWeights::kF16);

  const auto tokens = test::synthetic_prompt(11, dense.config().n_vocab);
  const auto half = model::MlpPatch::load_stored(ctx(), f32_file, WeightMode::kF16);
  const auto full = model::MlpPatch::load_stored(ctx(), f32_file, WeightMode::kNative);
  ASSERT_TRUE(half && full);
  EXPECT_EQ(half->weights(), CirculantWeights::kF16);
  EXPECT_EQ(full->weights(), CirculantWeights::kF32);
  EXPECT_LT(half->device_bytes(), full->device_bytes());
  const auto a = logits(f32_file, half.get(), tokens), b = logits(f32_file, full.get(), tokens);
  const double e = rel_l2(a, b);
  EXPECT_LT(e, 1e-3) << "f16 against f32 weights of the same parameters";
  EXPECT_GT(e, 0.0) << "f16 weights asked for, but the logits are the f32 weights' exactly";
  RecordProperty("relative_l2_f16_vs_f32", std::to_string(e));
}

// --dtype q8_0: each block row's packed spectra as one Q8_0 row.  The file's bytes are what the
// fused kernel reads (the device words, decoded, equal the file's blocks decoded by hand here);
// the model runs on them to the logits of the f32 FFT path with the same (dequantized)
// parameters; the 8-bit cost against the unquantized parameters is small but not zero.
TEST_F(CompressedModelTest, Q8SpectraAreTheFusedKernelsBytes) {
  using ops::CirculantWeights;
  const auto dense = loaders::LlamaModelFile::open(tiny(0, "dense.gguf"));
  const auto tokens = test::synthetic_prompt(11, dense.config().n_vocab);
  for (const char* text : {"all:all:16", "0:gate=4,up=64,down=32"}) {
    const auto projections = model::MlpPatch::project(dense, PatchSpec::parse(text, 3));
    const auto out = dir / "q8.gguf";
    const auto st = compress::write_compressed_gguf(*dense.gguf(), to_stored(projections),
                                                    record(text, gguf::GgmlType::Q8_0), out);
    uint64_t params = 0;
    for (const auto& pp : projections) params += pp.circulant.c.size();
    EXPECT_EQ(st.circulant_bytes_added, params / 32 * 34) << text;
    const auto file = loaders::LlamaModelFile::open(out);
    EXPECT_EQ(compress::read_compression_record(*file.gguf())->dtype, gguf::GgmlType::Q8_0);
    EXPECT_EQ(model::MlpPatch::stored_weights(file, model::WeightMode::kNative),
              CirculantWeights::kQ8);
    EXPECT_EQ(model::MlpPatch::stored_weights(file, model::WeightMode::kF32),
              CirculantWeights::kF32);
    const auto stored = model::MlpPatch::stored(file);
    ASSERT_EQ(stored.size(), projections.size());
    size_t i = 0;
    for (const loaders::LlamaLayer& L : file.layers())
      for (const loaders::CirculantTensor* t :
           {&L.circulant.gate, &L.circulant.up, &L.circulant.down}) {
        if (!t->present()) continue;
        ASSERT_TRUE(t->spectra);
        const auto& bc = stored[i++].circulant;
        const uint32_t rows = bc.row_blocks(), row_values = bc.col_blocks() * bc.block;
        // Q8_0 by hand: 34-byte blocks of an f16 scale and 32 signed bytes.
        std::vector<float> want(size_t(rows) * row_values);
        ASSERT_EQ(t->data.size(), want.size() / 32 * 34);
        for (size_t b = 0; b < want.size() / 32; ++b) {
          const auto* blk = reinterpret_cast<const uint8_t*>(t->data.data()) + b * 34;
          const float d = loaders::half_to_float(uint16_t(blk[0] | blk[1] << 8));
          for (int k = 0; k < 32; ++k) want[b * 32 + k] = float(int8_t(blk[2 + k])) * d;
        }
        const auto device = ops::dequantize_fused_q8(
            ops::quantize_fused_q8(compress::packed_spectra(bc), rows, row_values), rows,
            row_values);
        ASSERT_EQ(device, want) << text << ": projection " << i;
      }
    const auto q8 = model::MlpPatch::load_stored(ctx(), file, model::WeightMode::kNative);
    ASSERT_EQ(q8->weights(), CirculantWeights::kQ8);
    for (const auto& c : q8->path_choices()) EXPECT_EQ(c.path, ops::CirculantPath::kFused);
    const model::MlpPatch f32(ctx(), file.config(), stored, ops::CirculantPath::kFft, 64,
                              CirculantWeights::kF32);
    const model::MlpPatch exact(ctx(), dense.config(), projections, ops::CirculantPath::kFft);
    const auto got = logits(file, q8.get(), tokens);
    EXPECT_LT(rel_l2(got, logits(file, &f32, tokens)), 1e-5) << text;
    const double cost = rel_l2(got, logits(dense, &exact, tokens));
    EXPECT_GT(cost, 0.0) << text;
    EXPECT_LT(cost, 2e-2) << text;
    RecordProperty(std::string("relative_l2_q8_vs_f32 ") + text, std::to_string(cost));
  }
  // A block row that does not fill whole Q8_0 blocks (64 columns at B = 6 make 66 values).
  const auto odd = model::MlpPatch::project(dense, PatchSpec::parse("0:up:6", 3));
  try {
    compress::write_compressed_gguf(*dense.gguf(), to_stored(odd),
                                    record("0:up:6", gguf::GgmlType::Q8_0), dir / "odd.gguf");
    ADD_FAILURE() << "wrote a Q8_0 tensor of 66-value rows";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("66 values, not a multiple of q8_0's 32"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "odd.gguf"));
}

TEST_F(CompressedModelTest, NeverOverwritesItsInput) {
  const auto in_path = tiny(0, "dense.gguf");
  const std::string before = file_bytes(in_path);
  const auto dense = loaders::LlamaModelFile::open(in_path);
  const auto projections =
      to_stored(model::MlpPatch::project(dense, PatchSpec::parse("all:all:16", 3)));
  std::filesystem::create_symlink(in_path, dir / "link.gguf");
  std::filesystem::create_hard_link(in_path, dir / "hard.gguf");
  for (const auto& out :
       {in_path, dir / "link.gguf", dir / "hard.gguf", dir.path() / "." / "dense.gguf"}) {
    try {
      compress::write_compressed_gguf(*dense.gguf(), projections, record("all:all:16"), out);
      ADD_FAILURE() << "wrote over its input through " << out;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("is the input model"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(file_bytes(in_path), before);
}

TEST_F(CompressedModelTest, RefusesCompressedInputsAndMisfitParameters) {
  const auto dense = loaders::LlamaModelFile::open(tiny(0, "dense.gguf"));
  auto projections = to_stored(model::MlpPatch::project(dense, PatchSpec::parse("all:up:16", 3)));
  const auto once = dir / "once.gguf";
  compress::write_compressed_gguf(*dense.gguf(), projections, record("all:up:16"), once);
  const auto compressed = loaders::LlamaModelFile::open(once);
  // Compressing a compressed file, or projecting what it stores, is refused.
  EXPECT_THROW(
      compress::write_compressed_gguf(*compressed.gguf(), {}, record("x"), dir / "twice.gguf"),
      std::invalid_argument);
  EXPECT_THROW(model::MlpPatch::project(compressed, PatchSpec::parse("all:up:16", 3)),
               compress::PatchSpecError);
  // Parameters whose shape is not the tensor's.
  auto wrong = projections;
  wrong[0].params.rows = 64;
  EXPECT_THROW(
      compress::write_compressed_gguf(*dense.gguf(), wrong, record("x"), dir / "wrong.gguf"),
      std::invalid_argument);
  wrong = projections;
  wrong[0].params.c.pop_back();
  EXPECT_THROW(
      compress::write_compressed_gguf(*dense.gguf(), wrong, record("x"), dir / "wrong.gguf"),
      std::invalid_argument);
  // The same projection twice.
  wrong = projections;
  wrong.push_back(projections[0]);
  EXPECT_THROW(
      compress::write_compressed_gguf(*dense.gguf(), wrong, record("x"), dir / "wrong.gguf"),
      std::invalid_argument);
  EXPECT_FALSE(std::filesystem::exists(dir / "wrong.gguf"));
  EXPECT_FALSE(std::filesystem::exists(dir / "twice.gguf"));
}

TEST_F(CompressedModelTest, AFailedWriteLeavesNothingBehind) {
  const auto dense = loaders::LlamaModelFile::open(tiny(0, "dense.gguf"));
  const auto projections =
      to_stored(model::MlpPatch::project(dense, PatchSpec::parse("all:all:16", 3)));
  // A directory that does not exist (a read-only one would not stop root, who runs CI).
  EXPECT_THROW(compress::write_compressed_gguf(*dense.gguf(), projections, record("x"),
                                               dir / "missing" / "out.gguf"),
               std::runtime_error);
  EXPECT_FALSE(std::filesystem::exists(dir / "missing"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1)
      << "only the input may remain";
}

// Cold and warm start in one process, each with its own Context on a private cache directory:
// the second loads every FFT plan from disk (no GLSL compiled; bcvk's own shaders are SPIR-V
// built at build time) and the pipeline cache the first one saved.  Whether the driver then skips
// its own compile it may say through creation feedback; lavapipe 22.3 says "valid" but never
// "cache hit" (its VkPipelineCache stores nothing; llvmpipe's disk cache does that job), so that
// part is measured by bench --startup, not asserted here.
TEST(WarmStart, ASecondStartCompilesNoFftKernelAndLoadsThePipelineCache) {
  test::TempDir dir, cache;
  const test::ScopedEnv private_cache("BCVK_CACHE_DIR", cache.path().string());
  test::TinyConfig c;
  test::TinyModel::random(c).write_gguf(dir / "tiny.gguf");
  const auto dense = loaders::LlamaModelFile::open(dir / "tiny.gguf");
  const auto projections =
      model::MlpPatch::project(dense, PatchSpec::parse("all:all:16", c.n_layers));
  struct Start {
    vk::CompileStats stats;
    bool cache_loaded = false;
  };
  auto start = [&] {
    vk::ContextOptions o;
    o.instance.validation = true;
    vk::Context ctx(o);
    {
      model::Model m(ctx, dense);
      model::MlpPatch patch(ctx, dense.config(), projections, ops::CirculantPath::kFft);
      model::Session s(m, 64, false, &patch);
      s.prefill(test::synthetic_prompt(7, c.n_vocab));
    }
    EXPECT_EQ(ctx.instance().validation_message_count(), 0u);
    return Start{ctx.compile_stats(), ctx.pipeline_cache().loaded_from_disk()};
  };
  const Start cold = start(), warm = start();

  EXPECT_GT(cold.stats.fft_plans, 0u);
  EXPECT_EQ(cold.stats.fft_plans_from_source, cold.stats.fft_plans);
  EXPECT_EQ(warm.stats.fft_plans, cold.stats.fft_plans);
  EXPECT_EQ(warm.stats.fft_plans_from_source, 0u)
      << "a warm start compiled an FFT kernel from source";
  EXPECT_FALSE(cold.cache_loaded);
  EXPECT_TRUE(warm.cache_loaded)
      << "the warm start did not find the pipeline cache the cold one saved";
  EXPECT_GT(cold.stats.pipelines, 0u);
  EXPECT_EQ(warm.stats.pipelines, cold.stats.pipelines);
  // Vulkan 1.3 devices (lavapipe is one) answer creation feedback for every pipeline.
  EXPECT_EQ(warm.stats.pipelines_reported, warm.stats.pipelines);
}

// The default model at B = 64, f32 parameters: the file shrinks by the dense MLP bytes it drops,
// less the circulant bytes it adds; everything else is the input's, byte for byte.
TEST(CompressedDefaultModel, FileShrinksByTheDroppedDenseBytesAndKeepsEverythingElse) {
  const std::filesystem::path in_path =
      std::filesystem::path(BCVK_MODEL_DIR) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(in_path)) << in_path << " is missing: run scripts/setup.sh";
  test::TempDir dir;
  const auto in_file = loaders::LlamaModelFile::open(in_path);
  const auto& in = *in_file.gguf();
  const auto spec = PatchSpec::parse("all:all:64", 30);
  const auto out = dir / "smol-c64.gguf";
  const auto st = compress::write_compressed_gguf(
      in, to_stored(model::MlpPatch::project(in_file, spec)), record("all:all:64"), out);

  // Independently: the dense MLP tensors' bytes from the input's tensor table, and the circulant
  // parameters from the shapes (p = 1536/64 = 24, q = 576/64 = 9, or the reverse for down).
  uint64_t dropped = 0;
  for (uint32_t l = 0; l < 30; ++l)
    for (const char* p : {"gate", "up", "down"})
      dropped += in.tensor("blk." + std::to_string(l) + ".ffn_" + p + ".weight")->bytes;
  const uint64_t added = 90ull * 24 * 9 * 64 * 4;
  EXPECT_EQ(st.dense_bytes_dropped, dropped);
  EXPECT_EQ(st.circulant_bytes_added, added);
  const uint64_t in_size = std::filesystem::file_size(in_path),
                 out_size = std::filesystem::file_size(out);
  EXPECT_EQ(st.output_bytes, out_size);
  // What remains is metadata (the record and three keys per tensor) and alignment: < 64 KiB.
  EXPECT_LE(out_size, in_size - dropped + added + 65536);
  EXPECT_GE(in_size - out_size, dropped - added - 65536);
  EXPECT_LT(out_size, in_size * 56 / 100) << "98.4 MB -> about 53.6 MB";

  const auto got = gguf::GgufFile::open(out);
  EXPECT_EQ(got.tensors().size(), in.tensors().size());
  for (const auto& t : in.tensors()) {
    if (t.name.find(".ffn_gate.") != std::string::npos ||
        t.name.find(".ffn_up.") != std::string::npos ||
        t.name.find(".ffn_down.") != std::string::npos) {
      EXPECT_EQ(got.tensor(t.name), nullptr) << t.name;
      continue;
    }
    const gguf::TensorInfo* g = got.tensor(t.name);
    ASSERT_NE(g, nullptr) << t.name;
    EXPECT_EQ(g->type, t.type) << t.name;
    EXPECT_EQ(g->dims, t.dims) << t.name;
    const auto a = in.tensor_data(t), b = got.tensor_data(*g);
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0) << t.name << " changed";
  }
  for (const auto& [k, v] : in.metadata()) {
    const gguf::Value* w = got.find(k);
    ASSERT_NE(w, nullptr) << k;
    EXPECT_EQ(w->to_string(1u << 20), v.to_string(1u << 20)) << k;
  }
  const auto rec = compress::read_compression_record(got);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->patch, "all:all:64");
  EXPECT_EQ(rec->calibration, "none");
  EXPECT_EQ(rec->bcvk_version, "test");
  EXPECT_FALSE(compress::read_compression_record(in).has_value());
}

}  // namespace
}  // namespace bcvk

namespace bcvk {
namespace {

// Every cache file damaged in each of many ways (the FFT plans and the pipeline cache): the next
// start discards and rebuilds every damaged entry, its logits are exactly the clean start's, and
// the rewritten entries are whole again (a following start loads every plan from disk).
TEST(CorruptedCaches, EveryDamagedEntryIsRebuiltAndChangesNothing) {
  test::TempDir dir, cache;
  const test::ScopedEnv private_cache("BCVK_CACHE_DIR", cache.path().string());
  test::TinyConfig c;
  test::TinyModel::random(c).write_gguf(dir / "tiny.gguf");
  const auto dense = loaders::LlamaModelFile::open(dir / "tiny.gguf");
  const auto projections =
      model::MlpPatch::project(dense, compress::PatchSpec::parse("all:all:16", c.n_layers));
  struct Start {
    vk::CompileStats stats;
    std::vector<float> logits;
  };
  auto start = [&] {
    vk::ContextOptions o;
    o.instance.validation = true;
    vk::Context ctx(o);
    std::vector<float> logits;
    {
      model::Model m(ctx, dense);
      model::MlpPatch patch(ctx, dense.config(), projections, ops::CirculantPath::kFft);
      model::Session s(m, 64, false, &patch);
      logits = s.prefill(test::synthetic_prompt(7, c.n_vocab));
    }
    EXPECT_EQ(ctx.instance().validation_message_count(), 0u);
    return Start{ctx.compile_stats(), logits};
  };
  auto files = [&] {
    std::vector<std::filesystem::path> v;
    for (const auto& e : std::filesystem::recursive_directory_iterator(cache.path()))
      if (e.is_regular_file()) v.push_back(e.path());
    std::sort(v.begin(), v.end());
    return v;
  };
  auto read = [](const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  auto write = [](const std::filesystem::path& p, const std::string& b) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << b;
  };
  const Start clean = start();
  ASSERT_GT(clean.stats.fft_plans, 1u);
  const auto entries = files();
  ASSERT_EQ(entries.size(), clean.stats.fft_plans + 1) << "one file per plan and the pipelines";

  using Damage = std::function<std::string(const std::string&, size_t)>;
  auto flip_at = [](std::string b, size_t i) {
    if (!b.empty()) b[i % b.size()] = char(b[i % b.size()] ^ 0x10);
    return b;
  };
  const std::vector<std::pair<std::string, Damage>> damages = {
      {"truncated to half", [](const std::string& b, size_t) { return b.substr(0, b.size() / 2); }},
      {"truncated to 10 bytes", [](const std::string& b, size_t) { return b.substr(0, 10); }},
      {"extended", [](const std::string& b, size_t) { return b + std::string(100, '\x7f'); }},
      {"zeroed", [](const std::string& b, size_t) { return std::string(b.size(), '\0'); }},
      {"header bit", [&](const std::string& b, size_t) { return flip_at(b, 30); }},
      {"size field bit",
       [&](const std::string& b, size_t) { return flip_at(b, b.find("bytes: ") + 7); }},
      {"body bit", [&](const std::string& b, size_t) { return flip_at(b, b.size() - 1); }},
      {"swapped with the next entry",
       [&](const std::string&, size_t i) { return read(entries[(i + 1) % entries.size()]); }},
  };
  for (const auto& [what, damage] : damages) {
    std::vector<std::string> before;
    for (const auto& f : entries) before.push_back(read(f));
    for (size_t i = 0; i < entries.size(); ++i) write(entries[i], damage(before[i], i));
    const Start damaged = start();
    EXPECT_EQ(damaged.logits, clean.logits) << what;
    EXPECT_EQ(damaged.stats.fft_plans_from_source, damaged.stats.fft_plans)
        << what << ": a damaged plan was used";
    const Start after = start();
    EXPECT_EQ(after.stats.fft_plans_from_source, 0u) << what << ": an entry was not rewritten";
    EXPECT_EQ(after.logits, clean.logits) << what;
  }
}

}  // namespace
}  // namespace bcvk
