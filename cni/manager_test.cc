// cni::Manager against a configurable fake plugin (testdata/fake_plugin.cc) that logs every call.
#include "cni/manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/strings.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

class ManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-cnimgr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    ASSERT_TRUE(MkdirAll(root_ + "/net.d").ok());
    ASSERT_TRUE(MkdirAll(root_ + "/bin").ok());
    for (const char* name : {"fake", "fake2"}) {
      ASSERT_EQ(symlink(CRICKET_FAKE_CNI_PLUGIN, (root_ + "/bin/" + name).c_str()), 0);
    }
    log_ = root_ + "/calls.log";
  }
  void TearDown() override { EXPECT_TRUE(RemoveAll(root_).ok()); }

  ManagerOptions Options() {
    ManagerOptions o;
    o.network_dir = root_ + "/net.d";
    o.plugin_dirs = {root_ + "/empty", root_ + "/bin"};
    o.cache_dir = root_ + "/cache";
    o.plugin_timeout = absl::Seconds(20);
    o.bring_up_loopback = false;  // no real netns in unit tests
    return o;
  }
  // Writes a conflist whose plugins all log to log_.
  void WriteList(const std::string& file, const std::string& name, const std::string& version, Json plugins,
                 Json extra = Json::object()) {
    for (Json& p : plugins) p["log"] = log_;
    Json doc = {{"cniVersion", version}, {"name", name}, {"plugins", plugins}};
    doc.update(extra);
    ASSERT_TRUE(WriteFileAtomic(root_ + "/net.d/" + file, doc.dump()).ok());
  }
  std::vector<Json> Calls() {
    std::vector<Json> out;
    auto text = ReadFile(log_);
    if (!text.ok()) return out;
    for (std::string_view line : Split(*text, '\n')) {
      if (!line.empty()) out.push_back(Json::parse(line));
    }
    unlink(log_.c_str());
    return out;
  }
  static std::string Summary(const std::vector<Json>& calls) {
    std::vector<std::string> parts;
    for (const Json& c : calls) {
      parts.push_back(
          StrCat(c["command"].get<std::string>(), ":", c["config"]["type"].get<std::string>(),
                 c["config"].contains("tag") ? StrCat("/", c["config"]["tag"].get<std::string>()) : ""));
    }
    return Join(parts, " ");
  }
  PodNetwork Pod(const std::string& id) {
    PodNetwork p;
    p.sandbox_id = id;
    p.pod_name = "web";
    p.pod_namespace = "default";
    p.pod_uid = "uid-1";
    p.netns_path = "/run/fake/netns/" + id;
    p.port_mappings = {{8080, 80, "TCP", ""}, {0, 81, "TCP", ""}};
    return p;
  }
  std::string root_;
  std::string log_;
};

TEST_F(ManagerTest, StatusFollowsTheDirectory) {
  Manager m(Options());
  auto st = m.Status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("no CNI configuration file"), std::string::npos) << st;
  WriteList("20-b.conflist", "b", "1.0.0", Json::array({{{"type", "fake"}}}));
  EXPECT_TRUE(m.Status().ok()) << m.Status();
  EXPECT_EQ((*m.CurrentNetwork())->name, "b");
  // A lexically earlier file takes over; one naming a missing plugin makes the network not ready.
  WriteList("10-a.conflist", "a", "1.0.0", Json::array({{{"type", "fake"}}, {{"type", "nosuchplugin"}}}));
  st = m.Status();
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_NE(st.message().find("\"nosuchplugin\" not found"), std::string::npos) << st;
  ASSERT_EQ(unlink((root_ + "/net.d/10-a.conflist").c_str()), 0);
  EXPECT_TRUE(m.Status().ok());
  EXPECT_EQ((*m.CurrentNetwork())->name, "b");
}

TEST_F(ManagerTest, AddChainsPrevResultAndInjectsArguments) {
  WriteList("10.conflist", "podnet", "1.0.0",
            Json::array({{{"type", "fake"}, {"ip", "10.1.0.5/16"}, {"tag", "ipam"}},
                         {{"type", "fake2"}, {"capabilities", {{"portMappings", true}}}, {"tag", "portmap"}},
                         {{"type", "fake"}, {"capabilities", {{"bandwidth", true}}}, {"tag", "bw"}}}));
  Manager m(Options());
  auto att = m.Setup(Pod("sb1"));
  ASSERT_TRUE(att.ok()) << att.status();
  EXPECT_EQ(att->network_name, "podnet");
  EXPECT_EQ(att->ips, std::vector<std::string>{"10.1.0.5"});
  auto calls = Calls();
  ASSERT_EQ(Summary(calls), "ADD:fake/ipam ADD:fake2/portmap ADD:fake/bw");
  EXPECT_FALSE(calls[0]["config"].contains("prevResult"));
  EXPECT_EQ(calls[1]["config"]["prevResult"]["ips"][0]["address"], "10.1.0.5/16");
  EXPECT_EQ(calls[2]["config"]["prevResult"], calls[1]["config"]["prevResult"]);
  for (const Json& c : calls) {
    EXPECT_EQ(c["config"]["name"], "podnet");
    EXPECT_EQ(c["config"]["cniVersion"], "1.0.0");
    EXPECT_FALSE(c["config"].contains("capabilities"));
    EXPECT_EQ(c["containerid"], "sb1");
    EXPECT_EQ(c["netns"], "/run/fake/netns/sb1");
    EXPECT_EQ(c["ifname"], "eth0");
    EXPECT_EQ(c["args"],
              "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=sb1;"
              "K8S_POD_UID=uid-1");
    EXPECT_EQ(c["cni_path"], StrCat(root_, "/empty:", root_, "/bin"));
    EXPECT_TRUE(c["path_set"].get<bool>());
  }
  EXPECT_FALSE(calls[0]["config"].contains("runtimeConfig"));
  EXPECT_EQ(
      calls[1]["config"]["runtimeConfig"],
      Json::parse(R"({"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":""}]})"));
  EXPECT_FALSE(calls[2]["config"].contains("runtimeConfig"));  // no bandwidth asked for

  // A second Setup of an attached sandbox is refused without running anything.
  EXPECT_TRUE(absl::IsAlreadyExists(m.Setup(Pod("sb1")).status()));
  EXPECT_TRUE(Calls().empty());

  // After a "restart" (a new Manager) the attachment is known from the cache.
  Manager restarted(Options());
  auto cached = restarted.CachedAttachment("sb1");
  ASSERT_TRUE(cached.ok()) << cached.status();
  EXPECT_EQ(cached->ips, std::vector<std::string>{"10.1.0.5"});
  EXPECT_TRUE(absl::IsNotFound(restarted.CachedAttachment("sb2").status()));
}

TEST_F(ManagerTest, DelUsesTheCachedConfigurationInReverseEvenAfterTheFilesChanged) {
  WriteList(
      "10.conflist", "podnet", "1.0.0",
      Json::array({{{"type", "fake"}, {"ip", "10.1.0.6/16"}, {"tag", "first"}},
                   {{"type", "fake2"}, {"capabilities", {{"portMappings", true}}}, {"tag", "second"}}}));
  {
    Manager m(Options());
    ASSERT_TRUE(m.Setup(Pod("sb1")).ok());
  }
  Calls();
  // The configuration changes (and the daemon restarts) while the pod runs.
  ASSERT_EQ(unlink((root_ + "/net.d/10.conflist").c_str()), 0);
  WriteList("20.conflist", "othernet", "1.0.0", Json::array({{{"type", "fake"}, {"tag", "new"}}}));
  Manager m(Options());
  PodNetwork teardown;
  teardown.sandbox_id = "sb1";  // all the rest comes from the cache
  ASSERT_TRUE(m.Teardown(teardown).ok());
  auto calls = Calls();
  ASSERT_EQ(Summary(calls), "DEL:fake2/second DEL:fake/first");
  for (const Json& c : calls) {
    EXPECT_EQ(c["config"]["name"], "podnet");
    EXPECT_EQ(c["config"]["prevResult"]["ips"][0]["address"], "10.1.0.6/16");
    EXPECT_EQ(c["netns"], "");  // the fake netns path is no nsfs mount: passed as absent
    EXPECT_NE(c["args"].get<std::string>().find("K8S_POD_NAME=web"), std::string::npos);
  }
  EXPECT_EQ(calls[0]["config"]["runtimeConfig"]["portMappings"][0]["hostPort"], 8080);
  EXPECT_TRUE(absl::IsNotFound(m.CachedAttachment("sb1").status()));
  // Without a cache entry DEL still runs, with the current configuration and no prevResult.
  ASSERT_TRUE(m.Teardown(Pod("sb1")).ok());
  calls = Calls();
  ASSERT_EQ(Summary(calls), "DEL:fake/new");
  EXPECT_FALSE(calls[0]["config"].contains("prevResult"));
}

TEST_F(ManagerTest, FailedAddRunsDelForTheWholeListAndReportsThePluginError) {
  WriteList("10.conflist", "podnet", "1.0.0",
            Json::array({{{"type", "fake"}, {"ip", "10.1.0.7/16"}, {"tag", "ok"}},
                         {{"type", "fake2"}, {"behavior", "fail"}, {"tag", "broken"}}}));
  Manager m(Options());
  auto att = m.Setup(Pod("sb1"));
  ASSERT_FALSE(att.ok());
  std::string msg(att.status().message());
  EXPECT_NE(msg.find("CNI plugin fake2 ADD failed (exit status 1): [code 11] fake failure: fake details"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("stderr: fake stderr line"), std::string::npos) << msg;
  auto calls = Calls();
  EXPECT_EQ(Summary(calls), "ADD:fake/ok ADD:fake2/broken DEL:fake2/broken DEL:fake/ok");
  EXPECT_FALSE(calls[2]["config"].contains("prevResult"));
  EXPECT_FALSE(PathExists(root_ + "/cache/podnet-sb1-eth0"));
  // Teardown afterwards (the sandbox rollback) is harmless.
  EXPECT_TRUE(m.Teardown(Pod("sb1")).ok());
}

TEST_F(ManagerTest, HangingPluginIsKilledThenCleanedUp) {
  WriteList("10.conflist", "podnet", "1.0.0",
            Json::array({{{"type", "fake"}, {"tag", "ok"}}, {{"type", "fake2"}, {"behavior", "hang"}}}));
  ManagerOptions o = Options();
  o.plugin_timeout = absl::Milliseconds(300);
  Manager m(o);
  int64_t start = time(nullptr);
  auto att = m.Setup(Pod("sb1"));
  EXPECT_TRUE(absl::IsDeadlineExceeded(att.status())) << att.status();
  EXPECT_LE(time(nullptr) - start, 5);
  EXPECT_EQ(Summary(Calls()), "ADD:fake/ok DEL:fake2 DEL:fake/ok");  // the killed ADD logged nothing
}

TEST_F(ManagerTest, FailedDelKeepsTheCacheForALaterTry) {
  WriteList(
      "10.conflist", "podnet", "1.0.0",
      Json::array({{{"type", "fake"}, {"ip", "10.1.0.8/16"}}, {{"type", "fake2"}, {"behavior", "faildel"}}}));
  Manager m(Options());
  ASSERT_TRUE(m.Setup(Pod("sb1")).ok());
  Calls();
  auto st = m.Teardown(Pod("sb1"));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("fake DEL failure"), std::string::npos) << st;
  // Both plugins got their DEL although the first one failed.
  EXPECT_EQ(Summary(Calls()), "DEL:fake2 DEL:fake");
  EXPECT_TRUE(m.CachedAttachment("sb1").ok());
}

TEST_F(ManagerTest, CheckHonoursVersionAndDisableCheck) {
  WriteList("10.conflist", "podnet", "1.0.0", Json::array({{{"type", "fake"}, {"ip", "10.1.0.9/16"}}}));
  Manager m(Options());
  EXPECT_TRUE(absl::IsNotFound(m.Check(Pod("sb1"))));
  ASSERT_TRUE(m.Setup(Pod("sb1")).ok());
  Calls();
  ASSERT_TRUE(m.Check(Pod("sb1")).ok());
  auto calls = Calls();
  ASSERT_EQ(Summary(calls), "CHECK:fake");
  EXPECT_EQ(calls[0]["config"]["prevResult"]["ips"][0]["address"], "10.1.0.9/16");
  ASSERT_TRUE(m.Teardown(Pod("sb1")).ok());

  WriteList("10.conflist", "podnet", "1.0.0", Json::array({{{"type", "fake"}, {"behavior", "failcheck"}}}),
            {{"disableCheck", true}});
  ASSERT_TRUE(m.Setup(Pod("sb2")).ok());
  Calls();
  EXPECT_TRUE(m.Check(Pod("sb2")).ok());
  EXPECT_TRUE(Calls().empty());
  ASSERT_TRUE(m.Teardown(Pod("sb2")).ok());

  WriteList("10.conflist", "podnet", "0.3.1", Json::array({{{"type", "fake"}, {"behavior", "failcheck"}}}));
  ASSERT_TRUE(m.Setup(Pod("sb3")).ok());
  Calls();
  EXPECT_TRUE(m.Check(Pod("sb3")).ok());
  EXPECT_TRUE(Calls().empty());
}

TEST_F(ManagerTest, GarbageCollectDeletesStaleAttachmentsAndSendsGcFrom110) {
  WriteList("10.conflist", "podnet", "1.1.0",
            Json::array({{{"type", "fake"}, {"ip", "10.1.0.10/16"}}, {{"type", "fake2"}}}));
  Manager m(Options());
  ASSERT_TRUE(m.Setup(Pod("live1")).ok());
  ASSERT_TRUE(m.Setup(Pod("dead1")).ok());
  // An interrupted ADD of another dead sandbox: a cache entry without a result.
  CacheEntry pending;
  pending.network_name = "podnet";
  pending.container_id = "dead2";
  pending.ifname = "eth0";
  pending.config = ReadFile(root_ + "/net.d/10.conflist").value();
  ASSERT_TRUE(ResultCache(root_ + "/cache").Write(pending).ok());
  Calls();
  ASSERT_TRUE(m.GarbageCollect({"live1"}).ok());
  auto calls = Calls();
  std::string summary = Summary(calls);
  EXPECT_NE(summary.find("DEL:fake2 DEL:fake"), std::string::npos) << summary;
  int dels = 0, gcs = 0;
  for (const Json& c : calls) {
    if (c["command"] == "DEL") {
      dels++;
      EXPECT_NE(c["containerid"], "live1");
    }
    if (c["command"] == "GC") {
      gcs++;
      EXPECT_EQ(c["config"]["cni.dev/valid-attachments"],
                Json::parse(R"([{"containerID":"live1","ifname":"eth0"}])"));
      EXPECT_EQ(c["containerid"], "");
    }
  }
  EXPECT_EQ(dels, 4);  // two plugins for each of dead1 and dead2
  EXPECT_EQ(gcs, 2);
  EXPECT_TRUE(m.CachedAttachment("live1").ok());
  EXPECT_TRUE(absl::IsNotFound(m.CachedAttachment("dead1").status()));
  EXPECT_TRUE(ResultCache(root_ + "/cache").Find("dead2", "eth0")->empty());

  // Spec versions before 1.1.0 have no GC command.
  WriteList("10.conflist", "podnet", "1.0.0", Json::array({{{"type", "fake"}}}));
  ASSERT_TRUE(m.GarbageCollect({"live1"}).ok());
  EXPECT_EQ(Summary(Calls()), "");
}

TEST_F(ManagerTest, InterruptedAddIsDeletedBeforeTheNextAdd) {
  WriteList("10.conflist", "podnet", "1.0.0", Json::array({{{"type", "fake"}, {"ip", "10.1.0.11/16"}}}));
  CacheEntry pending;
  pending.network_name = "podnet";
  pending.container_id = "sb1";
  pending.ifname = "eth0";
  pending.config = ReadFile(root_ + "/net.d/10.conflist").value();
  ASSERT_TRUE(ResultCache(root_ + "/cache").Write(pending).ok());
  Manager m(Options());
  ASSERT_TRUE(m.Setup(Pod("sb1")).ok());
  EXPECT_EQ(Summary(Calls()), "DEL:fake ADD:fake");
}

TEST_F(ManagerTest, OperationsOnOneSandboxAreSerialised) {
  WriteList("10.conflist", "podnet", "1.0.0",
            Json::array({{{"type", "fake"}, {"ip", "10.1.0.12/16"}, {"sleep_ms", 100}}}));
  Manager m(Options());
  absl::Status a, b;
  std::thread t1([&] { a = m.Setup(Pod("same")).status(); });
  std::thread t2([&] { b = m.Teardown(Pod("same")); });
  t1.join();
  t2.join();
  EXPECT_TRUE(a.ok()) << a;
  EXPECT_TRUE(b.ok()) << b;
  auto calls = Calls();
  ASSERT_EQ(calls.size(), 2u);
  // The calls never overlap in time.
  const Json& first = calls[0]["start"] < calls[1]["start"] ? calls[0] : calls[1];
  const Json& second = &first == &calls[0] ? calls[1] : calls[0];
  EXPECT_LE(first["end"].get<int64_t>(), second["start"].get<int64_t>());
}

TEST_F(ManagerTest, BadInputRunsNothingAndLeavesNothing) {
  WriteList("10.conflist", "podnet", "1.0.0", Json::array({{{"type", "fake"}}}));
  Manager m(Options());
  PodNetwork bad = Pod("a/b");
  EXPECT_TRUE(absl::IsInvalidArgument(m.Setup(bad).status()));
  bad = Pod("ok1");
  bad.ifname = "averylonginterfacename";
  EXPECT_TRUE(absl::IsInvalidArgument(m.Setup(bad).status()));
  bad = Pod("ok2");
  bad.pod_name = "x;y";
  auto st = m.Setup(bad).status();
  EXPECT_TRUE(absl::IsInvalidArgument(st)) << st;
  bad = Pod("ok3");
  bad.netns_path = "";
  EXPECT_TRUE(absl::IsInvalidArgument(m.Setup(bad).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Teardown(Pod(""))));
  EXPECT_TRUE(Calls().empty());
  EXPECT_TRUE(ResultCache(root_ + "/cache").List()->empty());
}

TEST_F(ManagerTest, PluginVersions) {
  Manager m(Options());
  auto v = m.PluginVersions("fake");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(*v, (std::vector<std::string>{"0.4.0", "1.0.0", "1.1.0"}));
  EXPECT_TRUE(absl::IsNotFound(m.PluginVersions("nosuch").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(m.PluginVersions("../fake").status()));
}

TEST(DefaultConflist, IsUsableWithDebiansPlugins) {
  std::string file = std::string(CRICKET_SOURCE_DIR) + "/hack/cni/10-cricket-bridge.conflist";
  auto text = ReadFile(file);
  ASSERT_TRUE(text.ok()) << text.status();
  auto list = ParseNetworkConfig(file, *text);
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->name, "cricket");
  ASSERT_EQ(list->plugins.size(), 2u);
  const Json& bridge = list->plugins[0];
  EXPECT_EQ(bridge["type"], "bridge");
  EXPECT_EQ(bridge["bridge"], "cricket0");
  EXPECT_TRUE(bridge["isGateway"].get<bool>() && bridge["ipMasq"].get<bool>() &&
              bridge["hairpinMode"].get<bool>());
  EXPECT_EQ(bridge["ipam"]["type"], "host-local");
  EXPECT_EQ(bridge["ipam"]["ranges"][0][0]["subnet"], "10.88.0.0/16");
  EXPECT_EQ(list->plugins[1]["type"], "portmap");
  EXPECT_TRUE(list->plugins[1]["capabilities"]["portMappings"].get<bool>());
  if (access("/usr/lib/cni/bridge", X_OK) != 0) GTEST_SKIP() << "containernetworking-plugins not installed";
  char tmpl[] = "/tmp/cricket-cnidefault-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  ASSERT_TRUE(WriteFileAtomic(std::string(tmpl) + "/10-cricket-bridge.conflist", *text).ok());
  ManagerOptions o;
  o.network_dir = tmpl;
  o.cache_dir = std::string(tmpl) + "/cache";
  Manager m(o);  // the default plugin_dirs: /opt/cni/bin, /usr/lib/cni
  EXPECT_TRUE(m.Status().ok()) << m.Status();
  auto versions = m.PluginVersions("bridge");
  ASSERT_TRUE(versions.ok()) << versions.status();
  EXPECT_NE(std::find(versions->begin(), versions->end(), "1.0.0"), versions->end());
  EXPECT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::cni
