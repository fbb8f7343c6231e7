// Writing a sweep's results: the Markdown table (also printed), the JSON with every per-prompt
// value, and a self-contained HTML report with inline SVG plots.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/distill/sensitivity.h"
#include "runtime/eval/sweep.h"

namespace bcvk::eval {

struct SweepRun {
  std::string bcvk_version;
  nlohmann::json device;  // name, vendor, driver, ...
  std::string model_path, model_sha256;
  std::string calib_path, calib_sha256, prompts_path, prompts_sha256;
  nlohmann::json options;
  TeacherReference teacher;
  std::vector<ConfigResult> results;
  std::vector<distill::Sensitivity> sensitivity;  // --sensitivity (and what auto patches used)
  double seconds = 0;
};

std::string markdown_table(const SweepRun& run);
// Which tokens the perplexity column scores, and how it is averaged.
std::string perplexity_note(const SweepRun& run);
// Per layer, the KL of each projection alone replaced, one column group per block size.
std::string sensitivity_table(const std::vector<distill::Sensitivity>& tables);
nlohmann::json to_json(const SweepRun& run);
std::string html_report(const SweepRun& run);

// Text for HTML bodies and attributes (& < > " ').
std::string html_escape(const std::string& s);

}  // namespace bcvk::eval
