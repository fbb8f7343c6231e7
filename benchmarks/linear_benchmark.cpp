// Google Benchmark of the linear kernel at the default model's shapes, timed by device
// timestamps (manual time), across launch shapes: the data behind default_linear_shape().
//   build/benchmarks/linear_benchmark --benchmark_filter=...
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>

#include "runtime/ops/linear.h"
#include "runtime/vk/context.h"
#include "runtime/vk/stream.h"

namespace {

bcvk::vk::Context& ctx() {
  static bcvk::vk::Context c([] {
    bcvk::vk::ContextOptions o;
    o.persist_pipeline_cache = false;
    return o;
  }());
  return c;
}

void run(benchmark::State& state, uint32_t N, uint32_t K, uint32_t T, bcvk::ops::WeightType type,
         bcvk::ops::LinearShape shape) {
  auto& c = ctx();
  const uint64_t w_bytes = uint64_t(N) * bcvk::ops::device_row_bytes(type, K);
  bcvk::vk::Buffer w(c.allocator(), w_bytes), x(c.allocator(), uint64_t(T) * K * 4),
      y(c.allocator(), uint64_t(T) * N * 4);
  bcvk::ops::LinearArgs a;
  a.w = w.view();
  a.type = type;
  a.N = N;
  a.K = K;
  a.x = x.view();
  a.x_stride = K;
  a.y = y.view();
  a.y_stride = N;
  a.T = T;
  a.shape = shape;
  // Wall time of kCalls calls in one submit, without timestamps (on lavapipe a timestamp pair
  // costs more than a small dispatch): what a forward pass sees.
  constexpr int kCalls = 16;
  bcvk::vk::Stream s(c.device(), false);
  for (int warm = 0; warm < 2; ++warm) {
    bcvk::ops::linear(c, s, a);
    s.submit_and_wait();
  }
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kCalls; ++i) bcvk::ops::linear(c, s, a);
    s.submit_and_wait();
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(sec / kCalls);
  }
  const double bytes = double(w_bytes);
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * N * K * T, benchmark::Counter::kIsIterationInvariantRate);
}

// Args: N, K, T, workgroup, rows, tokens, f16.
void BM_Linear(benchmark::State& state) {
  bcvk::ops::LinearShape shape;
  shape.form = bcvk::ops::LinearForm::kMatVec;
  shape.workgroup = state.range(3);
  shape.rows = state.range(4);
  shape.tokens = state.range(5);
  run(state, state.range(0), state.range(1), state.range(2),
      state.range(6) ? bcvk::ops::WeightType::kF16 : bcvk::ops::WeightType::kF32, shape);
}

// Block types.  Args: N, K, T, workgroup, rows, tokens, type (bcvk::ops::WeightType value),
// form (0 matrix-vector, 1 row per lane: rows unused).
void BM_LinearQ(benchmark::State& state) {
  bcvk::ops::LinearShape shape;
  shape.workgroup = state.range(3);
  shape.rows = state.range(4);
  shape.tokens = state.range(5);
  shape.form = state.range(7) ? bcvk::ops::LinearForm::kRowPerLane : bcvk::ops::LinearForm::kMatVec;
  const auto type = static_cast<bcvk::ops::WeightType>(state.range(6));
  state.SetLabel(std::string(bcvk::ops::weight_type_name(type)));
  run(state, state.range(0), state.range(1), state.range(2), type, shape);
}

void QShapes(benchmark::internal::Benchmark* b) {
  for (auto type : {bcvk::ops::WeightType::kQ4_1, bcvk::ops::WeightType::kQ8_0})
    for (auto nk : std::vector<std::pair<int, int>>{{1536, 576}, {576, 1536}, {49152, 576}})
      for (int T : {1, 64}) {
        for (int wg : {8, 16, 32})
          for (int rows : {1, 4, 16})
            for (int tokens : {1, 4, 8})
              if (tokens == 1 || T > 1)
                b->Args({nk.first, nk.second, T, wg, rows, tokens, static_cast<int>(type), 0});
        for (int wg : {8, 16, 32, 64})
          for (int tokens : {1, 2, 4, 8})
            if (tokens == 1 || T > 1)
              b->Args({nk.first, nk.second, T, wg, 1, tokens, static_cast<int>(type), 1});
      }
}

// Args: N, K, T, tile_n, tile_t, micro_n, micro_t, f16.
void BM_LinearTiled(benchmark::State& state) {
  bcvk::ops::LinearShape shape;
  shape.form = bcvk::ops::LinearForm::kTiled;
  shape.tile_n = state.range(3);
  shape.tile_t = state.range(4);
  shape.micro_n = state.range(5);
  shape.micro_t = state.range(6);
  run(state, state.range(0), state.range(1), state.range(2),
      state.range(7) ? bcvk::ops::WeightType::kF16 : bcvk::ops::WeightType::kF32, shape);
}

void TiledShapes(benchmark::internal::Benchmark* b) {
  for (int f16 : {0, 1})
    for (auto nk : std::vector<std::pair<int, int>>{{1536, 576}, {576, 1536}})
      for (int T : {32, 128})
        for (auto t : std::vector<std::array<int, 4>>{{64, 32, 8, 4},
                                                      {32, 16, 4, 2},
                                                      {64, 8, 8, 1},
                                                      {16, 16, 2, 2},
                                                      {64, 32, 4, 4},
                                                      {32, 8, 4, 1}})
          b->Args({nk.first, nk.second, T, t[0], t[1], t[2], t[3], f16});
}

void Shapes(benchmark::internal::Benchmark* b) {
  for (int f16 : {0, 1})
    for (auto nk :
         std::vector<std::pair<int, int>>{{1536, 576}, {576, 1536}, {64, 576}, {12288, 576}})
      for (int T : {1, 64})
        for (int wg : {8, 32})
          for (int rows : {1, 2, 4, 16})
            for (int tokens : {1, 4, 8, 16})
              if (tokens == 1 || T > 1) b->Args({nk.first, nk.second, T, wg, rows, tokens, f16});
}

BENCHMARK(BM_LinearTiled)
    ->Apply(TiledShapes)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.2);
BENCHMARK(BM_LinearQ)->Apply(QShapes)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);
BENCHMARK(BM_Linear)->Apply(Shapes)->UseManualTime()->Unit(benchmark::kMillisecond)->MinTime(0.2);

}  // namespace

BENCHMARK_MAIN();
