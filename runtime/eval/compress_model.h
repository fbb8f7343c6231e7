// The pipeline behind `bcvk compress`: the patch resolved (a spec, or auto:RATIO chosen by
// sensitivity on calibration text), the chosen MLP projections projected onto block-circulant
// matrices, optionally calibrated (ls on the device, kd on the host, or ls then kd), and written
// as a compressed GGUF (runtime/compress/compressed_gguf.h) with its record.  The app parses
// flags, reads and tokenizes the calibration prompts, and prints; the work is here.
// Test: tests/eval/compress_model_test.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "runtime/compress/auto_patch.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/distill/host_model.h"
#include "runtime/distill/kd.h"
#include "runtime/eval/calibrate.h"

namespace bcvk::eval {

enum class CalibrationMethod { kNone, kLs, kKd, kLsKd };
// "none", "ls", "kd", "ls+kd"; std::invalid_argument naming the text and the choices otherwise.
CalibrationMethod parse_calibration_method(const std::string& text);
std::string calibration_method_name(CalibrationMethod m);

struct CompressJob {
  const loaders::LlamaModelFile* file = nullptr;  // the dense GGUF model
  std::string source_path;                        // its path: hashed and named in the record
  std::string output_path;
  std::string patch;  // a patch spec, or auto:RATIO[:B1,B2,...]
  CalibrationMethod calibration = CalibrationMethod::kNone;
  // Tokenized calibration text: what ls fits, kd trains on and auto measures sensitivity on.
  std::vector<std::vector<int32_t>> calib_ids;
  std::string calib_sha256;                    // of the calibration prompt file, for the record
  uint32_t calib_generate = 0;                 // tokens the teacher added to each prompt (recorded)
  double lambda_rel = 1e-3;                    // ls ridge
  gguf::GgmlType dtype = gguf::GgmlType::F32;  // of the stored parameters: F32 or F16
  uint32_t sensitivity_tokens = 1024;          // auto: calibration tokens measured on
  distill::KdOptions kd;
  // kd and auto: the dense model on the host (calibration text generation happens before).
  const distill::HostModel<float>* host = nullptr;
  // ls: the dense model on a device, made on first use (the caller owns its context).
  std::function<model::Model&()> device_model;
  // ls: called after the device work, before anything is written (e.g. to fail the run on a
  // validation message).
  std::function<void()> after_device;
};

// What the pipeline tells while it works.
struct CompressProgress {
  // (stage, done, total, estimated seconds left or < 0 when unknown)
  std::function<void(const std::string&, size_t, size_t, double)> step;
  // kd: (step, steps, training loss, validation loss, seconds so far)
  std::function<void(uint32_t, uint32_t, double, double, double)> kd;
  std::function<void(const std::string&)> note;  // one line, e.g. what auto chose
};

struct CompressResult {
  compress::PatchSpec spec;
  std::optional<compress::AutoChoice> auto_choice;
  compress::CompressionRecord record;
  compress::CompressedFileStats stats;
  double projection_error = 0;  // mean ||W - W_c|| / ||W|| over the projections
  std::optional<CalibrationReport> ls;
  std::optional<distill::KdReport> kd;
  double seconds = 0;
};

// What can be checked before calibration data is read: the input is a dense GGUF, the patch
// parses and its block sizes (an auto patch's too) suit the model, dtype is F32 or F16, the
// sensitivity budget is positive.  Throws std::invalid_argument naming the problem.
void check_compress_request(const CompressJob& job);

// Runs the whole pipeline and writes job.output_path atomically.  Checks the request, then that
// the calibration data and the models the method needs are there (std::invalid_argument).
CompressResult compress_model(const CompressJob& job, const CompressProgress& progress = {});

// The summary `bcvk compress --json` writes.
nlohmann::json to_json(const CompressJob& job, const CompressResult& result);

}  // namespace bcvk::eval
