#include "runtime/distill/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <numeric>

namespace bcvk::distill {

std::vector<std::vector<int32_t>> sensitivity_sequences(
    const std::vector<std::vector<int32_t>>& sequences, uint32_t max_tokens) {
  if (sequences.empty()) throw std::invalid_argument("sensitivity: no calibration sequences");
  if (max_tokens == 0)
    throw std::invalid_argument("sensitivity: the token budget must be positive");
  std::vector<std::vector<int32_t>> out;
  uint64_t used = 0;
  for (const auto& s : sequences) {
    if (s.empty()) continue;
    if (used + s.size() > max_tokens) {
      if (out.empty()) out.emplace_back(s.begin(), s.begin() + max_tokens);
      break;
    }
    out.push_back(s);
    used += s.size();
  }
  if (out.empty()) throw std::invalid_argument("sensitivity: every calibration sequence is empty");
  return out;
}

KdTeacher sensitivity_teacher(const HostModel<float>& model,
                              std::vector<std::vector<int32_t>> sequences, double temperature) {
  std::set<uint32_t> every;
  for (uint32_t l = 0; l < model.config().n_layers; ++l) every.insert(l);
  return KdTeacher(model, std::move(sequences), temperature, every, 0.0, 1);
}

Sensitivity measure_sensitivity(const HostModel<float>& model, const loaders::LlamaModelFile& file,
                                const KdTeacher& teacher, uint32_t block,
                                const std::function<void(size_t, size_t)>& progress) {
  if (block == 0) throw std::invalid_argument("sensitivity: the block size must be at least 1");
  const auto t0 = std::chrono::steady_clock::now();
  const uint32_t L = model.config().n_layers;
  Sensitivity s;
  s.block = block;
  s.kl.assign(L, {0, 0, 0});
  std::vector<size_t> all(teacher.sequences().size());
  std::iota(all.begin(), all.end(), size_t(0));
  s.sequences = all.size();
  s.tokens = teacher.tokens(all);
  size_t done = 0;
  for (uint32_t l = 0; l < L; ++l)
    for (compress::Projection p : compress::kProjections) {
      compress::PatchSpec one;
      one.set(l, p, block);
      const auto projections = model::MlpPatch::project(file, one);
      s.kl[l][size_t(p)] = kd_loss(model, teacher, projections, all);
      if (progress) progress(++done, size_t(L) * 3);
    }
  s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

nlohmann::json to_json(const Sensitivity& s) {
  nlohmann::json j = {{"block", s.block},
                      {"sequences", s.sequences},
                      {"tokens", s.tokens},
                      {"seconds", s.seconds},
                      {"metric", "mean T^2 KL per position, calibration sequences"}};
  for (compress::Projection p : compress::kProjections) {
    std::vector<double> v;
    for (const auto& row : s.kl) v.push_back(row[size_t(p)]);
    j["kl"][compress::projection_name(p)] = v;
  }
  return j;
}

compress::AutoChoice choose_auto(const loaders::LlamaConfig& c,
                                 const std::vector<Sensitivity>& tables, double ratio) {
  std::vector<compress::AutoCandidate> cands;
  for (uint32_t l = 0; l < c.n_layers; ++l)
    for (compress::Projection p : compress::kProjections) {
      const bool down = p == compress::Projection::kDown;
      const uint64_t rows = down ? c.n_embd : c.n_ff, cols = down ? c.n_ff : c.n_embd;
      compress::AutoCandidate a{l, p, rows * cols, {}};
      for (const Sensitivity& t : tables) {
        if (t.kl.size() != c.n_layers)
          throw std::invalid_argument("sensitivity table of another model");
        const uint64_t B = t.block;
        a.options.push_back(
            {t.block, ((rows + B - 1) / B) * ((cols + B - 1) / B) * B, t.kl[l][size_t(p)]});
      }
      cands.push_back(std::move(a));
    }
  return compress::choose_patch(cands, ratio);
}

std::vector<Sensitivity> measure_sensitivities(
    const HostModel<float>& model, const loaders::LlamaModelFile& file, const KdTeacher& teacher,
    const std::vector<uint32_t>& blocks,
    const std::function<void(size_t, size_t, size_t)>& progress) {
  std::vector<Sensitivity> tables;
  for (size_t k = 0; k < blocks.size(); ++k)
    tables.push_back(measure_sensitivity(model, file, teacher, blocks[k], [&](size_t d, size_t n) {
      if (progress) progress(k, d, n);
    }));
  return tables;
}

compress::AutoChoice resolve_auto(const loaders::LlamaConfig& config,
                                  const std::vector<Sensitivity>& tables,
                                  const std::string& request) {
  const auto req = compress::parse_auto(request);
  if (!req) throw std::invalid_argument("'" + request + "' is not an auto:RATIO patch");
  std::vector<Sensitivity> chosen;
  for (uint32_t b : req->blocks) {
    const auto t = std::find_if(tables.begin(), tables.end(),
                                [&](const Sensitivity& s) { return s.block == b; });
    if (t == tables.end())
      throw std::invalid_argument(request +
                                  ": no sensitivity was measured at B = " + std::to_string(b));
    chosen.push_back(*t);
  }
  auto choice = choose_auto(config, chosen, req->ratio);
  if (choice.spec.empty()) throw std::invalid_argument(request + " replaces nothing");
  return choice;
}

}  // namespace bcvk::distill
