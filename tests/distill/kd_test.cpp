// Distillation end to end on tiny models: a block-circulant student trained against its dense
// teacher must beat its own starting point on held-out sequences, only the patched parameters may
// change, and the same seed must give the same student bit for bit.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/compress/low_rank.h"
#include "runtime/distill/kd.h"
#include "tests/support/compare.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk::distill {
namespace {

struct Fixture {
  test::TempDir dir;
  loaders::LlamaModelFile file;
  Fixture() : file(make(dir)) {}
  static loaders::LlamaModelFile make(const test::TempDir& d) {
    test::TinyConfig c;
    c.n_layers = 3;
    test::TinyModel::random_with_strong_mlps(c).write_gguf(d / "m.gguf");
    return loaders::LlamaModelFile::open(d / "m.gguf");
  }
  std::vector<std::vector<int32_t>> sequences(size_t n) const {
    std::vector<std::vector<int32_t>> s;
    for (size_t i = 0; i < n; ++i) {
      std::vector<int32_t> t;
      for (size_t k = 0; k < 6 + i % 7; ++k) t.push_back(int32_t((i * 13 + k * 7 + k * k) % 80));
      s.push_back(t);
    }
    return s;
  }
};

std::vector<model::PatchedProjection> projected(
    const loaders::LlamaModelFile& f, const std::string& spec,
    model::Structure st = model::Structure::kBlockCirculant) {
  return model::MlpPatch::project(f, compress::PatchSpec::parse(spec, f.config().n_layers), st);
}

TEST(Kd, TrainedStudentBeatsItsStartOnHeldOutSequences) {
  Fixture fx;
  const HostModel<float> m(fx.file);
  const KdTeacher teacher(m, fx.sequences(40), 1.0, {1}, 0.25, 3);
  ASSERT_EQ(teacher.validation().size(), 10u);
  ASSERT_EQ(teacher.train().size(), 30u);
  auto student = projected(fx.file, "1-2:all:8");
  const auto start = student;
  const double before = kd_loss(m, teacher, student, teacher.validation());
  KdOptions o;
  o.steps = 40;
  o.lr = 1e-2;
  o.tokens_per_step = 128;
  o.eval_every = 10;
  const KdReport r = distill(m, teacher, student, o);
  const double after = kd_loss(m, teacher, student, teacher.validation());
  EXPECT_GT(before, 0.05);
  EXPECT_LT(after, 0.7 * before) << "before " << before << " after " << after;
  EXPECT_NEAR(r.initial_val_loss, before, 1e-9 * before);
  EXPECT_NEAR(r.best_val_loss, after, 1e-6 * after);  // the kept parameters are the best ones
  EXPECT_EQ(r.train_loss.size(), 40u);
  EXPECT_LT(r.train_loss.back(), r.train_loss.front());
  EXPECT_EQ(r.val_loss.size(), 5u);  // step 0 and every 10 steps
  ASSERT_EQ(student.size(), start.size());
  for (size_t i = 0; i < student.size(); ++i) {
    EXPECT_EQ(student[i].layer, start[i].layer);
    EXPECT_EQ(student[i].circulant.c.size(), start[i].circulant.c.size());
    EXPECT_NE(student[i].circulant.c, start[i].circulant.c);
  }
}

TEST(Kd, LowRankBaselineTrainsToo) {
  Fixture fx;
  const HostModel<float> m(fx.file);
  const KdTeacher teacher(m, fx.sequences(24), 1.0, {2}, 0.25, 3);
  auto student = projected(fx.file, "2:gate,down:8", model::Structure::kLowRank);
  const double before = kd_loss(m, teacher, student, teacher.validation());
  KdOptions o;
  o.steps = 30;
  o.lr = 3e-3;
  o.tokens_per_step = 96;
  distill(m, teacher, student, o);
  EXPECT_LT(kd_loss(m, teacher, student, teacher.validation()), before);
}

// The same low-rank student with its factors 300x apart in scale (U * 300, V / 300: the product,
// so the starting loss, unchanged) trains as the balanced one does.  A whitened least-squares fit
// leaves factors this far apart; unbalanced, Adam's per-entry steps swamp the small factor.
TEST(Kd, LowRankTrainsWhateverTheScaleOfItsFactors) {
  Fixture fx;
  const HostModel<float> m(fx.file);
  const KdTeacher teacher(m, fx.sequences(24), 1.0, {2}, 0.25, 3);
  auto balanced = projected(fx.file, "2:gate,down:8", model::Structure::kLowRank);
  for (auto& p : balanced) compress::balance(p.low_rank);
  auto skewed = balanced;
  for (auto& p : skewed) {
    for (float& v : p.low_rank.u) v *= 300.f;
    for (float& v : p.low_rank.v) v /= 300.f;
  }
  const double before = kd_loss(m, teacher, balanced, teacher.validation());
  ASSERT_NEAR(kd_loss(m, teacher, skewed, teacher.validation()), before, 1e-4 * before);
  KdOptions o;
  o.steps = 40;
  o.lr = 3e-3;
  o.tokens_per_step = 96;
  o.eval_every = 40;
  distill(m, teacher, balanced, o);
  distill(m, teacher, skewed, o);
  const double a = kd_loss(m, teacher, balanced, teacher.validation()),
               b = kd_loss(m, teacher, skewed, teacher.validation());
  EXPECT_LT(a, 0.95 * before) << "before " << before;  // measured 1.53 from 1.66
  EXPECT_NEAR(b, a, 0.02 * a) << "before " << before;  // without balancing: 1.66, never moved
}

// A run that never got below its starting validation loss says so (eval and compress print it);
// one that did, or one without validation, says nothing.  Hand-made reports.
TEST(Kd, ARunThatKeptItsStartSaysSo) {
  KdReport k;
  k.options.lr = 1e-3;
  k.steps_run = 10;
  k.best_step = 0;
  k.initial_val_loss = 2.0;
  k.val_loss = {{0, 2.0}, {5, 3.0}, {10, 2.5}};
  const std::string note = no_progress_note(k);
  EXPECT_NE(note.find("in 10 steps (start 2.0000, lowest later 2.5000, last 2.5000 at peak lr "
                      "0.001)"),
            std::string::npos)
      << note;
  EXPECT_NE(note.find("a smaller learning rate may train"), std::string::npos) << note;
  k.best_step = 5;
  EXPECT_EQ(no_progress_note(k), "");
  k.best_step = 0;
  k.val_loss = {{0, 2.0}};  // no validation after the start
  EXPECT_EQ(no_progress_note(k), "");
  k.steps_run = 0;
  EXPECT_EQ(no_progress_note(k), "");
}

TEST(Kd, SameSeedSameStudentBitForBit) {
  Fixture fx;
  const HostModel<float> m(fx.file);
  KdOptions o;
  o.steps = 6;
  o.tokens_per_step = 64;
  o.seed = 11;
  std::vector<std::vector<float>> runs;
  for (int rep = 0; rep < 2; ++rep) {
    const KdTeacher teacher(m, fx.sequences(20), 1.0, {0}, 0.2, 5);
    auto s = projected(fx.file, "0,2:up:16");
    distill(m, teacher, s, o);
    std::vector<float> all;
    for (const auto& pp : s) all.insert(all.end(), pp.circulant.c.begin(), pp.circulant.c.end());
    runs.push_back(all);
  }
  EXPECT_EQ(runs[0], runs[1]);
  o.seed = 12;  // another seed draws other batches: a different student
  const KdTeacher teacher(m, fx.sequences(20), 1.0, {0}, 0.2, 5);
  auto s = projected(fx.file, "0,2:up:16");
  distill(m, teacher, s, o);
  std::vector<float> all;
  for (const auto& pp : s) all.insert(all.end(), pp.circulant.c.begin(), pp.circulant.c.end());
  EXPECT_NE(all, runs[0]);
}

TEST(Kd, BadOptionsAndMissingStartLayersAreRefused) {
  Fixture fx;
  const HostModel<float> m(fx.file);
  const KdTeacher teacher(m, fx.sequences(6), 1.0, {1}, 0.2, 5);
  auto s = projected(fx.file, "1:all:8");
  for (auto bad : std::vector<std::function<void(KdOptions&)>>{
           [](KdOptions& o) { o.temperature = 0; }, [](KdOptions& o) { o.temperature = INFINITY; },
           [](KdOptions& o) { o.steps = 0; }, [](KdOptions& o) { o.lr = -1; },
           [](KdOptions& o) { o.schedule = "step"; }, [](KdOptions& o) { o.tokens_per_step = 0; },
           [](KdOptions& o) { o.val_fraction = 1.0; }}) {
    KdOptions o;
    bad(o);
    EXPECT_THROW(distill(m, teacher, s, o), std::invalid_argument);
  }
  // The teacher kept the residual at layer 1 only: a student starting at layer 0 is refused.
  auto s0 = projected(fx.file, "0:all:8");
  EXPECT_THROW(distill(m, teacher, s0, KdOptions{}), std::invalid_argument);
  EXPECT_THROW(KdTeacher(m, {}, 1.0, {1}, 0.1, 1), std::invalid_argument);
  EXPECT_THROW(KdTeacher(m, {{1, 2}, {}}, 1.0, {1}, 0.1, 1), std::invalid_argument);
  EXPECT_THROW(KdTeacher(m, {{1, 200}}, 1.0, {1}, 0.1, 1), std::invalid_argument);
}

}  // namespace
}  // namespace bcvk::distill
