// Differential tests: the same bundle and probe script under a peer runtime (Debian's runc, and crun
// when present and usable on this host) and under cricket-runtime; what the container observes must be
// the same. Needs root.
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <set>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/runtime/testing/test_bundle.h"
#include "lib/sys/subprocess.h"

namespace cricket::runtime {
namespace {

using testing::TempDir;
using testing::TestBundle;

// Each section of the probe's output starts with "== name"; values that differ by nature between two
// containers (ids, times, inode numbers) are left out by the probe itself.
constexpr char kProbe[] = R"probe(
echo "== id"; id
echo "== hostname"; hostname
echo "== status"; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status
echo "== pid"; echo $$
echo "== mountpoints"; awk '$5 !~ "^/sys/fs/cgroup/" {print $5}' /proc/self/mountinfo | sort
echo "== mounts"; awk '$5 !~ "^/sys/fs/cgroup" {print $5, $6, $9}' /proc/self/mountinfo | sort
echo "== devnodes"; ls -l /dev | awk '/^[cb]/ {print $1, $5, $6, $NF}' | sort
echo "== dev"; ls -l /dev | awk 'NR > 1 {print $1, $5, $6, $NF}' | sort
echo "== devpts"; ls /dev/pts
echo "== fds"; ls /proc/self/fd | tr '\n' ' '; echo
echo "== limits"; ulimit -a
echo "== umask"; umask
echo "== cwd"; pwd
echo "== env"; env | grep -v '^_=' | sort
echo "== masked"; for p in /proc/keys /proc/timer_list /proc/acpi /proc/scsi /sys/firmware; do [ -e $p ] && echo "$p $(cat $p 2>&1 | wc -c) $(ls $p 2>/dev/null | wc -l)"; done
echo "== readonly"; for p in /proc/sys /proc/sysrq-trigger /proc/bus /proc/irq /proc/fs /sys; do touch $p/x 2>/dev/null && echo "$p writable" || echo "$p read-only"; done
echo "== rootfs"; touch /rootfs-probe 2>/dev/null && echo writable || echo read-only
echo "== sysctl"; cat /proc/sys/net/ipv4/ip_forward
echo "== uts"; uname -n
)probe";

std::map<std::string, std::string> Sections(const std::string& out) {
  std::map<std::string, std::string> s;
  std::string current = "(preamble)";
  for (std::string_view line : Split(out, '\n')) {
    if (line.starts_with("== ")) {
      current = std::string(line.substr(3));
      continue;
    }
    s[current] += std::string(line) + "\n";
  }
  return s;
}

class DifferentialTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!PathExists(testing::kBusybox)) GTEST_SKIP() << "needs busybox-static";
    auto b = TestBundle::Create();
    ASSERT_TRUE(b.ok()) << b.status();
    bundle_.emplace(std::move(*b));
    oci::Spec& spec = bundle_->spec();
    spec.oci_version = "1.0.2";  // crun 1.8 knows no later version
    spec.process->args = {"sh", "-c", kProbe};
    spec.process->env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PROBE=1"};
    spec.process->rlimits = {{"RLIMIT_NOFILE", 1024, 1024}};
    spec.process->no_new_privileges = true;
    spec.linux->sysctl["net.ipv4.ip_forward"] = "1";
    spec.root->readonly = true;
    // Both runtimes add the host's cgroup hierarchies to /sys/fs/cgroup their own way; compared below
    // without them. Devices: nothing but the defaults.
    ASSERT_TRUE(bundle_->WriteSpec().ok());
  }

  // Runs the bundle with `runtime run` and returns its output.
  std::string Run(const std::string& runtime, const std::string& id) {
    auto root = TempDir::Create("cricket-diff-root");
    EXPECT_TRUE(root.ok());
    sys::Command cmd{
        runtime, {runtime, "--root", root->path(), "run", "--bundle", bundle_->dir(), id}, {}, ""};
    sys::RunOptions opts;
    opts.timeout = absl::Seconds(60);
    auto r = sys::RunProcess(cmd, opts);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return "";
    EXPECT_TRUE(r->status.success()) << runtime << ": " << r->status.ToString() << ": " << r->stderr_data;
    // Whatever the runtime left in its root would be a leak.
    auto left = ListDir(root->path());
    EXPECT_TRUE(left.ok() && left->empty()) << runtime << " left state behind";
    return r->stdout_data;
  }

  // Sections in `exact` must be equal; the others are logged when they differ (peer-specific choices
  // the spec leaves open, e.g. crun's flags on read-only paths).
  void Compare(const std::string& peer_name, const std::string& peer_binary,
               const std::set<std::string>& loose) {
    std::string peer = Run(peer_binary, "diff-peer");
    std::string ours = Run(CRICKET_RUNTIME_BINARY, "diff-cricket");
    auto a = Sections(peer), b = Sections(ours);
    ASSERT_GT(a.size(), 10u) << peer;
    for (const auto& [name, value] : a) {
      if (loose.contains(name)) {
        if (b[name] != value) {
          printf("[ INFO     ] section \"%s\" differs (allowed):\n--- %s\n%s--- cricket-runtime\n%s",
                 name.c_str(), peer_name.c_str(), value.c_str(), b[name].c_str());
        }
        continue;
      }
      EXPECT_EQ(b[name], value) << "section \"" << name << "\" differs between " << peer_name
                                << " and cricket-runtime";
    }
  }

  std::optional<TestBundle> bundle_;
};

TEST_F(DifferentialTest, SameObservationsAsRunc) {
  if (!PathExists("/usr/sbin/runc")) GTEST_SKIP() << "runc is not installed";
  // The cgroup tmpfs (runc ignores "ro" on it; cricket-runtime honours it) is left out of "mounts".
  Compare("runc", "/usr/sbin/runc", {});
}

TEST_F(DifferentialTest, SameObservationsAsCrun) {
  if (!PathExists("/usr/bin/crun")) GTEST_SKIP() << "crun is not installed";
  // crun 1.8 refuses a hybrid layout whose cgroup2 mount holds a controller, as a new machine's does
  // (hugetlb); SameObservationsAsRunc covers such a host. Pure v2 and pure v1 hosts run it.
  std::string unified = ReadFile("/sys/fs/cgroup/unified/cgroup.controllers").value_or("");
  if (unified.find_first_not_of(" \n") != std::string::npos)
    GTEST_SKIP() << "crun 1.8 refuses this hybrid cgroup layout (controllers on the cgroup2 mount: "
                 << unified << ")";
  // crun remounts read-only paths without their other flags, masks with the host's /dev/null, mounts
  // /sys/fs/cgroup as a cgroup filesystem and always adds /dev/core: the same mount points and device
  // nodes, other flags and links.
  Compare("crun", "/usr/bin/crun", {"mounts", "dev"});
}

}  // namespace
}  // namespace cricket::runtime
