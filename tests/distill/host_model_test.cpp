// The host model used for distillation: its forward pass against the double-precision CPU
// reference (tiny models) and against bcvk's Vulkan forward (the real model), and the gradient of
// the whole student -- loss through the LM head, every frozen layer, back to the block-circulant
// and low-rank parameters -- against central finite differences in double.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "runtime/compress/low_rank.h"
#include "runtime/distill/calib_generate.h"
#include "runtime/distill/host_model.h"
#include "runtime/model/session.h"
#include "tests/support/compare.h"
#include "tests/support/cpu_reference.h"
#include "tests/support/gpu_test.h"
#include "tests/support/random.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk::distill {
namespace {

loaders::LlamaModelFile tiny(const test::TempDir& dir, bool tied, const std::string& name) {
  test::TinyConfig c;
  c.n_layers = 3;
  c.tied = tied;
  test::TinyModel::random(c).write_gguf(dir / name);
  return loaders::LlamaModelFile::open(dir / name);
}

TEST(HostModel, ForwardMatchesTheCpuReferenceOnPackedSequences) {
  test::TempDir dir;
  for (bool tied : {true, false}) {
    const auto file = tiny(dir, tied, tied ? "tied.gguf" : "untied.gguf");
    const auto& c = file.config();
    const std::vector<std::vector<int32_t>> seqs = {test::synthetic_prompt(9, c.n_vocab),
                                                    {3, 1, 4, 1, 5}};
    const HostModel<double> hd(file);
    const HostModel<float> hf(file);
    Packing pk;
    std::vector<int32_t> ids;
    for (const auto& s : seqs) {
      pk.add(uint32_t(s.size()));
      ids.insert(ids.end(), s.begin(), s.end());
    }
    auto xd = hd.embed(ids);
    auto xf = hf.embed(ids);
    hd.forward_layers(xd, pk, 0, c.n_layers, {}, nullptr);
    hf.forward_layers(xf, pk, 0, c.n_layers, {}, nullptr);
    std::vector<double> zd(size_t(pk.tokens()) * c.n_vocab);
    std::vector<float> zf(zd.size());
    hd.logits(xd.data(), pk.tokens(), zd.data());
    hf.logits(xf.data(), pk.tokens(), zf.data());
    for (size_t s = 0; s < seqs.size(); ++s) {
      const auto ref = test::cpu_forward(file, seqs[s]);  // one sequence at a time
      for (size_t t = 0; t < seqs[s].size(); ++t)
        for (uint32_t v = 0; v < c.n_vocab; ++v) {
          const size_t i = (pk.offset[s] + t) * c.n_vocab + v;
          ASSERT_NEAR(zd[i], ref[t][v], 1e-9 * (1 + std::abs(ref[t][v])))
              << "seq " << s << " pos " << t;
          ASSERT_NEAR(zf[i], ref[t][v], 2e-4 * (1 + std::abs(ref[t][v])))
              << "seq " << s << " pos " << t;
        }
    }
  }
}

// A student with a block-circulant gate (B = 20: padded on both axes) and down (B = 16: exact) in
// layer 1, and a low-rank up in layer 2; layer 0 stays below the student.
TEST(HostModel, StudentGradientMatchesFiniteDifferences) {
  test::TempDir dir;
  const auto file = tiny(dir, true, "m.gguf");
  const auto& c = file.config();
  const HostModel<double> m(file);
  test::Rng rng(7);
  std::vector<Trainable<double>> ts(3);
  auto init = [&](Trainable<double>& t, uint32_t layer, compress::Projection p, Kind kind,
                  uint32_t block, uint32_t rank) {
    const bool down = p == compress::Projection::kDown;
    t.layer = layer;
    t.projection = p;
    t.kind = kind;
    t.rows = down ? c.n_embd : c.n_ff;
    t.cols = down ? c.n_ff : c.n_embd;
    t.block = block;
    t.rank = rank;
    const size_t n = kind == Kind::kBlockCirculant ? size_t((t.rows + block - 1) / block) *
                                                         ((t.cols + block - 1) / block) * block
                                                   : size_t(rank) * (t.rows + t.cols);
    t.params.resize(n);
    for (auto& x : t.params) x = 0.1 * rng.uniform(-1.f, 1.f);
  };
  init(ts[0], 1, compress::Projection::kGate, Kind::kBlockCirculant, 20, 0);  // padded
  init(ts[1], 1, compress::Projection::kDown, Kind::kBlockCirculant, 16, 0);
  init(ts[2], 2, compress::Projection::kUp, Kind::kLowRank, 0, 3);
  std::vector<Trainable<double>*> student = {&ts[0], &ts[1], &ts[2]};

  Packing pk;
  pk.add(5);
  pk.add(3);
  std::vector<int32_t> ids = {1, 7, 3, 9, 2, 4, 4, 8};
  // Teacher: the dense model's own distribution at T = 2.
  const double T = 2.0;
  auto x0 = m.embed(ids);
  m.forward_layers(x0, pk, 0, 1, {}, nullptr);  // the student starts at layer 1
  std::vector<double> zt(size_t(pk.tokens()) * c.n_vocab);
  {
    auto x = x0;
    m.forward_layers(x, pk, 1, c.n_layers, {}, nullptr);
    m.logits(x.data(), pk.tokens(), zt.data());
  }
  std::vector<float> p(zt.size());
  std::vector<double> ne(pk.tokens(), 0.0);
  for (uint32_t n = 0; n < pk.tokens(); ++n) {
    double s = 0;
    for (uint32_t v = 0; v < c.n_vocab; ++v) s += std::exp(zt[n * c.n_vocab + v] / T);
    for (uint32_t v = 0; v < c.n_vocab; ++v) {
      p[n * c.n_vocab + v] = float(std::exp(zt[n * c.n_vocab + v] / T) / s);
      ne[n] += p[n * c.n_vocab + v] * std::log(double(p[n * c.n_vocab + v]));
    }
  }
  auto loss = [&]() {
    for (auto* t : student) t->materialize();
    HostModel<double>::Acts acts;
    auto x = x0;
    m.forward_layers(x, pk, 1, c.n_layers, student, &acts);
    return m.lm_head_loss(acts, p.data(), ne.data(), T, 1.0, nullptr);
  };
  for (auto* t : student) {
    t->materialize();
    t->dense_grad.assign(t->dense.size(), 0.0);
    t->grad.assign(t->params.size(), 0.0);
  }
  HostModel<double>::Acts acts;
  auto x = x0;
  m.forward_layers(x, pk, 1, c.n_layers, student, &acts);
  std::vector<double> dx;
  const double L0 = m.lm_head_loss(acts, p.data(), ne.data(), T, 1.0, &dx);
  EXPECT_GT(L0, 0.01);  // the random student is far from the teacher
  m.backward(acts, dx, student);
  for (auto* t : student) t->fold();
  for (size_t k = 0; k < ts.size(); ++k) {
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < ts[k].params.size(); i += 3) {  // every third parameter
      const double v0 = ts[k].params[i], h = 1e-5;
      ts[k].params[i] = v0 + h;
      const double lp = loss();
      ts[k].params[i] = v0 - h;
      const double lm = loss();
      ts[k].params[i] = v0;
      const double num = (lp - lm) / (2 * h);
      worst = std::max(worst, std::abs(num - ts[k].grad[i]));
      gmax = std::max(gmax, std::abs(num));
    }
    EXPECT_GT(gmax, 1e-4) << "trainable " << k << " has no gradient to check";
    EXPECT_LT(worst, 1e-6 * std::max(1.0, gmax)) << "trainable " << k;
  }
}

// Incremental decoding (KV cache, sequences in lockstep) gives the logits of the full forward at
// every position.
TEST(HostModel, DecodeStepsMatchTheFullForward) {
  test::TempDir dir;
  const auto file = tiny(dir, false, "m.gguf");
  const auto& c = file.config();
  const HostModel<float> m(file);
  const std::vector<std::vector<int32_t>> seqs = {{5, 9, 2, 7, 1}, {3, 8, 6}};
  std::vector<HostModel<float>::KvCache> caches(2);
  for (size_t step = 0; step < 5; ++step) {
    std::vector<int32_t> ids;
    std::vector<HostModel<float>::KvCache*> kc;
    std::vector<size_t> which;
    for (size_t i = 0; i < 2; ++i)
      if (step < seqs[i].size()) {
        ids.push_back(seqs[i][step]);
        kc.push_back(&caches[i]);
        which.push_back(i);
      }
    auto x = m.embed(ids);
    m.decode_step(x, kc);
    std::vector<float> z(ids.size() * c.n_vocab);
    m.logits(x.data(), uint32_t(ids.size()), z.data());
    for (size_t r = 0; r < which.size(); ++r) {
      const auto ref = test::cpu_forward(
          file, std::vector<int32_t>(seqs[which[r]].begin(), seqs[which[r]].begin() + step + 1));
      for (uint32_t v = 0; v < c.n_vocab; ++v)
        ASSERT_NEAR(z[r * c.n_vocab + v], ref[step][v], 2e-4 * (1 + std::abs(ref[step][v])))
            << "sequence " << which[r] << " position " << step;
    }
  }
  EXPECT_EQ(caches[0].length, 5u);
  EXPECT_EQ(caches[1].length, 3u);
}

// The teacher's own continuations: prompts kept as prefixes, the asked length (or an end at EOS),
// the same text for the same seed whatever else is generated alongside, another text for another
// seed.
TEST(HostModel, GeneratedContinuationsAreSeededAndIndependentOfBatching) {
  test::TempDir dir;
  const auto file = tiny(dir, false, "m.gguf");  // untied: a spread-out distribution
  const HostModel<float> m(file);
  const std::vector<std::vector<int32_t>> prompts = {{5, 9, 2}, {3, 8, 6, 1, 4}, {7}};
  GenerateOptions o;
  o.tokens = 12;
  o.seed = 4;
  const auto all = generate_continuations(m, prompts, o);
  ASSERT_EQ(all.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(all[i].size(), prompts[i].size() + 12) << i;
    EXPECT_TRUE(std::equal(prompts[i].begin(), prompts[i].end(), all[i].begin()));
    for (int32_t t : all[i]) EXPECT_LT(uint32_t(t), file.config().n_vocab);
  }
  EXPECT_EQ(generate_continuations(m, prompts, o), all);
  // Without sequence 2 (the longest-running), sequences 0 and 1 get the same text: each has its
  // own generator and cache, whatever decodes alongside.
  const auto two = generate_continuations(m, {prompts[0], prompts[1]}, o);
  EXPECT_EQ(two[0], all[0]) << "batching changed the text";
  EXPECT_EQ(two[1], all[1]) << "batching changed the text";
  o.seed = 5;
  EXPECT_NE(generate_continuations(m, prompts, o), all);
  // An end-of-sequence token ends a sequence early, kept as its last token.
  o.seed = 4;
  o.eos = all[0][prompts[0].size() + 2];
  const auto stopped = generate_continuations(m, {prompts[0]}, o)[0];
  ASSERT_LE(stopped.size(), prompts[0].size() + 3);
  EXPECT_EQ(stopped.back(), o.eos);
  o.tokens = 64;  // 5 + 64 > the tiny model's context of 64
  EXPECT_THROW(generate_continuations(m, prompts, o), std::invalid_argument);
}

class HostModelOnDevice : public test::GpuTest {};

// The host forward that distillation trains against must be the model bcvk runs: on the real
// model, its logits equal the Vulkan forward's to float tolerance.
TEST_F(HostModelOnDevice, RealModelLogitsMatchTheVulkanForward) {
  const auto path = std::filesystem::path(BCVK_MODEL_DIR) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << ": run scripts/setup.sh";
  const auto file = loaders::LlamaModelFile::open(path);
  const auto& c = file.config();
  const HostModel<float> host(file);
  // An f32 KV cache: the host forward keeps K and V in f32 as well.
  model::Model dev(ctx(), file, {.context = 64, .kv = ops::KvType::kF32});
  model::Session s(dev, 32);
  const std::vector<int32_t> ids = {504, 3458, 282, 4649, 314, 1545, 30, 378, 2365, 1126, 4471};
  const auto gpu = s.prefill(ids, true);
  Packing pk;
  pk.add(uint32_t(ids.size()));
  auto x = host.embed(ids);
  host.forward_layers(x, pk, 0, c.n_layers, {}, nullptr);
  std::vector<float> z(ids.size() * c.n_vocab);
  host.logits(x.data(), uint32_t(ids.size()), z.data());
  EXPECT_LT(test::rel_l2(z, gpu), 2e-4);
  for (size_t t = 0; t < ids.size(); ++t) {
    const auto* a = z.data() + t * c.n_vocab;
    const auto* b = gpu.data() + t * c.n_vocab;
    EXPECT_EQ(std::max_element(a, a + c.n_vocab) - a, std::max_element(b, b + c.n_vocab) - b)
        << "position " << t;
  }
}

}  // namespace
}  // namespace bcvk::distill
