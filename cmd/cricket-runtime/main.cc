// cricket-runtime: a runc-compatible command line over cricket's embedded runtime (lib/runtime), for
// the OCI runtime-tools validation suite, side-by-side comparisons with runc and crun, and debugging.
//
//   cricket-runtime [--root DIR] [--log FILE] [--log-format text|json] [--systemd-cgroup] [--debug]
//                   COMMAND [flags] ARGS
//
// Exit status: 0 on success, 1 on error (the message on stderr and in --log), the container's exit
// status for `run` and `exec` without --detach.
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "cmd/cricket-runtime/commands.h"
#include "cmd/cricket-runtime/flags.h"
#include "lib/common/logging.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/oci/spec.h"
#include "lib/sys/sealed_exe.h"

namespace cricket::cli {
namespace {

constexpr char kUsage[] =
    "usage: cricket-runtime [global flags] COMMAND [flags] ARGS\n"
    "\n"
    "commands: create, start, run, state, kill, delete, exec, list, ps, pause, resume, update, features\n"
    "global flags: --root DIR, --log FILE, --log-format text|json, --systemd-cgroup, --debug, --version\n";

// Parses a logfmt line (lib/common/logging's format) into key/value pairs.
std::map<std::string, std::string> ParseLogfmt(std::string_view line) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ') ++i;
    size_t eq = line.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(line.substr(i, eq - i));
    i = eq + 1;
    std::string value;
    if (i < line.size() && line[i] == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size()) {
          ++i;
          value += line[i] == 'n' ? '\n' : line[i] == 't' ? '\t' : line[i];
        } else {
          value += line[i];
        }
      }
      ++i;
    } else {
      size_t end = line.find(' ', i);
      if (end == std::string_view::npos) end = line.size();
      value = std::string(line.substr(i, end - i));
      i = end;
    }
    out[key] = value;
  }
  return out;
}

// Log lines go to stderr and, with --log, to that file (as JSON with --log-format=json, the form
// runc writes and CRI-O/conmon read back for error messages).
void SetupLogging(const std::string& file, bool json) {
  FILE* f = file.empty() ? nullptr : fopen(file.c_str(), "ae");
  log::SetSink([f, json](std::string_view line) {
    fwrite(line.data(), 1, line.size(), stderr);
    if (f == nullptr) return;
    if (!json) {
      fwrite(line.data(), 1, line.size(), f);
    } else {
      auto kv = ParseLogfmt(TrimSpace(line));
      nlohmann::json j;
      j["level"] = kv["level"] == "warn" ? "warning" : kv["level"];
      std::string msg = kv["msg"];
      for (const auto& [k, v] : kv) {
        if (k != "time" && k != "level" && k != "msg" && k != "component") StrAppend(&msg, " ", k, "=", v);
      }
      j["msg"] = msg;
      j["time"] = kv["time"];
      std::string out = j.dump() + "\n";
      fwrite(out.data(), 1, out.size(), f);
    }
    fflush(f);
  });
}

int Main(int argc, char** argv) {
  Args args(argv, argv + argc);
  std::vector<FlagSpec> global = {
      {"root", "", false},          {"log", "", false},  {"log-format", "", false},
      {"systemd-cgroup", "", true}, {"debug", "", true}, {"version", "v", true},
      {"help", "h", true},          {"criu", "", false}, {"rootless", "", false}};
  auto g = ParseFlags(args, 1, global);
  if (!g.ok()) {
    fprintf(stderr, "cricket-runtime: %s\n%s", std::string(g.status().message()).c_str(), kUsage);
    return 1;
  }
  if (g->Bool("version")) {
    printf("cricket-runtime version 0.1.0\nspec: %s\n", std::string(oci::kOciVersion).c_str());
    return 0;
  }
  if (g->Bool("help") || g->positional.empty()) {
    fputs(kUsage, g->positional.empty() && !g->Bool("help") ? stderr : stdout);
    return g->Bool("help") ? 0 : 1;
  }
  SetupLogging(g->Get("log"), g->Get("log-format") == "json");
  if (g->Bool("debug")) log::SetLevel(log::Level::kDebug);
  const std::string cmd = g->positional[0];
  // Commands that clone processes into a container run from a sealed copy of this binary, so that a
  // container can never reach (and overwrite) the binary on the host (CVE-2019-5736).
  if (cmd == "create" || cmd == "run" || cmd == "exec") {
    absl::Status sealed = sys::ReexecFromSealedCopy(argv);
    if (!sealed.ok()) {
      log::Error("cricket-runtime", ToStd(sealed.message()));
      return 1;
    }
  }
  // The command's own arguments start after the command name.
  const size_t begin = g->first_positional + 1;
  absl::StatusOr<int> rc;
  if (cmd == "features") {
    rc = CmdFeatures(args, begin);
  } else {
    runtime::RuntimeOptions ro;
    ro.root = g->Get("root", "/run/cricket-runtime");
    ro.systemd_cgroup = g->Bool("systemd-cgroup");
    auto rt = runtime::Runtime::Open(ro);
    if (!rt.ok()) {
      log::Error("cricket-runtime", ToStd(rt.status().message()));
      return 1;
    }
    using Fn = absl::StatusOr<int> (*)(runtime::Runtime&, const Args&, size_t);
    static const std::pair<const char*, Fn> kCommands[] = {
        {"create", CmdCreate}, {"run", CmdRun},       {"start", CmdStart},   {"state", CmdState},
        {"kill", CmdKill},     {"delete", CmdDelete}, {"list", CmdList},     {"ps", CmdPs},
        {"pause", CmdPause},   {"resume", CmdResume}, {"update", CmdUpdate}, {"exec", CmdExec}};
    Fn fn = nullptr;
    for (const auto& [name, f] : kCommands) {
      if (cmd == name) fn = f;
    }
    if (fn == nullptr) {
      log::Error("cricket-runtime", StrCat("no such command: ", cmd));
      return 1;
    }
    rc = fn(*rt, args, begin);
  }
  if (!rc.ok()) {
    log::Error("cricket-runtime", ToStd(rc.status().message()));
    return 1;
  }
  return *rc;
}

}  // namespace
}  // namespace cricket::cli

int main(int argc, char** argv) { return cricket::cli::Main(argc, argv); }
