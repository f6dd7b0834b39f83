#include "lib/runtime/pod_namespaces.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"
#include "lib/runtime/plan_builder.h"
#include "lib/sys/namespace_pin.h"

namespace cricket::runtime {

absl::StatusOr<std::string> SysctlNamespace(const std::string& name) {
  std::string n = name;
  if (n.find('/') != std::string::npos) std::replace(n.begin(), n.end(), '/', '.');
  if (n.starts_with("net.")) return std::string("net");
  if (n == "kernel.sem" || n.starts_with("kernel.shm") || n.starts_with("kernel.msg") ||
      n.starts_with("fs.mqueue.")) {
    return std::string("ipc");
  }
  return absl::InvalidArgumentError(StrCat("sysctl \"", name, "\" is not namespaced"));
}

namespace {

// Writes `value` to /proc/sys/<path> from the calling thread, so into its namespaces.
absl::Status WriteSysctl(const std::string& name, const std::string& path, const std::string& value) {
  return Annotate(WriteKernelFile(path, value), StrCat("sysctl \"", name, "\""));
}

}  // namespace

absl::Status ApplyPodNamespaceSettings(const PodNamespaceSettings& s) {
  if (!s.utsns_path.empty() && !s.hostname.empty()) {
    RETURN_IF_ERROR(sys::RunInNamespace(s.utsns_path, sys::NamespaceType::kUts, [&]() -> absl::Status {
      if (sethostname(s.hostname.data(), s.hostname.size()) != 0) {
        return ErrnoError("set the hostname", s.hostname);
      }
      return absl::OkStatus();
    }));
  }
  // Grouped by namespace: one thread per namespace.
  std::map<std::string, std::map<std::string, std::string>> by_ns;
  for (const auto& [name, value] : s.sysctls) {
    ASSIGN_OR_RETURN(std::string ns, SysctlNamespace(name));
    by_ns[ns][name] = value;
  }
  for (const auto& [ns, sysctls] : by_ns) {
    const std::string& path = ns == "net" ? s.netns_path : s.ipcns_path;
    if (path.empty()) {
      return absl::InvalidArgumentError(StrCat("sysctl \"", sysctls.begin()->first,
                                               "\" would change the host's ", ns == "net" ? "network" : "IPC",
                                               " namespace"));
    }
    std::vector<std::pair<std::string, std::string>> paths;  // name → /proc/sys path, checked first
    for (const auto& [name, value] : sysctls) {
      ASSIGN_OR_RETURN(std::string p, SysctlPath(name));
      paths.emplace_back(name, std::move(p));
    }
    RETURN_IF_ERROR(sys::RunInNamespace(
        path, ns == "net" ? sys::NamespaceType::kNet : sys::NamespaceType::kIpc, [&]() -> absl::Status {
          for (const auto& [name, p] : paths) RETURN_IF_ERROR(WriteSysctl(name, p, sysctls.at(name)));
          return absl::OkStatus();
        }));
  }
  return absl::OkStatus();
}

}  // namespace cricket::runtime
