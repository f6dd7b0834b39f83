// cricketd: the CRI daemon.
//   cricketd [flags]            serve CRI on the socket
//   cricketd [flags] config     print the effective configuration as commented TOML
//   cricketd [flags] check [--repair]   verify the image store (exit 0: clean, 1: problems remain)
//   cricketd version            print the version
#include <cstdio>
#include <string>
#include <string_view>

#include "lib/common/logging.h"
#include "lib/common/memory.h"
#include "lib/common/strings.h"
#include "lib/storage/store.h"
#include "server/build_info.h"
#include "server/config.h"
#include "server/daemon.h"

namespace {

using cricket::StrCat;

constexpr char kUsage[] =
    "Usage: cricketd [flags] [command]\n"
    "\n"
    "Commands:\n"
    "  (none)     serve the CRI API on the socket\n"
    "  config     print the effective configuration as commented TOML\n"
    "  check      verify every stored layer, image and blob against its digest (the daemon must not be\n"
    "             running on the same root); --repair removes or rewrites what is damaged. Exit status 0\n"
    "             when the store is sound, 1 when problems remain\n"
    "  version    print the version\n"
    "\n"
    "Flags:\n"
    "  --config PATH       configuration file (default /etc/cricket/cricket.conf)\n"
    "  --config-dir DIR    drop-in directory, *.conf in lexical order (default /etc/cricket/cricket.conf.d)\n"
    "  --listen PATH       CRI socket (default /run/cricket/cricket.sock)\n"
    "  --root DIR          image and container storage (default /var/lib/cricket)\n"
    "  --runroot DIR       runtime state (default /run/cricket)\n"
    "  --log-level LEVEL   trace, debug, info, warn, error or fatal\n";

struct Args {
  cricket::server::ConfigSources sources;
  cricket::server::ConfigOverrides overrides;
  std::string command;
  bool repair = false;  // check --repair
};

int UsageError(const std::string& msg) {
  fprintf(stderr, "cricketd: %s\n\n%s", msg.c_str(), kUsage);
  return 2;
}

// Returns an exit code when parsing ends the program (help or error), or -1 to continue.
int ParseArgs(int argc, char** argv, Args& args) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      fputs(kUsage, stdout);
      return 0;
    }
    if (!arg.starts_with("-")) {
      if (!args.command.empty()) return UsageError(StrCat("unexpected argument \"", arg, "\""));
      args.command = std::string(arg);
      continue;
    }
    if (arg == "--repair") {
      args.repair = true;
      continue;
    }
    std::string name(arg);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    std::string* target = nullptr;
    if (name == "--config") {
      target = &args.sources.config_file;
      args.sources.config_file_required = true;
    } else if (name == "--config-dir") {
      target = &args.sources.config_dir;
    } else if (name == "--listen") {
      target = &args.overrides.listen;
    } else if (name == "--root") {
      target = &args.overrides.root;
    } else if (name == "--runroot") {
      target = &args.overrides.runroot;
    } else if (name == "--log-level") {
      target = &args.overrides.log_level;
    } else {
      return UsageError(StrCat("unknown flag ", name));
    }
    if (!has_value) {
      if (i + 1 >= argc) return UsageError(StrCat(name, " needs a value"));
      value = argv[++i];
    }
    *target = value;
  }
  return -1;
}

// `cricketd check [--repair]`: opens the store (refused while a daemon holds its lock), verifies it and
// prints the report. After a repair the store is checked again, so the exit status says whether
// problems remain.
int CheckStore(const cricket::server::Config& config, bool repair) {
  using namespace cricket;
  storage::StoreOptions options;
  options.root = config.ImageStoreDir();
  auto store = storage::Store::Open(options);
  if (!store.ok()) {
    fprintf(stderr, "cricketd check: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  printf("checking %s%s\n", options.root.c_str(), repair ? " (repair)" : "");
  auto report = (*store)->Check(repair);
  if (!report.ok()) {
    fprintf(stderr, "cricketd check: %s\n", std::string(report.status().message()).c_str());
    return 1;
  }
  for (const std::string& p : report->problems) printf("problem: %s\n", p.c_str());
  for (const std::string& l : report->damaged_layers) printf("damaged layer: %s\n", l.c_str());
  for (const std::string& i : report->damaged_images) printf("damaged image: %s\n", i.c_str());
  for (const std::string& r : report->repaired) printf("repaired: %s\n", r.c_str());
  if (repair && !report->ok()) {
    report = (*store)->Check(false);
    if (!report.ok()) {
      fprintf(stderr, "cricketd check: %s\n", std::string(report.status().message()).c_str());
      return 1;
    }
    for (const std::string& p : report->problems) printf("remaining problem: %s\n", p.c_str());
  }
  printf("%s\n", report->ok() ? "ok: no problems" : StrCat(report->problems.size(), " problem(s)").c_str());
  return report->ok() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cricket;
  // Before anything can start a thread: the daemon waits for these signals with sigwait.
  server::BlockDaemonSignals();
  TuneAllocatorForDaemon();

  Args args;
  if (int rc = ParseArgs(argc, argv, args); rc >= 0) return rc;
  if (args.command == "version") {
    printf("cricketd version %s\n", server::kBuildVersion);
    return 0;
  }
  if (!args.command.empty() && args.command != "config" && args.command != "check") {
    return UsageError(StrCat("unknown command \"", args.command, "\""));
  }
  if (args.repair && args.command != "check") return UsageError("--repair is a flag of the check command");

  std::vector<server::ConfigWarning> warnings;
  auto config = server::LoadConfig(args.sources, args.overrides, &warnings);
  for (const auto& w : warnings) log::Warn("config", w.ToString());
  if (!config.ok()) {
    log::Error("config", "invalid configuration", {{"error", std::string(config.status().message())}});
    fprintf(stderr, "cricketd: %s\n", std::string(config.status().message()).c_str());
    return 1;
  }
  if (args.command == "config") {
    fputs(server::FormatConfigToml(*config).c_str(), stdout);
    return 0;
  }
  log::SetLevel(*log::ParseLevel(config->runtime.log_level));
  if (args.command == "check") return CheckStore(*config, args.repair);

  server::Daemon daemon(*std::move(config), args.sources, args.overrides);
  absl::Status st = daemon.Run();
  if (!st.ok()) {
    log::Error("server", "cricketd failed", {{"error", std::string(st.message())}});
    fprintf(stderr, "cricketd: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  return 0;
}
