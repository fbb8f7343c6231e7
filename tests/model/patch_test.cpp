// Patched (student) models: block-circulant MLP projections inside the full forward pass, on tiny
// models written by the tests.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "runtime/model/session.h"
#include "tests/support/circulant_model.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk {
namespace {

using compress::PatchSpec;

using test::rel_l2;

class PatchTest : public test::GpuTest {
 protected:
  test::TempDir dir;
  // A tiny model; with circulant_block > 0 its MLP weights are block-circulant of that size.
  loaders::LlamaModelFile tiny(uint32_t circulant_block, const char* name) {
    test::write_tiny_model(dir / name, circulant_block);
    return loaders::LlamaModelFile::open(dir / name);
  }
};

TEST_F(PatchTest, BlockSizeOnePatchReproducesTheDenseLogits) {
  const auto file = tiny(0, "dense.gguf");
  model::Model m(ctx(), file);
  const auto spec = PatchSpec::parse("all:all:1", file.config().n_layers);
  model::MlpPatch patch(ctx(), file.config(), model::MlpPatch::project(file, spec));
  for (const auto& pp : patch.projections()) EXPECT_LT(pp.relative_error, 1e-7);
  EXPECT_EQ(patch.circulant(0, compress::Projection::kUp)->path(), ops::CirculantPath::kDirect);
  model::Session teacher(m), student(m, 64, false, &patch);
  const auto tokens = test::synthetic_prompt(11, file.config().n_vocab);
  const auto t = teacher.prefill(tokens, true), s = student.prefill(tokens, true);
  EXPECT_LT(rel_l2(s, t), 1e-5);
}

TEST_F(PatchTest, PatchingBlockCirculantWeightsLeavesTheLogitsUnchanged) {
  const auto file = tiny(16, "circulant.gguf");
  model::Model m(ctx(), file);
  const auto tokens = test::synthetic_prompt(9, file.config().n_vocab);
  const auto ref = test::cpu_forward(file, tokens, true);  // the default f16 KV cache
  for (const char* text : {"all:all:16", "0,2:gate=16,down=16", "first1:up:16"}) {
    const auto spec = PatchSpec::parse(text, file.config().n_layers);
    model::MlpPatch patch(ctx(), file.config(), model::MlpPatch::project(file, spec),
                          ops::CirculantPath::kFft);
    for (const auto& pp : patch.projections()) EXPECT_LT(pp.relative_error, 1e-6) << text;
    model::Session student(m, 4, false, &patch);  // batch 4: prefill in chunks through the FFT path
    const auto s = student.prefill(tokens, true);
    const uint32_t V = file.config().n_vocab;
    for (size_t p = 0; p < tokens.size(); ++p) {
      std::vector<float> row(s.begin() + p * V, s.begin() + (p + 1) * V);
      std::vector<float> want(ref[p].begin(), ref[p].end());
      EXPECT_LT(rel_l2(row, want), 1e-4) << text << " position " << p;
    }
    // Decode continues from the prefilled KV cache with the same patch.
    const auto d = student.decode(tokens[0]);
    EXPECT_EQ(d.size(), V);
  }
}

// Gate and up on the FFT path with one block size: up skips pack and the forward FFT and reads
// the input spectrum gate's call left in the workspace -- and the logits stay the CPU
// reference's.  With different block sizes each packs its own input.
TEST_F(PatchTest, UpReusesTheInputSpectrumOfGate) {
  const auto file = tiny(16, "circulant.gguf");
  model::Model m(ctx(), file);
  const auto tokens = test::synthetic_prompt(7, file.config().n_vocab);
  const auto ref = test::cpu_forward(file, tokens, true);
  const uint32_t L = file.config().n_layers, V = file.config().n_vocab;
  for (const auto& [text, shared] : {std::pair{"all:all:16", true}, {"all:up=32,gate=16", false}}) {
    model::MlpPatch patch(ctx(), file.config(),
                          model::MlpPatch::project(file, PatchSpec::parse(text, L)),
                          ops::CirculantPath::kFft);
    for (uint32_t l = 0; l < L; ++l) EXPECT_EQ(patch.gate_and_up_share_input_spectrum(l), shared);
    model::Session student(m, 64, true, &patch);
    const auto s = student.prefill(tokens, true);
    const auto& rows = student.profile().rows();
    auto calls = [&](const std::string& label) {
      auto it = rows.find(label);
      return it == rows.end() ? uint64_t(0) : it->second.calls;
    };
    // Patched kernels record under Session's label with their block size.
    const std::string up = shared ? "mlp_up_b16" : "mlp_up_b32";
    EXPECT_EQ(calls("mlp_gate_b16.pack"), L) << text;
    EXPECT_EQ(calls(up + ".pack"), shared ? 0u : L) << text;
    EXPECT_EQ(calls(up + ".freq"), L) << text;
    if (!shared) continue;  // up at B = 32 is not the model's own structure
    for (size_t p = 0; p < tokens.size(); ++p) {
      std::vector<float> row(s.begin() + p * V, s.begin() + (p + 1) * V);
      std::vector<float> want(ref[p].begin(), ref[p].end());
      EXPECT_LT(rel_l2(row, want), 1e-4) << text << " position " << p;
    }
  }
}

// The fused path on a model whose MLPs are block-circulant of that size: the logits are the CPU
// reference's, prefill and decode; a layer's MLP is two dispatches (gate, up and SiLU in one;
// down with the residual add in the other); and the unfused run (each projection its own fused
// dispatch, then silu_mul) gives the same logits to float rounding.  f16 and 8-bit spectra stay
// within their rounding of the f32 run.
TEST_F(PatchTest, FusedCirculantMlpIsTwoDispatchesAndMatchesTheReference) {
  for (uint32_t B : {8u, 16u}) {
    const auto file = tiny(B, ("circulant" + std::to_string(B) + ".gguf").c_str());
    const uint32_t L = file.config().n_layers, V = file.config().n_vocab;
    const auto tokens = test::synthetic_prompt(9, V);
    const auto ref = test::cpu_forward(file, tokens, true);
    const auto spec = PatchSpec::parse("all:all:" + std::to_string(B), L);
    const auto projections = model::MlpPatch::project(file, spec);
    std::vector<float> fused_logits;
    for (bool fuse : {true, false}) {
      model::ModelOptions opts;
      opts.fuse_projections = fuse;
      model::Model m(ctx(), file, opts);
      model::MlpPatch patch(ctx(), file.config(), projections, ops::CirculantPath::kFused);
      model::Session student(m, 64, true, &patch);
      const auto s = student.prefill(tokens, true);
      for (size_t p = 0; p < tokens.size(); ++p) {
        std::vector<float> row(s.begin() + p * V, s.begin() + (p + 1) * V);
        std::vector<float> want(ref[p].begin(), ref[p].end());
        EXPECT_LT(rel_l2(row, want), 1e-4) << "B=" << B << " position " << p;
      }
      if (fuse) {
        fused_logits = s;
        std::map<std::string, uint64_t> mlp;
        for (const auto& [label, row] : student.profile().rows())
          if (label.starts_with("mlp_")) mlp[label] = row.calls;
        const std::string b = "_b" + std::to_string(B);
        EXPECT_EQ(mlp,
                  (std::map<std::string, uint64_t>{{"mlp_down" + b, L}, {"mlp_gate_up" + b, L}}))
            << "B=" << B;
      } else {
        EXPECT_LT(rel_l2(s, fused_logits), 1e-6) << "B=" << B << ": fused vs unfused";
      }
      // Decode (one token: X through the uniform buffer) continues the same sequence.
      student.clear_profile();
      const auto d = student.decode(tokens[0]);
      auto more = tokens;
      more.push_back(tokens[0]);
      const auto ref_d = test::cpu_forward(file, more, false);
      EXPECT_LT(rel_l2(d, std::vector<float>(ref_d.back().begin(), ref_d.back().end())), 1e-4)
          << "B=" << B;
    }
    model::Model m(ctx(), file);
    for (auto [w, bound] :
         {std::pair{ops::CirculantWeights::kF16, 5e-3}, {ops::CirculantWeights::kQ8, 5e-2}}) {
      model::MlpPatch patch(ctx(), file.config(), projections, ops::CirculantPath::kFused, 64, w);
      model::Session student(m, 64, false, &patch);
      const double e = rel_l2(student.prefill(tokens, true), fused_logits);
      EXPECT_LT(e, bound) << ops::circulant_weights_name(w);
      EXPECT_GT(e, 1e-7) << ops::circulant_weights_name(w) << ": nothing was rounded";
    }
  }
}

// What bench's per-kernel table divides by, worked by hand for the tiny model (64 x 96 MLPs,
// f32 weights) with layer 0 patched at B = 16 on the fused path: packed spectra are p rows of q*B
// f32 values; FLOPs are 2.5 B log2 B = 160 per transform of a block, 8 per complex
// multiply-accumulate over B/2 + 1 = 9 bins.  The patched layer's dense MLP is left out.
TEST_F(PatchTest, DecodeCostsOfAFusedPatchAreTheHandCountedOnes) {
  const auto file = tiny(16, "circulant.gguf");
  model::Model m(ctx(), file);
  model::MlpPatch patch(ctx(), file.config(),
                        model::MlpPatch::project(file, PatchSpec::parse("0:all:16", 3)),
                        ops::CirculantPath::kFused);
  std::map<std::string, std::pair<uint64_t, uint64_t>> got;
  for (const auto& k : m.decode_costs(&patch)) got[k.label] = {k.bytes, k.flops};
  // gate, up (96 x 64): p = 6, q = 4.  Input transforms 4 x 160 once for both; per matrix
  // 8 x 6 x 4 x 9 = 1728 products and 6 x 160 = 960 output transforms.
  EXPECT_EQ(got["mlp_gate_up_b16"],
            (std::pair<uint64_t, uint64_t>{2 * 6 * 64 * 4, 640 + 2 * (1728 + 960)}));
  // down (64 x 96): p = 4, q = 6.
  EXPECT_EQ(got["mlp_down_b16"],
            (std::pair<uint64_t, uint64_t>{4 * 96 * 4, 6 * 160 + 8 * 4 * 6 * 9 + 4 * 160}));
  // Layers 1 and 2 stay dense: gate and up as one f32 matrix each, 2 FLOPs an element.
  EXPECT_EQ(got["mlp_gate_up"],
            (std::pair<uint64_t, uint64_t>{2 * 2 * 96 * 64 * 4, 2 * 2 * 2 * 96 * 64}));
  EXPECT_EQ(got["mlp_down"], (std::pair<uint64_t, uint64_t>{2 * 64 * 96 * 4, 2 * 2 * 64 * 96}));
  // Unfused, gate and up are each their own kernel with their own input transforms.
  got.clear();
  for (const auto& k : patch.decode_costs(false)) got[k.label] = {k.bytes, k.flops};
  EXPECT_EQ(got.count("mlp_gate_up_b16"), 0u);
  EXPECT_EQ(got["mlp_gate_b16"], (std::pair<uint64_t, uint64_t>{6 * 64 * 4, 640 + 1728 + 960}));
  EXPECT_EQ(got["mlp_up_b16"], got["mlp_gate_b16"]);
}

TEST_F(PatchTest, SpectraAndFftPlansAreMadeOnceAcrossForwards) {
  const auto file = tiny(0, "dense.gguf");
  model::Model m(ctx(), file);
  const auto spec = PatchSpec::parse("all:all:32", file.config().n_layers);
  model::MlpPatch patch(ctx(), file.config(), model::MlpPatch::project(file, spec),
                        ops::CirculantPath::kFft);
  EXPECT_EQ(patch.spectra_computed(), 9u);  // 3 layers x 3 projections, when the patch was made
  EXPECT_EQ(patch.fft_plans_created(), 0u);
  model::Session s(m, 64, false, &patch);
  const auto tokens = test::synthetic_prompt(5, file.config().n_vocab);
  s.prefill(tokens);
  const uint64_t plans = patch.fft_plans_created();
  // T = 5 -> bucket 8: forward and inverse plans for n/B = 2 and m/B = 3 blocks, shared by layers.
  EXPECT_EQ(plans, 4u);
  for (int i = 0; i < 3; ++i) {
    s.reset();
    s.prefill(tokens);
  }
  EXPECT_EQ(patch.fft_plans_created(), plans);
  EXPECT_EQ(patch.spectra_computed(), 9u);
}

// With a persistent pipeline cache the first run's choice is kept beside it: a second run on the
// device reuses it without measuring (the same path, the very same recorded times), and a
// damaged file is discarded and measured again.
TEST_F(PatchTest, PathChoicesAreKeptBesideThePipelineCache) {
  const auto file = tiny(0, "dense.gguf");
  const auto projections =
      model::MlpPatch::project(file, PatchSpec::parse("all:all:16", file.config().n_layers));
  test::TempDir cache;
  const char* old = std::getenv("BCVK_CACHE_DIR");
  const std::string restore = old ? old : "";
  ::setenv("BCVK_CACHE_DIR", cache.path().c_str(), 1);
  auto choices = [&] {
    vk::ContextOptions o;
    o.instance.validation = true;
    vk::Context c(o);
    model::MlpPatch patch(c, file.config(), projections);
    EXPECT_EQ(c.instance().validation_message_count(), 0u);
    return patch.path_choices();
  };
  const auto first = choices();
  const auto again = choices();
  ASSERT_EQ(first.size(), 2u);
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) {
    EXPECT_EQ(again[i].path, first[i].path);
    EXPECT_EQ(again[i].fused_ms, first[i].fused_ms);  // read back, not measured again
    EXPECT_EQ(again[i].fft_ms, first[i].fft_ms);
  }
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(cache.path() / "circulant-paths")) {
    std::ofstream(e.path(), std::ios::app) << "tampered";
    ++files;
  }
  EXPECT_EQ(files, 2u);
  const auto measured = choices();
  ASSERT_EQ(measured.size(), 2u);
  EXPECT_TRUE(measured[0].fused_ms != first[0].fused_ms ||
              measured[1].fused_ms != first[1].fused_ms)
      << "a tampered choice was used";
  if (old)
    ::setenv("BCVK_CACHE_DIR", restore.c_str(), 1);
  else
    ::unsetenv("BCVK_CACHE_DIR");
}

// kAuto times both paths once per matrix shape (not per projection) and applies the choice to
// every projection of that shape; whichever it picks, the logits are those of either forced path.
// (Which path is faster is the machine's business: the test does not restate the rule.)
TEST_F(PatchTest, AutoPathIsTimedOncePerShapeAndChangesNoLogit) {
  const auto file = tiny(0, "dense.gguf");
  const auto spec = PatchSpec::parse("all:all:16", file.config().n_layers);
  const auto projections = model::MlpPatch::project(file, spec);
  model::MlpPatch patch(ctx(), file.config(), projections);
  ASSERT_EQ(patch.path_choices().size(), 2u);  // 96x64 (gate, up) and 64x96 (down), 9 projections
  for (const auto& c : patch.path_choices()) {
    EXPECT_GT(c.fft_ms, 0);
    EXPECT_GT(c.direct_ms, 0);
    EXPECT_GT(c.fused_ms, 0);
    EXPECT_NE(c.path, ops::CirculantPath::kAuto);
    for (uint32_t l = 0; l < file.config().n_layers; ++l)
      for (auto p : compress::kProjections) {
        const bool down_shape = p == compress::Projection::kDown;
        if (down_shape == (c.rows == 64)) {
          EXPECT_EQ(patch.circulant(l, p)->path(), c.path);
        }
      }
  }
  model::Model m(ctx(), file);
  const auto tokens = test::synthetic_prompt(7, file.config().n_vocab);
  model::Session chosen(m, 64, false, &patch);
  const auto want = chosen.prefill(tokens, true);
  for (auto forced :
       {ops::CirculantPath::kFft, ops::CirculantPath::kDirect, ops::CirculantPath::kFused}) {
    model::MlpPatch fp(ctx(), file.config(), projections, forced);
    model::Session s(m, 64, false, &fp);
    EXPECT_LT(rel_l2(s.prefill(tokens, true), want), 1e-5) << ops::circulant_path_name(forced);
  }
}

TEST_F(PatchTest, StudentOnlyModelDropsDenseWeightsAndRefusesToRunThemDense) {
  const auto file = tiny(0, "dense.gguf");
  const auto spec = PatchSpec::parse("all:all:16", file.config().n_layers);
  model::ModelOptions full_opts, student_opts;
  student_opts.skip_mlp = [&](uint32_t l, compress::Projection p) { return spec.patched(l, p); };
  model::Model full(ctx(), file, full_opts), slim(ctx(), file, student_opts);
  const auto& c = file.config();
  EXPECT_EQ(full.weight_bytes() - slim.weight_bytes(), 4ull * 3 * c.n_embd * c.n_ff * c.n_layers);
  model::MlpPatch patch(ctx(), c, model::MlpPatch::project(file, spec));
  model::Session student(slim, 64, false, &patch), on_full(full, 64, false, &patch);
  const auto tokens = test::synthetic_prompt(6, c.n_vocab);
  EXPECT_LT(rel_l2(student.prefill(tokens), on_full.prefill(tokens)), 1e-6);
  try {
    model::Session teacher(slim);
    FAIL() << "a dense run without dense MLP weights must fail";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("dense weight was not loaded"), std::string::npos)
        << e.what();
  }
  const auto st = patch.stats();
  EXPECT_EQ(st.replaced_parameters, 3ull * c.n_embd * c.n_ff * c.n_layers);
  EXPECT_EQ(st.patch_parameters, st.replaced_parameters / 16);
  EXPECT_NEAR(st.mlp_compression(), 16.0, 1e-9);
}

TEST(PatchSpecTest, ParsesLayersProjectionsAndBlockSizes) {
  auto s = PatchSpec::parse("all:all:64", 30);
  EXPECT_EQ(s.layers.size(), 30u);
  EXPECT_EQ(s.blocks.back(), (compress::LayerBlocks{64, 64, 64}));
  s = PatchSpec::parse("first4:up,down:32", 30);
  EXPECT_EQ(s.layers, (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(s.blocks.front(), (compress::LayerBlocks{0, 32, 32}));
  EXPECT_FALSE(s.patched(1, compress::Projection::kGate));
  EXPECT_TRUE(s.patched(3, compress::Projection::kDown));
  EXPECT_FALSE(s.patched(4, compress::Projection::kDown));
  s = PatchSpec::parse("7,0-2,2:gate=16,up=32,down=64", 30);
  EXPECT_EQ(s.layers, (std::vector<uint32_t>{0, 1, 2, 7}));
  EXPECT_EQ(s.blocks[3], (compress::LayerBlocks{16, 32, 64}));
  EXPECT_EQ(s.describe(), "layers 0-2,7, gate B=16 up B=32 down B=64");
  EXPECT_EQ(PatchSpec::parse("all::48", 3).describe(), "layers 0-2, gate/up/down B=48");
}

TEST(PatchSpecTest, RejectsMalformedSpecsWithTheReason) {
  auto msg = [](const char* text) {
    try {
      PatchSpec::parse(text, 30);
    } catch (const compress::PatchSpecError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(msg("30:all:64").find("outside the model's 30 layers"), std::string::npos);
  EXPECT_NE(msg("all:gates:64").find("unknown projection 'gates'"), std::string::npos);
  EXPECT_NE(msg("all:up").find("no block size"), std::string::npos);
  EXPECT_NE(msg("all:all:0").find("at least 1"), std::string::npos);
  EXPECT_NE(msg("5-2:all:8").find("reversed"), std::string::npos);
  EXPECT_NE(msg("first0:all:8").find("first0"), std::string::npos);
  EXPECT_NE(msg("all:up,up:8").find("twice"), std::string::npos);
  EXPECT_NE(msg("x:all:8").find("not a valid layer index"), std::string::npos);
  EXPECT_NE(msg("a:b:c:d").find("expected LAYERS"), std::string::npos);
}

}  // namespace
}  // namespace bcvk
