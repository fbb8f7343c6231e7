// bcvk compress: writes a self-contained GGUF whose patched MLP projections are stored as their
// block-circulant parameters, optionally calibrated.  Flags, calibration text and printing; the
// pipeline is runtime/eval/compress_model.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/kd_flags.h"
#include "apps/model_flags.h"
#include "apps/progress.h"
#include "apps/prompts.h"
#include "apps/validators.h"
#include "loaders/atomic_write.h"
#include "runtime/distill/kd.h"
#include "runtime/eval/compress_model.h"
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

int run_compress(const CompressOptions& o) {
  eval::CompressJob job;
  try {
    job.calibration = eval::parse_calibration_method(o.calibrate);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string("--calibrate: ") + e.what());
  }
  apply_kd_flags(o.kd);
  if (o.dtype != "f32" && o.dtype != "f16" && o.dtype != "q8_0")
    throw std::invalid_argument("--dtype: unknown type '" + o.dtype + "' (f32, f16 or q8_0)");
  if (o.sensitivity_tokens == 0)
    throw std::invalid_argument("--sensitivity-tokens must be at least 1");
  // Checked before any work, so a long calibration never ends in a refusal.
  loaders::check_outputs({{"model", o.model.model}, {"calibration prompts", o.calib}},
                         {{"-o", o.out}, {"--json", o.json_out}});
  const auto file = loaders::LlamaModelFile::open(o.model.model);
  job.file = &file;
  job.source_path = o.model.model;
  job.output_path = o.out;
  job.patch = o.patch;
  job.lambda_rel = o.lambda_rel;
  job.dtype = o.dtype == "f16"    ? gguf::GgmlType::F16
              : o.dtype == "q8_0" ? gguf::GgmlType::Q8_0
                                  : gguf::GgmlType::F32;
  job.sensitivity_tokens = o.sensitivity_tokens;
  job.kd = o.kd.kd;
  job.calib_generate = o.kd.calib_generate;
  // The input, patch and block sizes, before calibration text is read.
  eval::check_compress_request(job);

  const bool auto_patch = compress::parse_auto(o.patch).has_value();
  const bool ls = job.calibration == eval::CalibrationMethod::kLs ||
                  job.calibration == eval::CalibrationMethod::kLsKd;
  const bool kd = job.calibration == eval::CalibrationMethod::kKd ||
                  job.calibration == eval::CalibrationMethod::kLsKd;
  if (ls || kd || auto_patch) {
    const auto calib_set = loaders::read_prompt_set(o.calib);
    const auto tok = loaders::Tokenizer::from_gguf(*file.gguf());
    job.calib_ids = tokenize(tok, calib_set, o.calib_limit, context_length(o.model, file.config()),
                             o.kd.calib_generate);
    job.calib_sha256 = calib_set.sha256;
  }
  // The host model: kd trains on it, auto measures sensitivity with it, and --calib-generate
  // samples the teacher's text with it.
  std::unique_ptr<distill::HostModel<float>> host;
  if (kd || auto_patch || (ls && o.kd.calib_generate))
    host = std::make_unique<distill::HostModel<float>>(file);
  job.host = host.get();
  if (o.kd.calib_generate && !job.calib_ids.empty())
    job.calib_ids = generate_calibration(*host, job.calib_ids, o.kd,
                                         loaders::Tokenizer::from_gguf(*file.gguf()).eos());
  // ls: the device, only when it runs.
  std::unique_ptr<vk::Context> ctx;
  std::unique_ptr<model::Model> dense;
  job.device_model = [&]() -> model::Model& {
    ctx = std::make_unique<vk::Context>(context_options(o.dev));
    dense = load_model(*ctx, file, o.model);
    return *dense;
  };
  // A validation message (BCVK_VALIDATION=1) fails the run before anything is written.
  job.after_device = [&] {
    end_progress();
    if (finish(*ctx, o.dev, vk::ProfileTable{}))
      throw std::runtime_error("the device reported validation messages; nothing was written");
  };

  std::fprintf(stderr, "compress: %s -> %s: %s, calibration %s, %s parameters\n",
               o.model.model.c_str(), o.out.c_str(), o.patch.c_str(), o.calibrate.c_str(),
               o.dtype.c_str());
  eval::CompressProgress p;
  p.step = [](const std::string& stage, size_t d, size_t n, double eta) {
    if (eta >= 0)
      progress("%s: %zu/%zu, ETA %.0f s   ", stage.c_str(), d, n, eta);
    else
      progress("%s: %zu/%zu   ", stage.c_str(), d, n);
  };
  p.kd = [](uint32_t d, uint32_t n, double loss, double val, double elapsed) {
    print_kd_progress("distilling:", d, n, loss, val, elapsed);
  };
  p.note = [](const std::string& line) {
    end_progress();
    std::fprintf(stderr, "compress: %s\n", line.c_str());
  };
  const eval::CompressResult r = eval::compress_model(job, p);
  end_progress();

  const auto& st = r.stats;
  std::printf("compressed %s -> %s in %.1f s\n", o.model.model.c_str(), o.out.c_str(), r.seconds);
  std::printf("  %-40s %llu (%s)\n", "projections stored block-circulant",
              (unsigned long long)st.projections_replaced, r.spec.describe().c_str());
  std::printf("  %-40s %s\n", "calibration",
              o.calibrate != "none"
                  ? (o.calibrate + " on " + std::to_string(r.record.calibration_prompts) +
                     " prompts of " + o.calib)
                        .c_str()
                  : "none (Frobenius projection)");
  if (r.kd)
    std::printf("  %-40s %.4f -> %.4f (best of %u steps: %u; %.0f training tokens/s)\n",
                "kd validation loss per position", r.kd->initial_val_loss, r.kd->best_val_loss,
                r.kd->steps_run, r.kd->best_step, r.kd->tokens_per_second);
  if (const std::string note = r.kd ? distill::no_progress_note(*r.kd) : ""; !note.empty())
    std::fprintf(stderr, "compress: %s (--kd-lr)\n", note.c_str());
  std::printf("  %-40s %.4f\n", "mean ||W - W_c|| / ||W|| (projection)", r.projection_error);
  if (r.ls) {
    double before = 0, after = 0;
    for (size_t i = 0; i < r.ls->error_after.size(); ++i) {
      before += r.ls->error_before[i] / r.ls->error_after.size();
      after += r.ls->error_after[i] / r.ls->error_after.size();
    }
    std::printf("  %-40s %.4f -> %.4f\n", "mean output error on calibration", before, after);
  }
  std::printf("  %-40s %s\n", "dense MLP bytes dropped",
              vk::format_bytes(st.dense_bytes_dropped).c_str());
  std::printf("  %-40s %s (%s)\n", "circulant bytes added",
              vk::format_bytes(st.circulant_bytes_added).c_str(), o.dtype.c_str());
  std::printf("  %-40s %s -> %s (%.3fx)\n", "file size", vk::format_bytes(st.input_bytes).c_str(),
              vk::format_bytes(st.output_bytes).c_str(),
              double(st.output_bytes) / double(st.input_bytes));
  if (!o.json_out.empty()) {
    loaders::write_file_atomically(o.json_out, eval::to_json(job, r).dump(2) + "\n");
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
  cmd->add_option("--dtype", o->dtype,
                  "Storage of the circulant parameters: f32, f16, or q8_0 (8-bit spectra with a "
                  "scale per 32, read by the fused kernel; B a power of two up to 64)")
      ->capture_default_str();
  cmd->add_option("-o,--output", o->out, "The compressed GGUF to write (never the input)")
      ->required()
      ->check(output_path());
  cmd->add_option("--json", o->json_out, "Also write the summary as JSON to this file")
      ->check(output_path());
  return [o]() { return run_compress(*o); };
}

}  // namespace bcvk::apps
