#include "runtime/eval/grid.h"

#include <algorithm>
#include <stdexcept>

#include "runtime/compress/auto_patch.h"
#include "runtime/model/mlp_patch.h"

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

}  // namespace bcvk::eval
