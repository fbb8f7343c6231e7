// The compress pipeline (runtime/eval/compress_model) on a tiny model file:
//  - with no calibration the file stores, for every chosen projection, the Frobenius-nearest
//    block-circulant matrix: checked from the definition (each circulant diagonal of a block is
//    the mean of the dense entries on it), not through the projection code;
//  - ls lowers every projection's output error on the calibration data, kd the held-out loss,
//    and the record says what was done;
//  - an auto patch keeps within its parameter budget and records its choice;
//  - bad requests are refused before anything is written.
#include "runtime/eval/compress_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "loaders/mapped_file.h"
#include "loaders/prompt_file.h"
#include "runtime/compress/block_circulant.h"
#include "runtime/model/model.h"
#include "tests/support/gpu_test.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tiny_model.h"

namespace bcvk::eval {
namespace {

std::vector<std::vector<int32_t>> calibration_text() {
  std::vector<std::vector<int32_t>> s;
  for (size_t i = 0; i < 8; ++i) {
    std::vector<int32_t> t;
    for (size_t k = 0; k < 12 + i; ++k) t.push_back(int32_t((i * 17 + k * 5 + k * k) % 80));
    s.push_back(t);
  }
  return s;
}

std::string sha256_of(const std::filesystem::path& p) {
  const loaders::MappedFile f(p);
  return loaders::sha256_hex(
      std::string_view(reinterpret_cast<const char*>(f.bytes().data()), f.size()));
}

class CompressModelTest : public test::GpuTest {
 protected:
  void SetUp() override {
    GpuTest::SetUp();
    test::TinyConfig c;
    c.n_layers = 3;
    tiny = test::TinyModel::random_with_strong_mlps(c);
    tiny.write_gguf(dir / "dense.gguf");
    file.emplace(loaders::LlamaModelFile::open(dir / "dense.gguf"));
  }
  CompressJob job(const std::string& patch, CalibrationMethod m, const std::string& out) {
    CompressJob j;
    j.file = &*file;
    j.source_path = (dir / "dense.gguf").string();
    j.output_path = (dir / out).string();
    j.patch = patch;
    j.calibration = m;
    return j;
  }
  const std::vector<float>& hf_weight(uint32_t layer, const char* proj) {
    return tiny.hf.at("model.layers." + std::to_string(layer) + ".mlp." + proj + "_proj.weight");
  }

  test::TempDir dir;
  test::TinyModel tiny;
  std::optional<loaders::LlamaModelFile> file;
};

// Every entry of the stored matrix (expanded) equals the mean of the dense entries on its
// block's circulant diagonal ((row - column) mod B): the nearest block-circulant matrix.
void expect_diagonal_means(const std::vector<float>& dense, const compress::BlockCirculant& bc,
                           const std::string& what) {
  const std::vector<float> w = compress::expand(bc);
  const uint32_t B = bc.block, rows = bc.rows, cols = bc.cols;
  ASSERT_EQ(rows % B, 0u);
  ASSERT_EQ(cols % B, 0u);
  ASSERT_EQ(w.size(), dense.size());
  for (uint32_t bi = 0; bi < rows / B; ++bi)
    for (uint32_t bj = 0; bj < cols / B; ++bj) {
      std::vector<double> mean(B, 0.0);
      for (uint32_t r = 0; r < B; ++r)
        for (uint32_t c = 0; c < B; ++c)
          mean[(r + B - c) % B] += dense[size_t(bi * B + r) * cols + bj * B + c] / B;
      for (uint32_t r = 0; r < B; ++r)
        for (uint32_t c = 0; c < B; ++c) {
          const size_t i = size_t(bi * B + r) * cols + bj * B + c;
          ASSERT_NEAR(w[i], mean[(r + B - c) % B], 1e-6)
              << what << " block (" << bi << ", " << bj << ") entry (" << r << ", " << c << ")";
        }
    }
}

TEST_F(CompressModelTest, WithoutCalibrationTheFileStoresTheNearestBlockCirculantMatrices) {
  const CompressJob j = job("0-1:up,down:16", CalibrationMethod::kNone, "none.gguf");
  const CompressResult r = compress_model(j);
  EXPECT_EQ(r.stats.projections_replaced, 4u);
  EXPECT_EQ(r.stats.output_bytes, std::filesystem::file_size(j.output_path));
  EXPECT_EQ(r.record.calibration, "none");
  EXPECT_EQ(r.record.source, "dense.gguf");
  EXPECT_EQ(r.record.source_sha256, sha256_of(j.source_path));
  EXPECT_TRUE(r.record.calibration_sha256.empty());
  EXPECT_FALSE(r.ls);
  EXPECT_FALSE(r.kd);
  EXPECT_GT(r.projection_error, 0.1);  // random weights are far from circulant

  const auto out = loaders::LlamaModelFile::open(j.output_path);
  ASSERT_TRUE(out.compressed());
  const auto stored = compress::stored_projections(out);
  ASSERT_EQ(stored.size(), 4u);
  for (const auto& s : stored) {
    EXPECT_LE(s.layer, 1u);
    ASSERT_NE(s.projection, compress::Projection::kGate);
    EXPECT_EQ(s.params.block, 16u);
    const char* name = s.projection == compress::Projection::kUp ? "up" : "down";
    expect_diagonal_means(hf_weight(s.layer, name), s.params,
                          "layer " + std::to_string(s.layer) + " " + name);
  }
  const auto record = compress::read_compression_record(*out.gguf());
  ASSERT_TRUE(record);
  EXPECT_EQ(record->patch, "0-1:up,down:16");
  EXPECT_EQ(record->source_sha256, r.record.source_sha256);

  const auto js = to_json(j, r);
  EXPECT_EQ(js["projections_replaced"], 4);
  EXPECT_EQ(js["output_bytes"], r.stats.output_bytes);
  EXPECT_EQ(js["calibration"], "none");
}

TEST_F(CompressModelTest, LsLowersEveryOutputErrorAndKdTheHeldOutLoss) {
  CompressJob j = job("1-2:all:8", CalibrationMethod::kLsKd, "lskd.gguf");
  j.calib_ids = calibration_text();
  j.calib_sha256 = "c0ffee";
  j.kd.steps = 25;
  j.kd.tokens_per_step = 64;
  j.kd.val_fraction = 0.25;
  j.kd.lr = 3e-3;
  const distill::HostModel<float> host(*file);
  j.host = &host;
  std::unique_ptr<model::Model> dense;
  int device_uses = 0, after_device = 0;
  j.device_model = [&]() -> model::Model& {
    ++device_uses;
    dense = std::make_unique<model::Model>(ctx(), *file);
    return *dense;
  };
  j.after_device = [&] { ++after_device; };
  std::vector<std::string> stages;
  CompressProgress p;
  p.step = [&](const std::string& s, size_t, size_t, double) {
    if (stages.empty() || stages.back() != s) stages.push_back(s);
  };
  const CompressResult r = compress_model(j, p);
  EXPECT_EQ(device_uses, 1);
  EXPECT_EQ(after_device, 1);
  ASSERT_TRUE(r.ls);
  ASSERT_EQ(r.ls->error_after.size(), 6u);
  for (size_t i = 0; i < 6; ++i)
    EXPECT_LT(r.ls->error_after[i], r.ls->error_before[i]) << "projection " << i;
  ASSERT_TRUE(r.kd);
  EXPECT_LT(r.kd->best_val_loss, r.kd->initial_val_loss);
  EXPECT_EQ(r.record.calibration, "ls+kd");
  EXPECT_EQ(r.record.calibration_prompts, 8u);
  EXPECT_EQ(r.record.calibration_sha256, "c0ffee");
  EXPECT_EQ(r.record.lambda_rel, 1e-3);
  const auto settings = nlohmann::json::parse(r.record.calibration_settings);
  EXPECT_EQ(settings["method"], "ls+kd");
  EXPECT_FALSE(settings.contains("seconds"));  // the same inputs give the same bytes
  EXPECT_EQ((std::vector<std::string>(stages.begin(), stages.begin() + 2)),
            (std::vector<std::string>{"projecting", "teacher targets"}));

  // What the file stores is the calibrated student, not the plain projection.
  const auto out = loaders::LlamaModelFile::open(j.output_path);
  const auto stored = compress::stored_projections(out);
  ASSERT_EQ(stored.size(), 6u);
  const auto& s = stored.front();
  const auto plain = compress::project_block_circulant(
      hf_weight(s.layer, s.projection == compress::Projection::kGate ? "gate" : "up"),
      s.params.rows, s.params.cols, 8);
  double diff = 0;
  for (size_t i = 0; i < plain.c.size(); ++i) diff += std::abs(plain.c[i] - s.params.c[i]);
  EXPECT_GT(diff, 1e-3);
}

TEST_F(CompressModelTest, AutoKeepsWithinItsBudgetAndRecordsTheChoice) {
  CompressJob j = job("auto:0.8:16,32", CalibrationMethod::kNone, "auto.gguf");
  j.calib_ids = calibration_text();
  j.sensitivity_tokens = 40;
  const distill::HostModel<float> host(*file);
  j.host = &host;
  std::vector<std::string> notes;
  CompressProgress p;
  p.note = [&](const std::string& n) { notes.push_back(n); };
  const CompressResult r = compress_model(j, p);
  ASSERT_TRUE(r.auto_choice);
  EXPECT_LE(r.auto_choice->ratio(), 0.8);
  EXPECT_FALSE(r.spec.empty());
  const auto choice = nlohmann::json::parse(r.record.patch_choice);
  EXPECT_EQ(choice["request"], "auto:0.8:16,32");
  EXPECT_EQ(choice["patch"], r.spec.text());
  EXPECT_LE(choice["sensitivity_tokens"].get<uint64_t>(), 40u);
  ASSERT_FALSE(notes.empty());
  EXPECT_NE(notes.front().find("chose"), std::string::npos) << notes.front();
  // The file stores exactly the chosen projections, at the chosen block sizes.
  const auto out = loaders::LlamaModelFile::open(j.output_path);
  uint64_t params = 0, dense = 0;
  for (const auto& s : compress::stored_projections(out)) {
    EXPECT_TRUE(s.params.block == 16 || s.params.block == 32) << s.params.block;
    params += s.params.c.size();
    dense += uint64_t(s.params.rows) * s.params.cols;
  }
  const auto& c = file->config();
  const uint64_t all_dense = uint64_t(c.n_layers) * 3 * c.n_embd * c.n_ff;
  EXPECT_LE(double(all_dense - dense + params) / all_dense, 0.8);
}

TEST_F(CompressModelTest, BadRequestsAreRefusedBeforeAnythingIsWritten) {
  const auto refused = [&](CompressJob j, const std::string& message) {
    try {
      compress_model(j);
      ADD_FAILURE() << "accepted; wanted: " << message;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(j.output_path)) << message;
  };
  refused(job("0:up:4096", CalibrationMethod::kNone, "x.gguf"), "block size 4096");
  refused(job("0:gates:8", CalibrationMethod::kNone, "x.gguf"), "gates");
  refused(job("auto:0.5:8,4096", CalibrationMethod::kNone, "x.gguf"), "block size 4096");
  refused(job("0:up:8", CalibrationMethod::kLs, "x.gguf"), "needs calibration text");
  auto j = job("0:up:8", CalibrationMethod::kKd, "x.gguf");
  j.calib_ids = calibration_text();
  refused(j, "on the host");
  j.calibration = CalibrationMethod::kLs;
  refused(j, "on a device");
  j = job("0:up:8", CalibrationMethod::kNone, "x.gguf");
  j.dtype = gguf::GgmlType::BF16;
  refused(j, "f32, f16 or q8_0");
  // q8_0 is read by the fused kernel only: powers of two up to 64 whose rows fill Q8_0 blocks.
  j = job("1:up:48", CalibrationMethod::kNone, "x.gguf");
  j.dtype = gguf::GgmlType::Q8_0;
  refused(j, "q8_0 parameters: layer 1 up: block size 48 cannot be stored as q8_0");
  j = job("0:up:6", CalibrationMethod::kNone, "x.gguf");
  j.dtype = gguf::GgmlType::Q8_0;
  refused(j, "not a multiple of q8_0's 32");
  j = job("auto:0.5:8,96", CalibrationMethod::kNone, "x.gguf");
  j.calib_ids = calibration_text();
  j.dtype = gguf::GgmlType::Q8_0;
  refused(j, "block size 96 cannot be stored as q8_0");
  j = job("auto:0.5", CalibrationMethod::kNone, "x.gguf");
  j.calib_ids = calibration_text();
  j.sensitivity_tokens = 0;
  refused(j, "at least 1");
  // An already compressed file, and a Hugging Face directory.
  compress_model(job("0:up:8", CalibrationMethod::kNone, "c.gguf"));
  const auto compressed = loaders::LlamaModelFile::open(dir / "c.gguf");
  j = job("0:up:8", CalibrationMethod::kNone, "x.gguf");
  j.file = &compressed;
  refused(j, "already compressed");
  tiny.write_hf(dir / "hf");
  const auto hf = loaders::LlamaModelFile::open(dir / "hf");
  j.file = &hf;
  refused(j, "Hugging Face directory");
  EXPECT_THROW(parse_calibration_method("magic"), std::invalid_argument);
  for (const char* m : {"none", "ls", "kd", "ls+kd"})
    EXPECT_EQ(calibration_method_name(parse_calibration_method(m)), m);
}

}  // namespace
}  // namespace bcvk::eval
