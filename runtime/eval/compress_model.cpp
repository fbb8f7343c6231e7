#include "runtime/eval/compress_model.h"

#include <chrono>
#include <filesystem>
#include <stdexcept>

#include "loaders/prompt_file.h"
#include "runtime/distill/sensitivity.h"
#include "runtime/model/mlp_patch.h"
#include "runtime/ops/block_circulant_fused.h"

namespace bcvk::eval {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

bool uses_ls(CalibrationMethod m) {
  return m == CalibrationMethod::kLs || m == CalibrationMethod::kLsKd;
}
bool uses_kd(CalibrationMethod m) {
  return m == CalibrationMethod::kKd || m == CalibrationMethod::kLsKd;
}

// auto:RATIO: sensitivity at each of the request's block sizes on calibration text, then the
// least sensitive choice within the budget; the choice as the record keeps it.
compress::AutoChoice choose_patch(const CompressJob& job, const compress::AutoRequest& req,
                                  const CompressProgress& progress, nlohmann::json& record) {
  const distill::KdTeacher st = distill::sensitivity_teacher(
      *job.host, distill::sensitivity_sequences(job.calib_ids, job.sensitivity_tokens),
      job.kd.temperature);
  record = {{"blocks", req.blocks},
            {"sensitivity_tokens", st.tokens(st.train())},
            {"sensitivity_sequences", st.sequences().size()}};
  const auto t0 = Clock::now();
  const auto tables = distill::measure_sensitivities(
      *job.host, *job.file, st, req.blocks, [&](size_t k, size_t d, size_t n) {
        if (!progress.step) return;
        const double frac = (k + double(d) / n) / req.blocks.size();
        progress.step("sensitivity B=" + std::to_string(req.blocks[k]), d, n,
                      frac > 0 ? since(t0) / frac * (1 - frac) : -1);
      });
  return distill::resolve_auto(job.file->config(), tables, job.patch);
}

}  // namespace

CalibrationMethod parse_calibration_method(const std::string& text) {
  if (text == "none") return CalibrationMethod::kNone;
  if (text == "ls") return CalibrationMethod::kLs;
  if (text == "kd") return CalibrationMethod::kKd;
  if (text == "ls+kd") return CalibrationMethod::kLsKd;
  throw std::invalid_argument("unknown method '" + text + "' (none, ls, kd or ls+kd)");
}

std::string calibration_method_name(CalibrationMethod m) {
  switch (m) {
    case CalibrationMethod::kNone:
      return "none";
    case CalibrationMethod::kLs:
      return "ls";
    case CalibrationMethod::kKd:
      return "kd";
    case CalibrationMethod::kLsKd:
      return "ls+kd";
  }
  return "?";
}

void check_compress_request(const CompressJob& job) {
  if (!job.file) throw std::invalid_argument("compress: no input model");
  const std::string& in = job.source_path;
  if (!job.file->gguf())
    throw std::invalid_argument("compressed models are GGUF files and need a GGUF input; " + in +
                                " is a Hugging Face directory");
  if (job.file->compressed())
    throw std::invalid_argument(in + " is already compressed; compress the dense model instead");
  const bool q8 = job.dtype == gguf::GgmlType::Q8_0;
  if (job.dtype != gguf::GgmlType::F32 && job.dtype != gguf::GgmlType::F16 && !q8)
    throw std::invalid_argument("circulant parameters are stored as f32, f16 or q8_0, not " +
                                std::string(gguf::ggml_type_name(job.dtype)));
  const auto& config = job.file->config();
  // q8_0 weights are read by the fused kernel only; every block size must suit both.
  auto check_q8 = [&](const compress::PatchSpec& spec) {
    if (!q8) return;
    for (size_t i = 0; i < spec.layers.size(); ++i)
      for (auto p : compress::kProjections) {
        const uint32_t B = spec.blocks[i][size_t(p)];
        if (!B) continue;
        const bool down = p == compress::Projection::kDown;
        std::string why = compress::q8_problem(down ? config.n_embd : config.n_ff,
                                               down ? config.n_ff : config.n_embd, B);
        if (why.empty() && !ops::fused_block_supported(B))
          why = "block size " + std::to_string(B) +
                " cannot be stored as q8_0: 8-bit weights are read by the fused kernel, which "
                "takes powers of two from 2 to " +
                std::to_string(ops::kFusedMaxBlock);
        if (!why.empty())
          throw std::invalid_argument("q8_0 parameters: layer " + std::to_string(spec.layers[i]) +
                                      " " + compress::projection_name(p) + ": " + why);
      }
  };
  const auto auto_request = compress::parse_auto(job.patch);
  if (auto_request) {
    if (job.sensitivity_tokens == 0)
      throw std::invalid_argument("the sensitivity token budget must be at least 1");
    for (uint32_t b : auto_request->blocks) {
      const auto spec = compress::PatchSpec::parse("all:all:" + std::to_string(b), config.n_layers);
      model::check_block_sizes(config, spec);
      check_q8(spec);
    }
  } else {
    const auto spec = compress::PatchSpec::parse(job.patch, config.n_layers);
    if (spec.empty()) throw std::invalid_argument("patch '" + job.patch + "' replaces nothing");
    model::check_block_sizes(config, spec);
    check_q8(spec);
  }
}

namespace {

void check_inputs(const CompressJob& job) {
  const auto auto_request = compress::parse_auto(job.patch);
  const bool needs_data = auto_request || job.calibration != CalibrationMethod::kNone;
  if (needs_data && job.calib_ids.empty())
    throw std::invalid_argument((auto_request
                                     ? "an auto patch"
                                     : calibration_method_name(job.calibration) + " calibration") +
                                " needs calibration text, and there is none");
  if ((auto_request || uses_kd(job.calibration)) && !job.host)
    throw std::invalid_argument("kd and auto patches need the model on the host");
  if (uses_ls(job.calibration) && !job.device_model)
    throw std::invalid_argument("ls calibration needs the model on a device");
}

}  // namespace

CompressResult compress_model(const CompressJob& job, const CompressProgress& progress) {
  check_compress_request(job);
  check_inputs(job);
  const auto start = Clock::now();
  const loaders::LlamaModelFile& file = *job.file;
  CompressResult r;
  compress::CompressionRecord& rec = r.record;
  rec.bcvk_version = BCVK_VERSION;
  rec.patch = job.patch;
  rec.calibration = calibration_method_name(job.calibration);
  rec.dtype = job.dtype;
  rec.source = std::filesystem::path(job.source_path).filename().string();
  if (!job.calib_ids.empty() &&
      (compress::parse_auto(job.patch) || job.calibration != CalibrationMethod::kNone)) {
    rec.calibration_sha256 = job.calib_sha256;
    rec.calibration_prompts = job.calib_ids.size();
  }

  if (const auto req = compress::parse_auto(job.patch)) {
    nlohmann::json choice;
    r.auto_choice = choose_patch(job, *req, progress, choice);
    r.spec = r.auto_choice->spec;
    choice.update({{"request", job.patch},
                   {"patch", r.spec.text()},
                   {"summed_sensitivity", r.auto_choice->cost},
                   {"mlp_parameter_ratio", r.auto_choice->ratio()},
                   {"calibration_prompts_sha256", job.calib_sha256}});
    rec.patch_choice = choice.dump();
    if (progress.note)
      progress.note(job.patch + " chose " + r.spec.describe() + " (MLP parameters " +
                    std::to_string(r.auto_choice->ratio()).substr(0, 5) + " of dense)");
  } else {
    r.spec = compress::PatchSpec::parse(job.patch, file.config().n_layers);
  }
  rec.patch_description = r.spec.describe();

  std::vector<model::PatchedProjection> projections = model::MlpPatch::project(
      file, r.spec, model::Structure::kBlockCirculant, [&](size_t d, size_t n) {
        if (progress.step) progress.step("projecting", d, n, -1);
      });
  for (const auto& pp : projections) r.projection_error += pp.relative_error / projections.size();

  if (uses_ls(job.calibration)) {
    // Least squares runs the dense teacher and the student on the device.
    model::Model& m = job.device_model();
    rec.lambda_rel = job.lambda_rel;
    const TeacherTargets targets(m, job.calib_ids, [&](size_t d, size_t n) {
      if (progress.step) progress.step("teacher targets", d, n, -1);
    });
    model::MlpPatch patch(m.context(), file.config(), std::move(projections));
    const auto t0 = Clock::now();
    r.ls = calibrate_least_squares(m, patch, targets, job.lambda_rel, [&](size_t d, size_t n) {
      if (progress.step) progress.step("calibrating", d, n, d ? since(t0) / d * (n - d) : -1);
    });
    projections = patch.projections();
    if (job.after_device) job.after_device();
  }
  if (uses_kd(job.calibration)) {
    // Distillation runs on the host: the teacher's soft targets, then the student's training.
    const distill::KdTeacher teacher(*job.host, job.calib_ids, job.kd.temperature,
                                     {distill::first_patched_layer(projections)},
                                     job.kd.val_fraction, job.kd.seed, [&](size_t d, size_t n) {
                                       if (progress.step) progress.step("soft targets", d, n, -1);
                                     });
    const auto t0 = Clock::now();
    r.kd = distill::distill(*job.host, teacher, projections, job.kd,
                            [&](uint32_t d, uint32_t n, double loss, double val) {
                              if (progress.kd) progress.kd(d, n, loss, val, since(t0));
                            });
    auto settings = distill::to_json(*r.kd, false);
    settings["method"] = rec.calibration;
    settings["calib_generate"] = job.calib_generate;
    // Timings stay out of the file: the same inputs and seed give the same bytes.
    settings.erase("seconds");
    settings.erase("train_tokens_per_s");
    rec.calibration_settings = settings.dump();
  }
  rec.source_sha256 = loaders::file_sha256(job.source_path);

  std::vector<compress::CirculantProjection> stored;
  for (auto& pp : projections) stored.push_back({pp.layer, pp.projection, std::move(pp.circulant)});
  if (progress.note) progress.note("writing " + job.output_path);
  r.stats = compress::write_compressed_gguf(*file.gguf(), stored, rec, job.output_path);
  r.seconds = since(start);
  return r;
}

nlohmann::json to_json(const CompressJob& job, const CompressResult& r) {
  nlohmann::json j = {{"bcvk_version", BCVK_VERSION},
                      {"input", job.source_path},
                      {"output", job.output_path},
                      {"patch", job.patch},
                      {"patch_description", r.spec.describe()},
                      {"patch_resolved", r.spec.text()},
                      {"calibration", r.record.calibration},
                      {"calibration_prompts", r.record.calibration_prompts},
                      {"calibration_prompts_sha256", r.record.calibration_sha256},
                      {"dtype", job.dtype == gguf::GgmlType::F16    ? "f16"
                                : job.dtype == gguf::GgmlType::Q8_0 ? "q8_0"
                                                                    : "f32"},
                      {"projections_replaced", r.stats.projections_replaced},
                      {"mean_projection_relative_error", r.projection_error},
                      {"input_bytes", r.stats.input_bytes},
                      {"output_bytes", r.stats.output_bytes},
                      {"dense_bytes_dropped", r.stats.dense_bytes_dropped},
                      {"circulant_bytes_added", r.stats.circulant_bytes_added},
                      {"source_sha256", r.record.source_sha256},
                      {"seconds", r.seconds}};
  if (r.kd) {
    j["kd"] = nlohmann::json::parse(r.record.calibration_settings);
    j["kd"]["train_loss"] = r.kd->train_loss;
    j["kd"]["train_tokens_per_s"] = r.kd->tokens_per_second;
    j["kd"]["seconds"] = r.kd->seconds;
  }
  if (r.ls) {
    j["calibration_error_before"] = r.ls->error_before;
    j["calibration_error_after"] = r.ls->error_after;
  }
  return j;
}

}  // namespace bcvk::eval
