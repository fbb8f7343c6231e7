#include "runtime/bench/bench_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/bench/bench_record.h"
#include "runtime/eval/plot_axis.h"
#include "runtime/eval/report.h"

namespace bcvk::bench {

namespace {

using nlohmann::json;

// Field access that names the file and the field when the record is not what bench writes.
class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}
  [[noreturn]] void fail(const std::string& what) const { throw ReportError(path_ + ": " + what); }
  const json& object(const json& j, const std::string& key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_object()) fail(where + key + ": missing or not an object");
    return j[key];
  }
  std::string str(const json& j, const std::string& key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_string()) fail(where + key + ": missing or not a string");
    return j[key].get<std::string>();
  }
  double num(const json& j, const std::string& key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_number()) fail(where + key + ": missing or not a number");
    const double v = j[key].get<double>();
    if (!std::isfinite(v) || v < 0) fail(where + key + ": not a finite, non-negative number");
    return v;
  }
  uint64_t count(const json& j, const std::string& key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_number_unsigned())
      fail(where + key + ": missing or not a non-negative integer");
    return j[key].get<uint64_t>();
  }
  // A count bench writes as 32 bits: a larger value is refused, never wrapped into another group.
  uint32_t count32(const json& j, const std::string& key, const std::string& where) const {
    const uint64_t v = count(j, key, where);
    if (v > UINT32_MAX)
      fail(where + key + ": " + std::to_string(v) + " is more than bench records (2^32 - 1)");
    return static_cast<uint32_t>(v);
  }
  std::vector<double> nums(const json& j, const std::string& key, const std::string& where) const {
    if (!j.contains(key) || !j[key].is_array()) fail(where + key + ": missing or not an array");
    std::vector<double> v;
    for (const auto& x : j[key]) {
      if (!x.is_number()) fail(where + key + ": holds a value that is not a number");
      v.push_back(x.get<double>());
    }
    return v;
  }

 private:
  std::string path_;
};

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string mib(uint64_t b) {
  return fmt("%.1f MiB", b / 1048576.0);
}

std::string ratio(double r) {
  return r > 0 ? fmt("%.2fx", r) : std::string("-");
}

std::string group_key(const BenchRow& r) {
  return r.model_sha256 + "|" + r.weights + "|" + r.kv + "|" + std::to_string(r.context) + "|" +
         std::to_string(r.prompt_tokens) + "|" + std::to_string(r.decode_tokens);
}

std::string group_title(const BenchRow& r) {
  return r.model_file + " (sha256 " + r.model_sha256.substr(0, 12) + "), " + r.weights +
         " weights (" + r.weight_types + "), " + r.kv + " KV cache, context " +
         std::to_string(r.context) + ", prompt " + std::to_string(r.prompt_tokens) + " tokens, " +
         std::to_string(r.decode_tokens) + " decode steps";
}

struct Bar {
  std::string device, variant;  // drawn on two lines, so a long device name cannot hide the variant
  bool dense = true;            // dense rows blue, block-circulant rows orange
  double value = 0;
};

// At most n bytes, cut at a character boundary (a UTF-8 continuation byte never starts the cut).
std::string clip(const std::string& s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut) + "...";
}

// Text in a Markdown table cell or heading: characters Markdown would read as table or inline
// syntax are escaped and line breaks become spaces, so a device name cannot break the table.
std::string md(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '\n' || c == '\r')
      o += ' ';
    else if (std::strchr("\\|`*_[]<>#", c) && c != '\0')
      o += std::string("\\") + c;
    else
      o += c;
  }
  return o;
}

// A horizontal bar chart: one bar per row, its value printed at the bar's end.
std::string svg_bars(const std::string& title, const std::string& unit,
                     const std::vector<Bar>& bars, const char* value_format = "%.4g") {
  const int label_w = 360, plot_w = 420, bar_h = 34, top = 40, W = label_w + plot_w + 90;
  const int H = top + bar_h * int(bars.size()) + 50;
  std::vector<double> values = {0};
  for (const auto& b : bars) values.push_back(b.value);
  const eval::Axis ax = eval::make_axis(values, false);
  std::ostringstream o;
  o << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H
    << "' font-family='sans-serif' font-size='12'>\n<text x='" << W / 2
    << "' y='20' text-anchor='middle' font-size='14' font-weight='bold'>"
    << eval::html_escape(title) << "</text>\n";
  const int y_axis = top + bar_h * int(bars.size());
  for (size_t i = 0; i < ax.ticks.size(); ++i) {
    const double x = label_w + plot_w * ax.position(ax.ticks[i]);
    o << "<line x1='" << x << "' y1='" << top - 4 << "' x2='" << x << "' y2='" << y_axis
      << "' stroke='#ddd'/>\n<text x='" << x << "' y='" << y_axis + 16 << "' text-anchor='middle'>"
      << eval::html_escape(ax.labels[i]) << "</text>\n";
  }
  o << "<text x='" << label_w + plot_w / 2 << "' y='" << y_axis + 36 << "' text-anchor='middle'>"
    << eval::html_escape(unit) << "</text>\n";
  for (size_t i = 0; i < bars.size(); ++i) {
    const int y = top + bar_h * int(i);
    const double w = plot_w * ax.position(bars[i].value) - plot_w * ax.position(0);
    o << "<text x='" << label_w - 8 << "' y='" << y + 14 << "' text-anchor='end'><title>"
      << eval::html_escape(bars[i].device + " - " + bars[i].variant) << "</title>"
      << eval::html_escape(clip(bars[i].device, 56)) << "<tspan x='" << label_w - 8 << "' dy='14'"
      << " fill='#555'>" << eval::html_escape(clip(bars[i].variant, 56)) << "</tspan></text>\n"
      << "<rect x='" << label_w + plot_w * ax.position(0) << "' y='" << y + 6 << "' width='"
      << std::max(w, 1.0) << "' height='" << bar_h - 12 << "' fill='"
      << (bars[i].dense ? "#3b75af" : "#e07b39") << "'/>\n<text x='"
      << label_w + plot_w * ax.position(0) + std::max(w, 1.0) + 4 << "' y='" << y + 21 << "'>"
      << fmt(value_format, bars[i].value) << "</text>\n";
  }
  return o.str() + "</svg>\n";
}

}  // namespace

std::vector<BenchRow> read_bench_file(const std::string& path) {
  const Reader r(path);
  // A directory, a FIFO or a device is refused before it is opened (a FIFO would block).
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::is_directory(st)) r.fail("is a directory, not a bench record");
  if (!ec && !std::filesystem::is_regular_file(st))
    r.fail("not a regular file (a FIFO, socket or device), not a bench record");
  std::ifstream in(path, std::ios::binary);
  if (!in) r.fail("cannot read the file");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    r.fail(std::string("not a JSON file (") + e.what() + ")");
  }
  if (!j.is_object()) r.fail("not a bench record (the top level is not an object)");
  if (!j.contains("schema") || !j["schema"].is_string())
    r.fail(
        "no \"schema\" field: not a bcvk bench --json file, or one from a bcvk older than "
        "schema " +
        std::string(kBenchSchema));
  const std::string schema = j["schema"].get<std::string>();
  if (schema != kBenchSchema) r.fail("schema " + schema + "; this bcvk reads " + kBenchSchema);
  const json& build = r.object(j, "bcvk", "");
  const json& host = r.object(j, "host", "");
  const json& dev = r.object(j, "device", "");
  const json& roof = r.object(j, "roofline", "");
  if (!j.contains("model"))
    r.fail("holds no model measurements (bench was run without -m): nothing to compare");
  const json& model = r.object(j, "model", "");
  if (!j.contains("variants") || !j["variants"].is_array() || j["variants"].empty())
    r.fail("variants: missing or empty");

  BenchRow base;
  base.source = path;
  base.device = r.str(dev, "name", "device.");
  base.vendor = r.str(dev, "vendor", "device.");
  base.device_type = r.str(dev, "type", "device.");
  base.driver = r.str(dev, "driver_name", "device.") + " " + r.str(dev, "driver_info", "device.");
  base.driver_version = r.str(dev, "driver_version", "device.");
  base.vulkan_api = r.str(dev, "api_version", "device.");
  base.os = r.str(host, "os", "host.");
  base.cpu = r.str(host, "cpu", "host.");
  base.bcvk_version = r.str(build, "version", "bcvk.");
  base.git_commit = r.str(build, "git_commit", "bcvk.");
  base.model_file = r.str(model, "file", "model.");
  base.model_sha256 = r.str(model, "sha256", "model.");
  base.weights = r.str(model, "weights", "model.");
  base.weight_types = r.str(model, "weight_types", "model.");
  base.kv = r.str(model, "kv", "model.");
  base.context = r.count32(model, "context", "model.");
  base.prompt_tokens = r.count32(model, "prompt_tokens", "model.");
  base.decode_tokens = r.count32(model, "decode_tokens", "model.");
  base.roofline_gbs = r.num(roof, "bandwidth_gbs", "roofline.");

  std::vector<BenchRow> rows;
  for (size_t i = 0; i < j["variants"].size(); ++i) {
    const json& v = j["variants"][i];
    const std::string where = "variants[" + std::to_string(i) + "].";
    if (!v.is_object()) r.fail(where.substr(0, where.size() - 1) + ": not an object");
    BenchRow row = base;
    row.variant = r.str(v, "name", where);
    row.kind = r.str(v, "kind", where);
    row.prefill_tps = r.num(v, "prefill_tokens_per_s", where);
    row.decode_tps = r.num(v, "decode_tokens_per_s", where);
    row.prefill_tps_samples = r.nums(v, "prefill_tokens_per_s_samples", where);
    row.decode_ms_samples = r.nums(v, "decode_ms_per_token_samples", where);
    row.decode_roofline_fraction = r.num(v, "decode_roofline_fraction", where);
    row.peak_device_bytes = r.count(v, "peak_device_bytes", where);
    row.weight_bytes = r.count(v, "weight_bytes", where);
    row.decode_bytes_per_token = r.count(v, "decode_bytes_per_token", where);
    rows.push_back(std::move(row));
  }
  const auto dense =
      std::find_if(rows.begin(), rows.end(), [](const BenchRow& x) { return x.kind == "dense"; });
  if (dense != rows.end())
    for (BenchRow& x : rows) {
      x.prefill_vs_dense = dense->prefill_tps > 0 ? x.prefill_tps / dense->prefill_tps : 0;
      x.decode_vs_dense = dense->decode_tps > 0 ? x.decode_tps / dense->decode_tps : 0;
    }
  return rows;
}

std::vector<BenchGroup> group_rows(const std::vector<BenchRow>& rows) {
  std::vector<BenchGroup> groups;
  std::map<std::string, size_t> index;
  for (const BenchRow& r : rows) {
    const auto [it, fresh] = index.emplace(group_key(r), groups.size());
    if (fresh) groups.push_back({group_title(r), {}});
    groups[it->second].rows.push_back(r);
  }
  return groups;
}

std::string report_markdown(const std::vector<BenchGroup>& groups) {
  std::ostringstream o;
  for (const BenchGroup& g : groups) {
    o << "### " << md(g.title) << "\n\n"
      << "| device | driver | Vulkan | host | bcvk | variant | prefill tok/s | decode tok/s | "
         "decode roofline | peak device memory | prefill vs dense | decode vs dense |\n"
      << "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|\n";
    for (const BenchRow& r : g.rows)
      o << "| " << md(r.device + " (" + r.vendor + ")") << " | " << md(r.driver) << " | "
        << md(r.vulkan_api) << " | " << md(r.cpu + ", " + r.os) << " | "
        << md(r.bcvk_version + " " + r.git_commit) << " | " << md(r.variant) << " | "
        << fmt("%.2f", r.prefill_tps) << " | " << fmt("%.2f", r.decode_tps) << " | "
        << fmt("%.0f%%", 100 * r.decode_roofline_fraction) << " of "
        << fmt("%.2f GB/s", r.roofline_gbs) << " | " << mib(r.peak_device_bytes) << " | "
        << ratio(r.prefill_vs_dense) << " | " << ratio(r.decode_vs_dense) << " |\n";
    o << "\n";
  }
  return o.str();
}

std::string report_html(const std::vector<BenchGroup>& groups) {
  std::ostringstream o;
  o << "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>bcvk bench report</title>"
       "<style>body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:"
       "collapse;margin:12px 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:13px}"
       "td.n{text-align:right}h2{margin-top:36px}svg{display:block;margin:12px 0}</style>"
       "</head><body>\n<h1>bcvk bench report</h1>\n<p>"
    << groups.size() << (groups.size() == 1 ? " group" : " groups")
    << " of measurements. Rows of one group measured the same model file with the same "
       "settings; rows of different groups are not compared.</p>\n";
  for (const BenchGroup& g : groups) {
    o << "<h2>" << eval::html_escape(g.title) << "</h2>\n<table><tr><th>device</th><th>driver"
      << "</th><th>Vulkan</th><th>host</th><th>bcvk</th><th>variant</th><th>prefill tok/s</th>"
      << "<th>decode tok/s</th><th>decode roofline</th><th>peak device memory</th>"
      << "<th>prefill vs dense</th><th>decode vs dense</th><th>file</th></tr>\n";
    std::vector<Bar> decode, prefill, roofline, memory;
    for (const BenchRow& r : g.rows) {
      o << "<tr><td>" << eval::html_escape(r.device + " (" + r.vendor + ")") << "</td><td>"
        << eval::html_escape(r.driver) << "</td><td>" << eval::html_escape(r.vulkan_api)
        << "</td><td>" << eval::html_escape(r.cpu + ", " + r.os) << "</td><td>"
        << eval::html_escape(r.bcvk_version + " " + r.git_commit) << "</td><td>"
        << eval::html_escape(r.variant) << "</td><td class='n'>" << fmt("%.2f", r.prefill_tps)
        << "</td><td class='n'>" << fmt("%.2f", r.decode_tps) << "</td><td class='n'>"
        << fmt("%.0f%%", 100 * r.decode_roofline_fraction) << "</td><td class='n'>"
        << mib(r.peak_device_bytes) << "</td><td class='n'>" << ratio(r.prefill_vs_dense)
        << "</td><td class='n'>" << ratio(r.decode_vs_dense) << "</td><td>"
        << eval::html_escape(r.source) << "</td></tr>\n";
      const bool dense = r.kind == "dense";
      decode.push_back({r.device, r.variant, dense, r.decode_tps});
      prefill.push_back({r.device, r.variant, dense, r.prefill_tps});
      roofline.push_back({r.device, r.variant, dense, 100 * r.decode_roofline_fraction});
      memory.push_back({r.device, r.variant, dense, r.peak_device_bytes / 1048576.0});
    }
    // The roofline fraction is the figure that compares across devices of very different speed:
    // how much of its own measured streaming bandwidth each decode step uses.
    o << "</table>\n"
      << svg_bars("Decode", "tokens/s (median)", decode)
      << svg_bars("Prefill", "tokens/s (median)", prefill)
      << svg_bars("Decode: fraction of the device's measured copy roofline",
                  "% of the measured streaming bandwidth", roofline, "%.0f%%")
      << svg_bars("Peak device memory", "MiB", memory);
  }
  o << "</body></html>\n";
  return o.str();
}

}  // namespace bcvk::bench
