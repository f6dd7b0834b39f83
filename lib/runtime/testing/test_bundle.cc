#include "lib/runtime/testing/test_bundle.h"

#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/oci/default_spec.h"
#include "lib/sys/subprocess.h"

namespace cricket::runtime::testing {
namespace {

absl::Status MakeRootfs(const std::string& rootfs) {
  RETURN_IF_ERROR(MkdirAll(rootfs + "/bin"));
  for (const char* d : {"/proc", "/sys", "/dev", "/etc", "/tmp", "/root"})
    RETURN_IF_ERROR(MkdirAll(rootfs + d));
  ASSIGN_OR_RETURN(std::string binary, ReadFile(kBusybox, 16 << 20));
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/bin/busybox", binary, 0755));
  sys::Command list{kBusybox, {kBusybox, "--list"}, {}, ""};
  ASSIGN_OR_RETURN(sys::RunResult r, sys::RunProcess(list));
  if (!r.status.success()) return absl::InternalError("busybox --list failed");
  for (std::string_view applet : Split(r.stdout_data, '\n')) {
    if (applet.empty() || applet == "busybox") continue;
    std::string link = StrCat(rootfs, "/bin/", applet);
    if (::symlink("busybox", link.c_str()) != 0 && errno != EEXIST) return ErrnoError("symlink", link);
  }
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
  RETURN_IF_ERROR(WriteFileAtomic(rootfs + "/etc/group", "root:x:0:\n"));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TestBundle> TestBundle::Create() {
  char tmpl[] = "/tmp/cricket-bundle-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return ErrnoError("mkdtemp", tmpl);
  TestBundle b;
  b.dir_ = tmpl;
  RETURN_IF_ERROR(MakeRootfs(b.rootfs()));
  oci::DefaultSpecOptions opts;
  opts.capabilities = {"CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
                       "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
                       "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
                       "CAP_KILL",    "CAP_AUDIT_WRITE"};
  ASSIGN_OR_RETURN(b.spec_, oci::DefaultSpec(opts));
  b.spec_.process->args = {"true"};
  b.spec_.hostname = "cricket-test";
  RETURN_IF_ERROR(b.WriteSpec());
  return b;
}

TestBundle::TestBundle(TestBundle&& other) noexcept
    : dir_(std::move(other.dir_)), spec_(std::move(other.spec_)) {
  other.dir_.clear();
}

TestBundle::~TestBundle() {
  if (dir_.empty()) return;
  absl::Status s = RemoveAll(dir_);
  if (!s.ok()) log::Warn("test", "remove bundle", {{"error", s}});
}

absl::Status TestBundle::WriteSpec() const {
  return WriteFileAtomic(dir_ + "/config.json", oci::SerializeSpec(spec_, 2));
}

void TestBundle::SetScript(const std::string& script) { spec_.process->args = {"sh", "-c", script}; }

absl::StatusOr<TempDir> TempDir::Create(const std::string& prefix) {
  std::string tmpl = StrCat("/tmp/", prefix, "-XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) return ErrnoError("mkdtemp", tmpl);
  return TempDir(tmpl);
}

TempDir::~TempDir() {
  if (!path_.empty()) (void)RemoveAll(path_);
}

std::vector<int> ChildrenOfSelf() {
  std::vector<int> out;
  auto text = ReadFile(StrCat("/proc/self/task/", getpid(), "/children"));
  if (!text.ok()) return out;
  for (std::string_view p : Split(TrimSpace(*text), ' ')) {
    if (auto v = ParseInt64(p)) out.push_back(static_cast<int>(*v));
  }
  return out;
}

}  // namespace cricket::runtime::testing
