// bcvk eval: the teacher-student sweep -- block sizes x layer counts x calibration, with the
// low-rank baseline at equal parameter count -- printed as a Markdown table, and written as JSON,
// Markdown and a self-contained HTML report.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/kd_flags.h"
#include "apps/model_flags.h"
#include "apps/progress.h"
#include "apps/prompts.h"
#include "apps/validators.h"
#include "loaders/atomic_write.h"
#include "loaders/mapped_file.h"
#include "loaders/prompt_file.h"
#include "loaders/tokenizer/tokenizer.h"
#include "runtime/compress/auto_patch.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/distill/gemm.h"
#include "runtime/distill/kd.h"
#include "runtime/distill/sensitivity.h"
#include "runtime/eval/grid.h"
#include "runtime/eval/report.h"

namespace bcvk::apps {

namespace {

struct EvalOptions {
  DeviceFlags dev;
  ModelFlags model;
  std::string calib = "data/prompts/calibration.txt";
  std::string prompts = "data/prompts/eval.txt";
  std::vector<uint32_t> blocks = {64};
  std::vector<std::string> layers = {"all"};
  std::string proj = "gate,up,down";
  std::vector<std::string> calibrate = {"none", "ls"};
  std::string baseline = "none";
  std::vector<uint32_t> baseline_blocks;  // empty: the same as blocks
  std::vector<std::string> patches;       // --patch: whole patch specs or auto:RATIO
  std::vector<uint32_t> sensitivity;      // --sensitivity: block sizes
  uint32_t sensitivity_tokens = 1024;
  bool block_grid = true;  // run the --block-sizes x --layers grid
  eval::SweepOptions sweep;
  KdFlags kd;
  uint32_t limit = 0, calib_limit = 0;
  bool allow_overlap = false;
  std::string json_out, md_out, html_out;
  std::string teacher;     // --teacher: the dense model a compressed -m is measured against
  std::string grid_flags;  // grid flags given on the command line (refused with --teacher)
};

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string clock_text(double s) {
  char buf[32];
  const int t = static_cast<int>(s + 0.5);
  std::snprintf(buf, sizeof buf, "%d:%02d", t / 60, t % 60);
  return buf;
}

// A compressed student and its teacher must be the same architecture with the same vocabulary.
void check_same_model(const loaders::LlamaModelFile& teacher,
                      const loaders::LlamaModelFile& student) {
  const auto &t = teacher.config(), &s = student.config();
  if (t.n_layers != s.n_layers || t.n_embd != s.n_embd || t.n_ff != s.n_ff ||
      t.n_heads != s.n_heads || t.n_kv_heads != s.n_kv_heads || t.n_vocab != s.n_vocab)
    throw std::invalid_argument("--teacher " + teacher.source() + " is not the model " +
                                student.source() + " was compressed from (a different shape)");
  const gguf::Value* tt = teacher.gguf()->find("tokenizer.ggml.tokens");
  const gguf::Value* st = student.gguf()->find("tokenizer.ggml.tokens");
  if (!tt || !st || tt->to_string(SIZE_MAX) != st->to_string(SIZE_MAX))
    throw std::invalid_argument("--teacher " + teacher.source() + " and " + student.source() +
                                " have different vocabularies");
  const auto rec = compress::read_compression_record(*student.gguf());
  if (rec && !rec->source_sha256.empty() && std::filesystem::is_regular_file(teacher.source()) &&
      file_sha256(teacher.source()) != rec->source_sha256)
    std::fprintf(
        stderr, "eval: note: %s was compressed from a file with another sha256 than --teacher %s\n",
        student.source().c_str(), teacher.source().c_str());
}

// The one configuration of a compressed student, labelled from its metadata.
eval::SweepConfig stored_config(const loaders::LlamaModelFile& f, const std::string& path) {
  eval::SweepConfig c;
  const auto rec = compress::read_compression_record(*f.gguf());
  const auto stored = model::MlpPatch::stored(f);
  c.block = stored.empty() ? 0 : stored.front().circulant.block;
  c.calibration = rec ? rec->calibration : "none";
  c.layers = "stored";
  c.stored =
      "stored " + std::filesystem::path(path).filename().string() + " (" +
      (rec ? rec->patch_description + ", " + rec->calibration : std::string("circulant MLPs")) +
      ")";
  return c;
}

// What a run was: device, inputs and their hashes, options.
void describe_run(eval::SweepRun& run, const EvalOptions& o, const vk::Context& ctx,
                  const loaders::PromptSet& calib_set, const loaders::PromptSet& eval_set,
                  const eval::SweepOptions& so, size_t eval_prompts, size_t calib_prompts,
                  uint64_t calib_tokens, bool stored_student, bool adds_bos) {
  run.bcvk_version = BCVK_VERSION;
  const auto& d = ctx.info();
  run.device = {{"name", d.name},
                {"vendor", vk::vendor_name(d.vendor)},
                {"type", d.type_name()},
                {"driver_name", d.driver_name},
                {"driver_info", d.driver_info},
                {"api_version", d.api_version_string()}};
  const std::string& teacher_path = stored_student ? o.teacher : o.model.model;
  run.model_path = teacher_path;
  run.model_sha256 =
      std::filesystem::is_regular_file(teacher_path) ? file_sha256(teacher_path) : "";
  run.calib_path = o.calib;
  run.calib_sha256 = calib_set.sha256;
  run.prompts_path = o.prompts;
  run.prompts_sha256 = eval_set.sha256;
  run.options = {{"temperature", so.temperature},
                 {"lambda_rel", so.lambda_rel},
                 {"continuation_prompts", so.continuation_prompts},
                 {"continuation_tokens", so.continuation_tokens},
                 {"evaluation_prompts", eval_prompts},
                 {"calibration_prompts", calib_prompts},
                 {"calibration_tokens", calib_tokens},
                 {"calib_generate", o.kd.calib_generate},
                 {"sensitivity_tokens", o.sensitivity_tokens},
                 {"weights", model::weight_mode_name(weight_mode(o.model))},
                 {"kv", ops::kv_type_name(kv_type(o.model))},
                 {"seed", so.seed},
                 {"host_threads", distill::host_threads()},
                 {"host_blas", distill::blas_name()},
                 {"adds_bos", adds_bos}};
  if (stored_student) {
    run.options["student_model"] = o.model.model;
    run.options["student_sha256"] = file_sha256(o.model.model);
  }
}

// The tables on stdout; JSON, Markdown and HTML where asked.
void write_outputs(const eval::SweepRun& run, const EvalOptions& o, size_t configs,
                   double estimate) {
  std::string md;
  if (!run.sensitivity.empty())
    md += "Sensitivity: mean T^2 KL per position on " + std::to_string(run.sensitivity[0].tokens) +
          " calibration tokens, one projection replaced at a time\n\n" +
          eval::sensitivity_table(run.sensitivity) + (configs ? "\n" : "");
  if (configs) md += eval::markdown_table(run) + "\n" + eval::perplexity_note(run) + "\n";
  std::cout << md << std::flush;
  std::fprintf(stderr, "eval: %zu configurations in %s (estimated %s)\n", configs,
               clock_text(run.seconds).c_str(), clock_text(estimate).c_str());
  if (!o.json_out.empty()) {
    loaders::write_file_atomically(o.json_out, eval::to_json(run).dump(1) + "\n");
    std::fprintf(stderr, "eval: wrote %s\n", o.json_out.c_str());
  }
  if (!o.md_out.empty()) {
    loaders::write_file_atomically(o.md_out, "# bcvk eval\n\n" + md);
    std::fprintf(stderr, "eval: wrote %s\n", o.md_out.c_str());
  }
  if (!o.html_out.empty()) {
    loaders::write_file_atomically(o.html_out, eval::html_report(run));
    std::fprintf(stderr, "eval: wrote %s\n", o.html_out.c_str());
  }
}

int run_eval(const EvalOptions& o) {
  const auto start = Clock::now();
  for (const auto& c : o.calibrate)
    if (!eval::known_calibration(c))
      throw std::invalid_argument("--calibrate: unknown method '" + c +
                                  "' (none, ls, kd or ls+kd)");
  apply_kd_flags(o.kd);
  if (o.baseline != "none" && o.baseline != "lowrank")
    throw std::invalid_argument("--baseline: unknown baseline '" + o.baseline +
                                "' (lowrank or none)");
  if (!(o.sweep.temperature > 0) || !std::isfinite(o.sweep.temperature))
    throw std::invalid_argument("--temperature must be a positive finite number, not " +
                                std::to_string(o.sweep.temperature));
  for (uint32_t b : o.blocks)
    if (b == 0) throw std::invalid_argument("--block-sizes: a block size must be at least 1");
  for (uint32_t b : o.baseline_blocks)
    if (b == 0)
      throw std::invalid_argument("--baseline-block-sizes: a block size must be at least 1");

  loaders::check_outputs({{"model", o.model.model},
                          {"teacher", o.teacher},
                          {"calibration prompts", o.calib},
                          {"evaluation prompts", o.prompts}},
                         {{"--json", o.json_out}, {"--md", o.md_out}, {"--html", o.html_out}});
  const auto calib_set = loaders::read_prompt_set(o.calib);
  const auto eval_set = loaders::read_prompt_set(o.prompts);
  const auto overlap = loaders::overlapping_prompts(calib_set, eval_set);
  if (!overlap.empty() && !o.allow_overlap)
    throw std::invalid_argument(
        std::to_string(overlap.size()) + " prompt(s) are in both " + o.calib + " and " + o.prompts +
        " (first: \"" + overlap[0] +
        "\"); calibration and evaluation must be disjoint, or pass --allow-overlap");

  // -m is the dense model the students are made from, or, with --teacher, a compressed student
  // (bcvk compress) measured against the dense teacher.
  const auto student_file = loaders::LlamaModelFile::open(o.model.model);
  const bool stored_student = student_file.compressed();
  if (stored_student && o.teacher.empty())
    throw std::invalid_argument(o.model.model +
                                " is a compressed model (bcvk compress): give the dense model it "
                                "is measured against with --teacher");
  if (!stored_student && !o.teacher.empty())
    throw std::invalid_argument("--teacher is for a compressed -m (bcvk compress); " +
                                o.model.model + " is dense, and eval builds its students from it");
  if (stored_student && !o.grid_flags.empty())
    throw std::invalid_argument(o.grid_flags +
                                " does not apply with --teacher: the student is the compressed "
                                "file itself, as bcvk compress made it");
  std::optional<loaders::LlamaModelFile> teacher_file;
  if (stored_student) teacher_file.emplace(loaders::LlamaModelFile::open(o.teacher));
  const auto& file = stored_student ? *teacher_file : student_file;
  if (!file.gguf() || !student_file.gguf())
    throw std::invalid_argument(
        "eval needs a GGUF model (its tokenizer lives in the GGUF metadata)");
  if (stored_student) check_same_model(*teacher_file, student_file);
  const auto tok = loaders::Tokenizer::from_gguf(*file.gguf());
  const uint32_t n_layers = file.config().n_layers;

  // The grid; each spec is validated now, before any work.
  std::vector<eval::SweepConfig> grid;
  std::set<uint32_t> sensitivity_blocks;
  if (stored_student) {
    grid.push_back(stored_config(student_file, o.model.model));
    eval::GridRequest only_sensitivity;  // validated like the grid's
    only_sensitivity.block_grid = false;
    only_sensitivity.sensitivity = o.sensitivity;
    if (!o.sensitivity.empty())
      sensitivity_blocks = eval::expand_grid(only_sensitivity, file.config()).sensitivity_blocks;
  } else {
    eval::GridRequest req;
    req.blocks = o.blocks;
    req.layers = o.layers;
    req.projections = o.proj;
    req.calibrations = o.calibrate;
    req.block_grid = o.block_grid;
    req.low_rank_baseline = o.baseline == "lowrank";
    req.baseline_blocks = o.baseline_blocks;
    req.patches = o.patches;
    req.sensitivity = o.sensitivity;
    eval::Grid g = eval::expand_grid(req, file.config());
    grid = std::move(g.configs);
    sensitivity_blocks = std::move(g.sensitivity_blocks);
  }
  // A stored student was calibrated when it was made: only grid configurations calibrate here.
  auto calibrates_ls = [](const eval::SweepConfig& c) { return c.stored.empty() && c.ls(); };
  auto calibrates_kd = [](const eval::SweepConfig& c) { return c.stored.empty() && c.kd(); };
  const bool any_ls = std::any_of(grid.begin(), grid.end(), calibrates_ls);
  const bool any_kd = std::any_of(grid.begin(), grid.end(), calibrates_kd);
  const bool any_sensitivity = !sensitivity_blocks.empty();

  vk::Context ctx(context_options(o.dev));
  auto m = load_model(ctx, file, o.model);
  std::unique_ptr<model::Model> student;
  std::unique_ptr<model::MlpPatch> stored_patch;
  if (stored_student) {
    student = load_model(ctx, student_file, o.model);
    stored_patch = load_stored_patch(ctx, student_file, o.model);
  }
  const auto eval_ids =
      tokenize(tok, eval_set, o.limit, m->context_length(), o.sweep.continuation_tokens);
  auto calib_ids =
      any_ls || any_kd || any_sensitivity
          ? tokenize(tok, calib_set, o.calib_limit, m->context_length(), o.kd.calib_generate)
          : std::vector<std::vector<int32_t>>{};
  // The host model: kd trains on it, and --calib-generate samples the teacher's text with it.
  std::unique_ptr<distill::HostModel<float>> host;
  if (any_kd || any_sensitivity || (any_ls && o.kd.calib_generate))
    host = std::make_unique<distill::HostModel<float>>(file);
  if (o.kd.calib_generate && !calib_ids.empty())
    calib_ids = generate_calibration(*host, calib_ids, o.kd, tok.eos());

  // Sensitivity, on calibration text (never the evaluation prompts): for --sensitivity, and for
  // the auto patches, which are resolved here.
  eval::SweepRun run;
  if (any_sensitivity) {
    const auto t_s = Clock::now();
    const distill::KdTeacher st = distill::sensitivity_teacher(
        *host, distill::sensitivity_sequences(calib_ids, o.sensitivity_tokens),
        o.sweep.temperature);
    std::fprintf(stderr, "eval: sensitivity on %zu calibration sequences (%llu tokens), B = ",
                 st.sequences().size(),
                 (unsigned long long)st.tokens(std::vector<size_t>(st.train())));
    for (uint32_t b : sensitivity_blocks) std::fprintf(stderr, "%u ", b);
    std::fprintf(stderr, "\n");
    const std::vector<uint32_t> blocks(sensitivity_blocks.begin(), sensitivity_blocks.end());
    run.sensitivity =
        distill::measure_sensitivities(*host, file, st, blocks, [&](size_t k, size_t d, size_t n) {
          const double el = since(t_s);
          const double frac = (double(k) + double(d) / n) / blocks.size();
          progress("[sensitivity B=%u] %zu/%zu projections  elapsed %s  ETA %s   ", blocks[k], d, n,
                   clock_text(el).c_str(),
                   clock_text(frac > 0 ? el / frac * (1 - frac) : 0).c_str());
        });
    end_progress();
    std::map<std::string, std::string> resolved;  // request -> patch text, chosen once
    for (auto& cfg : grid) {
      if (cfg.request.empty()) continue;
      if (!resolved.count(cfg.request)) {
        const auto choice = distill::resolve_auto(file.config(), run.sensitivity, cfg.request);
        resolved[cfg.request] = choice.spec.text();
        std::fprintf(stderr, "eval: %s -> %s (summed sensitivity %.3f, MLP parameters %.3f)\n",
                     cfg.request.c_str(), choice.spec.describe().c_str(), choice.cost,
                     choice.ratio());
      }
      cfg.patch = resolved[cfg.request];
    }
  }
  if (grid.empty()) {  // --sensitivity alone
    run.seconds = since(start);
    eval::SweepOptions so = o.sweep;
    so.continuation_prompts = 0;
    describe_run(
        run, o, ctx, calib_set, eval_set, so, 0, calib_ids.size(),
        [&] {
          uint64_t n = 0;
          for (const auto& p : calib_ids) n += p.size();
          return n;
        }(),
        stored_student, tok.adds_bos());
    write_outputs(run, o, 0, run.seconds);
    return finish(ctx, o.dev, vk::ProfileTable{});
  }
  uint64_t eval_tokens = 0, calib_tokens = 0;
  for (const auto& p : eval_ids) eval_tokens += p.size();
  for (const auto& p : calib_ids) calib_tokens += p.size();
  const uint32_t n_cont = std::min<uint32_t>(o.sweep.continuation_prompts, eval_ids.size());

  // Time estimate from a quick measurement of this device.
  eval::SweepWork work;
  work.eval_tokens = eval_tokens;
  work.continuation_tokens = uint64_t(n_cont) * (o.sweep.continuation_tokens - 1);
  work.calib_tokens = calib_tokens;
  work.decode_steps = o.sweep.decode_steps;
  work.n_layers = n_layers;
  const eval::SweepEstimate estimate = eval::estimate_sweep_seconds(
      grid, work, eval::measure_speed(*m, eval_ids[0]), o.kd.kd, stored_student);
  std::fprintf(
      stderr,
      "eval: %zu configurations, %zu evaluation prompts (%llu tokens, %u with a %u-token "
      "continuation)%s on "
      "%s\neval: estimated time %s (an upper bound: students run faster than the dense teacher)\n",
      grid.size(), eval_ids.size(), (unsigned long long)eval_tokens, n_cont,
      o.sweep.continuation_tokens,
      any_ls || any_kd ? (", " + std::to_string(calib_ids.size()) + " calibration prompts (" +
                          std::to_string(calib_tokens) + " tokens)")
                             .c_str()
                       : "",
      ctx.info().name.c_str(), clock_text(estimate.total()).c_str());

  // Progress of the sweep against the estimate: the teacher's pass is ~70% of the teacher's
  // share, the ls targets the rest; configuration i has its own.
  const double total_estimate = estimate.total();
  const auto work_start = Clock::now();
  const eval::SweepProgress report = [&](int stage, const std::string& what, size_t d, size_t n) {
    double done = 0, here = 0;
    std::string label = "[teacher]";
    if (stage < 0) {
      here = what == "calib targets"  ? estimate.teacher_s * 0.3
             : what == "soft targets" ? 0
                                      : estimate.teacher_s * 0.7;
      done = what == "calib targets" || what == "soft targets" ? estimate.teacher_s * 0.7 : 0;
      if (what == "soft targets") label = "[kd teacher]";
    } else {
      done = estimate.teacher_s;
      for (int i = 0; i < stage; ++i) done += estimate.config_s[size_t(i)];
      here = estimate.config_s[size_t(stage)];
      label = "[" + std::to_string(stage + 1) + "/" + std::to_string(grid.size()) + "] " +
              grid[size_t(stage)].name();
    }
    done += (n ? double(d) / n : 1.0) * here;
    const double elapsed = since(work_start);  // the estimate covers what follows sensitivity
    const double eta = done > 0 ? elapsed / done * (total_estimate - done) : total_estimate;
    progress("%-60s %-12s %zu/%zu  elapsed %s  ETA %s   ", label.substr(0, 60).c_str(),
             what.c_str(), d, n, clock_text(elapsed).c_str(),
             clock_text(std::max(0.0, eta)).c_str());
  };

  eval::SweepOptions so = o.sweep;
  so.continuation_prompts = n_cont;
  so.kd = o.kd.kd;
  eval::SweepPlan plan;
  plan.teacher = m.get();
  plan.file = &file;
  plan.grid = grid;
  plan.eval_ids = eval_ids;
  plan.calib_ids = calib_ids;
  plan.options = so;
  plan.host = host.get();
  plan.stored_student = student.get();
  plan.stored_patch = stored_patch.get();
  eval::SweepOutcome outcome = eval::run_sweep(plan, report);
  if (outcome.kd_sequences) {
    end_progress();
    std::fprintf(stderr,
                 "eval: kd soft targets: %llu sequences (%llu tokens; %llu held out, %llu "
                 "tokens) in %.1f s, %.0f MiB on the host\n",
                 (unsigned long long)outcome.kd_sequences, (unsigned long long)outcome.kd_tokens,
                 (unsigned long long)outcome.kd_validation_sequences,
                 (unsigned long long)outcome.kd_validation_tokens, outcome.kd_teacher_seconds,
                 outcome.kd_teacher_host_bytes / 1048576.0);
  }
  for (const auto& r : outcome.results)
    if (r.kd) {
      const std::string note = distill::no_progress_note(*r.kd);
      if (!note.empty())
        std::fprintf(stderr, "eval: %s: %s (--kd-lr)\n", r.config.name().c_str(), note.c_str());
    }
  run.teacher = std::move(outcome.teacher);
  run.results = std::move(outcome.results);
  end_progress();
  run.seconds = since(start);
  describe_run(run, o, ctx, calib_set, eval_set, so, eval_ids.size(), calib_ids.size(),
               calib_tokens, stored_student, tok.adds_bos());
  write_outputs(run, o, grid.size(), total_estimate);
  return finish(ctx, o.dev, vk::ProfileTable{});
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "eval",
      "Teacher-student sweep: block-circulant MLPs (and a low-rank baseline) vs the dense model");
  auto o = std::make_shared<EvalOptions>();
  add_device_flags(*cmd, o->dev);
  add_model_flags(*cmd, o->model);
  add_kd_flags(*cmd, o->kd);
  cmd->add_option("--calib", o->calib,
                  "Calibration prompts (text: one a line; or JSONL with \"text\")")
      ->capture_default_str();
  cmd->add_option("--prompts", o->prompts, "Evaluation prompts (text or JSONL)")
      ->capture_default_str();
  cmd->add_option("--block-sizes", o->blocks, "Block sizes B")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--layers", o->layers,
                  "Layers to patch: N (the first N), all, firstN, lastN, or indices and ranges "
                  "joined by + (0+3+5-9)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--proj", o->proj, "Projections to patch: gate,up,down")->capture_default_str();
  cmd->add_option("--calibrate", o->calibrate,
                  "none (Frobenius projection), ls (activation-aware least squares), kd "
                  "(distillation against the teacher's soft targets), ls+kd (kd from the ls fit)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--baseline", o->baseline,
                  "lowrank: also evaluate truncated SVD at equal parameter count")
      ->capture_default_str();
  cmd->add_option("--baseline-block-sizes", o->baseline_blocks,
                  "Block sizes whose parameter count the baseline matches (default: --block-sizes)")
      ->delimiter(',');
  cmd->add_option(
      "--patch", o->patches,
      "Configurations given as whole --patch specs (each layer its own block sizes, "
      "e.g. 0-3:up:16;20-29:all:64) or auto:RATIO[:B1,B2,...] (the least sensitive "
      "projections and block sizes keeping RATIO of the MLP parameters); each runs with "
      "every --calibrate method. Space-separated or repeated. Without --block-sizes or "
      "--layers, only these run");
  cmd->add_option("--sensitivity", o->sensitivity,
                  "Block sizes B: per layer and projection, the KL on calibration text when only "
                  "that one is replaced at B. Alone (no --patch, --block-sizes, --layers), it is "
                  "all eval does")
      ->delimiter(',');
  cmd->add_option("--sensitivity-tokens", o->sensitivity_tokens,
                  "Calibration tokens sensitivity (and auto) is measured on")
      ->capture_default_str();
  cmd->add_option("--temperature", o->sweep.temperature, "Softmax temperature of the KL")
      ->capture_default_str();
  cmd->add_option("--lambda", o->sweep.lambda_rel,
                  "Ridge strength of ls, relative to the data's scale")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Use only the first N evaluation prompts (0: all)")
      ->capture_default_str();
  cmd->add_option("--calib-limit", o->calib_limit,
                  "Use only the first N calibration prompts (0: all)")
      ->capture_default_str();
  cmd->add_option("--continuations", o->sweep.continuation_prompts,
                  "Evaluation prompts that also get a 16-token greedy continuation")
      ->capture_default_str();
  cmd->add_option("--seed", o->sweep.seed, "Bootstrap seed")
      ->check(exact_uint64())
      ->capture_default_str();
  cmd->add_flag("--allow-overlap", o->allow_overlap, "Allow prompts that are in both sets");
  cmd->add_option("--json", o->json_out,
                  "Write every per-prompt value and the configuration as JSON");
  cmd->add_option("--md", o->md_out, "Write the table as Markdown")->check(output_path());
  cmd->add_option("--html", o->html_out, "Write a self-contained HTML report with plots")
      ->check(output_path());
  cmd->add_option("--teacher", o->teacher,
                  "With a compressed -m (bcvk compress): the dense model to measure it against");
  return [o, cmd]() {
    for (const char* f :
         {"--block-sizes", "--layers", "--proj", "--calibrate", "--baseline",
          "--baseline-block-sizes", "--calib-limit", "--lambda", "--patch", "--sensitivity"})
      if (cmd->get_option(f)->count() > 0)
        o->grid_flags += (o->grid_flags.empty() ? "" : ", ") + std::string(f);
    const bool grid_asked =
        cmd->get_option("--block-sizes")->count() > 0 || cmd->get_option("--layers")->count() > 0;
    o->block_grid = grid_asked || (o->patches.empty() && o->sensitivity.empty());
    for (uint32_t b : o->sensitivity)
      if (b < 1) throw std::invalid_argument("--sensitivity: a block size must be at least 1");
    if (o->sensitivity_tokens == 0)
      throw std::invalid_argument("--sensitivity-tokens must be at least 1");
    return run_eval(*o);
  };
}

}  // namespace bcvk::apps
