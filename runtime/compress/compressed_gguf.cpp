#include "runtime/compress/compressed_gguf.h"

#include <map>
#include <stdexcept>
#include <system_error>

#include "loaders/gguf/gguf_writer.h"

namespace bcvk::compress {

namespace {

const char* kKeyVersion = "bcvk.version";
const char* kKeyPatch = "bcvk.compress.patch";
const char* kKeyPatchDescription = "bcvk.compress.patch_description";
const char* kKeyCalibration = "bcvk.compress.calibration";
const char* kKeyCalibrationSha = "bcvk.compress.calibration_prompts_sha256";
const char* kKeyCalibrationPrompts = "bcvk.compress.calibration_prompts";
const char* kKeyLambda = "bcvk.compress.lambda_rel";
const char* kKeySettings = "bcvk.compress.calibration_settings";
const char* kKeySource = "bcvk.compress.source";
const char* kKeySourceSha = "bcvk.compress.source_sha256";
const char* kKeyDtype = "bcvk.compress.dtype";
const char* kKeyPatchChoice = "bcvk.compress.patch_choice";

std::string dense_name(uint32_t layer, Projection p) {
  return "blk." + std::to_string(layer) + ".ffn_" + projection_name(p) + ".weight";
}

bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
  std::error_code ec;
  return std::filesystem::exists(b, ec) && std::filesystem::equivalent(a, b, ec) && !ec;
}

}  // namespace

std::string q8_problem(uint32_t rows, uint32_t cols, uint32_t B) {
  if (B < 2 || B % 2)
    return "block size " + std::to_string(B) +
           " cannot be stored as q8_0 (packed spectra need an even block size)";
  const uint64_t row = uint64_t((cols + B - 1) / B) * B;
  if (row % 32)
    return "a block row of the " + std::to_string(rows) + " x " + std::to_string(cols) +
           " matrix at B=" + std::to_string(B) + " has " + std::to_string(row) +
           " values, not a multiple of q8_0's 32";
  return "";
}

CompressedFileStats write_compressed_gguf(const gguf::GgufFile& in,
                                          std::span<const CirculantProjection> projections,
                                          const CompressionRecord& record,
                                          const std::filesystem::path& out) {
  if (same_file(in.name(), out))
    throw std::invalid_argument(out.string() +
                                " is the input model; write the compressed model to another file");
  for (const auto& [key, value] : in.metadata())
    if (key.starts_with("bcvk.circulant."))
      throw std::invalid_argument(in.name() + " is already compressed (it has " + key +
                                  "); compress the dense model instead");
  const bool q8 = record.dtype == gguf::GgmlType::Q8_0;
  if (record.dtype != gguf::GgmlType::F32 && record.dtype != gguf::GgmlType::F16 && !q8)
    throw std::invalid_argument("circulant tensors are stored as f32, f16 or q8_0");

  // Which dense tensor each projection replaces.
  std::map<std::string, const CirculantProjection*> by_dense;
  for (const CirculantProjection& cp : projections) {
    const std::string name = dense_name(cp.layer, cp.projection);
    const gguf::TensorInfo* t = in.tensor(name);
    if (!t) throw std::invalid_argument(in.name() + " has no tensor " + name + " to replace");
    const uint64_t rows = t->dims.size() == 2 ? t->dims[1] : 1, cols = t->dims[0];
    if (cp.params.rows != rows || cp.params.cols != cols || cp.params.block == 0 ||
        cp.params.c.size() !=
            uint64_t(cp.params.row_blocks()) * cp.params.col_blocks() * cp.params.block)
      throw std::invalid_argument(
          "the circulant parameters for " + name + " (" + std::to_string(cp.params.rows) + " x " +
          std::to_string(cp.params.cols) + ", B=" + std::to_string(cp.params.block) +
          ") do not fit the " + std::to_string(rows) + " x " + std::to_string(cols) + " tensor");
    if (!by_dense.emplace(name, &cp).second)
      throw std::invalid_argument(name + " is replaced twice");
    if (q8) {
      if (const std::string why = q8_problem(cp.params.rows, cp.params.cols, cp.params.block);
          !why.empty())
        throw std::invalid_argument(name + ": " + why);
    }
  }

  gguf::GgufWriter w(static_cast<uint32_t>(in.alignment()));
  for (const auto& [key, value] : in.metadata()) w.set(key, value);
  w.set_string(kKeyVersion, record.bcvk_version);
  w.set_string(kKeyPatch, record.patch);
  w.set_string(kKeyPatchDescription, record.patch_description);
  w.set_string(kKeyCalibration, record.calibration);
  if (record.calibration != "none") {
    w.set_string(kKeyCalibrationSha, record.calibration_sha256);
    w.set_u64(kKeyCalibrationPrompts, record.calibration_prompts);
    w.set_f32(kKeyLambda, static_cast<float>(record.lambda_rel));
    if (!record.calibration_settings.empty())
      w.set_string(kKeySettings, record.calibration_settings);
  }
  if (!record.patch_choice.empty()) w.set_string(kKeyPatchChoice, record.patch_choice);
  w.set_string(kKeySource, record.source);
  w.set_string(kKeySourceSha, record.source_sha256);
  w.set_string(kKeyDtype, std::string(gguf::ggml_type_name(record.dtype)));

  CompressedFileStats st;
  st.input_bytes = in.file_size();
  for (const gguf::TensorInfo& t : in.tensors()) {
    auto it = by_dense.find(t.name);
    if (it == by_dense.end()) {
      w.add_tensor_view(t.name, t.dims, t.type, in.tensor_data(t));  // unchanged, no copy
      continue;
    }
    const CirculantProjection& cp = *it->second;
    const std::string proj = projection_name(cp.projection);
    const BlockCirculant& bc = cp.params;
    w.set_u32(loaders::circulant_key(cp.layer, proj, "block_size"), bc.block);
    w.set_u32(loaders::circulant_key(cp.layer, proj, "rows"), bc.rows);
    w.set_u32(loaders::circulant_key(cp.layer, proj, "cols"), bc.cols);
    st.dense_bytes_dropped += t.bytes;
    if (q8) {
      // A block row's packed spectra are one Q8_0 row: the bytes the fused kernel reads.
      w.add_tensor_from_f32(loaders::circulant_spectra_tensor_name(cp.layer, proj),
                            {uint64_t(bc.col_blocks()) * bc.block, bc.row_blocks()}, record.dtype,
                            packed_spectra(bc));
      st.circulant_bytes_added += bc.c.size() / 32 * 34;
      ++st.projections_replaced;
      continue;
    }
    // ggml order: dims[0] is contiguous, so [B, q, p] is the [p][q][B] array.
    w.add_tensor_from_f32(loaders::circulant_tensor_name(cp.layer, proj),
                          {bc.block, bc.col_blocks(), bc.row_blocks()}, record.dtype, bc.c);
    st.circulant_bytes_added += bc.c.size() * (record.dtype == gguf::GgmlType::F32 ? 4 : 2);
    ++st.projections_replaced;
  }
  w.write(out);
  st.output_bytes = std::filesystem::file_size(out);
  return st;
}

std::vector<CirculantProjection> stored_projections(const loaders::LlamaModelFile& file) {
  std::vector<CirculantProjection> out;
  for (uint32_t l = 0; l < file.layers().size(); ++l) {
    const auto& c = file.layers()[l].circulant;
    for (auto [p, t] : {std::pair{Projection::kGate, &c.gate}, std::pair{Projection::kUp, &c.up},
                        std::pair{Projection::kDown, &c.down}}) {
      if (!t->present()) continue;
      CirculantProjection cp;
      cp.layer = l;
      cp.projection = p;
      if (t->spectra) {
        cp.params = from_packed_spectra(t->rows, t->cols, t->block, t->to_f32());
      } else {
        cp.params.rows = t->rows;
        cp.params.cols = t->cols;
        cp.params.block = t->block;
        cp.params.c = t->to_f32();
      }
      out.push_back(std::move(cp));
    }
  }
  return out;
}

std::optional<CompressionRecord> read_compression_record(const gguf::GgufFile& f) {
  const auto patch = f.get_string(kKeyPatch);
  if (!patch) return std::nullopt;
  CompressionRecord r;
  r.bcvk_version = f.get_string(kKeyVersion).value_or("");
  r.patch = *patch;
  r.patch_description = f.get_string(kKeyPatchDescription).value_or("");
  r.calibration = f.get_string(kKeyCalibration).value_or("");
  r.calibration_sha256 = f.get_string(kKeyCalibrationSha).value_or("");
  r.calibration_prompts = f.get_uint(kKeyCalibrationPrompts).value_or(0);
  r.lambda_rel = f.get_float(kKeyLambda).value_or(0.0);
  r.calibration_settings = f.get_string(kKeySettings).value_or("");
  r.patch_choice = f.get_string(kKeyPatchChoice).value_or("");
  r.source = f.get_string(kKeySource).value_or("");
  r.source_sha256 = f.get_string(kKeySourceSha).value_or("");
  const std::string dtype = f.get_string(kKeyDtype).value_or("F32");
  r.dtype = dtype == "F16"    ? gguf::GgmlType::F16
            : dtype == "Q8_0" ? gguf::GgmlType::Q8_0
                              : gguf::GgmlType::F32;
  return r;
}

}  // namespace bcvk::compress
