// The lifecycle commands: create, run, start, state, kill, delete, list, ps, pause, resume.
#include "cmd/cricket-runtime/commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "cmd/cricket-runtime/flags.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/oci/state.h"

namespace cricket::cli {
namespace {

absl::StatusOr<std::string> OneId(const ParsedArgs& p, std::string_view cmd) {
  if (p.positional.size() != 1) {
    return absl::InvalidArgumentError(StrCat("\"", cmd, "\" requires exactly 1 argument (the container id)"));
  }
  return p.positional[0];
}

const std::vector<FlagSpec> kCreateFlags = {
    {"bundle", "b", false},      {"pid-file", "", false}, {"console-socket", "", false},
    {"preserve-fds", "", false}, {"no-pivot", "", true},  {"no-new-keyring", "", true},
    {"detach", "d", true},       {"keep", "", true},      {"no-subreaper", "", true}};

absl::StatusOr<runtime::CreateOptions> CreateOptionsFrom(const ParsedArgs& p) {
  runtime::CreateOptions o;
  o.bundle = p.Get("bundle", ".");
  o.pid_file = p.Get("pid-file");
  o.console_socket = p.Get("console-socket");
  o.no_pivot = p.Bool("no-pivot");
  if (p.Has("preserve-fds")) {
    auto n = ParseInt64(p.Get("preserve-fds"));
    if (!n || *n < 0 || *n > 1000) return absl::InvalidArgumentError("--preserve-fds: expected a count");
    for (int i = 0; i < *n; ++i) o.extra_fds.push_back(3 + i);
  }
  // LISTEN_FDS (socket activation) are passed on as well, as runc does.
  if (const char* lf = getenv("LISTEN_FDS"); lf != nullptr && o.extra_fds.empty()) {
    if (auto n = ParseInt64(lf); n && *n > 0 && *n < 1000) {
      for (int i = 0; i < *n; ++i) o.extra_fds.push_back(3 + i);
    }
  }
  o.stdio[0] = 0;
  o.stdio[1] = 1;
  o.stdio[2] = 2;
  return o;
}

}  // namespace

absl::StatusOr<int> ParseSignal(const std::string& s) {
  if (auto n = ParseInt64(s)) {
    if (*n <= 0 || *n >= NSIG) return absl::InvalidArgumentError(StrCat("invalid signal \"", s, "\""));
    return static_cast<int>(*n);
  }
  std::string name = ToUpper(s);
  if (name.starts_with("SIG")) name = name.substr(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = sigabbrev_np(sig);
    if (abbrev != nullptr && name == abbrev) return sig;
  }
  if (name.starts_with("RTMIN+")) {
    if (auto n = ParseInt64(name.substr(6)); n && SIGRTMIN + *n <= SIGRTMAX)
      return SIGRTMIN + static_cast<int>(*n);
  }
  return absl::InvalidArgumentError(StrCat("unknown signal \"", s, "\""));
}

absl::StatusOr<int> CmdCreate(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, kCreateFlags));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "create"));
  ASSIGN_OR_RETURN(runtime::CreateOptions o, CreateOptionsFrom(p));
  ASSIGN_OR_RETURN(runtime::Container c, rt.Create(id, o));
  // The init outlives this command: it is re-parented to our parent or init when we exit.
  (void)c;
  return 0;
}

absl::StatusOr<int> CmdRun(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, kCreateFlags));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "run"));
  ASSIGN_OR_RETURN(runtime::CreateOptions o, CreateOptionsFrom(p));
  const bool detach = p.Bool("detach");
  ASSIGN_OR_RETURN(runtime::Container c, rt.Create(id, o));
  if (c.console && detach) {
    (void)rt.Delete(id, true);
    return absl::InvalidArgumentError("cannot allocate a tty when detaching without --console-socket");
  }
  absl::Status started = rt.Start(id);
  if (!started.ok()) {
    (void)rt.Delete(id, true);
    return started;
  }
  if (detach) return 0;
  absl::StatusOr<int> code = WaitForwarding(c.pidfd, c.console ? c.console.get() : -1);
  if (!p.Bool("keep")) {
    absl::Status d = rt.Delete(id, true);
    if (!d.ok() && code.ok()) return d;
  }
  return code;
}

absl::StatusOr<int> CmdStart(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "start"));
  RETURN_IF_ERROR(rt.Start(id));
  return 0;
}

absl::StatusOr<int> CmdState(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "state"));
  ASSIGN_OR_RETURN(oci::State s, rt.State(id));
  printf("%s\n", oci::SerializeState(s, 2).c_str());
  return 0;
}

absl::StatusOr<int> CmdKill(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {{"all", "a", true}, {"signal", "s", false}}));
  if (p.positional.empty() || p.positional.size() > 2) {
    return absl::InvalidArgumentError("usage: kill [--all] <container-id> [signal]");
  }
  std::string sig = p.positional.size() == 2 ? p.positional[1] : p.Get("signal", "SIGTERM");
  ASSIGN_OR_RETURN(int signal, ParseSignal(sig));
  RETURN_IF_ERROR(rt.Kill(p.positional[0], signal, p.Bool("all")));
  return 0;
}

absl::StatusOr<int> CmdDelete(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {{"force", "f", true}}));
  if (p.positional.empty()) return absl::InvalidArgumentError("\"delete\" requires at least 1 argument");
  for (const std::string& id : p.positional) {
    absl::Status s = rt.Delete(id, p.Bool("force"));
    // runc: deleting a container that does not exist is an error without --force.
    if (!s.ok() && !(absl::IsNotFound(s) && p.Bool("force"))) return s;
  }
  return 0;
}

absl::StatusOr<int> CmdList(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {{"format", "f", false}, {"quiet", "q", true}}));
  ASSIGN_OR_RETURN(auto states, rt.List());
  if (p.Bool("quiet")) {
    for (const auto& s : states) printf("%s\n", s.id.c_str());
    return 0;
  }
  if (p.Get("format", "table") == "json") {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : states) arr.push_back(oci::StateToJson(s));
    printf("%s\n", arr.dump().c_str());
    return 0;
  }
  printf("%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& s : states) {
    printf("%-20s %-8d %-10s %-40s %-30s %s\n", s.id.c_str(), s.pid,
           std::string(oci::ContainerStatusName(s.status)).c_str(), s.bundle.c_str(),
           FormatRFC3339Nano(s.created_ns).c_str(), s.owner.empty() ? "root" : s.owner.c_str());
  }
  return 0;
}

absl::StatusOr<int> CmdPs(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {{"format", "f", false}}));
  if (p.positional.empty()) return absl::InvalidArgumentError("\"ps\" requires the container id");
  ASSIGN_OR_RETURN(auto pids, rt.Pids(p.positional[0]));
  if (p.Get("format", "table") == "json") {
    printf("%s\n", nlohmann::json(pids).dump().c_str());
    return 0;
  }
  // Like runc: the table is ps(1)'s, restricted to the container's processes.
  std::vector<std::string> list;
  for (pid_t pid : pids) list.push_back(StrCat(pid));
  if (list.empty()) return 0;
  fflush(stdout);
  std::string joined = Join(list, ",");
  std::vector<std::string> ps_args = {"ps", "-f", "-p", joined};
  for (size_t i = 1; i < p.positional.size(); ++i) ps_args.push_back(p.positional[i]);
  std::vector<char*> argv;
  for (auto& a : ps_args) argv.push_back(a.data());
  argv.push_back(nullptr);
  execvp("ps", argv.data());
  return ErrnoError("exec", "ps");
}

absl::StatusOr<int> CmdPause(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "pause"));
  RETURN_IF_ERROR(rt.Pause(id));
  return 0;
}

absl::StatusOr<int> CmdResume(runtime::Runtime& rt, const Args& args, size_t begin) {
  ASSIGN_OR_RETURN(ParsedArgs p, ParseFlags(args, begin, {}));
  ASSIGN_OR_RETURN(std::string id, OneId(p, "resume"));
  RETURN_IF_ERROR(rt.Resume(id));
  return 0;
}

}  // namespace cricket::cli
