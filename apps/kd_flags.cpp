#include "apps/kd_flags.h"
#include "apps/validators.h"

#include "apps/progress.h"

#include <cmath>
#include <cstdio>

#include <chrono>

#include "runtime/distill/calib_generate.h"
#include "runtime/distill/gemm.h"

namespace bcvk::apps {

void add_kd_flags(CLI::App& cmd, KdFlags& f) {
  auto& o = f.kd;
  cmd.add_option("--kd-temperature", o.temperature,
                 "kd: softmax temperature T of the soft targets (loss T^2 KL)")
      ->capture_default_str();
  cmd.add_option("--kd-steps", o.steps, "kd: optimizer steps")->capture_default_str();
  cmd.add_option("--kd-lr", o.lr, "kd: Adam learning rate (peak)")->capture_default_str();
  cmd.add_option("--kd-schedule", o.schedule, "kd: cosine (to lr/10) or constant after warm-up")
      ->capture_default_str();
  cmd.add_option("--kd-warmup", o.warmup, "kd: linear warm-up steps (at most --kd-steps)")
      ->capture_default_str()
      ->each([&f](const std::string&) { f.warmup_given = true; });
  cmd.add_option("--kd-tokens", o.tokens_per_step, "kd: calibration tokens per step")
      ->capture_default_str();
  cmd.add_option("--kd-seed", o.seed, "kd: seed of the batch order and the held-out split")
      ->check(exact_uint64())
      ->capture_default_str();
  cmd.add_option("--kd-val", o.val_fraction,
                 "kd: share of the calibration sequences held out for validation")
      ->capture_default_str();
  cmd.add_option("--kd-eval-every", o.eval_every, "kd: steps between validation losses")
      ->capture_default_str();
  cmd.add_option("--kd-patience", o.patience,
                 "kd: stop after this many validations without improvement (0: never)")
      ->capture_default_str();
  cmd.add_option("--calib-generate", f.calib_generate,
                 "Tokens the teacher samples (temperature 1, seed --kd-seed) after each "
                 "calibration prompt; the sequences become the calibration data")
      ->capture_default_str();
  cmd.add_option("--threads", f.threads, "Host threads for distillation (0: every core)")
      ->capture_default_str();
}

void apply_kd_flags(const KdFlags& f) {
  const auto& o = f.kd;
  // T^2 scales the loss: past 100 (or below 0.01) it overflows or vanishes, and the run would
  // end in a divergence blamed on the learning rate.
  if (!(o.temperature >= 0.01 && o.temperature <= 100))
    throw std::invalid_argument("--kd-temperature is " + std::to_string(o.temperature) +
                                "; it must be in [0.01, 100]");
  if (o.steps == 0) throw std::invalid_argument("--kd-steps must be at least 1");
  if (f.warmup_given && o.warmup > o.steps)
    throw std::invalid_argument("--kd-warmup (" + std::to_string(o.warmup) +
                                " steps) is longer than --kd-steps (" + std::to_string(o.steps) +
                                ")");
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw std::invalid_argument("--kd-lr must be a positive finite number");
  if (o.schedule != "cosine" && o.schedule != "constant")
    throw std::invalid_argument("--kd-schedule: unknown schedule '" + o.schedule +
                                "' (cosine or constant)");
  if (o.tokens_per_step == 0) throw std::invalid_argument("--kd-tokens must be at least 1");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1))
    throw std::invalid_argument("--kd-val must be in [0, 1)");
  distill::set_host_threads(f.threads);
}

std::vector<std::vector<int32_t>> generate_calibration(
    const distill::HostModel<float>& host, const std::vector<std::vector<int32_t>>& prompts,
    const KdFlags& f, int32_t eos) {
  const auto t0 = std::chrono::steady_clock::now();
  distill::GenerateOptions g;
  g.tokens = f.calib_generate;
  g.seed = f.kd.seed;
  g.eos = eos;
  auto out = distill::generate_continuations(host, prompts, g, [](size_t d, size_t n) {
    progress("calibration text from the teacher: step %zu/%zu   ", d, n);
  });
  uint64_t before = 0, after = 0;
  for (const auto& p : prompts) before += p.size();
  for (const auto& p : out) after += p.size();
  end_progress();
  std::fprintf(stderr,
               "calibration: %zu prompts, %llu tokens -> %llu with the teacher's text "
               "(%.1f s)\n",
               prompts.size(), (unsigned long long)before, (unsigned long long)after,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return out;
}

void print_kd_progress(const std::string& stage, uint32_t done, uint32_t total, double loss,
                       double val, double elapsed_s) {
  const double eta = done ? elapsed_s / done * (total - done) : 0;
  const int e = int(eta + 0.5);
  progress("%s step %u/%u  loss %.4f%s  ETA %d:%02d   ", stage.c_str(), done, total, loss,
           std::isfinite(val) ? ("  val " + std::to_string(val).substr(0, 6)).c_str() : "", e / 60,
           e % 60);
}

}  // namespace bcvk::apps
