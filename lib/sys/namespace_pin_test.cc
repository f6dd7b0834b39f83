// Privileged: needs root (CAP_SYS_ADMIN) to create namespaces and mount.
#include "lib/sys/namespace_pin.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"
#include "lib/sys/subprocess.h"

namespace cricket::sys {
namespace {

constexpr long kNsfsMagic = 0x6e736673;

std::string Readlink(const std::string& path) {
  char buf[256];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  return n > 0 ? std::string(buf, n) : "";
}

// Mount points (field 5 of mountinfo) at or under `dir`, with their optional fields.
std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info.ok()) return out;
  for (std::string_view line : Split(*info, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() < 5) continue;
    std::string mp(f[4]);
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) out.emplace_back(line);
  }
  return out;
}

std::string NsInode(const std::string& pin) {
  struct stat st {};
  if (stat(pin.c_str(), &st) != 0) return "";
  return StrCat(st.st_ino);
}

class NamespacePinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/cricket-nspin-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = std::string(tmpl) + "/ns";
  }
  void TearDown() override {
    if (dir_.empty()) return;
    EXPECT_EQ(MountsUnder(dir_ + "/").size(), 0u) << "pins left mounted";
    umount2(dir_.c_str(), MNT_DETACH);
    EXPECT_TRUE(RemoveAll(DirName(dir_)).ok());
  }
  std::string dir_;
};

TEST_F(NamespacePinTest, PinsNetIpcUtsAndJoinsThemFromAThread) {
  auto pins = PinNamespaces(dir_, "pod1", {NamespaceType::kNet, NamespaceType::kIpc, NamespaceType::kUts});
  ASSERT_TRUE(pins.ok()) << pins.status();
  ASSERT_EQ(pins->size(), 3u);
  EXPECT_EQ((*pins)[0].path, dir_ + "/netns/pod1");
  EXPECT_EQ((*pins)[1].path, dir_ + "/ipcns/pod1");
  EXPECT_EQ((*pins)[2].path, dir_ + "/utsns/pod1");
  for (const auto& p : *pins) {
    struct statfs sfs {};
    ASSERT_EQ(statfs(p.path.c_str(), &sfs), 0) << p.path;
    EXPECT_EQ(sfs.f_type, kNsfsMagic) << p.path;
  }
  // The directory is a shared mount point.
  auto dir_mounts = MountsUnder(dir_);
  ASSERT_FALSE(dir_mounts.empty());
  EXPECT_NE(dir_mounts[0].find(" shared:"), std::string::npos) << dir_mounts[0];

  std::string host_net = Readlink("/proc/thread-self/ns/net");
  std::string pin_ino = NsInode((*pins)[0].path);
  EXPECT_NE(host_net, StrCat("net:[", pin_ino, "]"));
  std::string seen_net;
  unsigned lo_index = 0, eth0_index = 0;
  auto st = RunInNamespace((*pins)[0].path, NamespaceType::kNet, [&] {
    seen_net = Readlink("/proc/thread-self/ns/net");
    lo_index = if_nametoindex("lo");
    eth0_index = if_nametoindex("eth0");
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  EXPECT_EQ(seen_net, StrCat("net:[", pin_ino, "]"));
  EXPECT_GT(lo_index, 0u);
  EXPECT_EQ(eth0_index, 0u);
  // The calling thread never moved.
  EXPECT_EQ(Readlink("/proc/thread-self/ns/net"), host_net);

  // A UTS namespace is private: a hostname set inside does not reach the host.
  char host_name[HOST_NAME_MAX + 1] = {};
  gethostname(host_name, sizeof(host_name));
  st = RunInNamespace((*pins)[2].path, NamespaceType::kUts, [] {
    if (sethostname("cricket-pin-test", 16) != 0) return absl::InternalError("sethostname");
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  char after[HOST_NAME_MAX + 1] = {};
  gethostname(after, sizeof(after));
  EXPECT_STREQ(after, host_name);
  auto uts =
      RunProcess(Command{"/usr/bin/nsenter", {"nsenter", "--uts=" + (*pins)[2].path, "hostname"}, {}, ""});
  ASSERT_TRUE(uts.ok()) << uts.status();
  EXPECT_EQ(uts->stdout_data, "cricket-pin-test\n");

  // `ip netns exec`-like access from another process: only lo in there.
  auto links = RunProcess(Command{
      "/usr/bin/nsenter", {"nsenter", "--net=" + (*pins)[0].path, "/usr/sbin/ip", "-o", "link"}, {}, ""});
  ASSERT_TRUE(links.ok()) << links.status();
  EXPECT_NE(links->stdout_data.find("1: lo:"), std::string::npos) << links->stdout_data;
  EXPECT_EQ(Split(TrimSpace(links->stdout_data), '\n').size(), 1u) << links->stdout_data;

  // A second pin of the same name is refused and leaves the first intact.
  auto again = PinNamespaces(dir_, "pod1", {NamespaceType::kNet});
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();
  EXPECT_EQ(NsInode((*pins)[0].path), pin_ino);

  for (const auto& p : *pins) {
    ASSERT_TRUE(UnpinNamespace(p.path).ok());
    EXPECT_FALSE(PathExists(p.path));
    EXPECT_TRUE(UnpinNamespace(p.path).ok()) << "second unpin must succeed";
  }
}

TEST_F(NamespacePinTest, LoopbackAndDialInsideTheNetns) {
  auto pins = PinNamespaces(dir_, "pod2", {NamespaceType::kNet});
  ASSERT_TRUE(pins.ok()) << pins.status();
  const std::string netns = (*pins)[0].path;
  ASSERT_TRUE(BringUpLoopback(netns).ok());
  ASSERT_TRUE(BringUpLoopback(netns).ok()) << "idempotent";
  // A listener on 127.0.0.1 inside the netns, made by a discarded thread.
  int listener = -1;
  int port = 0;
  auto st = RunInNamespace(netns, NamespaceType::kNet, [&] {
    listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return absl::InternalError("bind");
    if (listen(listener, 4) != 0) return absl::InternalError("listen");
    socklen_t len = sizeof(a);
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return absl::OkStatus();
  });
  ASSERT_TRUE(st.ok()) << st;
  auto conn = DialTcpInNetns(netns, "127.0.0.1", port, absl::Seconds(5));
  ASSERT_TRUE(conn.ok()) << conn.status();
  int accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  ASSERT_EQ(write(conn->get(), "ping", 4), 4);
  char buf[8] = {};
  ASSERT_EQ(read(accepted, buf, sizeof(buf)), 4);
  EXPECT_STREQ(buf, "ping");
  close(accepted);
  close(listener);
  // Nothing listens there any more: refused, with the target named.
  auto refused = DialTcpInNetns(netns, "127.0.0.1", port, absl::Seconds(5));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find(StrCat("127.0.0.1:", port)), std::string::npos)
      << refused.status();
  EXPECT_TRUE(absl::IsInvalidArgument(DialTcpInNetns(netns, "localhost", port, absl::Seconds(1)).status()));
  EXPECT_TRUE(
      absl::IsNotFound(DialTcpInNetns(dir_ + "/netns/missing", "127.0.0.1", 1, absl::Seconds(1)).status()));
  ASSERT_TRUE(UnpinNamespace(netns).ok());
}

TEST_F(NamespacePinTest, UserNamespaceOwnsTheOthers) {
  PinOptions opts;
  opts.uid_map = {{0, 200000, 65536}};
  opts.gid_map = {{0, 200000, 65536}};
  auto pins = PinNamespaces(dir_, "pod4", {NamespaceType::kUser, NamespaceType::kUts}, opts);
  if (!pins.ok() && absl::IsPermissionDenied(pins.status())) GTEST_SKIP() << pins.status();
  ASSERT_TRUE(pins.ok()) << pins.status();
  auto r = RunProcess(Command{"/usr/bin/nsenter",
                              {"nsenter", "--user=" + (*pins)[0].path, "--uts=" + (*pins)[1].path, "/bin/sh",
                               "-c", "cat /proc/self/uid_map; id -u"},
                              {},
                              ""});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_NE(r->stdout_data.find("200000"), std::string::npos) << r->stdout_data << r->stderr_data;
  EXPECT_NE(r->stdout_data.find("\n0\n"), std::string::npos) << r->stdout_data;
  for (const auto& p : *pins) ASSERT_TRUE(UnpinNamespace(p.path).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(PinNamespaces(dir_, "pod5", {NamespaceType::kUser}).status()));
}

TEST_F(NamespacePinTest, BadInputLeavesNothing) {
  EXPECT_TRUE(absl::IsInvalidArgument(PinNamespaces(dir_, "../x", {NamespaceType::kNet}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(PinNamespaces(dir_, "", {NamespaceType::kNet}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(PinNamespaces(dir_, "a", {}).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(PinNamespaces(dir_, "a", {NamespaceType::kNet, NamespaceType::kNet}).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(
      RunInNamespace("/proc/self/ns/user", NamespaceType::kUser, [] { return absl::OkStatus(); })));
  // A failure after the first pin file was made (the second type's file exists) rolls the first back.
  ASSERT_TRUE(MkdirAll(dir_ + "/utsns").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/utsns/pod6", "").ok());
  auto half = PinNamespaces(dir_, "pod6", {NamespaceType::kNet, NamespaceType::kUts});
  EXPECT_TRUE(absl::IsAlreadyExists(half.status())) << half.status();
  EXPECT_FALSE(PathExists(dir_ + "/netns/pod6"));
  unlink((dir_ + "/utsns/pod6").c_str());
  // Unpinning something that was never pinned, or a plain file left by a crash, is success.
  EXPECT_TRUE(UnpinNamespace(dir_ + "/netns/never").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/netns/stale", "").ok());
  EXPECT_TRUE(UnpinNamespace(dir_ + "/netns/stale").ok());
  EXPECT_FALSE(PathExists(dir_ + "/netns/stale"));
}

TEST_F(NamespacePinTest, ConcurrentPinsFromManyThreads) {
  std::atomic<int> ok{0};
  std::string host_net = Readlink("/proc/thread-self/ns/net");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        std::string name = StrCat("c", t, "-", i);
        auto pins = PinNamespaces(dir_, name, {NamespaceType::kNet, NamespaceType::kIpc});
        if (!pins.ok()) continue;
        bool up = BringUpLoopback((*pins)[0].path).ok();
        bool unpinned = UnpinNamespace((*pins)[0].path).ok() && UnpinNamespace((*pins)[1].path).ok();
        if (up && unpinned && Readlink("/proc/thread-self/ns/net") == host_net) ok++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 40);
}

}  // namespace
}  // namespace cricket::sys
