// The real cricketd over its socket: Version, Status, RuntimeConfig, ImageFsInfo, UNIMPLEMENTED for an
// unbuilt RPC, the socket lock, stale sockets, bad configs and clean shutdown.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "test/e2e/test_daemon.h"

namespace cricket::e2e {
namespace {

namespace v1 = runtime::v1;

TEST(DaemonE2E, VersionNamesCricket) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  grpc::ClientContext ctx;
  v1::VersionRequest req;
  req.set_version("0.1.0");
  v1::VersionResponse resp;
  ASSERT_TRUE(d.RuntimeStub()->Version(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.version(), "0.1.0");
  EXPECT_EQ(resp.runtime_name(), "cricket");
  EXPECT_TRUE(absl::StartsWith(resp.runtime_version(), "0.1.0")) << resp.runtime_version();
  EXPECT_EQ(resp.runtime_api_version(), "v1");
}

const v1::RuntimeCondition* FindCondition(const v1::StatusResponse& resp, const std::string& type) {
  for (const auto& c : resp.status().conditions()) {
    if (c.type() == type) return &c;
  }
  return nullptr;
}

TEST(DaemonE2E, StatusReportsNetworkReadyFromCniConfig) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  auto stub = d.RuntimeStub();
  {
    grpc::ClientContext ctx;
    v1::StatusRequest req;
    v1::StatusResponse resp;
    ASSERT_TRUE(stub->Status(&ctx, req, &resp).ok());
    const v1::RuntimeCondition* runtime_ready = FindCondition(resp, "RuntimeReady");
    const v1::RuntimeCondition* network_ready = FindCondition(resp, "NetworkReady");
    ASSERT_NE(runtime_ready, nullptr);
    ASSERT_NE(network_ready, nullptr);
    EXPECT_TRUE(runtime_ready->status());
    EXPECT_FALSE(network_ready->status());
    EXPECT_EQ(network_ready->reason(), "NetworkPluginNotReady");
    EXPECT_TRUE(absl::StrContains(network_ready->message(), d.cni_dir())) << network_ready->message();
    EXPECT_TRUE(resp.info().empty());
  }
  ASSERT_TRUE(WriteFileAtomic(d.cni_dir() + "/10-test.conflist",
                              R"({"cniVersion":"1.0.0","name":"testnet","plugins":[{"type":"bridge"}]})")
                  .ok());
  {
    grpc::ClientContext ctx;
    v1::StatusRequest req;
    req.set_verbose(true);
    v1::StatusResponse resp;
    ASSERT_TRUE(stub->Status(&ctx, req, &resp).ok());
    const v1::RuntimeCondition* network_ready = FindCondition(resp, "NetworkReady");
    ASSERT_NE(network_ready, nullptr);
    EXPECT_TRUE(network_ready->status());
    ASSERT_TRUE(resp.info().contains("config"));
    EXPECT_TRUE(absl::StrContains(resp.info().at("config"), d.socket_path()));
    EXPECT_TRUE(absl::StrContains(resp.info().at("cni"), "testnet"));
  }
}

TEST(DaemonE2E, RuntimeConfigReportsTheCgroupDriver) {
  for (const char* driver : {"cgroupfs", "systemd"}) {
    TestDaemon d;
    d.set_extra_config(StrCat("[crio.runtime]\ncgroup_manager = \"", driver, "\"\n"));
    ASSERT_TRUE(d.Start().ok()) << d.Stderr();
    grpc::ClientContext ctx;
    v1::RuntimeConfigRequest req;
    v1::RuntimeConfigResponse resp;
    ASSERT_TRUE(d.RuntimeStub()->RuntimeConfig(&ctx, req, &resp).ok());
    EXPECT_EQ(resp.linux().cgroup_driver(), std::string(driver) == "systemd" ? v1::SYSTEMD : v1::CGROUPFS);
  }
}

TEST(DaemonE2E, ImageFsInfoReportsTheImageStoreAndWritableLayers) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  grpc::ClientContext ctx;
  v1::ImageFsInfoResponse resp;
  ASSERT_TRUE(d.ImageStub()->ImageFsInfo(&ctx, v1::ImageFsInfoRequest(), &resp).ok());
  ASSERT_EQ(resp.image_filesystems_size(), 1);
  const v1::FilesystemUsage& images = resp.image_filesystems(0);
  EXPECT_EQ(images.fs_id().mountpoint(), d.root() + "/storage");
  EXPECT_GT(images.timestamp(), 0);
  // An empty store still has its database.
  EXPECT_GT(images.used_bytes().value(), 0u);
  EXPECT_GT(images.inodes_used().value(), 0u);
  ASSERT_EQ(resp.container_filesystems_size(), 1);
  EXPECT_EQ(resp.container_filesystems(0).fs_id().mountpoint(), d.root() + "/storage/overlay-containers");
  EXPECT_EQ(resp.container_filesystems(0).used_bytes().value(), 0u);
}

TEST(DaemonE2E, UnbuiltRpcIsUnimplementedNamingTheRpc) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  auto stub = d.RuntimeStub();
  grpc::ClientContext ctx;
  v1::CheckpointContainerRequest req;
  req.set_container_id("x");
  v1::CheckpointContainerResponse resp;
  grpc::Status st = stub->CheckpointContainer(&ctx, req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_TRUE(absl::StrContains(st.error_message(), "CheckpointContainer")) << st.error_message();

  // The daemon is still serving.
  grpc::ClientContext vctx;
  v1::VersionResponse vresp;
  EXPECT_TRUE(stub->Version(&vctx, v1::VersionRequest(), &vresp).ok());
}

TEST(DaemonE2E, SocketIsGroupOnlyAndSecondDaemonIsRefused) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  struct stat st;
  ASSERT_EQ(stat(d.socket_path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);

  // Same config → same socket: refused with a clear error, and the first keeps serving.
  TestDaemon::Result second = d.RunOnce({});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(second.err, "another cricketd is serving " + d.socket_path())) << second.err;
  EXPECT_TRUE(absl::StrContains(second.err, StrCat("pid ", d.pid()))) << second.err;
  grpc::ClientContext ctx;
  v1::VersionResponse resp;
  EXPECT_TRUE(d.RuntimeStub()->Version(&ctx, v1::VersionRequest(), &resp).ok());
}

TEST(DaemonE2E, StaleSocketIsReplaced) {
  TestDaemon d;
  // A socket file left behind by a daemon that died: bound, then closed without unlink.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = d.socket_path();
  ASSERT_LT(path.size(), sizeof(addr.sun_path));
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  ASSERT_TRUE(PathExists(path));
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  EXPECT_TRUE(absl::StrContains(d.Stderr(), "removed stale socket"));
}

TEST(DaemonE2E, SigtermShutsDownCleanly) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  auto status = d.Stop(SIGTERM);
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  EXPECT_FALSE(PathExists(d.socket_path()));
  EXPECT_TRUE(absl::StrContains(d.Stderr(), "cricketd stopped"));
}

// kubelet keeps its connection open for good: an idle client must not hold up the shutdown (gRPC's
// own graceful shutdown would wait for it until the grace period ends).
TEST(DaemonE2E, SigtermIsPromptWithAnIdleClientConnection) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  auto stub = d.RuntimeStub();
  grpc::ClientContext ctx;
  v1::VersionResponse resp;
  ASSERT_TRUE(stub->Version(&ctx, v1::VersionRequest(), &resp).ok());
  int64_t t0 = MonotonicNow();
  auto status = d.Stop(SIGTERM);
  int64_t ms = (MonotonicNow() - t0) / 1'000'000;
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_LT(ms, 3000) << "the 10 s grace is for in-flight calls, not idle connections";
}

TEST(DaemonE2E, SighupReloadsReloadableSettingsAndLogsChanges) {
  TestDaemon d;
  ASSERT_TRUE(d.Start().ok()) << d.Stderr();
  ASSERT_TRUE(MkdirAll(d.dir() + "/conf.d").ok());
  ASSERT_TRUE(WriteFileAtomic(d.dir() + "/conf.d/90-reload.conf",
                              "[crio.image]\npinned_images = [\"busybox\"]\n"
                              "[crio.runtime]\ncgroup_manager = \"systemd\"\n")
                  .ok());
  kill(d.pid(), SIGHUP);
  std::string log;
  for (int i = 0; i < 200 && !absl::StrContains(log, "msg=\"reloaded\""); ++i) {
    usleep(20000);
    log = d.Stderr();
  }
  EXPECT_TRUE(absl::StrContains(log, "msg=\"setting reloaded\" key=crio.image.pinned_images")) << log;
  EXPECT_TRUE(absl::StrContains(log, "needs a restart\" key=crio.runtime.cgroup_manager")) << log;
  // Not reloadable: still the running value.
  grpc::ClientContext ctx;
  v1::RuntimeConfigResponse resp;
  ASSERT_TRUE(d.RuntimeStub()->RuntimeConfig(&ctx, v1::RuntimeConfigRequest(), &resp).ok());
  EXPECT_EQ(resp.linux().cgroup_driver(), v1::CGROUPFS);
}

TEST(DaemonE2E, BrokenConfigIsRefusedNamingFileLineAndKey) {
  TestDaemon d;
  d.set_extra_config("[crio.metrics]\nmetrics_port = \"9090\"\n");
  TestDaemon::Result r = d.RunOnce({});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(r.err, d.dir() + "/conf.d/50-test.conf:2: ")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "crio.metrics.metrics_port: expected an integer, got a string"))
      << r.err;
  EXPECT_FALSE(PathExists(d.socket_path()));
}

TEST(DaemonE2E, ConfigCommandPrintsEffectiveToml) {
  TestDaemon d;
  d.set_extra_config("[crio.runtime]\nctr_stop_timeout = 77\n");
  TestDaemon::Result r = d.RunOnce({"config"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.out, "[crio.runtime]"));
  EXPECT_TRUE(absl::StrContains(r.out, "ctr_stop_timeout = 77"));
  EXPECT_TRUE(absl::StrContains(r.out, "listen = \"" + d.socket_path() + "\""));
}

}  // namespace
}  // namespace cricket::e2e
