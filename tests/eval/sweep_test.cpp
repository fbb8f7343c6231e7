// The evaluation pipeline end to end on tiny models: a lossless patch measures as lossless,
// calibration lowers the KL, and layer-wise least squares recovers block-circulant weights.
#include "runtime/eval/sweep.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/compress/compressed_gguf.h"
#include "runtime/eval/report.h"
#include "tests/support/gpu_test.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk {
namespace {

std::vector<std::vector<int32_t>> prompts(size_t n, uint32_t len, uint32_t vocab, uint32_t seed) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < n; ++i) {
    std::vector<int32_t> p;
    for (uint32_t t = 0; t < len + i % 5; ++t)
      p.push_back(static_cast<int32_t>((t * 31 + i * 17 + seed) % vocab));
    out.push_back(p);
  }
  return out;
}

class SweepTest : public test::GpuTest {
 protected:
  test::TempDir dir;
  void SetUp() override {
    test::GpuTest::SetUp();
    test::TinyConfig c;
    c.n_layers = 3;
    c.n_ctx = 128;
    test::TinyModel m = test::TinyModel::random(c);
    // Random MLPs barely move the logits of a tiny model; make them matter, so that replacing
    // them is measurable.
    for (auto& [name, w] : m.hf)
      if (name.find(".mlp.") != std::string::npos)
        for (float& v : w) v *= 6.0f;
    m.write_gguf(dir / "m.gguf");
  }
};

TEST_F(SweepTest, BlockSizeOneIsLosslessAndCalibrationLowersTheKl) {
  const auto file = loaders::LlamaModelFile::open(dir / "m.gguf");
  model::Model m(ctx(), file);
  const uint32_t V = file.config().n_vocab;
  eval::SweepOptions o;
  o.continuation_prompts = 3;
  o.continuation_tokens = 6;
  const auto teacher = eval::run_teacher(m, prompts(12, 6, V, 1), o);
  ASSERT_EQ(teacher.continuation.size(), 3u);
  ASSERT_EQ(teacher.last_logits.size(), 12u);

  const auto lossless =
      eval::run_config(m, file, {model::Structure::kBlockCirculant, 1, "all"}, teacher, nullptr, o);
  EXPECT_LT(lossless.aggregate.at("kl").mean, 1e-6);
  EXPECT_EQ(lossless.aggregate.at("top1").mean, 1.0);
  EXPECT_EQ(lossless.aggregate.at("cont_prefix").mean, 6.0);
  EXPECT_NEAR(lossless.stats.mlp_compression(), 1.0, 1e-12);

  const eval::TeacherTargets targets(m, prompts(24, 10, V, 7));
  const auto none = eval::run_config(m, file, {model::Structure::kBlockCirculant, 16, "all"},
                                     teacher, nullptr, o);
  const auto ls = eval::run_config(
      m, file, {model::Structure::kBlockCirculant, 16, "all", "gate,up,down", "ls"}, teacher,
      &targets, o);
  EXPECT_GT(none.aggregate.at("kl").mean, 1e-4);  // B = 16 on random weights loses something
  EXPECT_LT(ls.aggregate.at("kl").mean, none.aggregate.at("kl").mean);
  ASSERT_TRUE(ls.calibration.has_value());
  ASSERT_EQ(ls.calibration->error_after.size(), 9u);
  for (size_t i = 0; i < 9; ++i)
    EXPECT_LE(ls.calibration->error_after[i], ls.calibration->error_before[i] * 1.05) << i;
  const auto lr = eval::run_config(
      m, file, {model::Structure::kLowRank, 16, "2", "gate,up,down", "ls"}, teacher, &targets, o);
  EXPECT_EQ(lr.stats.replaced_parameters, 2ull * 3 * 64 * 96);
  // Distillation from the least-squares fit lowers the evaluation KL further.
  const distill::HostModel<float> host(file);
  const distill::KdTeacher kd_teacher(host, prompts(24, 10, V, 7), 1.0, {0}, 0.2, 1);
  eval::SweepOptions ok = o;
  ok.kd.steps = 20;
  ok.kd.lr = 3e-3;
  ok.kd.tokens_per_step = 96;
  const auto lskd = eval::run_config(
      m, file, {model::Structure::kBlockCirculant, 16, "all", "gate,up,down", "ls+kd"}, teacher,
      &targets, ok, {}, {&host, &kd_teacher});
  ASSERT_TRUE(lskd.kd.has_value());
  EXPECT_EQ(lskd.kd->train_loss.size(), 20u);
  EXPECT_LT(lskd.aggregate.at("kl").mean, ls.aggregate.at("kl").mean);
  EXPECT_LT(lskd.aggregate.at("kl_all").mean, ls.aggregate.at("kl_all").mean);

  // The reports carry every configuration.
  eval::SweepRun run;
  run.teacher = teacher;
  run.results = {lossless, none, ls, lr, lskd};
  const auto j = eval::to_json(run);
  EXPECT_EQ(j["configs"].size(), 5u);
  EXPECT_EQ(j["configs"][4]["kd_report"]["train_loss"].size(), 20u);
  EXPECT_EQ(j["configs"][2]["per_prompt"]["kl"].size(), 12u);
  EXPECT_NE(eval::markdown_table(run).find("circulant B=16 layers=all ls"), std::string::npos);
  const std::string html = eval::html_report(run);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg"));  // no network fetches
}

// A compressed file (bcvk compress) evaluated as a student measures exactly like the in-memory
// student it was written from: same parameters, same metrics.
TEST_F(SweepTest, AStoredStudentMeasuresLikeTheInMemoryStudent) {
  const auto file = loaders::LlamaModelFile::open(dir / "m.gguf");
  model::Model m(ctx(), file);
  eval::SweepOptions o;
  o.continuation_prompts = 2;
  o.continuation_tokens = 5;
  o.path = ops::CirculantPath::kFft;  // both students on one path (kAuto decides by timing)
  const auto teacher = eval::run_teacher(m, prompts(8, 6, file.config().n_vocab, 3), o);
  const eval::SweepConfig cfg{model::Structure::kBlockCirculant, 16, "2"};
  const auto in_memory = eval::run_config(m, file, cfg, teacher, nullptr, o);

  std::vector<compress::CirculantProjection> stored;
  for (const auto& pp : model::MlpPatch::project(file, cfg.spec(file.config().n_layers)))
    stored.push_back({pp.layer, pp.projection, pp.circulant});
  compress::CompressionRecord rec;
  rec.patch = "first2:all:16";
  compress::write_compressed_gguf(*file.gguf(), stored, rec, dir / "c.gguf");
  const auto cfile = loaders::LlamaModelFile::open(dir / "c.gguf");
  model::Model student(ctx(), cfile);
  model::MlpPatch patch(ctx(), cfile.config(), model::MlpPatch::stored(cfile), o.path);
  eval::SweepConfig label = cfg;
  label.stored = "stored c.gguf";
  const auto from_file = eval::run_stored_student(student, patch, label, teacher, o);

  EXPECT_EQ(from_file.config.name(), "stored c.gguf");
  EXPECT_EQ(from_file.stats.patch_parameters, in_memory.stats.patch_parameters);
  EXPECT_EQ(from_file.stats.replaced_parameters, 2ull * 3 * 64 * 96);
  for (const char* metric : {"kl", "mse", "top1", "cosine", "token_agree", "cont_agree"}) {
    const auto& a = from_file.per_prompt.at(metric);
    const auto& b = in_memory.per_prompt.at(metric);
    ASSERT_EQ(a.size(), b.size()) << metric;
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_NEAR(a[i], b[i], 1e-5 * (1 + std::abs(b[i]))) << metric << " prompt " << i;
  }
  EXPECT_GT(from_file.aggregate.at("kl").mean, 1e-4);  // it is a real (lossy) student
}

// run_sweep: the teacher's work first (its pass, then the ls targets, once), then each
// configuration in grid order; its results are run_config's (ls beats none); and a plan that
// cannot run is refused before any work.
TEST_F(SweepTest, RunSweepDoesTheTeachersWorkOnceThenEachConfiguration) {
  const auto file = loaders::LlamaModelFile::open(dir / "m.gguf");
  model::Model m(ctx(), file);
  const uint32_t V = file.config().n_vocab;
  eval::SweepPlan plan;
  plan.teacher = &m;
  plan.file = &file;
  plan.grid = {{model::Structure::kBlockCirculant, 16, "all"},
               {model::Structure::kBlockCirculant, 16, "all", "gate,up,down", "ls"}};
  plan.eval_ids = prompts(6, 6, V, 1);
  plan.options.continuation_prompts = 2;
  plan.options.continuation_tokens = 4;

  std::vector<std::pair<int, std::string>> seen;  // (stage, what) as they first appear
  const eval::SweepProgress progress = [&](int stage, const std::string& what, size_t, size_t) {
    if (seen.empty() || seen.back() != std::pair{stage, what}) seen.emplace_back(stage, what);
  };
  EXPECT_THROW(eval::run_sweep(plan, progress), std::invalid_argument);  // ls, no calibration
  EXPECT_TRUE(seen.empty()) << "work started before the plan was checked";
  plan.calib_ids = prompts(12, 10, V, 7);
  const eval::SweepOutcome out = eval::run_sweep(plan, progress);
  ASSERT_EQ(out.results.size(), 2u);
  EXPECT_EQ(out.teacher.last_logits.size(), 6u);
  EXPECT_LT(out.results[1].aggregate.at("kl").mean, out.results[0].aggregate.at("kl").mean);
  EXPECT_TRUE(out.results[1].calibration.has_value());
  EXPECT_EQ(out.kd_sequences, 0u);
  // Stages never go back: -1 (teacher, then "calib targets" once), 0, 1.
  int last = -1, targets = 0;
  for (const auto& [stage, what] : seen) {
    EXPECT_GE(stage, last) << what;
    last = stage;
    targets += what == "calib targets";
  }
  EXPECT_EQ(targets, 1);
  EXPECT_EQ(last, 1);

  plan.grid.push_back({model::Structure::kBlockCirculant, 16, "last1", "gate,up,down", "kd"});
  EXPECT_THROW(eval::run_sweep(plan), std::invalid_argument);  // kd without the host model
}

}  // namespace
}  // namespace bcvk
