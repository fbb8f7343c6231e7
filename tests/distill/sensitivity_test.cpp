// Sensitivity: the KL when one projection alone is projected onto block-circulant structure,
// against the double-precision CPU reference forward of a model file whose weight is that
// projection expanded to dense; and --patch auto's choice on top of it.
#include <gtest/gtest.h>

#include <cmath>

#include "runtime/compress/block_circulant.h"
#include "runtime/distill/sensitivity.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk::distill {
namespace {

test::TinyModel tiny() {
  test::TinyConfig c;
  c.n_layers = 3;
  return test::TinyModel::random_with_strong_mlps(c);
}

std::vector<std::vector<int32_t>> sequences() {
  std::vector<std::vector<int32_t>> s;
  for (size_t i = 0; i < 5; ++i) {
    std::vector<int32_t> t;
    for (size_t k = 0; k < 5 + i; ++k) t.push_back(int32_t((i * 17 + k * 5 + k * k) % 80));
    s.push_back(t);
  }
  return s;
}

// Mean over positions of KL(softmax(a) || softmax(b)), in double.
double mean_kl(const std::vector<std::vector<double>>& a,
               const std::vector<std::vector<double>>& b) {
  double sum = 0;
  for (size_t t = 0; t < a.size(); ++t) {
    auto lse = [](const std::vector<double>& z) {
      double m = -INFINITY, s = 0;
      for (double v : z) m = std::max(m, v);
      for (double v : z) s += std::exp(v - m);
      return m + std::log(s);
    };
    const double la = lse(a[t]), lb = lse(b[t]);
    for (size_t v = 0; v < a[t].size(); ++v) {
      const double lp = a[t][v] - la;
      sum += std::exp(lp) * (lp - (b[t][v] - lb));
    }
  }
  return sum / a.size();
}

TEST(Sensitivity, EachEntryIsTheKlOfThatProjectionAloneReplaced) {
  test::TempDir dir;
  const test::TinyModel tm = tiny();
  tm.write_gguf(dir / "teacher.gguf");
  const auto file = loaders::LlamaModelFile::open(dir / "teacher.gguf");
  const HostModel<float> m(file);
  const auto seqs = sequences();
  const KdTeacher teacher = sensitivity_teacher(m, seqs, 1.0);
  constexpr uint32_t B = 8;
  const Sensitivity s = measure_sensitivity(m, file, teacher, B);
  ASSERT_EQ(s.kl.size(), 3u);
  EXPECT_EQ(s.tokens, 35u);

  // The reference for three (layer, projection) pairs: a model file with that weight replaced.
  const char* names[3] = {"gate_proj", "up_proj", "down_proj"};
  for (auto [l, p] : {std::pair{0u, 0}, std::pair{1u, 2}, std::pair{2u, 1}}) {
    test::TinyModel student = tm;
    const std::string key = "model.layers." + std::to_string(l) + ".mlp." + names[p] + ".weight";
    auto& w = student.hf.at(key);
    const auto& shape = student.shapes.at(key);
    w = compress::expand(
        compress::project_block_circulant(w, uint32_t(shape[0]), uint32_t(shape[1]), B));
    const auto path = dir / ("student" + std::to_string(l) + std::to_string(p) + ".gguf");
    student.write_gguf(path);
    const auto sfile = loaders::LlamaModelFile::open(path);
    double kl = 0;
    size_t positions = 0;
    for (const auto& seq : seqs) {
      kl += mean_kl(test::cpu_forward(file, seq), test::cpu_forward(sfile, seq)) * seq.size();
      positions += seq.size();
    }
    kl /= positions;
    const double got = s.kl[l][size_t(p)];
    EXPECT_GT(kl, 1e-3) << "the projection should matter in this model";
    EXPECT_NEAR(got, kl, 2e-3 * kl + 1e-6) << "layer " << l << " " << names[p];
  }

  // auto: at a budget that one B=8 projection meets, the least sensitive one is chosen.
  const auto& c = file.config();
  const double dense = 3.0 * 3 * c.n_embd * c.n_ff;
  const double one = double(c.n_embd) * c.n_ff;  // each projection's parameters
  const auto choice = choose_auto(c, {s}, 1.0 - (one - one / B) / dense);
  ASSERT_EQ(choice.spec.count(), 1u);
  double least = INFINITY;
  uint32_t ll = 0;
  int lp = 0;
  for (uint32_t l = 0; l < 3; ++l)
    for (int p = 0; p < 3; ++p)
      if (s.kl[l][size_t(p)] < least) {
        least = s.kl[l][size_t(p)];
        ll = l;
        lp = p;
      }
  EXPECT_EQ(choice.spec.block(ll, compress::Projection(lp)), B);
  EXPECT_DOUBLE_EQ(choice.cost, least);
}

// resolve_auto picks the tables of the request's block sizes only, and names what is missing.
TEST(Sensitivity, AutoRequestsUseTheirOwnBlockSizesTables) {
  test::TinyConfig tc;
  tc.n_layers = 3;
  loaders::LlamaConfig c;
  c.n_layers = 3;
  c.n_embd = tc.n_embd;
  c.n_ff = tc.n_ff;
  // B = 8: layer 1's up is the cheapest; B = 16: layer 2's down, and cheaper still.
  Sensitivity s8{8, {}, 1, 10, 0}, s16{16, {}, 1, 10, 0};
  s8.kl = {{1, 1, 1}, {1, 0.1, 1}, {1, 1, 1}};
  s16.kl = {{2, 2, 2}, {2, 2, 2}, {2, 2, 0.01}};
  const double dense = 9.0 * c.n_embd * c.n_ff, one = double(c.n_embd) * c.n_ff;
  const std::string ratio8 = std::to_string(1.0 - (one - one / 8) / dense + 1e-9);
  const auto a = resolve_auto(c, {s8, s16}, "auto:" + ratio8 + ":8");
  EXPECT_EQ(a.spec.count(), 1u);
  EXPECT_EQ(a.spec.block(1, compress::Projection::kUp), 8u);
  const auto b = resolve_auto(c, {s8, s16}, "auto:" + ratio8 + ":8,16");
  EXPECT_EQ(b.spec.block(2, compress::Projection::kDown), 16u);
  try {
    resolve_auto(c, {s8}, "auto:0.9:8,32");
    ADD_FAILURE() << "a block size without a table was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no sensitivity was measured at B = 32"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(resolve_auto(c, {s8}, "auto:0.001:8"), std::invalid_argument);  // unreachable
  EXPECT_THROW(resolve_auto(c, {s8}, "0:up:8"), std::invalid_argument);         // not auto
}

TEST(Sensitivity, SequencesAreCutToTheTokenBudget) {
  const std::vector<std::vector<int32_t>> s = {{1, 2, 3}, {4, 5}, {6, 7, 8, 9}};
  EXPECT_EQ(sensitivity_sequences(s, 5).size(), 2u);
  EXPECT_EQ(sensitivity_sequences(s, 100).size(), 3u);
  const auto one = sensitivity_sequences(s, 2);  // the first alone is longer: truncated
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0], (std::vector<int32_t>{1, 2}));
  EXPECT_THROW(sensitivity_sequences(s, 0), std::invalid_argument);
  EXPECT_THROW(sensitivity_sequences({}, 10), std::invalid_argument);
}

}  // namespace
}  // namespace bcvk::distill
