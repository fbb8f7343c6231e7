#include "runtime/eval/calibrate.h"

#include <Eigen/Dense>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "runtime/compress/circulant_least_squares.h"
#include "runtime/compress/low_rank.h"

namespace bcvk::eval {

namespace {

uint32_t max_len(const std::vector<std::vector<int32_t>>& prompts) {
  size_t n = 1;
  for (const auto& p : prompts) n = std::max(n, p.size());
  return static_cast<uint32_t>(n);
}

// Statistics for one projection's fit, whichever structure it has.
class Fit {
 public:
  Fit(const model::PatchedProjection& pp) : pp_(pp) {
    if (pp.structure == model::Structure::kBlockCirculant) {
      ls_ = std::make_unique<compress::CirculantLeastSquares>(pp.circulant.rows, pp.circulant.cols,
                                                              pp.circulant.block);
      rows_ = pp.circulant.rows;
      cols_ = pp.circulant.cols;
    } else {
      rows_ = pp.low_rank.rows;
      cols_ = pp.low_rank.cols;
      A_ = Eigen::MatrixXd::Zero(cols_, cols_);
      C_ = Eigen::MatrixXd::Zero(rows_, cols_);
    }
  }
  void add(const std::vector<float>& x, const std::vector<float>& y, uint32_t T) {
    if (ls_) {
      ls_->add(x, y, T);
    } else {
      const Eigen::MatrixXd X =
          Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
              x.data(), T, cols_)
              .cast<double>();
      const Eigen::MatrixXd Y =
          Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
              y.data(), T, rows_)
              .cast<double>();
      A_.noalias() += X.transpose() * X;
      C_.noalias() += Y.transpose() * X;
    }
  }
  model::PatchedProjection solve(double lambda_rel, double* lambda) const {
    model::PatchedProjection out = pp_;
    if (ls_) {
      out.circulant = ls_->solve(lambda_rel, lambda);
    } else {
      using RM = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
      const RM A = A_, C = C_;
      out.low_rank = compress::fit_low_rank(std::span<const double>(A.data(), A.size()),
                                            std::span<const double>(C.data(), C.size()), rows_,
                                            cols_, pp_.low_rank.rank, lambda_rel, lambda);
    }
    return out;
  }

 private:
  model::PatchedProjection pp_;
  uint32_t rows_ = 0, cols_ = 0;
  std::unique_ptr<compress::CirculantLeastSquares> ls_;
  Eigen::MatrixXd A_, C_;
};

// ||y - y'|| / ||y|| accumulated over prompts.
struct RelErr {
  double num = 0, den = 0;
  void add(const std::vector<float>& y, const std::vector<float>& approx) {
    for (size_t i = 0; i < y.size(); ++i) {
      num += (double(y[i]) - approx[i]) * (double(y[i]) - approx[i]);
      den += double(y[i]) * y[i];
    }
  }
  double value() const { return den > 0 ? std::sqrt(num / den) : 0; }
};

}  // namespace

TeacherTargets::TeacherTargets(model::Model& model,
                               const std::vector<std::vector<int32_t>>& prompts,
                               const std::function<void(size_t, size_t)>& progress)
    : prompts_(prompts) {
  if (prompts.empty()) throw std::invalid_argument("calibration needs at least one prompt");
  const uint32_t L = model.config().n_layers;
  model::Session s(model, max_len(prompts));
  std::vector<std::vector<float>> x;
  for (const auto& p : prompts) {
    x.push_back(s.embed(p));
    tokens_ += p.size();
  }
  embeddings_ = x;
  gate_.assign(L, {});
  up_.assign(L, {});
  output_.assign(L, {});
  for (uint32_t l = 0; l < L; ++l) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      model::Session::MlpCapture cap;
      s.run_layer(l, x[i], static_cast<uint32_t>(prompts[i].size()), &cap);
      gate_[l].push_back(std::move(cap.gate));
      up_[l].push_back(std::move(cap.up));
      output_[l].push_back(std::move(cap.output));
    }
    if (progress) progress(l + 1, L);
  }
}

CalibrationReport calibrate_least_squares(model::Model& model, model::MlpPatch& patch,
                                          const TeacherTargets& teacher, double lambda_rel,
                                          const std::function<void(size_t, size_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto& prompts = teacher.prompts();
  const uint32_t L = model.config().n_layers;
  CalibrationReport report;
  report.lambda_rel = lambda_rel;
  report.tokens = teacher.tokens();
  model::Session s(model, max_len(prompts), false, &patch);
  std::vector<std::vector<float>> x = teacher.embeddings();  // the student's residual stream
  double lambda_sum = 0;
  size_t fits = 0;
  auto find = [&](uint32_t l, compress::Projection p) -> const model::PatchedProjection* {
    for (const auto& pp : patch.projections())
      if (pp.layer == l && pp.projection == p) return &pp;
    return nullptr;
  };
  for (uint32_t l = 0; l < L; ++l) {
    const auto* gate = find(l, compress::Projection::kGate);
    const auto* up = find(l, compress::Projection::kUp);
    const auto* down = find(l, compress::Projection::kDown);
    // Two phases: gate/up on the student's MLP inputs, then down on its hidden activations with
    // the refitted gate/up in place.
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<std::pair<const model::PatchedProjection*, Fit>> fitting;
      if (phase == 0) {
        if (gate) fitting.emplace_back(gate, Fit(*gate));
        if (up) fitting.emplace_back(up, Fit(*up));
      } else if (down) {
        fitting.emplace_back(down, Fit(*down));
      }
      if (fitting.empty()) continue;
      std::vector<RelErr> before(fitting.size());
      for (size_t i = 0; i < prompts.size(); ++i) {
        const uint32_t T = static_cast<uint32_t>(prompts[i].size());
        std::vector<float> residual = x[i];
        model::Session::MlpCapture cap;
        s.run_layer(l, residual, T, &cap);
        for (size_t f = 0; f < fitting.size(); ++f) {
          const auto proj = fitting[f].first->projection;
          const std::vector<float>& in =
              proj == compress::Projection::kDown ? cap.hidden : cap.input;
          const std::vector<float>& target =
              proj == compress::Projection::kGate ? teacher.gate(l, i)
              : proj == compress::Projection::kUp ? teacher.up(l, i)
                                                  : teacher.output(l, i);
          const std::vector<float>& current = proj == compress::Projection::kGate ? cap.gate
                                              : proj == compress::Projection::kUp ? cap.up
                                                                                  : cap.output;
          fitting[f].second.add(in, target, T);
          before[f].add(target, current);
        }
      }
      for (size_t f = 0; f < fitting.size(); ++f) {
        double lambda = 0;
        model::PatchedProjection fitted = fitting[f].second.solve(lambda_rel, &lambda);
        lambda_sum += lambda;
        ++fits;
        report.error_before.push_back(before[f].value());
        patch.replace(std::move(fitted));
      }
    }
    // Advance the student's residual through the calibrated layer, measuring the fit.
    std::vector<RelErr> after(3);
    for (size_t i = 0; i < prompts.size(); ++i) {
      model::Session::MlpCapture cap;
      s.run_layer(l, x[i], static_cast<uint32_t>(prompts[i].size()),
                  (gate || up || down) ? &cap : nullptr);
      if (gate) after[0].add(teacher.gate(l, i), cap.gate);
      if (up) after[1].add(teacher.up(l, i), cap.up);
      if (down) after[2].add(teacher.output(l, i), cap.output);
    }
    if (gate) report.error_after.push_back(after[0].value());
    if (up) report.error_after.push_back(after[1].value());
    if (down) report.error_after.push_back(after[2].value());
    if (progress) progress(l + 1, L);
  }
  report.lambda_mean = fits ? lambda_sum / fits : 0;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace bcvk::eval
