#include "runtime/eval/sweep.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <set>
#include <stdexcept>

#include "runtime/util/statistics.h"

namespace bcvk::eval {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<int32_t> row_argmax(const std::vector<float>& logits, size_t vocab) {
  std::vector<int32_t> out(logits.size() / vocab);
  for (size_t r = 0; r < out.size(); ++r) {
    const float* row = logits.data() + r * vocab;
    out[r] = static_cast<int32_t>(std::max_element(row, row + vocab) - row);
  }
  return out;
}

// Median ms of `steps` decode steps continuing the session's current sequence.
double decode_ms(model::Session& s, uint32_t steps) {
  std::vector<double> ms;
  int32_t next = s.last_argmax();
  for (uint32_t i = 0; i < steps && s.position() < s.context_length(); ++i) {
    const auto t0 = Clock::now();
    s.decode(next);
    ms.push_back(since(t0) * 1e3);
    next = s.last_argmax();
  }
  return util::median(ms);
}

// Consecutive groups of sequences of at most `budget` tokens in total (one forward each).
std::vector<std::pair<size_t, size_t>> packs(const std::vector<std::vector<int32_t>>& seqs,
                                             size_t budget) {
  std::vector<std::pair<size_t, size_t>> out;  // [begin, end)
  size_t begin = 0, tokens = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (i > begin && tokens + seqs[i].size() > budget) {
      out.emplace_back(begin, i);
      begin = i;
      tokens = 0;
    }
    tokens += seqs[i].size();
  }
  if (begin < seqs.size()) out.emplace_back(begin, seqs.size());
  return out;
}

constexpr uint32_t kPackTokens = 64;

// Runs `seqs` through `s` in packs of at most kPackTokens tokens (one forward each), calling
// visit(i, logits of seqs[i] as [len][vocab]); returns the seconds spent in prefill.
template <class Visit>
double run_packed(model::Session& s, const std::vector<std::vector<int32_t>>& seqs,
                  const char* what, const Progress& progress, Visit&& visit) {
  double seconds = 0;
  for (auto [b, e] : packs(seqs, kPackTokens)) {
    if (progress) progress(what, b, seqs.size());
    const std::vector<std::vector<int32_t>> group(seqs.begin() + b, seqs.begin() + e);
    s.reset();
    const auto t0 = Clock::now();
    const auto logits = s.prefill_packed(group);
    seconds += since(t0);
    for (size_t i = b; i < e; ++i) visit(i, logits[i - b]);
  }
  return seconds;
}

void measure_student(model::Model& model, const model::MlpPatch& patch,
                     const TeacherReference& teacher, const SweepOptions& o,
                     const Progress& progress, ConfigResult& r) {
  r.stats = patch.stats();
  r.patch_bytes = patch.device_bytes();

  const size_t V = model.config().n_vocab;
  const auto& prompts = teacher.prompts;
  model::Session s(model, kPackTokens, false, &patch);
  for (const auto& name : metric_names()) r.per_prompt[name] = {};
  uint64_t tokens = 0;
  // Each prompt, extended by the teacher's continuation where it has one.
  std::vector<std::vector<int32_t>> seqs;
  for (size_t i = 0; i < prompts.size(); ++i) {
    seqs.push_back(prompts[i]);
    if (i < teacher.continuation.size())
      seqs.back().insert(seqs.back().end(), teacher.continuation[i].begin(),
                         teacher.continuation[i].end() - 1);
  }
  std::vector<metrics::Nll> nlls(prompts.size());
  const double prefill_s =
      run_packed(s, seqs, "evaluating", progress, [&](size_t i, const std::vector<float>& all) {
        tokens += seqs[i].size();
        const auto& p = prompts[i];
        const bool cont = i < teacher.continuation.size();
        const size_t T = p.size();
        const std::span<const float> last(all.data() + (T - 1) * V, V);
        const auto c = metrics::compare_logits(teacher.last_logits[i], last, o.temperature);
        auto put = [&](const char* name, double v) { r.per_prompt[name].push_back(v); };
        put("kl", c.kl);
        put("mse", c.mse);
        put("l2", c.l2);
        put("cosine", c.cosine);
        put("top1", c.top1);
        put("top5", c.top5);
        put("top10", c.top10);
        put("t1_in_s5", c.teacher_top1_in_student_top5);
        const auto am = row_argmax(all, V);
        size_t agree = 0;
        for (size_t k = 0; k < T; ++k) agree += am[k] == teacher.position_argmax[i][k];
        put("token_agree", double(agree) / T);
        // Every position of the prompt, against the teacher's distribution there.
        double kl_all = 0, t1_all = 0, t1s5_all = 0;
        for (size_t k = 0; k < T; ++k) {
          const auto ck =
              metrics::compare_logits(std::span<const float>(teacher.logits[i].data() + k * V, V),
                                      std::span<const float>(all.data() + k * V, V), o.temperature);
          kl_all += ck.kl / T;
          t1_all += ck.top1 / T;
          t1s5_all += ck.teacher_top1_in_student_top5 / T;
        }
        put("kl_all", kl_all);
        put("top1_all", t1_all);
        put("t1_in_s5_all", t1s5_all);
        const metrics::Nll nll = T >= 2 ? metrics::negative_log_likelihood(
                                              std::span<const float>(all.data(), T * V), V, p)
                                        : metrics::Nll{};
        nlls[i] = nll;
        put("nll", nll.sum);
        put("nll_tokens", double(nll.tokens));
        put("ppl", nll.tokens ? std::exp(nll.sum / double(nll.tokens)) : 0.0);
        put("ppl_teacher", teacher.perplexity[i]);
        if (cont) {
          // Teacher forcing on the teacher's greedy continuation: the student's greedy generation
          // is identical for exactly as long as its argmax matches the teacher's next token.
          const auto& tc = teacher.continuation[i];
          size_t prefix = 0, same = 0;
          bool diverged = false;
          for (size_t k = 0; k < tc.size(); ++k) {
            const bool eq = am[T - 1 + k] == tc[k];
            same += eq;
            if (!eq) diverged = true;
            if (!diverged) ++prefix;
          }
          put("cont_prefix", double(prefix));
          put("cont_agree", double(same) / tc.size());
        }
      });
  r.prefill_tps = tokens / prefill_s;
  s.reset();
  s.prefill(prompts[0]);
  r.decode_tps = 1e3 / decode_ms(s, o.decode_steps);
  for (const auto& [name, values] : r.per_prompt)
    r.aggregate[name] = metrics::aggregate(values, o.seed);
  r.perplexity = metrics::corpus_perplexity(nlls, o.seed);
  if (progress) progress("evaluating", prompts.size(), prompts.size());
}

}  // namespace

std::string SweepConfig::name() const {
  if (!stored.empty()) return stored;
  std::string n = structure == model::Structure::kBlockCirculant ? "circulant" : "lowrank";
  if (!patch.empty()) {
    n += " " + (request.empty() ? "patch=" + patch : request);
  } else {
    n += " B=" + std::to_string(block) + " layers=" + layers;
    if (projections != "gate,up,down") n += " proj=" + projections;
  }
  n += " " + calibration;
  return n;
}

bool known_calibration(const std::string& m) {
  return m == "none" || m == "ls" || m == "kd" || m == "ls+kd";
}

compress::PatchSpec SweepConfig::spec(uint32_t n_layers) const {
  if (!patch.empty()) return compress::PatchSpec::parse(patch, n_layers);
  std::string L = layers;
  if (!L.empty() && std::all_of(L.begin(), L.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    L = "first" + L;  // a bare count: the first N layers
  std::replace(L.begin(), L.end(), '+', ',');
  return compress::PatchSpec::parse(L + ":" + projections + ":" + std::to_string(block), n_layers);
}

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names = {
      "kl",    "mse",         "l2",     "cosine",     "top1",         "top5",
      "top10", "t1_in_s5",    "kl_all", "top1_all",   "t1_in_s5_all", "token_agree",
      "ppl",   "ppl_teacher", "nll",    "nll_tokens", "cont_prefix",  "cont_agree"};
  return names;
}

TeacherReference run_teacher(model::Model& model, const std::vector<std::vector<int32_t>>& prompts,
                             const SweepOptions& o, const Progress& progress) {
  if (prompts.empty()) throw std::invalid_argument("no evaluation prompts");
  const auto start = Clock::now();
  TeacherReference t;
  t.prompts = prompts;
  const size_t V = model.config().n_vocab;
  for (size_t i = 0; i < prompts.size(); ++i)
    if (prompts[i].size() + o.continuation_tokens >
        std::min<size_t>(model.context_length(), kPackTokens))
      throw std::invalid_argument(
          "evaluation prompt " + std::to_string(i + 1) + " has " +
          std::to_string(prompts[i].size()) + " tokens: with the continuation it exceeds " +
          std::to_string(std::min<size_t>(model.context_length(), kPackTokens)) + " tokens");
  model::Session s(model, kPackTokens);
  const double prefill_s =
      run_packed(s, prompts, "teacher", progress, [&](size_t i, const std::vector<float>& all) {
        const auto& p = prompts[i];
        t.tokens += p.size();
        t.last_logits.emplace_back(all.end() - V, all.end());
        t.logits.push_back(all);
        t.position_argmax.push_back(row_argmax(all, V));
        const metrics::Nll nll =
            p.size() >= 2 ? metrics::negative_log_likelihood(all, V, p) : metrics::Nll{};
        t.nll.push_back(nll);
        t.perplexity.push_back(nll.tokens ? std::exp(nll.sum / double(nll.tokens)) : 0.0);
      });
  // Greedy continuations: decode, one prompt at a time.
  for (size_t i = 0; i < std::min<size_t>(o.continuation_prompts, prompts.size()); ++i) {
    if (progress)
      progress("continuations", i, std::min<size_t>(o.continuation_prompts, prompts.size()));
    s.reset();
    s.prefill(prompts[i]);
    std::vector<int32_t> cont;
    int32_t next = s.last_argmax();
    std::vector<double> ms;
    for (uint32_t k = 0; k < o.continuation_tokens; ++k) {
      cont.push_back(next);
      if (k + 1 == o.continuation_tokens) break;
      const auto d0 = Clock::now();
      s.decode(next);
      ms.push_back(since(d0) * 1e3);
      next = s.last_argmax();
    }
    t.continuation.push_back(std::move(cont));
    if (!ms.empty() && t.decode_tps == 0) t.decode_tps = 1e3 / util::median(ms);
  }
  if (t.decode_tps == 0) {
    s.reset();
    s.prefill(prompts[0]);
    t.decode_tps = 1e3 / decode_ms(s, o.decode_steps);
  }
  t.prefill_tps = t.tokens / prefill_s;
  t.corpus_perplexity = metrics::corpus_perplexity(t.nll, o.seed);
  t.seconds = since(start);
  if (progress) progress("teacher", prompts.size(), prompts.size());
  return t;
}

ConfigResult run_config(model::Model& model, const loaders::LlamaModelFile& file,
                        const SweepConfig& config, const TeacherReference& teacher,
                        const TeacherTargets* targets, const SweepOptions& o,
                        const Progress& progress, const KdSetup& kd) {
  const auto start = Clock::now();
  ConfigResult r;
  r.config = config;
  const auto spec = config.spec(model.config().n_layers);
  r.patch_description = spec.describe();
  auto projections = model::MlpPatch::project(file, spec, config.structure);
  for (const auto& pp : projections) {
    r.mean_relative_error += pp.relative_error / projections.size();
    r.padded =
        r.padded || (pp.structure == model::Structure::kBlockCirculant && pp.circulant.padded());
  }
  model::MlpPatch patch(model.context(), model.config(), std::move(projections), o.path);
  if (config.ls()) {
    if (!targets) throw std::invalid_argument("calibration needs the teacher's targets");
    r.calibration =
        calibrate_least_squares(model, patch, *targets, o.lambda_rel, [&](size_t d, size_t n) {
          if (progress) progress("calibrating", d, n);
        });
  }
  if (config.kd()) {
    if (!kd.model || !kd.teacher)
      throw std::invalid_argument("kd needs the teacher's soft targets");
    auto trained = patch.projections();
    r.kd = distill::distill(*kd.model, *kd.teacher, trained, o.kd,
                            [&](uint32_t d, uint32_t n, double, double) {
                              if (progress) progress("distilling", d, n);
                            });
    for (auto& pp : trained) patch.replace(std::move(pp));
  }
  measure_student(model, patch, teacher, o, progress, r);
  r.seconds = since(start);
  return r;
}

ConfigResult run_stored_student(model::Model& student, const model::MlpPatch& patch,
                                const SweepConfig& config, const TeacherReference& teacher,
                                const SweepOptions& o, const Progress& progress) {
  const auto start = Clock::now();
  if (teacher.last_logits.empty() || teacher.last_logits[0].size() != student.config().n_vocab)
    throw std::invalid_argument("the student's vocabulary (" +
                                std::to_string(student.config().n_vocab) +
                                " tokens) is not the teacher's");
  ConfigResult r;
  r.config = config;
  r.mean_relative_error = std::nan("");  // the replaced dense weights are not in the file
  for (const auto& pp : patch.projections())
    r.padded =
        r.padded || (pp.structure == model::Structure::kBlockCirculant && pp.circulant.padded());
  measure_student(student, patch, teacher, o, progress, r);
  r.seconds = since(start);
  return r;
}

SweepOutcome run_sweep(const SweepPlan& plan, const SweepProgress& progress) {
  const bool stored = plan.stored_student != nullptr;
  const auto ls = [&](const SweepConfig& c) { return !stored && c.ls(); };
  const auto kd = [&](const SweepConfig& c) { return !stored && c.kd(); };
  const bool any_ls = std::any_of(plan.grid.begin(), plan.grid.end(), ls);
  const bool any_kd = std::any_of(plan.grid.begin(), plan.grid.end(), kd);
  if (!plan.teacher || !plan.file) throw std::invalid_argument("sweep: no teacher model");
  if (plan.eval_ids.empty()) throw std::invalid_argument("sweep: no evaluation prompts");
  if ((any_ls || any_kd) && plan.calib_ids.empty())
    throw std::invalid_argument("sweep: calibration needs calibration text, and there is none");
  if (any_kd && !plan.host) throw std::invalid_argument("sweep: kd needs the model on the host");
  if (stored && !plan.stored_patch)
    throw std::invalid_argument("sweep: a stored student needs its patch");
  const auto at = [&](int stage) -> Progress {
    return [&, stage](const std::string& what, size_t d, size_t n) {
      if (progress) progress(stage, what, d, n);
    };
  };

  SweepOutcome out;
  out.teacher = run_teacher(*plan.teacher, plan.eval_ids, plan.options, at(-1));
  std::unique_ptr<TeacherTargets> targets;
  if (any_ls)
    targets = std::make_unique<TeacherTargets>(
        *plan.teacher, plan.calib_ids, [&](size_t d, size_t n) { at(-1)("calib targets", d, n); });
  std::unique_ptr<distill::KdTeacher> kd_teacher;
  if (any_kd) {
    const uint32_t n_layers = plan.file->config().n_layers;
    std::set<uint32_t> start_layers;  // every kd configuration's first patched layer
    for (const auto& c : plan.grid)
      if (kd(c)) start_layers.insert(c.spec(n_layers).layers.front());
    const distill::KdOptions& o = plan.options.kd;
    kd_teacher = std::make_unique<distill::KdTeacher>(
        *plan.host, plan.calib_ids, o.temperature, start_layers, o.val_fraction, o.seed,
        [&](size_t d, size_t n) { at(-1)("soft targets", d, n); });
    out.kd_sequences = kd_teacher->sequences().size();
    out.kd_validation_sequences = kd_teacher->validation().size();
    out.kd_validation_tokens = kd_teacher->tokens(kd_teacher->validation());
    out.kd_tokens = kd_teacher->tokens(kd_teacher->train()) + out.kd_validation_tokens;
    out.kd_teacher_seconds = kd_teacher->seconds();
    out.kd_teacher_host_bytes = double(kd_teacher->host_bytes());
  }
  for (size_t i = 0; i < plan.grid.size(); ++i)
    out.results.push_back(
        stored ? run_stored_student(*plan.stored_student, *plan.stored_patch, plan.grid[i],
                                    out.teacher, plan.options, at(int(i)))
               : run_config(*plan.teacher, *plan.file, plan.grid[i], out.teacher, targets.get(),
                            plan.options, at(int(i)), {plan.host, kd_teacher.get()}));
  return out;
}

}  // namespace bcvk::eval
