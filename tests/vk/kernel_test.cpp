// Kernels: SPIR-V reflection, every embedded shader builds, and the pipeline cache on disk.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "runtime/ops/argmax.h"
#include "runtime/ops/attention.h"
#include "runtime/ops/block_circulant.h"
#include "runtime/ops/copy.h"
#include "runtime/ops/embed.h"
#include "runtime/ops/kv_store.h"
#include "runtime/ops/linear.h"
#include "runtime/ops/rms_norm.h"
#include "runtime/ops/rope.h"
#include "runtime/ops/silu_mul.h"
#include "runtime/util/check.h"
#include "runtime/vk/error.h"
#include "runtime/vk/kernel.h"
#include "shaders/registry.h"
#include "tests/support/gpu_test.h"

namespace bcvk {
namespace {

using KernelTest = test::GpuTest;

TEST(SpirvReflection, CountsBindingsOfEmbeddedShaders) {
  ASSERT_NE(shaders::find("copy"), nullptr);
  EXPECT_EQ(vk::spirv_binding_count(shaders::find("copy")->words), 2u);
  EXPECT_EQ(vk::spirv_binding_count(shaders::find("affine")->words), 2u);
  EXPECT_EQ(shaders::find("no_such_shader"), nullptr);
}

// Push-constant blocks as the shaders declare them, against the host structs the ops pass.
TEST(SpirvReflection, PushConstantBlocksMatchTheOpsStructs) {
  const std::vector<std::pair<const char*, size_t>> want = {
      {"copy", sizeof(ops::CopyPush)},
      {"linear_f32", sizeof(ops::LinearPush)},
      {"linear_q_q4_1", sizeof(ops::LinearQPush)},
      {"linear_q_q6_k_rows", sizeof(ops::LinearQPush)},
      {"embed_f32", sizeof(ops::EmbedPush)},
      {"embed_q_q8_0", sizeof(ops::EmbedQPush)},
      {"kv_store", sizeof(ops::KvStorePush)},
      {"attention_kv_f16", sizeof(ops::AttentionPush)},
      {"rms_norm", sizeof(ops::RmsNormPush)},
      {"rope", sizeof(ops::RopePush)},
      {"silu_mul", sizeof(ops::SiluMulPush)},
      {"argmax", sizeof(ops::ArgmaxPush)},
      {"block_circulant_freq_f16", sizeof(ops::BlockCirculantPush)},
      {"block_circulant_direct_f16", sizeof(ops::BlockCirculantPush)},
      {"block_circulant_fused_glu_q8_ux", sizeof(ops::FusedCirculantPush)},
      {"block_circulant_fused", sizeof(ops::FusedCirculantPush)}};
  for (const auto& [name, bytes] : want) {
    ASSERT_NE(shaders::find(name), nullptr) << name;
    EXPECT_EQ(vk::spirv_push_constant_bytes(shaders::find(name)->words), bytes) << name;
  }
}

TEST_F(KernelTest, APushSizeThatDiffersFromTheShaderIsRefused) {
  try {
    vk::Kernel k(ctx().device(), ctx().pipeline_cache(), "embed_q_q4_1", {}, 16);
    FAIL() << "a 16-byte push block was accepted for a 24-byte one";
  } catch (const util::InternalError& e) {
    EXPECT_NE(std::string(e.what()).find("embed_q_q4_1 declares 24 bytes"), std::string::npos)
        << e.what();
  }
}

// Descriptor types come from the SPIR-V: decode's X_UNIFORM variants (linear_q's and the fused
// block-circulant kernel's) bind X as a uniform buffer, everything else binds storage buffers.
TEST(SpirvReflection, BindingTypesFollowTheShader) {
  using T = std::vector<VkDescriptorType>;
  const T ssbo3 = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                   VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
  const T ux = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER,
                VK_DESCRIPTOR_TYPE_STORAGE_BUFFER};
  EXPECT_EQ(vk::spirv_binding_types(shaders::find("linear_q_q4_1_rows")->words), ssbo3);
  EXPECT_EQ(vk::spirv_binding_types(shaders::find("linear_q_q4_1_rows_ux")->words), ux);
  size_t uniform = 0;
  for (const auto& sh : shaders::all())
    for (auto t : vk::spirv_binding_types(sh.words))
      uniform += t == VK_DESCRIPTOR_TYPE_UNIFORM_BUFFER;
  EXPECT_EQ(vk::spirv_binding_types(shaders::find("block_circulant_fused_f16_ux")->words), ux);
  // One per block type's _rows_ux variant (11) and per fused circulant _ux variant (2 forms x 3
  // weight types).
  EXPECT_EQ(uniform, 11u + 6u);
}

TEST(SpirvReflection, RejectsGarbage) {
  const std::vector<uint32_t> garbage = {0xdeadbeef, 1, 2, 3, 4, 5};
  EXPECT_THROW(vk::spirv_binding_count(garbage), util::InternalError);
  std::vector<uint32_t> truncated(shaders::find("copy")->words.begin(),
                                  shaders::find("copy")->words.end());
  truncated.resize(7);
  truncated[5] = (100u << 16) | 71u;  // an instruction claiming 100 words
  EXPECT_THROW(vk::spirv_binding_count(truncated), util::InternalError);
}

TEST_F(KernelTest, EveryEmbeddedShaderBuildsAPipeline) {
  for (const auto& s : shaders::all()) {
    vk::Kernel k(ctx().device(), ctx().pipeline_cache(), std::string(s.name), {},
                 vk::spirv_push_constant_bytes(s.words));
    EXPECT_NE(k.pipeline(), VK_NULL_HANDLE) << s.name;
  }
}

// A sweep makes and drops buffers per configuration: the descriptor sets of dropped buffers must
// not pile up (before the fix every set ever made stayed cached), while the sets of live buffers
// stay cached and are handed out again.
TEST_F(KernelTest, DescriptorSetsOfDestroyedBuffersAreFreed) {
  vk::Kernel k(ctx().device(), ctx().pipeline_cache(), "copy", {{0, 64}}, sizeof(ops::CopyPush));
  vk::Buffer live_a(ctx().allocator(), 64), live_b(ctx().allocator(), 64);
  const vk::BufferView live[] = {live_a.view(), live_b.view()};
  const VkDescriptorSet first = k.descriptor_set(live);
  for (int i = 0; i < 5000; ++i) {
    vk::Buffer a(ctx().allocator(), 64), b(ctx().allocator(), 64);
    const vk::BufferView v[] = {a.view(), b.view()};
    EXPECT_NE(k.descriptor_set(v), VK_NULL_HANDLE);
    ASSERT_LE(k.cached_descriptor_sets(), 1024u) << "after " << i + 1 << " pairs of buffers";
  }
  EXPECT_EQ(k.descriptor_set(live), first) << "the live buffers' set was dropped";
  // Many live buffers at once: every one of their sets stays cached past the prune threshold.
  std::vector<vk::Buffer> many;
  for (int i = 0; i < 600; ++i) many.emplace_back(ctx().allocator(), 64);
  for (int i = 0; i + 1 < 600; i += 2) {
    const vk::BufferView v[] = {many[i].view(), many[i + 1].view()};
    k.descriptor_set(v);
  }
  EXPECT_GE(k.cached_descriptor_sets(), 301u) << "live sets must all stay";
}

TEST_F(KernelTest, TooManyPushConstantBytesIsAnError) {
  EXPECT_THROW(vk::Kernel(ctx().device(), ctx().pipeline_cache(), "copy", {}, 4096), vk::Error);
}

class PipelineCacheTest : public test::GpuTest {
 protected:
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("bcvk-cache-test-" + std::to_string(::getpid()));
  void TearDown() override {
    std::filesystem::remove_all(dir);
    test::GpuTest::TearDown();
  }
};

TEST_F(PipelineCacheTest, SavedCacheIsReloadedAndForeignDataIgnored) {
  const auto file = dir / "pipelines.bin";
  {
    vk::PipelineCache cache(ctx().device(), file);
    EXPECT_FALSE(cache.loaded_from_disk());
    vk::Kernel k(ctx().device(), cache, "copy", {{0, 64}}, sizeof(ops::CopyPush));
  }  // saved on destruction
  ASSERT_TRUE(std::filesystem::exists(file));
  // At least the 32-byte header; lavapipe keeps its compiled code in Mesa's own disk cache.
  EXPECT_GE(std::filesystem::file_size(file), 32u);
  {
    vk::PipelineCache cache(ctx().device(), file);
    EXPECT_TRUE(cache.loaded_from_disk());
  }
  {
    std::ofstream(file, std::ios::binary | std::ios::trunc)
        << "not a pipeline cache, just text......";
  }
  vk::PipelineCache cache(ctx().device(), file);
  EXPECT_FALSE(cache.loaded_from_disk());
  vk::Kernel k(ctx().device(), cache, "copy", {{0, 64}}, sizeof(ops::CopyPush));  // still works
}

TEST(PipelineCachePath, FollowsBcvkThenXdgThenHome) {
  const std::string saved_b = getenv("BCVK_CACHE_DIR") ? getenv("BCVK_CACHE_DIR") : "";
  const std::string saved_x = getenv("XDG_CACHE_HOME") ? getenv("XDG_CACHE_HOME") : "";
  const std::string saved_h = getenv("HOME") ? getenv("HOME") : "";
  setenv("BCVK_CACHE_DIR", "/b", 1);
  setenv("XDG_CACHE_HOME", "/x", 1);
  setenv("HOME", "/h", 1);
  EXPECT_EQ(vk::PipelineCache::cache_directory(), "/b");
  unsetenv("BCVK_CACHE_DIR");
  EXPECT_EQ(vk::PipelineCache::cache_directory(), "/x/bcvk");
  unsetenv("XDG_CACHE_HOME");
  EXPECT_EQ(vk::PipelineCache::cache_directory(), "/h/.cache/bcvk");
  unsetenv("HOME");
  EXPECT_TRUE(vk::PipelineCache::cache_directory().empty());
  auto restore = [](const char* k, const std::string& v) {
    v.empty() ? unsetenv(k) : setenv(k, v.c_str(), 1);
  };
  restore("BCVK_CACHE_DIR", saved_b);
  restore("XDG_CACHE_HOME", saved_x);
  restore("HOME", saved_h);
}

}  // namespace
}  // namespace bcvk
