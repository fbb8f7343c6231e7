#include "runtime/bench/startup.h"

#include <memory>
#include <optional>

#include "loaders/tokenizer/tokenizer.h"
#include "runtime/bench/model_bench.h"
#include "runtime/model/session.h"

namespace bcvk::bench {

namespace {

using Clock = std::chrono::steady_clock;

// Splits wall time into consecutive phases, each with the compile time spent inside it.
class PhaseClock {
 public:
  PhaseClock(Clock::time_point origin, StartupResult& r) : last_(origin), r_(r) {}
  void end(const std::string& name, const vk::Context* ctx = nullptr) {
    const auto now = Clock::now();
    StartupPhase p{name, std::chrono::duration<double, std::milli>(now - last_).count(), 0};
    if (ctx) {
      const double compiled = ctx->compile_stats().pipeline_ms + ctx->compile_stats().fft_plan_ms;
      p.compile_ms = compiled - compiled_;
      compiled_ = compiled;
    }
    r_.phases.push_back(p);
    r_.time_to_first_token_ms += p.ms;
    last_ = now;
  }

 private:
  Clock::time_point last_;
  double compiled_ = 0;
  StartupResult& r_;
};

}  // namespace

StartupResult measure_startup(const StartupOptions& o) {
  StartupResult r;
  PhaseClock clock(o.origin == Clock::time_point{} ? Clock::now() : o.origin, r);
  clock.end("process start");

  const auto file = loaders::LlamaModelFile::open(o.model);
  clock.end("open model file");

  std::vector<int32_t> ids;
  if (file.gguf()) {
    ids = loaders::Tokenizer::from_gguf(*file.gguf()).encode(o.prompt);
  }
  if (ids.empty()) ids = bench_prompt(8, file.config().n_vocab);  // no tokenizer in the file
  r.prompt_tokens = ids.size();
  clock.end("tokenizer");

  vk::Context ctx(o.context);
  r.device = ctx.info().name;
  clock.end("Vulkan instance and device", &ctx);

  model::ModelOptions mo;
  mo.weights = o.weights;
  mo.kv = o.kv;
  mo.context = o.context_length;
  model::Model m(ctx, file, mo);
  clock.end("dense weights (dequantize, upload)", &ctx);

  std::unique_ptr<model::MlpPatch> patch;
  patch = model::MlpPatch::load_stored(ctx, file, o.weights);
  clock.end("circulant MLPs (spectra, path choice, FFT plans)", &ctx);

  model::Session session(m, 64, false, patch.get());
  clock.end("session buffers", &ctx);

  session.prefill(ids);
  r.first_token = session.last_argmax();
  clock.end("prompt to first token", &ctx);

  r.compile = ctx.compile_stats();
  r.peak_device_bytes = ctx.allocator().stats().peak_bytes_reserved;
  r.validation_messages = ctx.instance().validation_message_count();
  return r;
}

}  // namespace bcvk::bench
