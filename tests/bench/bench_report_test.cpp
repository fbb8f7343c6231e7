// bcvk report's reading and grouping: the hand-written row of another vendor
// (tests/data/bench_other_vendor.json) and variations of it; the dense-vs-patched ratios against
// hand-computed values; files of another schema, broken JSON and missing fields refused naming
// the file and the field.  The end-to-end run on a real lavapipe bench file is in
// tests/apps/cli_test.cpp (Cli.BenchRowsFromTwoMachinesMergeIntoOneReport).  And the median.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/bench/bench_record.h"
#include "runtime/bench/bench_report.h"
#include "runtime/util/statistics.h"
#include "tests/support/temp_dir.h"

namespace bcvk {
namespace {

const std::string kFixture = std::string(BCVK_TEST_DATA_DIR) + "/bench_other_vendor.json";

nlohmann::json fixture() {
  return nlohmann::json::parse(std::ifstream(kFixture));
}

std::string write(const test::TempDir& dir, const std::string& name, const std::string& text) {
  const auto p = (dir / name).string();
  std::ofstream(p) << text;
  return p;
}

std::string error_of(const std::string& path) {
  try {
    bench::read_bench_file(path);
  } catch (const bench::ReportError& e) {
    return e.what();
  }
  return "";
}

TEST(BenchReport, ReadsTheHandWrittenRow) {
  const auto rows = bench::read_bench_file(kFixture);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].device, "NVIDIA GeForce RTX 4060");
  EXPECT_EQ(rows[0].vendor, "NVIDIA");
  EXPECT_EQ(rows[0].kv, "f16");
  EXPECT_EQ(rows[0].context, 4096u);
  EXPECT_DOUBLE_EQ(rows[0].decode_tps, 410.0);
  EXPECT_DOUBLE_EQ(rows[0].decode_vs_dense, 1.0);
}

TEST(BenchReport, PatchedRowsAreComparedWithTheirOwnFilesDenseRow) {
  test::TempDir dir;
  auto j = fixture();
  auto patched = j["variants"][0];
  patched["name"] = "patched (all layers, gate/up/down, B=64)";
  patched["kind"] = "patched";
  patched["prefill_tokens_per_s"] = 3000.0;  // 1.25x the dense 2400
  patched["decode_tokens_per_s"] = 205.0;    // 0.5x the dense 410
  j["variants"].push_back(patched);
  const auto rows = bench::read_bench_file(write(dir, "p.json", j.dump()));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_DOUBLE_EQ(rows[1].prefill_vs_dense, 1.25);
  EXPECT_DOUBLE_EQ(rows[1].decode_vs_dense, 0.5);
  const std::string md = bench::report_markdown(bench::group_rows(rows));
  EXPECT_NE(md.find("| 1.25x | 0.50x |"), std::string::npos) << md;
}

// The charts' labels keep what tells two bars apart: a device name longer than the label column
// is clipped on its own line, the variant on the next stays whole.  The roofline chart draws the
// file's fraction (0.16) as a percentage.
TEST(BenchReport, ChartLabelsKeepTheVariantAndTheRooflineIsDrawn) {
  test::TempDir dir;
  auto j = fixture();
  const std::string device(70, 'D');
  j["device"]["name"] = device;
  j["variants"][0]["name"] = "patched (layers 0-29, gate/up/down B=64)";
  j["variants"][0]["kind"] = "patched";
  const auto rows = bench::read_bench_file(write(dir, "d.json", j.dump()));
  const std::string html = bench::report_html(bench::group_rows(rows));
  EXPECT_NE(html.find(">patched (layers 0-29, gate/up/down B=64)</tspan>"), std::string::npos)
      << html;
  EXPECT_NE(html.find(">" + std::string(53, 'D') + "...<tspan"), std::string::npos) << html;
  EXPECT_NE(html.find("<title>" + device + " - patched"), std::string::npos) << html;
  const size_t roofline = html.find("fraction of the device&#39;s measured copy roofline");
  ASSERT_NE(roofline, std::string::npos) << html;
  EXPECT_NE(html.find(">16%</text>", roofline), std::string::npos) << html;
}

TEST(BenchReport, RowsOfOtherSettingsOrModelsAreGroupedApart) {
  test::TempDir dir;
  auto a = fixture(), kv32 = fixture(), other = fixture(), amd = fixture();
  kv32["model"]["kv"] = "f32";
  other["model"]["sha256"] = std::string(64, 'a');
  other["model"]["file"] = "other.gguf";
  amd["device"]["name"] = "AMD Radeon RX 7600";
  amd["device"]["vendor"] = "AMD";
  std::vector<bench::BenchRow> rows;
  for (const auto& [name, j] :
       {std::pair{"a", a}, {"kv32", kv32}, {"other", other}, {"amd", amd}}) {
    const auto r = bench::read_bench_file(write(dir, std::string(name) + ".json", j.dump()));
    rows.insert(rows.end(), r.begin(), r.end());
  }
  const auto groups = bench::group_rows(rows);
  ASSERT_EQ(groups.size(), 3u);
  ASSERT_EQ(groups[0].rows.size(), 2u);  // the NVIDIA and AMD rows: same file, same settings
  EXPECT_EQ(groups[0].rows[1].device, "AMD Radeon RX 7600");
  EXPECT_NE(groups[1].title.find("f32 KV cache"), std::string::npos) << groups[1].title;
  EXPECT_NE(groups[2].title.find("other.gguf"), std::string::npos) << groups[2].title;
  const std::string html = bench::report_html(groups);
  size_t h2 = 0;
  for (size_t at = html.find("<h2>"); at != std::string::npos; at = html.find("<h2>", at + 1)) ++h2;
  EXPECT_EQ(h2, 3u);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

TEST(BenchReport, ForeignAndBrokenFilesAreNamedWithWhatIsWrong) {
  test::TempDir dir;
  auto v2 = fixture();
  v2["schema"] = "bcvk.bench/2";
  auto none = fixture();
  none.erase("schema");
  auto no_decode = fixture();
  no_decode["variants"][0].erase("decode_tokens_per_s");
  auto negative = fixture();
  negative["variants"][0]["prefill_tokens_per_s"] = -1.0;
  auto roofline_only = fixture();
  roofline_only.erase("model");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {write(dir, "v2.json", v2.dump()), "schema bcvk.bench/2; this bcvk reads bcvk.bench/1"},
      {write(dir, "none.json", none.dump()), "no \"schema\" field"},
      {write(dir, "cut.json", fixture().dump().substr(0, 300)), "not a JSON file"},
      {write(dir, "array.json", "[1, 2]"), "not a bench record"},
      {write(dir, "nodecode.json", no_decode.dump()),
       "variants[0].decode_tokens_per_s: missing or not a number"},
      {write(dir, "negative.json", negative.dump()),
       "variants[0].prefill_tokens_per_s: not a finite, non-negative number"},
      {write(dir, "roofline.json", roofline_only.dump()), "holds no model measurements"},
      {(dir / "missing.json").string(), "cannot read the file"}};
  for (const auto& [path, want] : cases) {
    const std::string e = error_of(path);
    EXPECT_EQ(e.rfind(path + ": ", 0), 0u) << "does not start with the file: " << e;
    EXPECT_NE(e.find(want), std::string::npos) << path << ": " << e;
  }
}

// Issue 30, class 9: a FIFO hung, a directory was not named, a context past 2^32 was grouped as
// its low 32 bits, Markdown was not escaped and HTML labels were cut inside a character.
TEST(BenchReport, HostileFilesAndFieldsAreRefusedOrEscaped) {
  test::TempDir dir;
  const std::string fifo = (dir / "pipe.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of(fifo).find(fifo + ": not a regular file"), std::string::npos)
      << error_of(fifo);
  EXPECT_NE(error_of(dir.path().string()).find(dir.path().string() + ": is a directory"),
            std::string::npos);
  auto wide = fixture();
  wide["model"]["context"] = (uint64_t(1) << 32) + 4096;
  EXPECT_NE(error_of(write(dir, "wide.json", wide.dump()))
                .find("model.context: 4294971392 is more than bench records"),
            std::string::npos);

  auto odd = fixture();
  odd["device"]["name"] = "GPU | fake\n| row";
  odd["variants"][0]["name"] = "a*b_c`d";
  const auto rows = bench::read_bench_file(write(dir, "odd.json", odd.dump()));
  const std::string md = bench::report_markdown(bench::group_rows(rows));
  EXPECT_NE(md.find("GPU \\| fake \\| row"), std::string::npos) << md;
  EXPECT_NE(md.find("a\\*b\\_c\\`d"), std::string::npos) << md;
  // Every table row still has its 13 separators.
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| ", 0) != 0) continue;
    size_t bars = 0;
    for (size_t i = 0; i < line.size(); ++i)
      bars += line[i] == '|' && (i == 0 || line[i - 1] != '\\');
    EXPECT_EQ(bars, 13u) << line;
  }

  auto cjk = fixture();
  std::string name;
  for (int i = 0; i < 30; ++i) name += "\u7b97";  // 3 bytes each: 90 bytes, cut at 53
  cjk["device"]["name"] = name;
  const std::string html = bench::report_html(
      bench::group_rows(bench::read_bench_file(write(dir, "c.json", cjk.dump()))));
  const std::string cut = name.substr(0, 51) + "...<tspan";  // 17 whole characters
  EXPECT_NE(html.find(">" + cut), std::string::npos) << html.substr(0, 2000);
}

// The one median every benchmark and the sweep report, on hand-computed cases.
// A kernel's time is its own profile row plus its passes' ("label.pass"), never a longer label
// that merely starts the same (mlp_gate is not mlp_gate_up); fractions by hand.
TEST(DecodeStreaming, SumsAKernelsPassesAndDividesByTheRoofs) {
  vk::ProfileTable p;
  p.add("mlp_gate_b64.pack", 1.0);
  p.add("mlp_gate_b64.fft", 2.0);
  p.add("mlp_gate_b64.freq", 3.0);
  p.add("mlp_gate", 4.0);
  p.add("mlp_gate_up", 100.0);
  p.add("lm_head", 0.0);
  const std::vector<model::KernelCost> costs = {{"mlp_gate_b64", 12'000'000, 60'000'000},
                                                {"mlp_gate", 8'000'000, 4'000'000},
                                                {"lm_head", 1, 1},
                                                {"absent", 1, 1}};
  const auto ks = bench::decode_streaming(p, 2, costs, 10.0, 100.0);
  ASSERT_EQ(ks.size(), 2u);  // lm_head took no time, absent has no row
  EXPECT_EQ(ks[0].label, "mlp_gate_b64");
  EXPECT_DOUBLE_EQ(ks[0].ms_per_token, 3.0);  // (1 + 2 + 3) / 2 steps
  EXPECT_DOUBLE_EQ(ks[0].gbs, 4.0);           // 12 MB in 3 ms
  EXPECT_DOUBLE_EQ(ks[0].roofline_fraction, 0.4);
  EXPECT_DOUBLE_EQ(ks[0].gflops, 20.0);  // 60 MFLOP in 3 ms
  EXPECT_DOUBLE_EQ(ks[0].fma_fraction, 0.2);
  EXPECT_EQ(ks[1].label, "mlp_gate");
  EXPECT_DOUBLE_EQ(ks[1].ms_per_token, 2.0);
  EXPECT_DOUBLE_EQ(ks[1].gbs, 4.0);
  EXPECT_TRUE(bench::decode_streaming(p, 0, costs, 10.0, 100.0).empty());
}

TEST(Statistics, MedianOfOddEvenAndEmptySets) {
  EXPECT_EQ(util::median({}), 0.0);
  EXPECT_EQ(util::median({7.0}), 7.0);
  EXPECT_EQ(util::median({3.0, 1.0, 2.0}), 2.0);
  EXPECT_EQ(util::median({4.0, 1.0, 3.0, 2.0}), 2.5);
  EXPECT_EQ(util::median({5.0, 5.0, 1.0, 100.0, 5.0}), 5.0);
}

}  // namespace
}  // namespace bcvk
