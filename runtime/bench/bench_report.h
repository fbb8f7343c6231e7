// `bcvk report`: rows of any number of `bcvk bench --json` files (schema bcvk.bench/1, from any
// machines) merged into one comparison -- a Markdown table and a self-contained HTML page with
// plots.  Rows are grouped by what was measured (model file, weight and KV types, context,
// prompt and decode lengths); rows of different groups are never put side by side.
// Test: tests/bench/bench_report_test.cpp.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace bcvk::bench {

// A file that is not a bcvk.bench/1 record: names the file and what is wrong with it.
class ReportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One measured variant (dense, patched, compressed) of one bench file.
struct BenchRow {
  std::string source;  // the file it came from
  // Where: the device and host.
  std::string device, vendor, device_type, driver, driver_version, vulkan_api, os, cpu;
  std::string bcvk_version, git_commit;
  // What: the group key.
  std::string model_file, model_sha256, weights, weight_types, kv;
  uint32_t context = 0, prompt_tokens = 0, decode_tokens = 0;
  // The variant and its figures.
  std::string variant, kind;
  double prefill_tps = 0, decode_tps = 0;
  std::vector<double> prefill_tps_samples, decode_ms_samples;
  double roofline_gbs = 0, decode_roofline_fraction = 0;
  uint64_t peak_device_bytes = 0, weight_bytes = 0, decode_bytes_per_token = 0;
  // Against the dense row of the same file (1 for the dense row; 0 when the file has none).
  double prefill_vs_dense = 0, decode_vs_dense = 0;
};

// Reads one file's rows.  Throws ReportError naming the file: unreadable, not JSON, another
// schema (or none), a missing or mistyped field.
std::vector<BenchRow> read_bench_file(const std::string& path);

struct BenchGroup {
  std::string title;  // "SmolLM2-135M-Instruct.Q4_1.gguf (sha256 b179c952...), native weights, ..."
  std::vector<BenchRow> rows;
};
// Groups rows by model sha256, weights, KV type, context, prompt and decode lengths, in the order
// the groups first appear; rows keep their order.
std::vector<BenchGroup> group_rows(const std::vector<BenchRow>& rows);

std::string report_markdown(const std::vector<BenchGroup>& groups);
std::string report_html(const std::vector<BenchGroup>& groups);

}  // namespace bcvk::bench
