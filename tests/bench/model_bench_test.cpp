// The interleaved model benchmark (bench --against / --patch): every subject gets one prefill per
// rep and one sample per decode step of every rep, its medians are the medians of those samples
// (computed here by sorting), and requests that cannot run are refused before any work.
#include <gtest/gtest.h>

#include <algorithm>

#include "runtime/bench/model_bench.h"
#include "runtime/model/mlp_patch.h"
#include "tests/support/circulant_model.h"
#include "tests/support/gpu_test.h"
#include "tests/support/temp_dir.h"

namespace bcvk {
namespace {

double sorted_median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

class ModelBenchTest : public test::GpuTest {
 protected:
  test::TempDir dir;
};

TEST_F(ModelBenchTest, InterleavedRunsGiveEverySubjectEverySample) {
  test::write_tiny_model(dir / "tiny.gguf", 0);
  const auto file = loaders::LlamaModelFile::open(dir / "tiny.gguf");
  model::Model dense(ctx(), file);
  const model::MlpPatch patch(
      ctx(), file.config(),
      model::MlpPatch::project(file, compress::PatchSpec::parse("all:all:16", 3)),
      ops::CirculantPath::kFused);
  const bench::ModelBenchOptions o{/*prompt_tokens=*/9, /*decode_tokens=*/5, /*reps=*/3};
  const std::vector<bench::BenchSubject> subjects = {{&dense, nullptr}, {&dense, &patch}};
  const auto r = bench::bench_interleaved(subjects, o);
  ASSERT_EQ(r.size(), 2u);
  for (const auto& x : r) {
    ASSERT_EQ(x.prefill_tokens_per_s.size(), 3u);
    ASSERT_EQ(x.decode_ms_per_token.size(), 15u);  // every step of every rep
    for (double v : x.prefill_tokens_per_s) EXPECT_GT(v, 0.0);
    for (double v : x.decode_ms_per_token) EXPECT_GT(v, 0.0);
    EXPECT_DOUBLE_EQ(x.prefill_tps, sorted_median(x.prefill_tokens_per_s));
    EXPECT_DOUBLE_EQ(x.decode_tps, 1e3 / sorted_median(x.decode_ms_per_token));
    EXPECT_GT(x.decode_commands, 0u);
  }
  // bench_model (one variant, with its profile pass): every decode step of every rep too.
  const auto alone = bench::bench_model(dense, &patch, o);
  EXPECT_EQ(alone.prefill_tokens_per_s.size(), 3u);
  ASSERT_EQ(alone.decode_ms_per_token.size(), 15u);
  EXPECT_DOUBLE_EQ(alone.decode_tps, 1e3 / sorted_median(alone.decode_ms_per_token));
  EXPECT_GT(alone.profiled_decode_steps, 0u);
  EXPECT_DOUBLE_EQ(alone.mlp_dispatches_per_layer, 2.0);  // the fused pair and down
  // One subject alone: the same sample counts (interleaving adds none).
  const std::vector<bench::BenchSubject> one = {{&dense, &patch}};
  const auto single = bench::bench_interleaved(one, o);
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].decode_ms_per_token.size(), 15u);
}

TEST_F(ModelBenchTest, RequestsThatCannotRunAreRefused) {
  test::write_tiny_model(dir / "tiny.gguf", 0);
  const auto file = loaders::LlamaModelFile::open(dir / "tiny.gguf");
  model::ModelOptions opts;
  opts.context = 32;
  model::Model m(ctx(), file, opts);
  const std::vector<bench::BenchSubject> subjects = {{&m, nullptr}};
  try {
    bench::bench_interleaved(subjects, {30, 5, 1});
    ADD_FAILURE() << "30 + 5 tokens ran in a context of 32";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("exceed the context of 32"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(bench::bench_interleaved({}, {8, 4, 1}), std::invalid_argument);
  EXPECT_THROW(bench::bench_interleaved(subjects, {8, 4, 0}), std::invalid_argument);
}

}  // namespace
}  // namespace bcvk
