#include "runtime/eval/report.h"

#include "runtime/eval/plot_axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace bcvk::eval {

namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string bytes(uint64_t b) {
  return b >= (1u << 20) ? fmt("%.1f MiB", b / 1048576.0) : fmt("%.1f KiB", b / 1024.0);
}

double mean(const ConfigResult& r, const char* metric) {
  auto it = r.aggregate.find(metric);
  return it == r.aggregate.end() ? NAN : it->second.mean;
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '<')
      o += "&lt;";
    else if (c == '>')
      o += "&gt;";
    else if (c == '&')
      o += "&amp;";
    else if (c == '"')
      o += "&quot;";
    else if (c == '\'')
      o += "&#39;";  // the SVG attributes are single-quoted
    else
      o += c;
  }
  return o;
}

std::string markdown_table(const SweepRun& run) {
  std::ostringstream o;
  const auto& t = run.teacher;
  o << "| config | MLP params | MLP compression | patch bytes | prefill tok/s | decode tok/s | KL "
       "mean [95% CI] | "
       "KL median | KL p95 | MSE | cosine | top-1 | top-5 | top-10 | t1 in s5 | KL all pos | top-1 "
       "all | "
       "t1 in s5 all | token agree | ppl [95% CI] | "
       "cont. prefix /"
    << (t.continuation.empty() ? 0 : t.continuation[0].size()) << " |\n";
  o << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|-"
       "--:|"
       "---:|---:|"
       "\n";
  auto ppl = [](const metrics::Aggregate& a) {
    return fmt("%.2f", a.mean) + " [" + fmt("%.2f", a.ci_low) + ", " + fmt("%.2f", a.ci_high) + "]";
  };
  o << "| dense teacher | "
    << fmt("%.2f M", run.results.empty() ? 0.0 : run.results[0].stats.dense_mlp_parameters / 1e6)
    << " | 1.00x | - | " << fmt("%.1f", t.prefill_tps) << " | " << fmt("%.2f", t.decode_tps)
    << " | 0 | 0 | 0 | 0 | 1 | 1 | 1 | 1 | 1 | 0 | 1 | 1 | 1 | " << ppl(t.corpus_perplexity)
    << " | - |\n";
  for (const ConfigResult& r : run.results) {
    const auto& kl = r.aggregate.at("kl");
    o << "| " << r.config.name() << (r.padded ? " (padded)" : "") << " | "
      << fmt("%.2f M", r.stats.student_mlp_parameters() / 1e6) << " | "
      << fmt("%.2fx", r.stats.mlp_compression()) << " | " << bytes(r.patch_bytes) << " | "
      << fmt("%.1f", r.prefill_tps) << " | " << fmt("%.2f", r.decode_tps) << " | "
      << fmt("%.4f", kl.mean) << " [" << fmt("%.4f", kl.ci_low) << ", " << fmt("%.4f", kl.ci_high)
      << "] | " << fmt("%.4f", kl.median) << " | " << fmt("%.4f", kl.p95) << " | "
      << fmt("%.3f", mean(r, "mse")) << " | " << fmt("%.4f", mean(r, "cosine")) << " | "
      << fmt("%.2f", mean(r, "top1")) << " | " << fmt("%.2f", mean(r, "top5")) << " | "
      << fmt("%.2f", mean(r, "top10")) << " | " << fmt("%.2f", mean(r, "t1_in_s5")) << " | "
      << fmt("%.4f", mean(r, "kl_all")) << " | " << fmt("%.2f", mean(r, "top1_all")) << " | "
      << fmt("%.2f", mean(r, "t1_in_s5_all")) << " | " << fmt("%.2f", mean(r, "token_agree"))
      << " | " << ppl(r.perplexity) << " | "
      << (r.per_prompt.at("cont_prefix").empty() ? std::string("-")
                                                 : fmt("%.1f", mean(r, "cont_prefix")))
      << " |\n";
  }
  return o.str();
}

namespace {
nlohmann::json perplexity_json(const metrics::Aggregate& a, const std::vector<metrics::Nll>& nll) {
  uint64_t tokens = 0;
  for (const auto& x : nll) tokens += x.tokens;
  return {{"value", a.mean},
          {"ci_low", a.ci_low},
          {"ci_high", a.ci_high},
          {"prompts", a.n},
          {"scored_tokens", tokens}};
}
}  // namespace

std::string sensitivity_table(const std::vector<distill::Sensitivity>& tables) {
  if (tables.empty()) return "";
  std::ostringstream o;
  o << "| layer |";
  for (const auto& t : tables)
    for (auto p : compress::kProjections)
      o << " " << compress::projection_name(p) << " B=" << t.block << " |";
  o << "\n|---:|";
  for (size_t i = 0; i < tables.size() * 3; ++i) o << "---:|";
  o << "\n";
  for (size_t l = 0; l < tables[0].kl.size(); ++l) {
    o << "| " << l << " |";
    for (const auto& t : tables)
      for (auto p : compress::kProjections) o << " " << fmt("%.4f", t.kl[l][size_t(p)]) << " |";
    o << "\n";
  }
  return o.str();
}

std::string perplexity_note(const SweepRun& run) {
  const bool bos = run.options.is_object() && run.options.value("adds_bos", false);
  return std::string(
             "Perplexity: exp of the mean negative log-likelihood over every predicted "
             "token of the evaluation prompts, token-weighted over all prompts (each "
             "prompt's first token has no prediction and is not scored; ") +
         (bos ? "the model's metadata prepends a BOS, so every text token is scored"
              : "the model's metadata prepends no BOS") +
         "), with a 95% bootstrap interval over prompts.";
}

nlohmann::json to_json(const SweepRun& run) {
  nlohmann::json j;
  j["bcvk_version"] = run.bcvk_version;
  j["device"] = run.device;
  j["model"] = {{"path", run.model_path}, {"sha256", run.model_sha256}};
  j["calibration_prompts"] = {{"path", run.calib_path}, {"sha256", run.calib_sha256}};
  j["evaluation_prompts"] = {{"path", run.prompts_path}, {"sha256", run.prompts_sha256}};
  j["options"] = run.options;
  j["perplexity_note"] = perplexity_note(run);
  j["seconds"] = run.seconds;
  const auto& t = run.teacher;
  j["teacher"] = {{"prefill_tokens_per_s", t.prefill_tps},
                  {"decode_tokens_per_s", t.decode_tps},
                  {"tokens", t.tokens},
                  {"perplexity", t.perplexity},
                  {"perplexity_token_weighted", perplexity_json(t.corpus_perplexity, t.nll)},
                  {"continuations", t.continuation}};
  j["configs"] = nlohmann::json::array();
  for (const ConfigResult& r : run.results) {
    nlohmann::json c;
    c["name"] = r.config.name();
    c["structure"] =
        r.config.structure == model::Structure::kBlockCirculant ? "block_circulant" : "low_rank";
    c["block"] = r.config.block;
    c["layers"] = r.config.layers;
    c["projections"] = r.config.projections;
    if (!r.config.patch.empty()) c["patch"] = r.config.patch;
    if (!r.config.request.empty()) c["request"] = r.config.request;
    if (!r.patch_description.empty()) c["patch_description"] = r.patch_description;
    c["calibration"] = r.config.calibration;
    c["padded"] = r.padded;
    c["mlp_parameters"] = r.stats.student_mlp_parameters();
    c["dense_mlp_parameters"] = r.stats.dense_mlp_parameters;
    c["mlp_compression"] = r.stats.mlp_compression();
    c["patch_device_bytes"] = r.patch_bytes;
    c["mean_relative_frobenius_error"] = r.mean_relative_error;
    c["prefill_tokens_per_s"] = r.prefill_tps;
    c["decode_tokens_per_s"] = r.decode_tps;
    c["seconds"] = r.seconds;
    {
      std::vector<metrics::Nll> nll;
      const auto &sums = r.per_prompt.at("nll"), &counts = r.per_prompt.at("nll_tokens");
      for (size_t i = 0; i < sums.size(); ++i) nll.push_back({sums[i], uint64_t(counts[i])});
      c["perplexity_token_weighted"] = perplexity_json(r.perplexity, nll);
    }
    if (r.calibration) {
      c["calibration_report"] = {{"lambda_rel", r.calibration->lambda_rel},
                                 {"lambda_mean", r.calibration->lambda_mean},
                                 {"tokens", r.calibration->tokens},
                                 {"seconds", r.calibration->seconds},
                                 {"relative_output_error_before", r.calibration->error_before},
                                 {"relative_output_error_after", r.calibration->error_after}};
    }
    if (r.kd) c["kd_report"] = distill::to_json(*r.kd, true);
    for (const auto& [name, a] : r.aggregate)
      c["aggregate"][name] = {{"mean", a.mean},
                              {"median", a.median},
                              {"p95", a.p95},
                              {"ci95", {a.ci_low, a.ci_high}},
                              {"n", a.n}};
    c["per_prompt"] = r.per_prompt;
    j["configs"].push_back(std::move(c));
  }
  if (!run.sensitivity.empty()) {
    j["sensitivity"] = nlohmann::json::array();
    for (const auto& st : run.sensitivity) j["sensitivity"].push_back(distill::to_json(st));
  }
  return j;
}

namespace {

// A scatter plot as inline SVG: points (x, y, series label, point label); log-scale x optional.
struct Point {
  double x, y;
  std::string series, label;
};

std::string svg_scatter(const std::string& title, const std::string& xlabel,
                        const std::string& ylabel, const std::vector<Point>& pts, bool logx,
                        bool logy) {
  const double W = 780, H = 400, L = 70, R = 310, Tp = 40, Bm = 50;
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' viewBox='0 0 " << W << " " << H << "' font-family='sans-serif' font-size='12'>\n";
  o << "<text x='" << (W - R + L) / 2
    << "' y='20' text-anchor='middle' font-size='14' font-weight='bold'>" << html_escape(title)
    << "</text>\n";
  if (pts.empty()) return o.str() + "<text x='100' y='200'>no data</text></svg>\n";
  std::vector<double> xs, ys;
  for (const auto& p : pts)
    if (std::isfinite(p.y)) {
      xs.push_back(p.x);
      ys.push_back(p.y);
    }
  const Axis ax = make_axis(xs, logx), ay = make_axis(ys, logy);
  auto px = [&](double x) { return L + ax.position(x) * (W - L - R); };
  auto py = [&](double y) { return H - Bm - ay.position(y) * (H - Tp - Bm); };
  o << "<rect x='" << L << "' y='" << Tp << "' width='" << W - L - R << "' height='" << H - Tp - Bm
    << "' fill='none' stroke='#444'/>\n";
  auto frac = [](const Axis& a, double t) {
    return a.hi > a.lo ? (t - a.lo) / (a.hi - a.lo) : 0.5;
  };
  for (size_t i = 0; i < ay.ticks.size(); ++i) {
    const double y = H - Bm - frac(ay, ay.ticks[i]) * (H - Tp - Bm);
    o << "<line x1='" << L << "' x2='" << W - R << "' y1='" << y << "' y2='" << y
      << "' stroke='#ddd'/>\n<text x='" << L - 6 << "' y='" << y + 4 << "' text-anchor='end'>"
      << ay.labels[i] << "</text>\n";
  }
  for (size_t i = 0; i < ax.ticks.size(); ++i) {
    const double x = L + frac(ax, ax.ticks[i]) * (W - L - R);
    o << "<line x1='" << x << "' x2='" << x << "' y1='" << Tp << "' y2='" << H - Bm
      << "' stroke='#eee'/>\n<text x='" << x << "' y='" << H - Bm + 16 << "' text-anchor='middle'>"
      << ax.labels[i] << "</text>\n";
  }
  o << "<text x='" << (L + W - R) / 2 << "' y='" << H - 10 << "' text-anchor='middle'>"
    << html_escape(xlabel) << (ax.log ? " (log scale)" : "") << "</text>\n";
  o << "<text transform='translate(16," << (Tp + H - Bm) / 2
    << ") rotate(-90)' text-anchor='middle'>" << html_escape(ylabel)
    << (ay.log ? " (log scale)" : "") << "</text>\n";
  static const char* colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                 "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"};
  std::vector<std::string> series;
  for (const auto& p : pts)
    if (std::find(series.begin(), series.end(), p.series) == series.end())
      series.push_back(p.series);
  for (size_t si = 0; si < series.size(); ++si) {
    const char* c = colors[si % 10];
    std::vector<const Point*> s;
    for (const auto& p : pts)
      if (p.series == series[si] && std::isfinite(p.y)) s.push_back(&p);
    std::sort(s.begin(), s.end(), [](const Point* a, const Point* b) { return a->x < b->x; });
    if (s.size() > 1) {
      // Past ten series the colours repeat: the repeats are dashed, with hollow markers.
      o << "<polyline fill='none' stroke='" << c << "' stroke-width='1.5'"
        << (si >= 10 ? " stroke-dasharray='5,3'" : "") << " points='";
      for (const Point* p : s) o << px(p->x) << "," << py(p->y) << " ";
      o << "'/>\n";
    }
    for (const Point* p : s)
      o << "<circle cx='" << px(p->x) << "' cy='" << py(p->y) << "' r='4' "
        << (si >= 10 ? std::string("fill='white' stroke='") + c + "'"
                     : std::string("fill='") + c + "'")
        << "><title>" << html_escape(p->label) << "</title></circle>\n";
    o << "<rect x='" << W - R + 12 << "' y='" << Tp + 10 + 18 * si << "' width='10' height='10' "
      << (si >= 10 ? std::string("fill='white' stroke='") + c + "'"
                   : std::string("fill='") + c + "'")
      << "/><text x='" << W - R + 28 << "' y='" << Tp + 19 + 18 * si << "' font-size='11'>"
      << html_escape(series[si].size() > 48 ? series[si].substr(0, 46) + "…" : series[si])
      << "<title>" << html_escape(series[si]) << "</title></text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

// A Markdown table's rows as HTML table rows (the first row as the header).
std::string html_table(const std::string& markdown) {
  std::ostringstream o;
  std::istringstream md(markdown);
  std::string line;
  bool header = true;
  while (std::getline(md, line)) {
    if (line.rfind("|---", 0) == 0) continue;
    o << "<tr>";
    std::string cell;
    std::istringstream cells(line.substr(1));
    while (std::getline(cells, cell, '|')) {
      const auto a = cell.find_first_not_of(' '), b = cell.find_last_not_of(' ');
      const std::string v = a == std::string::npos ? "" : cell.substr(a, b - a + 1);
      o << (header ? "<th>" : "<td>") << html_escape(v) << (header ? "</th>" : "</td>");
    }
    o << "</tr>\n";
    header = false;
  }
  return o.str();
}

std::string series_name(const ConfigResult& r) {
  return std::string(r.config.structure == model::Structure::kBlockCirculant ? "circulant"
                                                                             : "low-rank") +
         " " + r.config.calibration +
         (r.config.layers == "all" ? "" : " layers " + r.config.layers);
}

}  // namespace

std::string html_report(const SweepRun& run) {
  std::vector<Point> quality, speed, curves;
  for (const ConfigResult& r : run.results) {
    if (r.kd) {
      for (size_t i = 0; i < r.kd->train_loss.size(); ++i)
        curves.push_back({double(i + 1), r.kd->train_loss[i], r.config.name() + " train",
                          r.config.name() + " step " + std::to_string(i + 1)});
      for (const auto& [step, loss] : r.kd->val_loss)
        curves.push_back({double(step), loss, r.config.name() + " validation",
                          r.config.name() + " step " + std::to_string(step)});
    }
    quality.push_back(
        {r.stats.mlp_compression(), r.aggregate.at("kl").mean, series_name(r), r.config.name()});
    if (r.config.patch.empty())  // a patch of mixed block sizes has no one B
      speed.push_back({double(r.config.block), r.decode_tps, series_name(r), r.config.name()});
  }
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>bcvk eval report</title>\n"
       "<style>body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:"
       "collapse;font-size:12px}"
       "td,th{border:1px solid #bbb;padding:3px "
       "6px;text-align:right}th{background:#eee}td:first-child{text-align:left}"
       ".plots{display:flex;flex-wrap:wrap;gap:16px}</style></head><body>\n";
  o << "<h1>bcvk eval: block-circulant MLPs vs the dense teacher</h1>\n";
  o << "<p>Model <code>" << html_escape(run.model_path) << "</code> (sha256 "
    << run.model_sha256.substr(0, 16) << "…), device "
    << html_escape(run.device.is_object() ? run.device.value("name", "") : std::string()) << ", "
    << run.teacher.prompts.size() << " evaluation prompts, bcvk " << html_escape(run.bcvk_version)
    << ", " << fmt("%.0f", run.seconds) << " s.</p>\n<div class='plots'>\n";
  if (!run.results.empty()) {
    o << svg_scatter("Quality vs compression",
                     "MLP compression (dense / student MLP parameters, x)",
                     "mean KL(teacher || student), nats", quality, true, true);
    if (!speed.empty())
      o << svg_scatter("Decode speed vs block size", "block size B (weights per circulant block)",
                       "decode, tokens/s", speed, true, false);
  }
  for (const auto& t : run.sensitivity) {
    std::vector<Point> pts;
    for (size_t l = 0; l < t.kl.size(); ++l)
      for (auto p : compress::kProjections)
        pts.push_back({double(l), t.kl[l][size_t(p)], compress::projection_name(p),
                       "layer " + std::to_string(l) + " " + compress::projection_name(p)});
    o << svg_scatter("Sensitivity at B=" + std::to_string(t.block) + " (one projection replaced)",
                     "layer (index)", "KL on calibration text, nats per position", pts, false,
                     true);
  }
  if (!curves.empty())
    o << svg_scatter("Distillation: loss per position", "optimizer step",
                     "T^2 KL(teacher || student), nats per position", curves, false, true);
  o << "</div>\n<h2>Results</h2>\n<table>\n";
  o << html_table(markdown_table(run));
  o << "</table>\n<p>KL at temperature "
    << (run.options.is_object() ? run.options.value("temperature", 1.0) : 1.0)
    << "; intervals are seeded 95% bootstrap intervals on the mean. Continuation prefix: tokens of "
       "the teacher's "
       "greedy continuation the student reproduces before its first divergence (teacher "
       "forcing). "
    << html_escape(perplexity_note(run)) << "</p>\n";
  if (!run.sensitivity.empty())
    o << "<h2>Sensitivity</h2>\n<p>Mean T&sup2;KL per position on " << run.sensitivity[0].tokens
      << " calibration tokens when only that projection of that layer is replaced by its "
         "block-circulant projection.</p>\n<table>\n"
      << html_table(sensitivity_table(run.sensitivity)) << "</table>\n";
  o << "</body></html>\n";
  return o.str();
}

}  // namespace bcvk::eval
