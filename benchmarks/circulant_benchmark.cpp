// Google Benchmark of the block-circulant paths (fused, VkFFT, direct) and the fused gate/up
// pair at the default model's MLP shapes: wall time of 16 calls in one submit, no timestamps.
// The data behind MlpPatch's per-shape choice and docs/PERFORMANCE.md's fused-kernel table.
//   build/benchmarks/circulant_benchmark --benchmark_filter=...
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <vector>

#include "runtime/ops/block_circulant.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace {

using bcvk::ops::CirculantPath;
using bcvk::ops::CirculantWeights;

bcvk::vk::Context& ctx() {
  static bcvk::vk::Context c([] {
    bcvk::vk::ContextOptions o;
    o.persist_pipeline_cache = false;
    return o;
  }());
  return c;
}

// args: rows, cols, B, T, path (0 fused, 1 FFT, 2 direct, 3 fused gate/up pair), weights (0 f32,
// 1 f16, 2 q8), fused input transforms (0 the default for B, 1 per SIMD group, 2 shared)
void BM_Circulant(benchmark::State& state) {
  auto& c = ctx();
  const auto m = uint32_t(state.range(0)), n = uint32_t(state.range(1)),
             B = uint32_t(state.range(2)), T = uint32_t(state.range(3));
  const int mode = int(state.range(4));
  const auto weights = CirculantWeights(state.range(5));
  const CirculantPath path = mode == 1   ? CirculantPath::kFft
                             : mode == 2 ? CirculantPath::kDirect
                                         : CirculantPath::kFused;
  bcvk::compress::BlockCirculant bc = bcvk::compress::zero_block_circulant(m, n, B);
  for (size_t i = 0; i < bc.c.size(); ++i) bc.c[i] = float(i % 7) * 0.01f;
  const bcvk::ops::BlockCirculantLinear layer(c, bc, path, weights), up(c, bc, path, weights);
  std::unique_ptr<bcvk::ops::CirculantWorkspace> ws;
  if (path == CirculantPath::kFft)
    ws = std::make_unique<bcvk::ops::CirculantWorkspace>(
        c, B, std::max(bc.row_blocks(), bc.col_blocks()));
  bcvk::vk::Buffer x(c.allocator(), uint64_t(T) * n * 4), y(c.allocator(), uint64_t(T) * m * 4);
  bcvk::ops::CirculantCall call{x.view(), n, y.view(), m, 0, T, false};
  using Transform = bcvk::ops::FusedCirculantArgs::Transform;
  call.transform = state.range(6) == 1   ? Transform::kPerGroup
                   : state.range(6) == 2 ? Transform::kShared
                                         : Transform::kAuto;
  bcvk::vk::Stream s(c.device(), false);
  auto record = [&] {
    if (mode == 3) {
      bcvk::ops::record_circulant_glu(c, s, layer, up, call);
    } else {
      layer.record(c, s, ws.get(), call);
    }
    s.barrier();
  };
  constexpr int kCalls = 16;
  for (int warm = 0; warm < 2; ++warm) {
    record();
    s.submit_and_wait();
  }
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) record();
    s.submit_and_wait();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(sec / kCalls);
  }
  state.counters["dispatches"] = layer.dispatches(T, ws.get(), false);
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int64_t B : {4, 16, 64, 128})
    for (int64_t T : {1, 8, 64})
      for (int64_t mode : {0, 1, 2, 3}) {
        if (B > 64 && (mode == 0 || mode == 3)) continue;  // fused: B <= 64
        // The fused paths with the input's transforms per SIMD group and shared.
        for (int64_t tr :
             mode == 0 || mode == 3 ? std::vector<int64_t>{1, 2} : std::vector<int64_t>{0}) {
          if (mode == 3) {
            b->Args({1536, 576, B, T, mode, 1, tr});
            continue;
          }
          b->Args({1536, 576, B, T, mode, 1, tr});
          b->Args({576, 1536, B, T, mode, 1, tr});
        }
      }
  for (int64_t T : {1, 8}) b->Args({1536, 576, 4, T, 3, 2, 0});  // 8-bit gate/up pair
}

}  // namespace

BENCHMARK(BM_Circulant)
    ->Apply(Shapes)
    ->ArgNames({"m", "n", "B", "T", "path", "w", "tr"})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(0.2);
BENCHMARK_MAIN();
