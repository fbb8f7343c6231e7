#include "runtime/distill/kd.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <stdexcept>

#include "runtime/compress/low_rank.h"
#include "runtime/distill/parallel.h"

namespace bcvk::distill {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Fisher-Yates with our own index draws: the order depends only on the seed (std::shuffle's
// algorithm is the library's choice).
void shuffle(std::vector<size_t>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

// Consecutive groups of `order` of at most `budget` tokens (a longer sequence is a group alone).
std::vector<std::vector<size_t>> batches(const KdTeacher& t, const std::vector<size_t>& order,
                                         uint32_t budget) {
  std::vector<std::vector<size_t>> out;
  std::vector<size_t> cur;
  uint64_t tokens = 0;
  for (size_t i : order) {
    if (!cur.empty() && tokens + t.length(i) > budget) {
      out.push_back(std::move(cur));
      cur.clear();
      tokens = 0;
    }
    cur.push_back(i);
    tokens += t.length(i);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::vector<Trainable<float>> to_trainables(
    const std::vector<model::PatchedProjection>& projections) {
  std::vector<Trainable<float>> out;
  for (const auto& pp : projections) {
    Trainable<float> t;
    t.layer = pp.layer;
    t.projection = pp.projection;
    if (pp.structure == model::Structure::kBlockCirculant) {
      t.kind = Kind::kBlockCirculant;
      t.rows = pp.circulant.rows;
      t.cols = pp.circulant.cols;
      t.block = pp.circulant.block;
      t.params = pp.circulant.c;
    } else {
      t.kind = Kind::kLowRank;
      t.rows = pp.low_rank.rows;
      t.cols = pp.low_rank.cols;
      t.rank = pp.low_rank.rank;
      compress::LowRank lr = pp.low_rank;
      compress::balance(lr);  // Adam's steps are absolute: both factors at one scale (low_rank.h)
      t.params = lr.u;
      t.params.insert(t.params.end(), lr.v.begin(), lr.v.end());
    }
    out.push_back(std::move(t));
  }
  return out;
}

void from_trainables(const std::vector<Trainable<float>>& ts,
                     std::vector<model::PatchedProjection>& projections) {
  for (size_t i = 0; i < ts.size(); ++i) {
    auto& pp = projections[i];
    const auto& t = ts[i];
    if (t.kind == Kind::kBlockCirculant) {
      pp.circulant.c = t.params;
    } else {
      const size_t nu = size_t(t.rows) * t.rank;
      pp.low_rank.u.assign(t.params.begin(), t.params.begin() + nu);
      pp.low_rank.v.assign(t.params.begin() + nu, t.params.end());
    }
  }
}

std::vector<Trainable<float>*> pointers(std::vector<Trainable<float>>& ts) {
  std::vector<Trainable<float>*> p;
  for (auto& t : ts) p.push_back(&t);
  return p;
}

// One batch gathered from the teacher: packed residual rows at `first`, soft targets, entropies.
struct Batch {
  Packing pk;
  std::vector<float> x;
  std::vector<float> probs;
  std::vector<double> neg_entropy;
};
Batch gather(const KdTeacher& t, const std::vector<size_t>& seqs, uint32_t first, uint32_t E,
             uint32_t V) {
  Batch b;
  for (size_t i : seqs) b.pk.add(t.length(i));
  const uint32_t N = b.pk.tokens();
  b.x.resize(size_t(N) * E);
  b.probs.resize(size_t(N) * V);
  b.neg_entropy.resize(N);
  for (size_t k = 0; k < seqs.size(); ++k) {
    const size_t i = seqs[k];
    const uint32_t r = b.pk.offset[k], L = t.length(i);
    std::copy_n(t.residual(first, i), size_t(L) * E, b.x.data() + size_t(r) * E);
    std::copy_n(t.probs(i), size_t(L) * V, b.probs.data() + size_t(r) * V);
    std::copy_n(t.neg_entropy(i), L, b.neg_entropy.data() + r);
  }
  return b;
}

double batch_loss(const HostModel<float>& model, const KdTeacher& t,
                  const std::vector<Trainable<float>*>& student, const std::vector<size_t>& which,
                  uint32_t first, uint32_t budget) {
  const auto& c = model.config();
  double sum = 0;
  uint64_t tokens = 0;
  for (const auto& seqs : batches(t, which, budget)) {
    Batch b = gather(t, seqs, first, c.n_embd, c.n_vocab);
    HostModel<float>::Acts acts;
    model.forward_layers(b.x, b.pk, first, c.n_layers, student, &acts);
    sum += model.lm_head_loss(acts, b.probs.data(), b.neg_entropy.data(), t.temperature(), 1.0,
                              nullptr);
    tokens += b.pk.tokens();
  }
  return tokens ? sum / tokens : 0.0;
}

}  // namespace

nlohmann::json to_json(const KdReport& k, bool curves) {
  nlohmann::json j = {{"temperature", k.options.temperature},
                      {"steps", k.options.steps},
                      {"steps_run", k.steps_run},
                      {"lr", k.options.lr},
                      {"schedule", k.options.schedule},
                      {"warmup", k.options.warmup},
                      {"tokens_per_step", k.options.tokens_per_step},
                      {"seed", k.options.seed},
                      {"val_fraction", k.options.val_fraction},
                      {"train_sequences", k.train_sequences},
                      {"val_sequences", k.val_sequences},
                      {"train_tokens", k.train_tokens},
                      {"val_tokens", k.val_tokens},
                      {"parameters", k.parameters},
                      {"initial_val_loss", k.initial_val_loss},
                      {"best_val_loss", k.best_val_loss},
                      {"best_step", k.best_step},
                      {"stopped_early", k.stopped_early},
                      {"seconds", k.seconds},
                      {"train_tokens_per_s", k.tokens_per_second}};
  if (curves) {
    nlohmann::json val = nlohmann::json::array();
    for (const auto& [step, loss] : k.val_loss) val.push_back({step, loss});
    j["train_loss"] = k.train_loss;
    j["val_loss"] = val;
  }
  return j;
}

std::string no_progress_note(const KdReport& k) {
  if (k.steps_run == 0 || k.best_step != 0 || k.val_loss.size() < 2) return "";
  double lowest = k.val_loss[1].second;
  for (size_t i = 2; i < k.val_loss.size(); ++i) lowest = std::min(lowest, k.val_loss[i].second);
  char buf[320];
  std::snprintf(buf, sizeof buf,
                "kd did not lower the validation loss in %u steps (start %.4f, lowest later "
                "%.4f, last %.4f at peak lr %g), so the starting parameters were kept; a smaller "
                "learning rate may train",
                k.steps_run, k.initial_val_loss, lowest, k.val_loss.back().second, k.options.lr);
  return buf;
}

void validate(const KdOptions& o) {
  if (!(o.temperature > 0) || !std::isfinite(o.temperature))
    throw std::invalid_argument("kd: the temperature must be a positive finite number");
  if (o.steps == 0) throw std::invalid_argument("kd: steps must be at least 1");
  if (!(o.lr > 0) || !std::isfinite(o.lr))
    throw std::invalid_argument("kd: the learning rate must be a positive finite number");
  if (o.schedule != "cosine" && o.schedule != "constant")
    throw std::invalid_argument("kd: unknown schedule '" + o.schedule + "' (cosine or constant)");
  if (o.tokens_per_step == 0) throw std::invalid_argument("kd: tokens per step must be at least 1");
  if (!(o.val_fraction >= 0 && o.val_fraction < 1))
    throw std::invalid_argument("kd: the validation fraction must be in [0, 1)");
}

uint32_t first_patched_layer(const std::vector<model::PatchedProjection>& projections) {
  uint32_t first = std::numeric_limits<uint32_t>::max();
  for (const auto& pp : projections) first = std::min(first, pp.layer);
  if (projections.empty()) throw std::invalid_argument("kd: the patch replaces nothing");
  return first;
}

KdTeacher::KdTeacher(const HostModel<float>& model, std::vector<std::vector<int32_t>> sequences,
                     double temperature, const std::set<uint32_t>& start_layers,
                     double val_fraction, uint64_t seed,
                     const std::function<void(size_t, size_t)>& progress)
    : T_(temperature), seqs_(std::move(sequences)) {
  const auto t0 = Clock::now();
  const auto& c = model.config();
  V_ = c.n_vocab;
  E_ = c.n_embd;
  if (seqs_.empty()) throw std::invalid_argument("kd: no calibration sequences");
  if (!(temperature > 0) || !std::isfinite(temperature))
    throw std::invalid_argument("kd: the temperature must be a positive finite number");
  for (const auto& s : seqs_) {
    if (s.empty()) throw std::invalid_argument("kd: an empty calibration sequence");
    pk_.add(uint32_t(s.size()));
  }
  for (uint32_t l : start_layers) {
    if (l >= c.n_layers) throw std::invalid_argument("kd: no layer " + std::to_string(l));
    residual_.emplace_back(l, std::vector<float>(size_t(pk_.tokens()) * E_));
  }
  probs_.resize(size_t(pk_.tokens()) * V_);
  neg_entropy_.resize(pk_.tokens());
  // The teacher in groups of sequences: layer by layer, keeping the residual at start layers.
  constexpr uint32_t kBudget = 1024;
  std::vector<size_t> all(seqs_.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;
  size_t done = 0;
  for (const auto& group : batches(*this, all, kBudget)) {
    Packing pk;
    std::vector<int32_t> ids;
    for (size_t i : group) {
      pk.add(length(i));
      ids.insert(ids.end(), seqs_[i].begin(), seqs_[i].end());
    }
    std::vector<float> x = model.embed(ids);
    const uint32_t row0 = row(group.front());  // groups are consecutive sequences
    uint32_t at = 0;
    for (auto& [layer, res] : residual_) {
      model.forward_layers(x, pk, at, layer, {}, nullptr);
      at = layer;
      std::copy(x.begin(), x.end(), res.begin() + size_t(row0) * E_);
    }
    model.forward_layers(x, pk, at, c.n_layers, {}, nullptr);
    float* z = probs_.data() + size_t(row0) * V_;
    model.logits(x.data(), pk.tokens(), z);
    parallel_for(pk.tokens(), [&](size_t n0, size_t n1) {
      for (size_t n = n0; n < n1; ++n) {
        float* zr = z + n * V_;
        double mx = -INFINITY, sum = 0;
        for (uint32_t v = 0; v < V_; ++v) mx = std::max(mx, double(zr[v]) / T_);
        for (uint32_t v = 0; v < V_; ++v) sum += std::exp(double(zr[v]) / T_ - mx);
        const double lse = mx + std::log(sum);
        double ne = 0;
        for (uint32_t v = 0; v < V_; ++v) {
          const double logp = double(zr[v]) / T_ - lse;
          const double p = std::exp(logp);
          zr[v] = float(p);
          if (zr[v] > 0) ne += double(zr[v]) * logp;
        }
        neg_entropy_[row0 + n] = ne;
      }
    });
    done += group.size();
    if (progress) progress(done, seqs_.size());
  }
  // The held-out slice: a seeded choice of whole sequences.
  std::vector<size_t> order = all;
  std::mt19937_64 rng(seed ^ 0x5eedULL);
  shuffle(order, rng);
  size_t n_val = size_t(std::floor(val_fraction * seqs_.size() + 0.5));
  if (val_fraction > 0 && n_val == 0 && seqs_.size() >= 2) n_val = 1;
  if (n_val >= seqs_.size()) n_val = seqs_.size() - 1;
  val_.assign(order.begin(), order.begin() + n_val);
  train_.assign(order.begin() + n_val, order.end());
  std::sort(val_.begin(), val_.end());
  std::sort(train_.begin(), train_.end());
  seconds_ = since(t0);
}

uint64_t KdTeacher::tokens(const std::vector<size_t>& which) const {
  uint64_t n = 0;
  for (size_t i : which) n += length(i);
  return n;
}

const float* KdTeacher::residual(uint32_t layer, size_t i) const {
  for (const auto& [l, r] : residual_)
    if (l == layer) return r.data() + size_t(row(i)) * E_;
  throw std::invalid_argument("kd: the teacher kept no residual for layer " +
                              std::to_string(layer));
}

uint64_t KdTeacher::host_bytes() const {
  uint64_t b = probs_.size() * 4 + neg_entropy_.size() * 8;
  for (const auto& [l, r] : residual_) b += r.size() * 4;
  return b;
}

double kd_loss(const HostModel<float>& model, const KdTeacher& teacher,
               const std::vector<model::PatchedProjection>& projections,
               const std::vector<size_t>& which, uint32_t tokens_per_batch) {
  auto ts = to_trainables(projections);
  for (auto& t : ts) t.materialize();
  return batch_loss(model, teacher, pointers(ts), which, first_patched_layer(projections),
                    tokens_per_batch);
}

KdReport distill(const HostModel<float>& model, const KdTeacher& teacher,
                 std::vector<model::PatchedProjection>& projections, const KdOptions& o,
                 const KdProgress& progress) {
  validate(o);
  const auto t0 = Clock::now();
  const auto& c = model.config();
  const uint32_t first = first_patched_layer(projections);
  KdReport r;
  r.options = o;
  r.train_sequences = teacher.train().size();
  r.val_sequences = teacher.validation().size();
  r.train_tokens = teacher.tokens(teacher.train());
  r.val_tokens = teacher.tokens(teacher.validation());
  if (teacher.train().empty()) throw std::invalid_argument("kd: no training sequences");

  std::vector<Trainable<float>> ts = to_trainables(projections);
  auto student = pointers(ts);
  for (auto& t : ts) r.parameters += t.params.size();
  // Adam state in double (the moments of small gradients lose nothing).
  std::vector<std::vector<double>> m1(ts.size()), m2(ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    m1[i].assign(ts[i].params.size(), 0.0);
    m2[i].assign(ts[i].params.size(), 0.0);
  }
  constexpr double kBeta1 = 0.9, kBeta2 = 0.999, kEps = 1e-8;
  auto lr_at = [&](uint32_t step) {                                      // step counts from 0
    if (step < o.warmup) return o.lr * (step + 1.0) / (o.warmup + 1.0);  // no 32-bit wrap
    if (o.schedule == "constant") return o.lr;
    const double span = std::max<uint32_t>(1, o.steps - o.warmup);
    const double prog = std::min(1.0, (step - o.warmup) / span);
    return o.lr * (0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * prog)));
  };

  const bool have_val = !teacher.validation().empty();
  auto validate_now = [&]() {
    for (auto& t : ts) t.materialize();
    return batch_loss(model, teacher, student, teacher.validation(), first, o.tokens_per_step);
  };
  std::vector<std::vector<float>> best = {};
  if (have_val) {
    r.initial_val_loss = r.best_val_loss = validate_now();
    r.val_loss.emplace_back(0, r.initial_val_loss);
    for (auto& t : ts) best.push_back(t.params);
  }
  std::mt19937_64 rng(o.seed);
  std::vector<size_t> order = teacher.train();
  std::vector<std::vector<size_t>> epoch;
  size_t next_batch = 0;
  uint32_t since_best = 0;
  double train_seconds = 0;
  uint64_t trained_tokens = 0;
  for (uint32_t step = 0; step < o.steps; ++step) {
    if (next_batch >= epoch.size()) {
      shuffle(order, rng);
      epoch = batches(teacher, order, o.tokens_per_step);
      next_batch = 0;
    }
    const auto s0 = Clock::now();
    Batch b = gather(teacher, epoch[next_batch++], first, c.n_embd, c.n_vocab);
    const uint32_t N = b.pk.tokens();
    for (auto& t : ts) {
      t.materialize();
      t.dense_grad.assign(t.dense.size(), 0.f);
      t.grad.assign(t.params.size(), 0.f);
    }
    HostModel<float>::Acts acts;
    model.forward_layers(b.x, b.pk, first, c.n_layers, student, &acts);
    std::vector<float> dx;
    const double loss = model.lm_head_loss(acts, b.probs.data(), b.neg_entropy.data(),
                                           teacher.temperature(), 1.0 / N, &dx);
    model.backward(acts, dx, student);
    const double lr = lr_at(step);
    const double bc1 = 1 - std::pow(kBeta1, step + 1), bc2 = 1 - std::pow(kBeta2, step + 1);
    for (size_t i = 0; i < ts.size(); ++i) {
      ts[i].fold();
      auto& p = ts[i].params;
      const auto& g = ts[i].grad;
      for (size_t k = 0; k < p.size(); ++k) {
        m1[i][k] = kBeta1 * m1[i][k] + (1 - kBeta1) * g[k];
        m2[i][k] = kBeta2 * m2[i][k] + (1 - kBeta2) * double(g[k]) * g[k];
        p[k] -= float(lr * (m1[i][k] / bc1) / (std::sqrt(m2[i][k] / bc2) + kEps));
      }
    }
    train_seconds += since(s0);
    trained_tokens += N;
    if (!std::isfinite(loss))
      throw std::runtime_error("kd: the training loss became " + std::to_string(loss) +
                               " at step " + std::to_string(step + 1) +
                               "; lower the learning rate");
    r.train_loss.push_back(loss / N);
    r.steps_run = step + 1;
    double val = std::nan("");
    if (have_val &&
        ((step + 1) % std::max<uint32_t>(1, o.eval_every) == 0 || step + 1 == o.steps)) {
      val = validate_now();
      r.val_loss.emplace_back(step + 1, val);
      if (val < r.best_val_loss) {
        r.best_val_loss = val;
        r.best_step = step + 1;
        for (size_t i = 0; i < ts.size(); ++i) best[i] = ts[i].params;
        since_best = 0;
      } else if (o.patience && ++since_best >= o.patience) {
        r.stopped_early = true;
      }
    }
    if (progress) progress(step + 1, o.steps, loss / N, val);
    if (r.stopped_early) break;
  }
  if (have_val)  // keep the best validation point (step 0: the starting point itself)
    for (size_t i = 0; i < ts.size(); ++i) ts[i].params = best[i];
  else
    r.best_step = r.steps_run;
  from_trainables(ts, projections);
  r.tokens_per_second = train_seconds > 0 ? trained_tokens / train_seconds : 0;
  r.seconds = since(t0);
  return r;
}

}  // namespace bcvk::distill
