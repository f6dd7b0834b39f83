#include "conmon/protocol.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::conmon {
namespace {

struct Arg {
  std::string_view name;
  std::string_view value;
  bool has_value = false;
};

std::optional<Arg> SplitArg(std::string_view a) {
  if (!a.starts_with("--") || a.size() == 2) return std::nullopt;
  a.remove_prefix(2);
  Arg out;
  if (auto kv = SplitOnce(a, '=')) {
    out.name = kv->first;
    out.value = kv->second;
    out.has_value = true;
  } else {
    out.name = a;
  }
  return out;
}

absl::Status NeedAbsolute(std::string_view flag, const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError(StrCat("--", flag, " is required"));
  if (path[0] != '/')
    return absl::InvalidArgumentError(StrCat("--", flag, " must be an absolute path: ", path));
  return absl::OkStatus();
}

// Sets the string member `name` points at, or the boolean one; false when `name` is unknown.
absl::Status ApplyArg(MonitorConfig& c, const Arg& a) {
  struct StringFlag {
    std::string_view name;
    std::string MonitorConfig::*member;
  };
  static constexpr StringFlag kStrings[] = {
      {"id", &MonitorConfig::id},
      {"runtime-root", &MonitorConfig::runtime_root},
      {"bundle", &MonitorConfig::bundle},
      {"log-path", &MonitorConfig::log_path},
      {"exits-dir", &MonitorConfig::exits_dir},
      {"attach-socket", &MonitorConfig::attach_socket},
      {"control-socket", &MonitorConfig::control_socket},
      {"log-level", &MonitorConfig::log_level},
      {"cgroup-layout", &MonitorConfig::cgroup_layout},
  };
  struct BoolFlag {
    std::string_view name;
    bool MonitorConfig::*member;
  };
  static constexpr BoolFlag kBools[] = {
      {"systemd-cgroup", &MonitorConfig::systemd_cgroup},
      {"no-pivot", &MonitorConfig::no_pivot},
      {"terminal", &MonitorConfig::terminal},
      {"stdin", &MonitorConfig::stdin},
      {"stdin-once", &MonitorConfig::stdin_once},
  };
  for (const auto& f : kStrings) {
    if (a.name != f.name) continue;
    if (!a.has_value)
      return absl::InvalidArgumentError(StrCat("--", a.name, " needs a value (--", a.name, "=...)"));
    c.*f.member = std::string(a.value);
    return absl::OkStatus();
  }
  for (const auto& f : kBools) {
    if (a.name != f.name) continue;
    if (a.has_value) return absl::InvalidArgumentError(StrCat("--", a.name, " takes no value"));
    c.*f.member = true;
    return absl::OkStatus();
  }
  if (a.name == "cgroup-procs" && a.has_value) {
    c.cgroup_procs.emplace_back(a.value);
    return absl::OkStatus();
  }
  if (a.name == "log-size-max" && a.has_value) {
    auto v = ParseInt64(a.value);
    if (!v && a.value.starts_with("-")) {
      v = ParseInt64(a.value.substr(1));
      if (v) *v = -*v;
    }
    if (!v) return absl::InvalidArgumentError(StrCat("--log-size-max: not an integer: ", a.value));
    c.log_size_max = *v;
    return absl::OkStatus();
  }
  if (a.name == "startup-fd" && a.has_value) {
    auto v = ParseInt64(a.value);
    if (!v || *v < 3 || *v > 1 << 20) {
      return absl::InvalidArgumentError(StrCat("--startup-fd: not a descriptor number >= 3: ", a.value));
    }
    c.startup_fd = static_cast<int>(*v);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(StrCat("unknown or malformed argument --", a.name));
}

absl::Status Validate(const MonitorConfig& c) {
  if (c.id.empty()) return absl::InvalidArgumentError("--id is required");
  if (c.id.find('/') != std::string::npos || c.id == "." || c.id == "..") {
    return absl::InvalidArgumentError(StrCat("--id: not a container id: ", c.id));
  }
  RETURN_IF_ERROR(NeedAbsolute("runtime-root", c.runtime_root));
  RETURN_IF_ERROR(NeedAbsolute("bundle", c.bundle));
  RETURN_IF_ERROR(NeedAbsolute("log-path", c.log_path));
  RETURN_IF_ERROR(NeedAbsolute("exits-dir", c.exits_dir));
  RETURN_IF_ERROR(NeedAbsolute("attach-socket", c.attach_socket));
  RETURN_IF_ERROR(NeedAbsolute("control-socket", c.control_socket));
  for (const auto& p : c.cgroup_procs) RETURN_IF_ERROR(NeedAbsolute("cgroup-procs", p));
  if (c.stdin_once && !c.stdin) return absl::InvalidArgumentError("--stdin-once needs --stdin");
  if (c.attach_socket == c.control_socket) {
    return absl::InvalidArgumentError("--attach-socket and --control-socket must differ");
  }
  return absl::OkStatus();
}

// Minimal JSON string escaping for the exit file (ids are restricted, but never trust that here).
void AppendJsonString(std::string* out, std::string_view s) {
  out->push_back('"');
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (c < 0x20) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\u%04x", c);
      out->append(buf);
    } else {
      out->push_back(ch);
    }
  }
  out->push_back('"');
}

absl::Status FillAddress(const std::string& path, sockaddr_un* addr, UniqueFd* dir_fd) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof(addr->sun_path)) {
    std::string dir = DirName(path);
    std::string base = BaseName(path);
    dir_fd->reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_fd->valid()) return ErrnoError("open socket directory", dir);
    target = StrCat("/proc/self/fd/", dir_fd->get(), "/", base);
    if (target.size() >= sizeof(addr->sun_path)) {
      return absl::InvalidArgumentError(StrCat("socket name too long: ", path));
    }
  }
  memcpy(addr->sun_path, target.c_str(), target.size() + 1);
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> MonitorArgs(const MonitorConfig& c) {
  std::vector<std::string> a = {
      StrCat("--id=", c.id),
      StrCat("--runtime-root=", c.runtime_root),
      StrCat("--bundle=", c.bundle),
      StrCat("--log-path=", c.log_path),
      StrCat("--log-size-max=", c.log_size_max),
      StrCat("--exits-dir=", c.exits_dir),
      StrCat("--attach-socket=", c.attach_socket),
      StrCat("--control-socket=", c.control_socket),
      StrCat("--log-level=", c.log_level),
  };
  if (c.systemd_cgroup) a.push_back("--systemd-cgroup");
  if (c.no_pivot) a.push_back("--no-pivot");
  if (c.terminal) a.push_back("--terminal");
  if (c.stdin) a.push_back("--stdin");
  if (c.stdin_once) a.push_back("--stdin-once");
  if (c.startup_fd >= 0) a.push_back(StrCat("--startup-fd=", c.startup_fd));
  for (const auto& p : c.cgroup_procs) a.push_back(StrCat("--cgroup-procs=", p));
  if (!c.cgroup_layout.empty()) a.push_back(StrCat("--cgroup-layout=", c.cgroup_layout));
  return a;
}

absl::StatusOr<MonitorConfig> ParseMonitorArgs(const std::vector<std::string>& args) {
  MonitorConfig c;
  for (const auto& s : args) {
    auto a = SplitArg(s);
    if (!a) return absl::InvalidArgumentError(StrCat("unexpected argument \"", s, "\""));
    RETURN_IF_ERROR(ApplyArg(c, *a));
  }
  RETURN_IF_ERROR(Validate(c));
  return c;
}

std::string FormatStartupOk(const StartupResult& r) { return StrCat("ok ", r.pid, " ", r.start_time, "\n"); }

std::string FormatStartupError(const absl::Status& status) {
  return StrCat("error ", static_cast<int>(status.code()), " ", ToStd(status.message()));
}

absl::StatusOr<StartupResult> ParseStartupReport(std::string_view report) {
  if (report.empty()) {
    return absl::InternalError("cricket-conmon exited before reporting whether the container was created");
  }
  if (report.starts_with("ok ")) {
    std::string_view rest = TrimSpace(report.substr(3));
    auto parts = SplitOnce(rest, ' ');
    auto pid = parts ? ParseInt64(parts->first) : std::nullopt;
    auto start = parts ? ParseUint64(parts->second) : std::nullopt;
    if (!pid || *pid <= 0 || *pid > INT32_MAX || !start) {
      return absl::InternalError(StrCat("malformed start-up report from cricket-conmon: \"", report, "\""));
    }
    return StartupResult{static_cast<pid_t>(*pid), *start};
  }
  if (report.starts_with("error ")) {
    std::string_view rest = report.substr(6);
    auto parts = SplitOnce(rest, ' ');
    auto code = parts ? ParseInt64(parts->first) : std::nullopt;
    if (code && *code > 0 && *code <= 16) {
      return absl::Status(static_cast<absl::StatusCode>(*code), ToAbsl(parts->second));
    }
  }
  return absl::InternalError(StrCat("malformed start-up report from cricket-conmon: \"", report, "\""));
}

std::string EncodeMessage(uint8_t type, std::string_view payload) {
  std::string m(1, static_cast<char>(type));
  m.append(payload);
  return m;
}

std::string EncodeResize(uint8_t type, WindowSize size) {
  char p[4] = {static_cast<char>(size.width & 0xff), static_cast<char>(size.width >> 8),
               static_cast<char>(size.height & 0xff), static_cast<char>(size.height >> 8)};
  return EncodeMessage(type, std::string_view(p, 4));
}

std::optional<WindowSize> DecodeWindowSize(std::string_view p) {
  if (p.size() != 4) return std::nullopt;
  auto b = [&](size_t i) { return static_cast<uint16_t>(static_cast<unsigned char>(p[i])); };
  return WindowSize{static_cast<uint16_t>(b(0) | b(1) << 8), static_cast<uint16_t>(b(2) | b(3) << 8)};
}

std::string EncodeControlReply(const absl::Status& status) {
  std::string m(1, static_cast<char>(static_cast<int>(status.code())));
  std::string_view msg = ToStd(status.message());
  m.append(msg.substr(0, kMaxPayload));
  return m;
}

absl::Status DecodeControlReply(std::string_view reply) {
  if (reply.empty()) return absl::InternalError("empty reply from cricket-conmon");
  int code = static_cast<unsigned char>(reply[0]);
  if (code == 0) return absl::OkStatus();
  if (code > 16) return absl::InternalError(StrCat("malformed reply from cricket-conmon (code ", code, ")"));
  return absl::Status(static_cast<absl::StatusCode>(code), ToAbsl(reply.substr(1)));
}

std::string FormatExitRecord(const ExitRecord& r) {
  std::string out = "{\"id\":";
  AppendJsonString(&out, r.id);
  StrAppend(&out, ",\"pid\":", r.pid, ",\"exit_code\":", r.exit_code, ",\"signal\":", r.signal,
            ",\"exited_at\":", r.exited_at, ",\"oom_killed\":", r.oom_killed ? "true" : "false", "}\n");
  return out;
}

absl::StatusOr<ExitRecord> ParseExitRecord(std::string_view text, std::string_view what) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(text, what));
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(what, ": not a JSON object"));
  ExitRecord r;
  auto field = [&](const char* name) -> const nlohmann::json* {
    auto it = j.find(name);
    return it == j.end() ? nullptr : &*it;
  };
  const nlohmann::json* id = field("id");
  if (id == nullptr || !id->is_string())
    return absl::InvalidArgumentError(StrCat(what, ": \"id\" must be a string"));
  r.id = id->get<std::string>();
  struct IntField {
    const char* name;
    int64_t* out;
  };
  int64_t pid = 0, code = 0, sig = 0;
  for (IntField f : {IntField{"pid", &pid}, IntField{"exit_code", &code}, IntField{"signal", &sig},
                     IntField{"exited_at", &r.exited_at}}) {
    const nlohmann::json* v = field(f.name);
    if (v == nullptr || !v->is_number_integer()) {
      return absl::InvalidArgumentError(StrCat(what, ": \"", f.name, "\" must be an integer"));
    }
    *f.out = v->get<int64_t>();
  }
  if (code < 0 || code > 255) return absl::InvalidArgumentError(StrCat(what, ": \"exit_code\" out of range"));
  if (sig < 0 || sig > 64) return absl::InvalidArgumentError(StrCat(what, ": \"signal\" out of range"));
  r.pid = static_cast<pid_t>(pid);
  r.exit_code = static_cast<int>(code);
  r.signal = static_cast<int>(sig);
  const nlohmann::json* oom = field("oom_killed");
  if (oom == nullptr || !oom->is_boolean()) {
    return absl::InvalidArgumentError(StrCat(what, ": \"oom_killed\" must be a boolean"));
  }
  r.oom_killed = oom->get<bool>();
  return r;
}

absl::StatusOr<UniqueFd> ListenUnixSocket(const std::string& path, int type, mode_t mode) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  RETURN_IF_ERROR(FillAddress(path, &addr, &dir_fd));
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return ErrnoError("create socket for", path);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("remove stale socket", path);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    return ErrnoError("bind", path);
  if (::chmod(path.c_str(), mode) != 0) return ErrnoError("chmod", path);
  if (::listen(fd.get(), 16) != 0) return ErrnoError("listen on", path);
  return fd;
}

absl::StatusOr<UniqueFd> ConnectUnixSocket(const std::string& path, int type) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  RETURN_IF_ERROR(FillAddress(path, &addr, &dir_fd));
  UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
  if (!fd) return ErrnoError("create socket for", path);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return ErrnoError("connect to", path);
  return fd;
}

}  // namespace cricket::conmon
