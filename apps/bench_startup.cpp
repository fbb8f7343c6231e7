#include "apps/bench_startup.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "apps/progress.h"
#include "loaders/atomic_write.h"
#include "runtime/bench/startup.h"
#include "runtime/util/statistics.h"
#include "runtime/vk/memory.h"

extern char** environ;

namespace bcvk::apps {

namespace {

using Clock = std::chrono::steady_clock;
const char* kOriginVar = "BCVK_STARTUP_ORIGIN_NS";  // the parent's spawn time, steady clock

nlohmann::json to_json(const bench::StartupResult& r) {
  nlohmann::json phases = nlohmann::json::array();
  for (const auto& p : r.phases)
    phases.push_back({{"name", p.name}, {"ms", p.ms}, {"compile_ms", p.compile_ms}});
  const auto& c = r.compile;
  return {{"phases", phases},
          {"time_to_first_token_ms", r.time_to_first_token_ms},
          {"pipelines", c.pipelines},
          {"pipelines_cached", c.pipelines_cached},
          {"pipelines_reported", c.pipelines_reported},
          {"pipeline_ms", c.pipeline_ms},
          {"fft_plans", c.fft_plans},
          {"fft_plans_from_source", c.fft_plans_from_source},
          {"fft_plan_ms", c.fft_plan_ms},
          {"peak_device_bytes", r.peak_device_bytes},
          {"prompt_tokens", r.prompt_tokens},
          {"first_token", r.first_token},
          {"device", r.device}};
}

std::filesystem::path make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "bcvk-startup-XXXXXX").string();
  if (!::mkdtemp(tmpl.data()))
    throw std::runtime_error("cannot create a temporary directory in " + tmpl);
  return tmpl;
}

// Runs this binary as `bench --startup-run` with the caches in `caches`, and returns its result.
nlohmann::json run_child(const StartupBenchOptions& o, const std::filesystem::path& caches,
                         const std::filesystem::path& work, int index) {
  const auto result = work / ("start-" + std::to_string(index) + ".json");
  const auto log = work / ("start-" + std::to_string(index) + ".log");
  std::vector<std::string> args = {"/proc/self/exe", "bench", "--startup-run",
                                   result.string(),  "-m",    o.model.model};
  if (!o.dev.device.empty()) args.insert(args.end(), {"--device", o.dev.device});
  args.insert(args.end(), {"--weights", std::string(model::weight_mode_name(weight_mode(o.model))),
                           "--kv", std::string(ops::kv_type_name(kv_type(o.model)))});
  if (o.model.context) args.insert(args.end(), {"--ctx", std::to_string(o.model.context)});

  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Both bcvk's caches (pipelines, VkFFT plans) and the driver's own shader cache.
  env["BCVK_CACHE_DIR"] = (caches / "bcvk").string();
  env["MESA_SHADER_CACHE_DIR"] = (caches / "mesa").string();
  env.erase("MESA_SHADER_CACHE_DISABLE");
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : env) env_strings.push_back(k + "=" + v);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  const auto origin = Clock::now();
  env_strings.push_back(
      std::string(kOriginVar) + "=" +
      std::to_string(
          std::chrono::duration_cast<std::chrono::nanoseconds>(origin.time_since_epoch()).count()));
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc == 0) loaders::track_child(pid);
  if (rc != 0)
    throw std::runtime_error("bench --startup: cannot start a child process: " +
                             std::string(strerror(rc)));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  loaders::untrack_child(pid);
  const double process_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - origin).count();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::ifstream in(log);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
    throw std::runtime_error("bench --startup: start " + std::to_string(index) + " failed (" +
                             (WIFEXITED(status)
                                  ? "exit code " + std::to_string(WEXITSTATUS(status))
                                  : "killed by signal " + std::to_string(WTERMSIG(status))) +
                             "):\n" + text);
  }
  std::ifstream in(result);
  nlohmann::json j = nlohmann::json::parse(in);
  j["process_ms"] = process_ms;  // spawn to exit, teardown included
  return j;
}

double median_of(const std::vector<nlohmann::json>& runs,
                 const std::function<double(const nlohmann::json&)>& f) {
  std::vector<double> v;
  for (const auto& r : runs) v.push_back(f(r));
  return util::median(v);
}

}  // namespace

int run_startup_child(const StartupBenchOptions& o, const std::string& result_json) {
  bench::StartupOptions so;
  so.model = o.model.model;
  so.context = context_options(o.dev);
  so.weights = weight_mode(o.model);
  so.kv = kv_type(o.model);
  so.context_length = o.model.context;
  if (const char* ns = std::getenv(kOriginVar))
    so.origin = Clock::time_point(std::chrono::nanoseconds(std::strtoll(ns, nullptr, 10)));
  const bench::StartupResult r = bench::measure_startup(so);
  if (r.validation_messages) {
    std::fprintf(stderr, "bcvk: error: %zu validation message(s); see above\n",
                 r.validation_messages);
    return 3;
  }
  loaders::write_file_atomically(result_json, to_json(r).dump(2) + "\n");
  return 0;
}

int run_startup_bench(const StartupBenchOptions& o) {
  if (o.reps < 1)
    throw std::invalid_argument("--reps must be at least 1, got " + std::to_string(o.reps));
  if (!std::filesystem::exists(o.model.model))
    throw std::invalid_argument("-m " + o.model.model + ": no such file or directory");
  loaders::check_outputs({{"model", o.model.model}}, {{"--json", o.json_out}});
  const auto work = make_temp_dir();
  struct Cleanup {
    std::filesystem::path p;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(p, ec);
    }
  } cleanup{work};

  std::vector<nlohmann::json> cold, warm;
  const auto start = Clock::now();
  const int total = 2 * o.reps;
  auto report = [&](const char* kind, int done) {
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    const double eta = done ? s / done * (total - done) : 0;
    progress("bench --startup: %s start %d/%d  elapsed %.0f s  ETA %.0f s   ", kind,
             done < o.reps ? done + 1 : done - o.reps + 1, o.reps, s, eta);
  };
  for (int i = 0; i < o.reps; ++i) {
    report("cold", i);
    const auto caches = work / ("caches-" + std::to_string(i));  // empty: nothing on disk yet
    cold.push_back(run_child(o, caches, work, i));
  }
  for (int i = 0; i < o.reps; ++i) {
    report("warm", o.reps + i);
    warm.push_back(run_child(o, work / "caches-0", work, o.reps + i));  // what cold start 1 left
  }
  end_progress();

  const auto& phases = cold[0]["phases"];
  std::printf("\nstartup of %s on %s: time to first token, medians of %d cold and %d warm starts\n",
              o.model.model.c_str(), cold[0]["device"].get<std::string>().c_str(), o.reps, o.reps);
  std::printf(
      "(cold: empty bcvk and Mesa caches; warm: the caches on disk a cold start left; the\n"
      " model file is in the OS page cache in both)\n\n");
  std::printf("%-50s %10s %10s %12s %12s\n", "phase", "cold ms", "warm ms", "cold compile",
              "warm compile");
  for (size_t k = 0; k < phases.size(); ++k) {
    auto ms = [&](const std::vector<nlohmann::json>& runs, const char* field) {
      return median_of(
          runs, [&](const nlohmann::json& r) { return r["phases"][k][field].get<double>(); });
    };
    std::printf("%-50s %10.1f %10.1f %12.1f %12.1f\n", phases[k]["name"].get<std::string>().c_str(),
                ms(cold, "ms"), ms(warm, "ms"), ms(cold, "compile_ms"), ms(warm, "compile_ms"));
  }
  auto med = [&](const std::vector<nlohmann::json>& runs, const char* field) {
    return median_of(runs, [&](const nlohmann::json& r) { return r[field].get<double>(); });
  };
  std::printf("%-50s %10.1f %10.1f\n", "time to first token", med(cold, "time_to_first_token_ms"),
              med(warm, "time_to_first_token_ms"));
  std::printf("%-50s %10.1f %10.1f\n", "whole process (spawn to exit)", med(cold, "process_ms"),
              med(warm, "process_ms"));
  auto compiled = [](const nlohmann::json& r) {
    const int pipelines = r["pipelines"], cached = r["pipelines_cached"],
              reported = r["pipelines_reported"];
    char buf[256];
    std::snprintf(
        buf, sizeof buf,
        "%d of %d FFT plans compiled from GLSL (%.0f ms); %d pipelines created (%.0f ms), "
        "%d reported as pipeline-cache hits%s",
        r["fft_plans_from_source"].get<int>(), r["fft_plans"].get<int>(),
        r["fft_plan_ms"].get<double>(), pipelines, r["pipeline_ms"].get<double>(), cached,
        reported == pipelines ? "" : " (the driver does not report)");
    return std::string(buf);
  };
  std::printf("\ncold start: %s\nwarm start: %s\n", compiled(cold[0]).c_str(),
              compiled(warm.back()).c_str());
  std::printf(
      "bcvk's shaders are SPIR-V built at build time; drivers may still compile SPIR-V to machine\n"
      "code, at pipeline creation or (lavapipe) at the first dispatch, which their own disk cache\n"
      "serves on a warm start: that shows in the phases' times, not in these counts.\n");
  std::printf("peak device memory %s; first token id %d\n",
              vk::format_bytes(warm.back()["peak_device_bytes"].get<uint64_t>()).c_str(),
              warm.back()["first_token"].get<int>());

  if (!o.json_out.empty()) {
    nlohmann::json j = {{"bcvk_version", BCVK_VERSION},
                        {"model", o.model.model},
                        {"weights", model::weight_mode_name(weight_mode(o.model))},
                        {"kv", ops::kv_type_name(kv_type(o.model))},
                        {"reps", o.reps},
                        {"cold", cold},
                        {"warm", warm},
                        {"time_to_first_token_ms",
                         {{"cold_median", med(cold, "time_to_first_token_ms")},
                          {"warm_median", med(warm, "time_to_first_token_ms")}}}};
    loaders::write_file_atomically(o.json_out, j.dump(2) + "\n");
    std::fprintf(stderr, "bench: wrote %s\n", o.json_out.c_str());
  }
  return 0;
}

}  // namespace bcvk::apps
