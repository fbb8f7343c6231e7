// bcvk compress: writes a self-contained GGUF whose patched MLP projections are stored as their
// block-circulant parameters (runtime/compress/compressed_gguf.h), optionally calibrated.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/kd_flags.h"
#include "apps/model_flags.h"
#include "apps/progress.h"
#include "apps/prompts.h"
#include "loaders/atomic_write.h"
#include "runtime/compress/auto_patch.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/distill/kd.h"
#include "runtime/distill/sensitivity.h"
#include "runtime/eval/calibrate.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

struct CompressOptions {
  DeviceFlags dev;
  ModelFlags model;
  std::string patch;
  std::string calibrate = "none";
  KdFlags kd;
  std::string calib = "data/prompts/calibration.txt";
  uint32_t calib_limit = 0;
  double lambda_rel = 1e-3;
  std::string dtype = "f32";
  std::string out;
  std::string json_out;
  uint32_t sensitivity_tokens = 1024;
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

int run_compress(const CompressOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.calibrate != "none" && o.calibrate != "ls" && o.calibrate != "kd" && o.calibrate != "ls+kd")
    throw std::invalid_argument("--calibrate: unknown method '" + o.calibrate +
                                "' (none, ls, kd or ls+kd)");
  apply_kd_flags(o.kd);
  if (o.dtype != "f32" && o.dtype != "f16")
    throw std::invalid_argument("--dtype: unknown type '" + o.dtype + "' (f32 or f16)");
  // Checked before any work, so a long calibration never ends in a refusal.
  loaders::check_outputs({{"model", o.model.model}, {"calibration prompts", o.calib}},
                         {{"-o", o.out}, {"--json", o.json_out}});
  const auto file = loaders::LlamaModelFile::open(o.model.model);
  if (!file.gguf())
    throw std::invalid_argument("bcvk compress writes GGUF and needs a GGUF input; " +
                                o.model.model + " is a Hugging Face directory");
  if (file.compressed())
    throw std::invalid_argument(o.model.model +
                                " is already compressed; compress the dense model instead");
  const auto auto_request = compress::parse_auto(o.patch);
  if (auto_request && o.sensitivity_tokens == 0)
    throw std::invalid_argument("--sensitivity-tokens must be at least 1");
  compress::PatchSpec spec;
  if (!auto_request) {
    spec = compress::PatchSpec::parse(o.patch, file.config().n_layers);
    if (spec.empty()) throw std::invalid_argument("--patch " + o.patch + " replaces nothing");
    model::check_block_sizes(file.config(), spec);
  } else {
    for (uint32_t b : auto_request->blocks)
      model::check_block_sizes(
          file.config(),
          compress::PatchSpec::parse("all:all:" + std::to_string(b), file.config().n_layers));
  }

  compress::CompressionRecord rec;
  rec.bcvk_version = BCVK_VERSION;
  rec.patch = o.patch;
  rec.calibration = o.calibrate;
  rec.dtype = o.dtype == "f16" ? gguf::GgmlType::F16 : gguf::GgmlType::F32;
  rec.source = std::filesystem::path(o.model.model).filename().string();

  std::optional<eval::CalibrationReport> calibration;
  std::optional<distill::KdReport> kd_report;
  const bool ls = o.calibrate == "ls" || o.calibrate == "ls+kd";
  const bool kd = o.calibrate == "kd" || o.calibrate == "ls+kd";
  std::vector<std::vector<int32_t>> calib_ids;
  if (ls || kd || auto_request) {
    const auto calib_set = loaders::read_prompt_set(o.calib);
    const auto tok = loaders::Tokenizer::from_gguf(*file.gguf());
    const uint32_t ctx_len = context_length(o.model, file.config());
    calib_ids = tokenize(tok, calib_set, o.calib_limit, ctx_len, o.kd.calib_generate);
    rec.calibration_sha256 = calib_set.sha256;
    rec.calibration_prompts = calib_ids.size();
  }
  // The host model: kd trains on it, and --calib-generate samples the teacher's text with it.
  std::unique_ptr<distill::HostModel<float>> host;
  if (kd || auto_request || (ls && o.kd.calib_generate))
    host = std::make_unique<distill::HostModel<float>>(file);
  if (o.kd.calib_generate && !calib_ids.empty())
    calib_ids = generate_calibration(*host, calib_ids, o.kd,
                                     loaders::Tokenizer::from_gguf(*file.gguf()).eos());
  if (auto_request) {
    // The least sensitive projections and block sizes for the budget, measured on calibration
    // text (the same data the calibration uses, never evaluation prompts).
    const distill::KdTeacher st = distill::sensitivity_teacher(
        *host, distill::sensitivity_sequences(calib_ids, o.sensitivity_tokens),
        o.kd.kd.temperature);
    std::vector<distill::Sensitivity> tables;
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t k = 0; k < auto_request->blocks.size(); ++k) {
      const uint32_t b = auto_request->blocks[k];
      tables.push_back(distill::measure_sensitivity(*host, file, st, b, [&](size_t d, size_t n) {
        const double frac = (k + double(d) / n) / auto_request->blocks.size();
        progress("sensitivity B=%u: %zu/%zu projections, ETA %.0f s   ", b, d, n,
                 frac > 0 ? since(t0) / frac * (1 - frac) : 0.0);
      }));
    }
    end_progress();
    const auto choice = distill::choose_auto(file.config(), tables, auto_request->ratio);
    if (choice.spec.empty())
      throw std::invalid_argument("--patch " + o.patch + " replaces nothing");
    spec = choice.spec;
    nlohmann::json j = {{"request", o.patch},
                        {"patch", spec.text()},
                        {"summed_sensitivity", choice.cost},
                        {"mlp_parameter_ratio", choice.ratio()},
                        {"blocks", auto_request->blocks},
                        {"sensitivity_tokens", st.tokens(st.train())},
                        {"sensitivity_sequences", st.sequences().size()},
                        {"calibration_prompts_sha256", rec.calibration_sha256}};
    rec.patch_choice = j.dump();
    std::fprintf(stderr, "compress: %s chose %s (MLP parameters %.3f of dense)\n", o.patch.c_str(),
                 spec.describe().c_str(), choice.ratio());
  }
  rec.patch_description = spec.describe();

  std::fprintf(stderr, "compress: %s -> %s: %s, calibration %s, %s parameters\n",
               o.model.model.c_str(), o.out.c_str(), spec.describe().c_str(), o.calibrate.c_str(),
               o.dtype.c_str());
  std::vector<model::PatchedProjection> projections = model::MlpPatch::project(
      file, spec, model::Structure::kBlockCirculant, [](size_t d, size_t t) {
        progress("projecting: %zu/%zu matrices", d, t);
        if (d == t) end_progress();
      });
  double projection_error = 0;
  for (const auto& pp : projections) projection_error += pp.relative_error / projections.size();
  if (ls) {
    // Least squares runs the dense teacher and the student on the device.
    vk::Context ctx(context_options(o.dev));
    auto m = load_model(ctx, file, o.model);
    const auto& ids = calib_ids;
    rec.lambda_rel = o.lambda_rel;
    const eval::TeacherTargets targets(
        *m, ids, [](size_t d, size_t n) { progress("teacher targets: %zu/%zu layers", d, n); });
    model::MlpPatch patch(ctx, file.config(), std::move(projections));
    const auto t0 = std::chrono::steady_clock::now();
    calibration =
        eval::calibrate_least_squares(*m, patch, targets, o.lambda_rel, [&](size_t d, size_t n) {
          const double eta = d ? since(t0) / d * (n - d) : 0;
          progress("calibrating: %zu/%zu layers, ETA %.0f s   ", d, n, eta);
        });
    end_progress();
    projections = patch.projections();
    // A validation message (BCVK_VALIDATION=1) fails the run before anything is written.
    if (const int rc = finish(ctx, o.dev, vk::ProfileTable{})) return rc;
  }
  if (kd) {
    // Distillation runs on the host: the teacher's soft targets, then the student's training.
    const uint32_t first = distill::first_patched_layer(projections);
    const distill::KdTeacher teacher(
        *host, calib_ids, o.kd.kd.temperature, {first}, o.kd.kd.val_fraction, o.kd.kd.seed,
        [](size_t d, size_t n) { progress("soft targets: %zu/%zu sequences", d, n); });
    end_progress();
    const auto t0 = std::chrono::steady_clock::now();
    kd_report = distill::distill(*host, teacher, projections, o.kd.kd,
                                 [&](uint32_t d, uint32_t n, double loss, double val) {
                                   print_kd_progress("distilling:", d, n, loss, val, since(t0));
                                 });
    end_progress();
    auto settings = distill::to_json(*kd_report, false);
    settings["method"] = o.calibrate;
    settings["calib_generate"] = o.kd.calib_generate;
    // Timings stay out of the file: the same inputs and seed give the same bytes.
    settings.erase("seconds");
    settings.erase("train_tokens_per_s");
    rec.calibration_settings = settings.dump();
  }
  rec.source_sha256 = file_sha256(o.model.model);

  std::vector<compress::CirculantProjection> stored;
  for (auto& pp : projections) stored.push_back({pp.layer, pp.projection, std::move(pp.circulant)});
  std::fprintf(stderr, "writing %s\n", o.out.c_str());
  const auto st = compress::write_compressed_gguf(*file.gguf(), stored, rec, o.out);

  const double ratio = double(st.output_bytes) / double(st.input_bytes);
  std::printf("compressed %s -> %s in %.1f s\n", o.model.model.c_str(), o.out.c_str(),
              since(start));
  std::printf("  %-40s %llu (%s)\n", "projections stored block-circulant",
              (unsigned long long)st.projections_replaced, spec.describe().c_str());
  std::printf("  %-40s %s\n", "calibration",
              o.calibrate != "none"
                  ? (o.calibrate + " on " + std::to_string(rec.calibration_prompts) +
                     " prompts of " + o.calib)
                        .c_str()
                  : "none (Frobenius projection)");
  if (kd_report)
    std::printf("  %-40s %.4f -> %.4f (best of %u steps: %u; %.0f training tokens/s)\n",
                "kd validation loss per position", kd_report->initial_val_loss,
                kd_report->best_val_loss, kd_report->steps_run, kd_report->best_step,
                kd_report->tokens_per_second);
  std::printf("  %-40s %.4f\n", "mean ||W - W_c|| / ||W|| (projection)", projection_error);
  if (calibration) {
    double before = 0, after = 0;
    for (size_t i = 0; i < calibration->error_after.size(); ++i) {
      before += calibration->error_before[i] / calibration->error_after.size();
      after += calibration->error_after[i] / calibration->error_after.size();
    }
    std::printf("  %-40s %.4f -> %.4f\n", "mean output error on calibration", before, after);
  }
  std::printf("  %-40s %s\n", "dense MLP bytes dropped",
              vk::format_bytes(st.dense_bytes_dropped).c_str());
  std::printf("  %-40s %s (%s)\n", "circulant bytes added",
              vk::format_bytes(st.circulant_bytes_added).c_str(), o.dtype.c_str());
  std::printf("  %-40s %s -> %s (%.3fx)\n", "file size", vk::format_bytes(st.input_bytes).c_str(),
              vk::format_bytes(st.output_bytes).c_str(), ratio);

  if (!o.json_out.empty()) {
    nlohmann::json j = {{"bcvk_version", BCVK_VERSION},
                        {"input", o.model.model},
                        {"output", o.out},
                        {"patch", o.patch},
                        {"patch_description", spec.describe()},
                        {"patch_resolved", spec.text()},
                        {"calibration", o.calibrate},
                        {"calibration_prompts", rec.calibration_prompts},
                        {"calibration_prompts_sha256", rec.calibration_sha256},
                        {"dtype", o.dtype},
                        {"projections_replaced", st.projections_replaced},
                        {"mean_projection_relative_error", projection_error},
                        {"input_bytes", st.input_bytes},
                        {"output_bytes", st.output_bytes},
                        {"dense_bytes_dropped", st.dense_bytes_dropped},
                        {"circulant_bytes_added", st.circulant_bytes_added},
                        {"source_sha256", rec.source_sha256},
                        {"seconds", since(start)}};
    if (kd_report) {
      j["kd"] = nlohmann::json::parse(rec.calibration_settings);
      j["kd"]["train_loss"] = kd_report->train_loss;
      j["kd"]["train_tokens_per_s"] = kd_report->tokens_per_second;
      j["kd"]["seconds"] = kd_report->seconds;
    }
    if (calibration) {
      j["calibration_error_before"] = calibration->error_before;
      j["calibration_error_after"] = calibration->error_after;
    }
    loaders::write_file_atomically(o.json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "compress: wrote %s\n", o.json_out.c_str());
  }
  return 0;
}

}  // namespace

Runner add_compress_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "compress",
      "Write a GGUF whose patched MLP projections are stored block-circulant (a smaller file "
      "that bcvk generate, bench, info and eval run directly)");
  auto o = std::make_shared<CompressOptions>();
  add_device_flags(*cmd, o->dev);
  add_model_flags(*cmd, o->model);
  add_kd_flags(*cmd, o->kd);
  cmd->add_option(
         "--patch", o->patch,
         "Projections to store block-circulant: LAYERS[:PROJECTIONS][:B] groups joined by ';', "
         "e.g. all:gate,up,down:64 or 0-3:up:16;20-29:all:64; or auto:RATIO[:B1,B2,...], the least "
         "sensitive projections and block sizes (default 4,16,64) keeping RATIO of the MLP "
         "parameters, measured on --calib")
      ->required();
  cmd->add_option("--sensitivity-tokens", o->sensitivity_tokens,
                  "With --patch auto: calibration tokens the sensitivity is measured on")
      ->capture_default_str();
  cmd->add_option("--calibrate", o->calibrate,
                  "none (Frobenius projection), ls (activation-aware least squares on --calib), "
                  "kd (distillation against the dense model's soft targets) or ls+kd")
      ->capture_default_str();
  cmd->add_option("--calib", o->calib, "Calibration prompts for ls (text: one a line; or JSONL)")
      ->capture_default_str();
  cmd->add_option("--calib-limit", o->calib_limit,
                  "Use only the first N calibration prompts (0: all)")
      ->capture_default_str();
  cmd->add_option("--lambda", o->lambda_rel, "Ridge strength of ls, relative to the data's scale")
      ->capture_default_str();
  cmd->add_option("--dtype", o->dtype, "Storage of the circulant parameters: f32 or f16")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->out, "The compressed GGUF to write (never the input)")
      ->required();
  cmd->add_option("--json", o->json_out, "Also write the summary as JSON to this file");
  return [o]() { return run_compress(*o); };
}

}  // namespace bcvk::apps
