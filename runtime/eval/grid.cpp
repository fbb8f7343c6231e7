#include "runtime/eval/grid.h"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "runtime/compress/auto_patch.h"
#include "runtime/model/mlp_patch.h"
#include "runtime/model/session.h"

namespace bcvk::eval {

namespace {
void check_uniform_block(const loaders::LlamaConfig& config, uint32_t b) {
  model::check_block_sizes(
      config, compress::PatchSpec::parse("all:all:" + std::to_string(b), config.n_layers));
}
}  // namespace

Grid expand_grid(const GridRequest& r, const loaders::LlamaConfig& config) {
  Grid g;
  std::vector<model::Structure> structures = {model::Structure::kBlockCirculant};
  if (r.low_rank_baseline) structures.push_back(model::Structure::kLowRank);
  if (r.block_grid)
    for (auto st : structures)
      for (uint32_t b : st == model::Structure::kLowRank && !r.baseline_blocks.empty()
                            ? r.baseline_blocks
                            : r.blocks)
        for (const auto& l : r.layers)
          for (const auto& c : r.calibrations) {
            SweepConfig cfg{st, b, l, r.projections, c};
            model::check_block_sizes(config, cfg.spec(config.n_layers));  // names the problem
            g.configs.push_back(cfg);
          }
  g.sensitivity_blocks.insert(r.sensitivity.begin(), r.sensitivity.end());
  for (uint32_t b : g.sensitivity_blocks) check_uniform_block(config, b);
  for (auto st : structures)
    for (const auto& text : r.patches)
      for (const auto& c : r.calibrations) {
        SweepConfig cfg{st, 0, "", "gate,up,down", c};
        if (const auto req = compress::parse_auto(text)) {
          cfg.request = text;
          cfg.layers = "auto";
          for (uint32_t b : req->blocks) check_uniform_block(config, b);
          g.sensitivity_blocks.insert(req->blocks.begin(), req->blocks.end());
        } else {
          const auto spec = compress::PatchSpec::parse(text, config.n_layers);
          model::check_block_sizes(config, spec);
          cfg.patch = spec.text();
          cfg.layers = text;
        }
        g.configs.push_back(cfg);
      }
  if (g.configs.empty() && g.sensitivity_blocks.empty())
    throw std::invalid_argument("eval: nothing to do (no configurations and no sensitivity)");
  return g;
}

double estimate_kd_seconds(const SweepConfig& c, uint32_t n_layers, uint64_t calib_tokens,
                           const distill::KdOptions& kd) {
  const uint32_t first = c.spec(n_layers).layers.front();
  const double layer_tokens =
      double(std::min<uint64_t>(kd.tokens_per_step, calib_tokens)) * (n_layers - first + 8);
  return kd.steps * 3.0 * layer_tokens / 12000.0;
}

DeviceSpeed measure_speed(model::Model& model, const std::vector<int32_t>& sample) {
  if (sample.empty()) throw std::invalid_argument("speed probe: no tokens to run");
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  DeviceSpeed d;
  model::Session s(model, 64);
  std::vector<int32_t> probe(32);
  for (size_t i = 0; i < probe.size(); ++i) probe[i] = sample[i % sample.size()];
  for (int rep = 0; rep < 2; ++rep) {  // the first pays for pipeline creation
    s.reset();
    const auto t0 = Clock::now();
    s.prefill(probe);
    d.prefill_s_per_token = seconds(t0) / probe.size();
  }
  const auto t0 = Clock::now();
  s.decode(s.last_argmax());
  d.decode_s = seconds(t0);
  return d;
}

double SweepEstimate::total() const {
  double t = teacher_s;
  for (double c : config_s) t += c;
  return t;
}

SweepEstimate estimate_sweep_seconds(const std::vector<SweepConfig>& grid, const SweepWork& w,
                                     const DeviceSpeed& d, const distill::KdOptions& kd,
                                     bool stored_student) {
  // A stored student was calibrated when it was made.
  const auto ls = [&](const SweepConfig& c) { return !stored_student && c.ls(); };
  const auto kd_ = [&](const SweepConfig& c) { return !stored_student && c.kd(); };
  const bool any_ls = std::any_of(grid.begin(), grid.end(), ls);
  const double forward = double(w.eval_tokens + w.continuation_tokens) * d.prefill_s_per_token;
  const double calib_forward = double(w.calib_tokens) * d.prefill_s_per_token;
  SweepEstimate e;
  e.teacher_s =
      forward + double(w.continuation_tokens) * d.decode_s + (any_ls ? 2 * calib_forward : 0);
  for (const auto& c : grid)
    e.config_s.push_back(forward + w.decode_steps * d.decode_s + (ls(c) ? 3.5 * calib_forward : 0) +
                         (kd_(c) ? estimate_kd_seconds(c, w.n_layers, w.calib_tokens, kd) : 0));
  return e;
}

}  // namespace bcvk::eval
