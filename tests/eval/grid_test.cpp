// eval's configurations from its flags: the grid's order and contents written out by hand, the
// low-rank baseline with its own block sizes, whole patch specs and auto requests (which add
// their block sizes to the sensitivity), and the refusals -- a block size the model cannot take,
// a malformed spec, nothing asked for -- before any work; the kd and sweep time estimates by hand.
#include "runtime/eval/grid.h"

#include <gtest/gtest.h>

#include "runtime/compress/patch_spec.h"

namespace bcvk {
namespace {

// SmolLM2-135M's shape: 30 layers, 576 wide, MLP 1536.
loaders::LlamaConfig smol() {
  loaders::LlamaConfig c;
  c.n_layers = 30;
  c.n_embd = 576;
  c.n_ff = 1536;
  return c;
}

std::vector<std::string> names(const eval::Grid& g) {
  std::vector<std::string> out;
  for (const auto& c : g.configs) out.push_back(c.name());
  return out;
}

TEST(Grid, BlocksTimesLayersTimesCalibrationsInOrder) {
  eval::GridRequest r;
  r.blocks = {4, 64};
  r.layers = {"last8", "all"};
  r.calibrations = {"none", "ls+kd"};
  const auto g = eval::expand_grid(r, smol());
  ASSERT_EQ(g.configs.size(), 8u);
  const std::vector<std::string> want = {
      "circulant B=4 layers=last8 none",  "circulant B=4 layers=last8 ls+kd",
      "circulant B=4 layers=all none",    "circulant B=4 layers=all ls+kd",
      "circulant B=64 layers=last8 none", "circulant B=64 layers=last8 ls+kd",
      "circulant B=64 layers=all none",   "circulant B=64 layers=all ls+kd"};
  EXPECT_EQ(names(g), want);
  EXPECT_TRUE(g.sensitivity_blocks.empty());
  EXPECT_EQ(g.configs[1].spec(30).layers.front(), 22u);  // last8: layers 22-29
}

TEST(Grid, LowRankBaselineUsesItsOwnBlockSizes) {
  eval::GridRequest r;
  r.blocks = {16};
  r.layers = {"all"};
  r.calibrations = {"ls"};
  r.low_rank_baseline = true;
  r.baseline_blocks = {64};
  const auto g = eval::expand_grid(r, smol());
  ASSERT_EQ(g.configs.size(), 2u);
  EXPECT_EQ(g.configs[0].structure, model::Structure::kBlockCirculant);
  EXPECT_EQ(g.configs[0].block, 16u);
  EXPECT_EQ(g.configs[1].structure, model::Structure::kLowRank);
  EXPECT_EQ(g.configs[1].block, 64u);
}

TEST(Grid, PatchesAndAutoRequestsFollowTheGrid) {
  eval::GridRequest r;
  r.block_grid = false;
  r.patches = {"20-29:down:16", "auto:0.7:4,64"};
  r.calibrations = {"none", "kd"};
  r.sensitivity = {16};
  const auto g = eval::expand_grid(r, smol());
  ASSERT_EQ(g.configs.size(), 4u);
  EXPECT_EQ(g.configs[0].patch, compress::PatchSpec::parse("20-29:down:16", 30).text());
  EXPECT_EQ(g.configs[0].calibration, "none");
  EXPECT_EQ(g.configs[1].calibration, "kd");
  EXPECT_EQ(g.configs[2].request, "auto:0.7:4,64");
  EXPECT_EQ(g.configs[2].layers, "auto");
  EXPECT_TRUE(g.configs[2].patch.empty());  // resolved once the sensitivity is measured
  EXPECT_EQ(g.sensitivity_blocks, (std::set<uint32_t>{4, 16, 64}));
}

TEST(Grid, RefusesWhatTheModelCannotTakeBeforeAnyWork) {
  eval::GridRequest r;
  r.blocks = {5000};  // larger than the matrices
  EXPECT_THROW(eval::expand_grid(r, smol()), compress::PatchSpecError);
  r.blocks = {64};
  r.layers = {"last31"};
  EXPECT_THROW(eval::expand_grid(r, smol()), compress::PatchSpecError);
  eval::GridRequest p;
  p.block_grid = false;
  p.patches = {"all:gates:8"};
  EXPECT_THROW(eval::expand_grid(p, smol()), compress::PatchSpecError);
  eval::GridRequest s;
  s.block_grid = false;
  s.sensitivity = {5000};
  EXPECT_THROW(eval::expand_grid(s, smol()), compress::PatchSpecError);
  eval::GridRequest nothing;
  nothing.block_grid = false;
  EXPECT_THROW(eval::expand_grid(nothing, smol()), std::invalid_argument);
}

TEST(Grid, KdEstimateByHand) {
  eval::SweepConfig c{model::Structure::kBlockCirculant, 4, "last8", "gate,up,down", "kd"};
  distill::KdOptions kd;
  kd.steps = 60;
  kd.tokens_per_step = 2048;
  // 1,000 calibration tokens a step (fewer than 2,048) x (30 - 22 + 8) layers x 3 forwards x 60
  // steps / 12,000 layer-tokens per second = 240 s.
  EXPECT_DOUBLE_EQ(eval::estimate_kd_seconds(c, 30, 1000, kd), 240.0);
}

TEST(Grid, SweepEstimateByHand) {
  const std::vector<eval::SweepConfig> grid = {
      {model::Structure::kBlockCirculant, 64, "all", "gate,up,down", "none"},
      {model::Structure::kBlockCirculant, 64, "all", "gate,up,down", "ls"},
      {model::Structure::kBlockCirculant, 4, "last8", "gate,up,down", "kd"}};
  eval::SweepWork w;
  w.eval_tokens = 900;
  w.continuation_tokens = 100;
  w.calib_tokens = 1000;
  w.decode_steps = 16;
  w.n_layers = 30;
  const eval::DeviceSpeed d{0.01, 0.1};  // 100 prefill tokens/s, 10 decode steps/s
  distill::KdOptions kd;
  const auto e = eval::estimate_sweep_seconds(grid, w, d, kd);
  // Teacher: 1,000 tokens forward (10 s) + 100 decode steps (10 s) + ls targets, twice over the
  // calibration text (20 s).
  EXPECT_DOUBLE_EQ(e.teacher_s, 40.0);
  ASSERT_EQ(e.config_s.size(), 3u);
  EXPECT_DOUBLE_EQ(e.config_s[0], 10.0 + 1.6);               // forward + 16 decode steps
  EXPECT_DOUBLE_EQ(e.config_s[1], 10.0 + 1.6 + 3.5 * 10.0);  // + ls
  EXPECT_DOUBLE_EQ(e.config_s[2], 10.0 + 1.6 + 240.0);       // + kd (KdEstimateByHand)
  EXPECT_DOUBLE_EQ(e.total(), 40.0 + 11.6 + 46.6 + 251.6);
  // A stored student calibrates nothing: no ls targets, no ls or kd time.
  const auto s = eval::estimate_sweep_seconds(grid, w, d, kd, true);
  EXPECT_DOUBLE_EQ(s.teacher_s, 20.0);
  EXPECT_DOUBLE_EQ(s.config_s[1], 11.6);
  EXPECT_DOUBLE_EQ(s.config_s[2], 11.6);
}

}  // namespace
}  // namespace bcvk
