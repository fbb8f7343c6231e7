// bcvk report: bench rows from any number of machines (bcvk bench --json files) in one
// comparison table on stdout, and optionally as Markdown and a self-contained HTML page.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/validators.h"
#include "loaders/atomic_write.h"
#include "runtime/bench/bench_report.h"

namespace bcvk::apps {

namespace {

struct ReportOptions {
  std::vector<std::string> inputs;
  std::string md_out, html_out;
};

int run_report(const ReportOptions& o) {
  std::vector<loaders::NamedPath> inputs;
  for (const auto& p : o.inputs) inputs.emplace_back("input", p);
  loaders::check_outputs(inputs, {{"--md", o.md_out}, {"--html", o.html_out}});
  std::vector<bench::BenchRow> rows;
  for (const auto& p : o.inputs) {
    auto r = bench::read_bench_file(p);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  const auto groups = bench::group_rows(rows);
  const std::string md = bench::report_markdown(groups);
  std::fputs(md.c_str(), stdout);
  std::fprintf(stderr, "report: %zu rows from %zu files in %zu %s\n", rows.size(), o.inputs.size(),
               groups.size(), groups.size() == 1 ? "group" : "groups");
  if (!o.md_out.empty()) {
    loaders::write_file_atomically(o.md_out, "# bcvk bench report\n\n" + md);
    std::fprintf(stderr, "report: wrote %s\n", o.md_out.c_str());
  }
  if (!o.html_out.empty()) {
    loaders::write_file_atomically(o.html_out, bench::report_html(groups));
    std::fprintf(stderr, "report: wrote %s\n", o.html_out.c_str());
  }
  return 0;
}

}  // namespace

Runner add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "report", "Merge bcvk bench --json files from any machines into one comparison");
  auto o = std::make_shared<ReportOptions>();
  cmd->add_option("files", o->inputs, "bench --json files (schema bcvk.bench/1)")->required();
  cmd->add_option("--md", o->md_out, "Also write the tables as Markdown")->check(output_path());
  cmd->add_option("--html", o->html_out, "Also write a self-contained HTML page with plots")
      ->check(output_path());
  return [o]() { return run_report(*o); };
}

}  // namespace bcvk::apps
