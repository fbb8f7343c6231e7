// bcvk compress: writes a self-contained GGUF whose patched MLP projections are stored as their
// block-circulant parameters (runtime/compress/compressed_gguf.h), optionally calibrated.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>

#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/model_flags.h"
#include "apps/prompts.h"
#include "loaders/atomic_write.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/eval/calibrate.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

struct CompressOptions {
  DeviceFlags dev;
  ModelFlags model;
  std::string patch;
  std::string calibrate = "none";
  std::string calib = "data/prompts/calibration.txt";
  uint32_t calib_limit = 0;
  double lambda_rel = 1e-3;
  std::string dtype = "f32";
  std::string out;
  std::string json_out;
};

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Where `out` would be written must exist, and must not be the input itself: checked before
// any work, so a long calibration never ends in a refusal.
void check_output(const std::string& in, const std::string& out) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec) && std::filesystem::equivalent(in, out, ec))
    throw std::invalid_argument("-o " + out +
                                " is the input model; bcvk compress never overwrites its input");
  const auto dir = std::filesystem::absolute(out).parent_path();
  if (!std::filesystem::is_directory(dir, ec))
    throw std::invalid_argument("-o " + out + ": the directory " + dir.string() +
                                " does not exist");
  if (std::filesystem::is_directory(out, ec))
    throw std::invalid_argument("-o " + out + " is a directory; give a file name");
}

int run_compress(const CompressOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.calibrate != "none" && o.calibrate != "ls")
    throw std::invalid_argument("--calibrate: unknown method '" + o.calibrate + "' (none or ls)");
  if (o.dtype != "f32" && o.dtype != "f16")
    throw std::invalid_argument("--dtype: unknown type '" + o.dtype + "' (f32 or f16)");
  check_output(o.model.model, o.out);
  const auto file = loaders::LlamaModelFile::open(o.model.model);
  if (!file.gguf())
    throw std::invalid_argument("bcvk compress writes GGUF and needs a GGUF input; " +
                                o.model.model + " is a Hugging Face directory");
  if (file.compressed())
    throw std::invalid_argument(o.model.model +
                                " is already compressed; compress the dense model instead");
  const auto spec = compress::PatchSpec::parse(o.patch, file.config().n_layers);
  if (spec.empty()) throw std::invalid_argument("--patch " + o.patch + " replaces nothing");

  compress::CompressionRecord rec;
  rec.bcvk_version = BCVK_VERSION;
  rec.patch = o.patch;
  rec.patch_description = spec.describe();
  rec.calibration = o.calibrate;
  rec.dtype = o.dtype == "f16" ? gguf::GgmlType::F16 : gguf::GgmlType::F32;
  rec.source = std::filesystem::path(o.model.model).filename().string();

  std::fprintf(stderr, "compress: %s -> %s: %s, calibration %s, %s parameters\n",
               o.model.model.c_str(), o.out.c_str(), spec.describe().c_str(), o.calibrate.c_str(),
               o.dtype.c_str());
  std::vector<model::PatchedProjection> projections = model::MlpPatch::project(
      file, spec, model::Structure::kBlockCirculant, [](size_t d, size_t t) {
        std::fprintf(stderr, "\rprojecting: %zu/%zu matrices", d, t);
        if (d == t) std::fprintf(stderr, "\n");
      });
  double projection_error = 0;
  for (const auto& pp : projections) projection_error += pp.relative_error / projections.size();

  std::optional<eval::CalibrationReport> calibration;
  if (o.calibrate == "ls") {
    // Calibration runs the dense teacher and the student on the device.
    const auto calib_set = loaders::read_prompt_set(o.calib);
    const auto tok = loaders::Tokenizer::from_gguf(*file.gguf());
    vk::Context ctx(context_options(o.dev));
    auto m = load_model(ctx, file, o.model);
    const auto ids = tokenize(tok, calib_set, o.calib_limit, m->context_length(), 0);
    rec.calibration_sha256 = calib_set.sha256;
    rec.calibration_prompts = ids.size();
    rec.lambda_rel = o.lambda_rel;
    const eval::TeacherTargets targets(*m, ids, [](size_t d, size_t n) {
      std::fprintf(stderr, "\rteacher targets: %zu/%zu layers", d, n);
    });
    model::MlpPatch patch(ctx, file.config(), std::move(projections));
    const auto t0 = std::chrono::steady_clock::now();
    calibration =
        eval::calibrate_least_squares(*m, patch, targets, o.lambda_rel, [&](size_t d, size_t n) {
          const double eta = d ? since(t0) / d * (n - d) : 0;
          std::fprintf(stderr, "\rcalibrating: %zu/%zu layers, ETA %.0f s   ", d, n, eta);
        });
    std::fprintf(stderr, "\n");
    projections = patch.projections();
    // A validation message (BCVK_VALIDATION=1) fails the run before anything is written.
    if (const int rc = finish(ctx, o.dev, vk::ProfileTable{})) return rc;
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
  std::printf(
      "  %-40s %s\n", "calibration",
      o.calibrate == "ls"
          ? ("ls on " + std::to_string(rec.calibration_prompts) + " prompts of " + o.calib).c_str()
          : "none (Frobenius projection)");
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
  cmd->add_option(
         "--patch", o->patch,
         "Projections to store block-circulant: LAYERS[:PROJECTIONS][:B], e.g. all:gate,up,down:64")
      ->required();
  cmd->add_option("--calibrate", o->calibrate,
                  "none (Frobenius projection) or ls (activation-aware least squares on --calib)")
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
