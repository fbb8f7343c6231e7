// bcvk bench: device roofline (streaming bandwidth and peak FMA throughput); with -m, the model's
// prefill and decode speed; with --patch, dense and block-circulant side by side in one process.
// JSON for cross-vendor comparison.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/bench_startup.h"
#include "apps/commands.h"
#include "apps/device_flags.h"
#include "apps/model_flags.h"
#include "apps/progress.h"
#include "apps/validators.h"
#include "loaders/atomic_write.h"
#include "loaders/mapped_file.h"
#include "loaders/prompt_file.h"
#include "runtime/bench/bench_record.h"
#include "runtime/bench/model_bench.h"
#include "runtime/bench/roofline.h"
#include "runtime/compress/compressed_gguf.h"
#include "runtime/vk/memory.h"

namespace bcvk::apps {

namespace {

struct BenchOptions {
  DeviceFlags dev;
  ModelFlags model;
  bool with_model = false;  // -m given (or --patch)
  std::string patch;
  std::vector<std::string> against;  // --against: more model files, measured interleaved
  bench::ModelBenchOptions run;
  int reps = 5;
  std::string json_out;
  bool startup = false;     // --startup
  std::string startup_run;  // hidden: one measured start (the child of --startup)
};

// One benchmarked variant: its speeds and what it holds on the device.
struct Variant {
  std::string name;
  std::string file;          // the model file it was loaded from
  std::string kind;          // dense, patched, compressed
  std::string weight_types;  // "q4_1+q8_0+f32": the matrix types on the device
  bench::ModelBenchResult r;
  uint64_t weight_bytes = 0;       // dense weights on the device
  uint64_t patch_bytes = 0;        // circulant parameters/spectra and FFT workspaces
  uint64_t peak_device_bytes = 0;  // allocator peak while loaded and running
  uint64_t mlp_parameters = 0;
  uint64_t parameters = 0;
  uint64_t decode_bytes_per_token = 0;  // weight bytes one decode step streams
  double decode_roofline_fraction = 0;  // decode_bytes_per_token * decode tok/s / bandwidth
  std::vector<bench::KernelStream> decode_kernels;
};

// The sha256 of a model file, or of a directory's files in name order (config and safetensors).
std::string model_sha256(const std::string& path) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(path)) {
    const loaders::MappedFile f(path);
    return loaders::sha256_hex(
        std::string_view(reinterpret_cast<const char*>(f.bytes().data()), f.size()));
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(path))
    if (e.is_regular_file()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  std::string hashes;
  for (const auto& f : files)
    hashes += model_sha256(f.string()) + " " + f.filename().string() + "\n";
  return loaders::sha256_hex(hashes);
}

nlohmann::json profile_json(const vk::ProfileTable& p) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [label, row] : p.rows())
    j[label] = {{"calls", row.calls}, {"total_ms", row.total_ms}};
  return j;
}

nlohmann::json variant_json(const Variant& v) {
  nlohmann::json kernels = nlohmann::json::array();
  for (const auto& k : v.decode_kernels) kernels.push_back(bench::to_json(k));
  return {{"name", v.name},
          {"file", v.file},
          {"kind", v.kind},
          {"weight_types", v.weight_types},
          {"prefill_tokens_per_s", v.r.prefill_tps},
          {"prefill_tokens_per_s_samples", v.r.prefill_tokens_per_s},
          {"decode_tokens_per_s", v.r.decode_tps},
          {"decode_ms_per_token_samples", v.r.decode_ms_per_token},
          {"mlp_ms_per_token_decode", v.r.mlp_ms_per_token_decode_wall},
          {"mlp_ms_per_token_prefill", v.r.mlp_ms_per_token_prefill_wall},
          {"mlp_ms_per_token_decode_timestamped", v.r.mlp_ms_per_token_decode},
          {"mlp_ms_per_token_prefill_timestamped", v.r.mlp_ms_per_token_prefill},
          {"device_ms_per_token_decode", v.r.device_ms_per_token_decode},
          {"decode_commands_per_token", v.r.decode_commands},
          {"mlp_dispatches_per_layer_decode", v.r.mlp_dispatches_per_layer},
          {"weight_bytes", v.weight_bytes},
          {"patch_bytes", v.patch_bytes},
          {"peak_device_bytes", v.peak_device_bytes},
          {"mlp_parameters", v.mlp_parameters},
          {"decode_bytes_per_token", v.decode_bytes_per_token},
          {"decode_roofline_fraction", v.decode_roofline_fraction},
          {"decode_kernels", kernels},
          {"prefill_profile_ms", profile_json(v.r.prefill_profile)},
          {"decode_profile_ms", profile_json(v.r.decode_profile)}};
}

// A variant on the device: its model and patch (null for dense).
struct Loaded {
  std::unique_ptr<model::Model> model;
  std::unique_ptr<model::MlpPatch> patch;
};

// Loads `file` (with `spec`, the patched-only student) and names `v` after it; `quiet` leaves out
// the path-choice lines (the interleaved pass loads every variant a second time).
Loaded load_variant(vk::Context& ctx, const loaders::LlamaModelFile& file, const std::string& path,
                    const BenchOptions& o, const compress::PatchSpec* spec, Variant& v,
                    bool quiet = false) {
  Loaded l;
  v.file = path;
  v.name = spec ? "patched (" + spec->describe() + ")" : "dense";
  v.kind = file.compressed() ? "compressed" : spec ? "patched" : "dense";
  const auto& c = file.config();
  if (file.compressed()) {
    // A compressed file (bcvk compress): its stored circulant MLPs, no dense weight for them.
    l.model = load_model(ctx, file, o.model);
    l.patch = load_stored_patch(ctx, file, o.model);
    const auto rec = compress::read_compression_record(*file.gguf());
    v.name = "compressed (" +
             (rec ? rec->patch_description : std::string("stored circulant MLPs")) + ")";
    v.mlp_parameters = l.patch->stats().student_mlp_parameters();
  } else if (spec) {
    // The patched-only student: dense MLP weights it replaces are never uploaded.
    l.model = load_model(ctx, file, o.model, [spec](uint32_t layer, compress::Projection p) {
      return spec->patched(layer, p);
    });
    if (!quiet) std::fprintf(stderr, "projecting %s\n", spec->describe().c_str());
    l.patch = std::make_unique<model::MlpPatch>(
        ctx, c,
        model::MlpPatch::project(file, *spec, model::Structure::kBlockCirculant,
                                 [quiet](size_t d, size_t t) {
                                   if (quiet) return;
                                   progress("projecting: %zu/%zu matrices", d, t);
                                   if (d == t) end_progress();
                                 }));
    if (!quiet)
      for (const auto& pc : l.patch->path_choices())
        std::fprintf(stderr,
                     "B=%u %ux%u: %s path (ms per decoded token + per prefill token: fused %.2f, "
                     "FFT %.2f, direct %.2f)\n",
                     pc.block, pc.rows, pc.cols, ops::circulant_path_name(pc.path), pc.fused_ms,
                     pc.fft_ms, pc.direct_ms);
    v.mlp_parameters = l.patch->stats().student_mlp_parameters();
  } else {
    l.model = load_model(ctx, file, o.model);
    v.mlp_parameters = 3ull * c.n_embd * c.n_ff * c.n_layers;
  }
  return l;
}

void set_roofline_fraction(Variant& v, const bench::Roofline& roof) {
  v.decode_roofline_fraction =
      double(v.decode_bytes_per_token) * v.r.decode_tps / 1e9 / roof.bandwidth_gbs;
}

// Loads, measures and frees one variant (its peak memory is its own).
Variant bench_variant(vk::Context& ctx, const loaders::LlamaModelFile& file,
                      const std::string& path, const BenchOptions& o,
                      const compress::PatchSpec* spec, const bench::Roofline& roof) {
  Variant v;
  ctx.allocator().reset_peak();
  Loaded l = load_variant(ctx, file, path, o, spec, v);
  model::Model* m = l.model.get();
  v.weight_bytes = m->weight_bytes();
  v.weight_types = m->weight_types();
  v.parameters = m->parameter_count();
  v.patch_bytes = l.patch ? l.patch->device_bytes() : 0;
  v.r = bench::bench_model(*m, l.patch.get(), o.run, [&](const std::string& phase) {
    progress("bench %s: %-24s", v.name.c_str(), phase.c_str());
  });
  end_progress();
  v.peak_device_bytes = ctx.allocator().stats().peak_bytes_reserved;
  // Streaming: the matrices each decode step reads (a patched projection's dense weight, still
  // on the device with --patch, is not read; its circulant weights are).
  const auto costs = m->decode_costs(l.patch.get());
  for (const auto& k : costs) v.decode_bytes_per_token += k.bytes;
  set_roofline_fraction(v, roof);
  v.decode_kernels = bench::decode_streaming(v.r.decode_profile, v.r.profiled_decode_steps, costs,
                                             roof.bandwidth_gbs, roof.fma_gflops);
  return v;
}

void print_variants(const std::vector<Variant>& vs, const bench::Roofline& roof,
                    const BenchOptions& o) {
  std::printf("\nmodel %s, prompt %u tokens, %u decode steps, %s weights, %s KV cache\n",
              o.model.model.c_str(), o.run.prompt_tokens, o.run.decode_tokens,
              std::string(model::weight_mode_name(weight_mode(o.model))).c_str(),
              std::string(ops::kv_type_name(kv_type(o.model))).c_str());
  // MLP time: every layer's MLP alone in one submit, wall clock (timestamps would add more
  // overhead to the FFT path, which has more dispatches).
  std::printf("%-44s %12s %12s %14s %14s %12s %12s\n", "variant", "prefill t/s", "decode t/s",
              "MLP ms/tok dec", "MLP ms/tok pre", "weights", "peak memory");
  for (const Variant& v : vs)
    std::printf("%-44s %12.2f %12.2f %14.2f %14.2f %12s %12s\n", v.name.substr(0, 44).c_str(),
                v.r.prefill_tps, v.r.decode_tps, v.r.mlp_ms_per_token_decode_wall,
                v.r.mlp_ms_per_token_prefill_wall,
                vk::format_bytes(v.weight_bytes + v.patch_bytes).c_str(),
                vk::format_bytes(v.peak_device_bytes).c_str());
  // Every other variant against the first (measured interleaved with it).
  for (size_t i = 1; i < vs.size(); ++i) {
    const Variant &d = vs[0], &p = vs[i];
    const std::string what = p.kind + " vs " + d.kind + " (faster, smaller)";
    std::printf("%-44s %11.2fx %11.2fx %13.2fx %13.2fx %11.2fx %11.2fx\n", what.c_str(),
                p.r.prefill_tps / d.r.prefill_tps, p.r.decode_tps / d.r.decode_tps,
                d.r.mlp_ms_per_token_decode_wall / p.r.mlp_ms_per_token_decode_wall,
                d.r.mlp_ms_per_token_prefill_wall / p.r.mlp_ms_per_token_prefill_wall,
                double(d.weight_bytes + d.patch_bytes) / double(p.weight_bytes + p.patch_bytes),
                double(d.peak_device_bytes) / double(p.peak_device_bytes));
  }
  if (vs.size() > 1)
    std::printf("prefill and decode of every variant measured interleaved (token by token)\n");
  // What a decode step costs in launches: on lavapipe each dispatch has a fixed cost.
  for (const Variant& v : vs)
    std::printf("%s decode step: %u dispatches, %.1f of them per layer's MLP\n",
                v.name.substr(0, v.name.find(' ')).c_str(), v.r.decode_commands,
                v.r.mlp_dispatches_per_layer);
  // Decode streams every matrix once per token: how close each variant comes to the roofline.
  for (const Variant& v : vs)
    std::printf(
        "%s decode streams %.1f MiB a token at %.2f GB/s: %.0f%% of the measured %.2f GB/s "
        "roofline\n",
        v.name.substr(0, v.name.find(' ')).c_str(), v.decode_bytes_per_token / 1048576.0,
        v.decode_bytes_per_token * v.r.decode_tps / 1e9, 100 * v.decode_roofline_fraction,
        roof.bandwidth_gbs);
  if (o.dev.profile)
    for (const Variant& v : vs) {
      std::printf("\nper-op device time, %s, %u decode steps:\n", v.name.c_str(),
                  v.r.profiled_decode_steps);
      v.r.decode_profile.print(std::cout);
      std::printf(
          "\nweight streaming per decode kernel (device time, timestamps on; copy roofline "
          "%.2f GB/s, FMA peak %.1f GFLOP/s), %s:\n",
          roof.bandwidth_gbs, roof.fma_gflops, v.name.c_str());
      std::printf("%-16s %10s %10s %10s %8s %9s %9s %8s\n", "kernel", "MiB/token", "MFLOP/tok",
                  "us/token", "GB/s", "roofline", "GFLOP/s", "FMA peak");
      for (const auto& k : v.decode_kernels)
        std::printf("%-16s %10.2f %10.2f %10.1f %8.2f %8.0f%% %9.2f %7.1f%%\n", k.label.c_str(),
                    k.bytes_per_token / 1048576.0, k.flops_per_token / 1e6, k.ms_per_token * 1e3,
                    k.gbs, 100 * k.roofline_fraction, k.gflops, 100 * k.fma_fraction);
    }
}

int run_bench(const BenchOptions& o) {
  if (o.reps < 1)
    throw std::runtime_error("--reps must be at least 1, got " + std::to_string(o.reps));
  loaders::check_outputs({{"model", o.with_model ? o.model.model : ""}}, {{"--json", o.json_out}});
  // Model and --patch are checked before any measuring.
  std::optional<loaders::LlamaModelFile> file;
  std::optional<compress::PatchSpec> spec;
  if (o.with_model) {
    file.emplace(loaders::LlamaModelFile::open(o.model.model));
    if (!o.patch.empty() && file->compressed())
      throw std::invalid_argument(
          "--patch: " + o.model.model +
          " is compressed already (bcvk compress); bench it without --patch");
    if (!o.patch.empty()) spec = compress::PatchSpec::parse(o.patch, file->config().n_layers);
  }
  // --against: every file checked and opened before any measuring.
  std::vector<loaders::LlamaModelFile> against;
  for (const std::string& a : o.against) {
    loaders::check_outputs({{"--against", a}}, {{"--json", o.json_out}});
    against.push_back(loaders::LlamaModelFile::open(a));
  }
  vk::Context ctx(context_options(o.dev));
  vk::ProfileTable profile;
  // At least 9 samples: on a shared machine the copy rate swings by 1.5x between samples, and
  // the decode fraction is only as steady as this median (one sample is ~0.1 s).
  const int roofline_reps = std::max(o.reps, bench::kMinRooflineReps);
  std::fprintf(stderr, "bench: measuring the roofline of %s (%d reps after a warm-up)\n",
               ctx.info().name.c_str(), roofline_reps);
  const bench::Roofline r =
      bench::measure_roofline(ctx, roofline_reps, o.with_model ? nullptr : &profile);
  const auto& sb = r.bandwidth_samples_gbs;
  const auto& sf = r.fma_samples_gflops;
  const auto [bmin, bmax] = std::minmax_element(sb.begin(), sb.end());
  const auto [fmin, fmax] = std::minmax_element(sf.begin(), sf.end());

  std::printf("device     %s (%s, %s %s)\n", ctx.info().name.c_str(),
              vk::vendor_name(ctx.info().vendor), ctx.info().driver_name.c_str(),
              ctx.info().driver_info.c_str());
  std::printf("%-28s %12s %12s %12s\n", "roofline", "median", "min", "max");
  std::printf("%-28s %12.2f %12.2f %12.2f\n", "streaming bandwidth GB/s", r.bandwidth_gbs, *bmin,
              *bmax);
  std::printf("%-28s %12.2f %12.2f %12.2f\n", "FMA throughput GFLOP/s", r.fma_gflops, *fmin, *fmax);
  std::printf("ridge point %.2f FLOP/byte; peak device memory %s\n", r.fma_gflops / r.bandwidth_gbs,
              vk::format_bytes(ctx.allocator().stats().peak_bytes_reserved).c_str());

  std::vector<Variant> variants;
  if (o.with_model) {
    variants.push_back(bench_variant(ctx, *file, o.model.model, o, nullptr, r));
    if (spec) variants.push_back(bench_variant(ctx, *file, o.model.model, o, &*spec, r));
    for (size_t i = 0; i < against.size(); ++i)
      variants.push_back(bench_variant(ctx, against[i], o.against[i], o, nullptr, r));
    if (variants.size() > 1) {
      // Speeds again, every variant loaded at once and run in turn: on a shared machine the
      // speed drifts by 1.5-2x within seconds, which one-after-another runs turn into ratios.
      std::vector<Loaded> loaded;
      std::vector<bench::BenchSubject> subjects;
      Variant scratch;
      loaded.push_back(load_variant(ctx, *file, o.model.model, o, nullptr, scratch, true));
      if (spec) loaded.push_back(load_variant(ctx, *file, o.model.model, o, &*spec, scratch, true));
      for (size_t i = 0; i < against.size(); ++i)
        loaded.push_back(load_variant(ctx, against[i], o.against[i], o, nullptr, scratch, true));
      for (const Loaded& l : loaded) subjects.push_back({l.model.get(), l.patch.get()});
      const auto speeds = bench::bench_interleaved(subjects, o.run, [&](const std::string& phase) {
        progress("bench: %-24s", phase.c_str());
      });
      end_progress();
      for (size_t i = 0; i < variants.size(); ++i) {
        bench::ModelBenchResult& x = variants[i].r;
        x.prefill_tokens_per_s = speeds[i].prefill_tokens_per_s;
        x.decode_ms_per_token = speeds[i].decode_ms_per_token;
        x.prefill_tps = speeds[i].prefill_tps;
        x.decode_tps = speeds[i].decode_tps;
        set_roofline_fraction(variants[i], r);
      }
    }
    print_variants(variants, r, o);
  }

  if (!o.json_out.empty()) {
    nlohmann::json j = {
        {"schema", bench::kBenchSchema},
        {"bcvk", bench::build_json()},
        {"host", bench::host_json(bench::host_info())},
        {"device", bench::device_json(ctx.info())},
        {"reps", o.reps},
        {"roofline",
         {{"bandwidth_gbs", r.bandwidth_gbs},
          {"bandwidth_samples_gbs", r.bandwidth_samples_gbs},
          {"fma_gflops", r.fma_gflops},
          {"fma_samples_gflops", r.fma_samples_gflops},
          {"copy_bytes", r.copy_bytes},
          {"fma_invocations", r.fma_invocations}}},
        {"peak_device_bytes", ctx.allocator().stats().peak_bytes_reserved},
    };
    if (o.with_model) {
      j["model"] = {{"path", o.model.model},
                    {"file", std::filesystem::path(o.model.model).filename().string()},
                    {"sha256", model_sha256(o.model.model)},
                    {"architecture", file->config().architecture},
                    {"parameters", variants.front().parameters},
                    {"weights", model::weight_mode_name(weight_mode(o.model))},
                    {"weight_types", variants.front().weight_types},
                    {"kv", ops::kv_type_name(kv_type(o.model))},
                    {"context", context_length(o.model, file->config())},
                    {"prompt_tokens", o.run.prompt_tokens},
                    {"decode_tokens", o.run.decode_tokens},
                    {"reps", o.run.reps}};
      if (spec) j["patch"] = spec->describe();
      j["interleaved"] = variants.size() > 1;
      j["variants"] = nlohmann::json::array();
      for (const Variant& v : variants) j["variants"].push_back(variant_json(v));
    }
    loaders::write_file_atomically(o.json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "bench: wrote %s\n", o.json_out.c_str());
  }
  if (o.with_model)
    return finish(ctx, DeviceFlags{o.dev.device, false}, profile);  // tables printed above
  return finish(ctx, o.dev, profile);
}

}  // namespace

Runner add_bench_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("bench",
                                 "Measure the device (roofline) and, with -m, a model's "
                                 "prefill/decode speed; --patch compares "
                                 "dense with block-circulant MLPs");
  auto o = std::make_shared<BenchOptions>();
  add_device_flags(*cmd, o->dev);
  add_model_flags(*cmd, o->model);
  cmd->add_option("--reps", o->reps, "Timed repetitions after one warm-up; medians are reported")
      ->capture_default_str();
  cmd->add_option("--prompt-tokens,--prompt-len", o->run.prompt_tokens,
                  "Model bench: prefill length")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  cmd->add_option("--decode-tokens,--gen", o->run.decode_tokens, "Model bench: decode steps timed")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1u << 20));
  cmd->add_option("--patch", o->patch,
                  "Also run the model with block-circulant MLPs: LAYERS[:PROJECTIONS][:B], e.g. "
                  "all:gate,up,down:64");
  cmd->add_option("--against", o->against,
                  "Also run these model files (dense or compressed; repeatable), each measured in "
                  "turn with -m token by token, so a machine whose speed drifts slows all alike")
      ->type_name("FILE");
  cmd->add_option("--json", o->json_out, "Also write the results as JSON to this file")
      ->check(output_path());
  cmd->add_flag("--startup", o->startup,
                "Measure cold start (empty caches) and warm start (pipeline and FFT plan caches on "
                "disk) of -m, each in a fresh process: time to first token and where it goes");
  cmd->add_option("--startup-run", o->startup_run, "internal: one measured start")->group("");
  return [o, cmd]() {
    if (!o->startup_run.empty() || o->startup) {
      if (!o->patch.empty())
        throw std::invalid_argument(
            "--startup measures a model file as it is; compress it first (bcvk compress) instead "
            "of --patch");
      if (!o->against.empty())
        throw std::invalid_argument("--startup measures one model file; --against is for speed");
      StartupBenchOptions so{o->dev, o->model, o->reps, o->json_out};
      return o->startup_run.empty() ? run_startup_bench(so) : run_startup_child(so, o->startup_run);
    }
    o->with_model =
        cmd->get_option("--model")->count() > 0 || !o->patch.empty() || !o->against.empty();
    o->run.reps = o->reps;
    return run_bench(*o);
  };
}

}  // namespace bcvk::apps
