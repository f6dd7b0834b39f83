#include "server/config.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "lib/common/file_util.h"

namespace cricket::server {
namespace {

using ::testing::Test;

class ConfigTest : public Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-config-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MkdirAll(dir_ + "/conf.d").ok());
    sources_.config_file = dir_ + "/cricket.conf";
    sources_.config_dir = dir_ + "/conf.d";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void Write(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + rel, text).ok());
  }
  absl::StatusOr<Config> Load(ConfigOverrides overrides = {}) {
    warnings_.clear();
    return LoadConfig(sources_, overrides, &warnings_);
  }
  std::string dir_;
  ConfigSources sources_;
  std::vector<ConfigWarning> warnings_;
};

TEST_F(ConfigTest, DefaultsWhenNoFileExists) {
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api.listen, "/run/cricket/cricket.sock");
  EXPECT_EQ(c->root.root, "/var/lib/cricket");
  EXPECT_EQ(c->runtime.cgroup_manager, "cgroupfs");
  EXPECT_TRUE(c->runtimes.contains("cricket"));
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(ConfigTest, CdiSpecDirs) {
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->runtime.cdi_spec_dirs, (std::vector<std::string>{"/etc/cdi", "/var/run/cdi"}));
  Write("cricket.conf", "[crio.runtime]\ncdi_spec_dirs = [\"/srv/cdi\"]\n");
  c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->runtime.cdi_spec_dirs, std::vector<std::string>{"/srv/cdi"});
  Write("cricket.conf", "[crio.runtime]\ncdi_spec_dirs = [\"cdi\"]\n");
  c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("crio.runtime.cdi_spec_dirs"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, ExplicitMissingConfigFileIsAnError) {
  sources_.config_file_required = true;
  auto c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_ + "/cricket.conf"), std::string::npos);
}

TEST_F(ConfigTest, PrecedenceFileThenDropInsInLexicalOrderThenFlags) {
  Write("cricket.conf", R"(
[crio]
root = "/srv/from-main"
runroot = "/run/from-main"
[crio.runtime]
log_level = "debug"
cgroup_manager = "systemd"
)");
  Write("conf.d/20-b.conf", "[crio.runtime]\nlog_level = \"warn\"\n");
  Write("conf.d/10-a.conf", "[crio.runtime]\nlog_level = \"error\"\ncgroup_manager = \"cgroupfs\"\n");
  Write("conf.d/30-ignored.txt", "this is not toml = = =");
  ConfigOverrides flags;
  flags.runroot = "/run/from-flag";
  auto c = Load(flags);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->root.root, "/srv/from-main");         // only the main file sets it
  EXPECT_EQ(c->root.runroot, "/run/from-flag");      // the flag beats the file
  EXPECT_EQ(c->runtime.log_level, "warn");           // 20-b comes after 10-a
  EXPECT_EQ(c->runtime.cgroup_manager, "cgroupfs");  // 10-a beats the main file
}

TEST_F(ConfigTest, CrioConfTablesAreReadAndUnknownKeysWarnWithFileAndLine) {
  Write("cricket.conf", R"([crio]
root = "/var/lib/x"
version_file = "/var/run/crio/version"

[crio.api]
listen = "/run/x/x.sock"
stream_port = "10010"

[crio.runtime]
default_runtime = "crun"
conmon_cgroup = "pod"

[crio.runtime.runtimes.crun]
runtime_path = "/usr/bin/crun"
runtime_root = "/run/crun"
monitor_path = "/usr/libexec/crio/conmon"

[crio.image]
pause_image = "registry.k8s.io/pause:3.9"
pinned_images = ["registry.k8s.io/pause:3.9"]

[crio.network]
network_dir = "/etc/cni/net.d/"
plugin_dirs = ["/opt/cni/bin/"]

[crio.tracing]
enable_tracing = false
)");
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->api.listen, "/run/x/x.sock");
  EXPECT_EQ(c->api.stream_port, "10010");
  EXPECT_EQ(c->runtime.default_runtime, "crun");
  ASSERT_TRUE(c->runtimes.contains("crun"));
  EXPECT_EQ(c->runtimes.at("crun").runtime_root, "/run/crun");
  EXPECT_EQ(c->RuntimeRoot("crun"), "/run/crun");
  EXPECT_EQ(c->image.pinned_images.size(), 1u);
  std::string all;
  for (const auto& w : warnings_) all += w.ToString() + "\n";
  EXPECT_NE(all.find("cricket.conf:3: unknown key crio.version_file"), std::string::npos) << all;
  EXPECT_NE(all.find("unknown table crio.tracing"), std::string::npos) << all;
  EXPECT_NE(all.find("runtime_path = \"/usr/bin/crun\" is not executed"), std::string::npos) << all;
  EXPECT_NE(
      all.find("cricket.conf:19: crio.image.pause_image has no effect: cricket runs its built-in infra"),
      std::string::npos)
      << all;
}

TEST_F(ConfigTest, MalformedTomlNamesFileAndLine) {
  Write("cricket.conf", "[crio]\nroot = \"/x\"\n[crio.api\nlisten = 1\n");
  auto c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(c.status()));
  EXPECT_TRUE(absl::StrContains(c.status().message(), dir_ + "/cricket.conf:3:")) << c.status();
}

TEST_F(ConfigTest, WrongTypeNamesFileLineAndKey) {
  Write("conf.d/50-bad.conf", "\n[crio.api]\n\nstream_port = 10010\n");
  auto c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            dir_ + "/conf.d/50-bad.conf:4: crio.api.stream_port: expected a string, got an integer");
  Write("conf.d/50-bad.conf", "[crio.runtime]\ndefault_capabilities = [\"CHOWN\", 3]\n");
  c = Load();
  ASSERT_FALSE(c.ok());
  EXPECT_TRUE(
      absl::StrContains(c.status().message(), "crio.runtime.default_capabilities[1]: expected a string"))
      << c.status();
}

TEST_F(ConfigTest, ValidateErrorsNameTheKey) {
  struct Case {
    std::string toml;
    std::string key;
  } cases[] = {
      {"[crio.runtime]\ncgroup_manager = \"both\"\n", "crio.runtime.cgroup_manager"},
      {"[crio.runtime]\nlog_level = \"loud\"\n", "crio.runtime.log_level"},
      {"[crio.runtime]\ndefault_capabilities = [\"CAP_FLY\"]\n", "crio.runtime.default_capabilities"},
      {"[crio.runtime]\ndefault_ulimits = [\"nofile=10:5\"]\n", "crio.runtime.default_ulimits"},
      {"[crio.runtime]\ndefault_runtime = \"kata\"\n", "crio.runtime.default_runtime"},
      {"[crio.api]\nstream_port = \"70000\"\n", "crio.api.stream_port"},
      {"[crio.api]\nstream_idle_timeout = \"4 hours\"\n", "crio.api.stream_idle_timeout"},
      {"[crio.api]\nlisten = \"relative.sock\"\n", "crio.api.listen"},
      {"[crio]\nstorage_driver = \"btrfs\"\n", "crio.storage_driver"},
      {"[crio.image]\nimage_volumes = \"nope\"\n", "crio.image.image_volumes"},
      {"[crio.image]\nmax_layer_entries = 0\n", "crio.image.max_layer_entries"},
      {"[crio.image]\nmax_image_sparse_size = -1\n", "crio.image.max_image_sparse_size"},
      {"[crio.image]\nmax_layer_expansion_ratio = -5\n", "crio.image.max_layer_expansion_ratio"},
      {"[crio.image]\nmin_free_space = \"lots\"\n", "crio.image.min_free_space"},
      {"[crio.image]\nmin_free_space = \"150%\"\n", "crio.image.min_free_space"},
      {"[crio.image]\nfailed_layer_cache_duration = \"soon\"\n", "crio.image.failed_layer_cache_duration"},
      {"[crio.image]\nfailed_layer_cache_size = -1\n", "crio.image.failed_layer_cache_size"},
      {"[crio.runtime.runtimes.vm]\nruntime_type = \"vm\"\n", "crio.runtime.runtimes.vm"},
  };
  for (const Case& tc : cases) {
    Write("cricket.conf", tc.toml);
    auto c = Load();
    ASSERT_FALSE(c.ok()) << tc.toml;
    EXPECT_TRUE(absl::StartsWith(c.status().message(), tc.key)) << c.status();
  }
}

TEST_F(ConfigTest, PrintedConfigReadsBackToTheSameValues) {
  Write("cricket.conf", R"([crio.runtime]
default_env = ["A=1", "B=has \"quotes\""]
ctr_stop_timeout = 45
[crio.runtime.runtimes.other]
runtime_root = "/run/other"
)");
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  std::string printed = FormatConfigToml(*c);
  Config reread;
  std::vector<ConfigWarning> w;
  ASSERT_TRUE(ApplyToml(printed, "printed", reread, &w).ok()) << printed;
  EXPECT_TRUE(w.empty()) << w.front().ToString();
  EXPECT_TRUE(DiffConfig(*c, reread).empty()) << printed;
  EXPECT_EQ(reread.runtime.default_env[1], "B=has \"quotes\"");
}

// The pull bounds are read, printed with their documentation, and reload on SIGHUP.
TEST_F(ConfigTest, PullBoundsAreReadPrintedAndReloadable) {
  Write("cricket.conf", R"([crio.image]
max_layer_size = 1073741824
max_layer_entries = 5000
max_layer_sparse_size = 1
max_image_size = 2147483648
max_image_entries = 9000
max_image_sparse_size = 2
max_layer_expansion_ratio = 0
min_free_space = "2GiB"
failed_layer_cache_duration = "30s"
failed_layer_cache_size = 7
)");
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(warnings_.empty());
  EXPECT_EQ(c->image.max_layer_size, int64_t{1} << 30);
  EXPECT_EQ(c->image.max_layer_entries, 5000);
  EXPECT_EQ(c->image.max_layer_sparse_size, 1);
  EXPECT_EQ(c->image.max_image_size, int64_t{2} << 30);
  EXPECT_EQ(c->image.max_image_entries, 9000);
  EXPECT_EQ(c->image.max_image_sparse_size, 2);
  EXPECT_EQ(c->image.max_layer_expansion_ratio, 0);
  EXPECT_EQ(c->image.min_free_space, "2GiB");
  EXPECT_EQ(c->image.failed_layer_cache_duration, "30s");
  EXPECT_EQ(c->image.failed_layer_cache_size, 7);
  std::string printed = FormatConfigToml(Config());
  for (const char* key : {"max_layer_size = 274877906944", "max_layer_entries = 2000000",
                          "max_layer_sparse_size = 68719476736", "max_image_size = 549755813888",
                          "max_image_entries = 8000000", "max_image_sparse_size = 274877906944",
                          "max_layer_expansion_ratio = 100", "min_free_space = \"5%\"",
                          "failed_layer_cache_duration = \"10m\"", "failed_layer_cache_size = 1000"}) {
    EXPECT_TRUE(absl::StrContains(printed, key)) << key;
  }
  Config applied = ApplyReloadable(Config(), *c);
  EXPECT_EQ(applied.image.max_layer_entries, 5000);
  EXPECT_EQ(applied.image.min_free_space, "2GiB");
}

TEST_F(ConfigTest, DiffAndReloadOnlyApplyReloadableSettings) {
  Config before;
  Config after;
  after.runtime.log_level = "debug";
  after.api.listen = "/run/other.sock";
  after.image.pinned_images = {"x"};
  auto changes = DiffConfig(before, after);
  ASSERT_EQ(changes.size(), 3u);
  EXPECT_EQ(changes[0].key, "crio.api.listen");
  EXPECT_FALSE(changes[0].reloadable);
  EXPECT_EQ(changes[1].key, "crio.runtime.log_level");
  EXPECT_TRUE(changes[1].reloadable);
  Config applied = ApplyReloadable(before, after);
  EXPECT_EQ(applied.runtime.log_level, "debug");
  EXPECT_EQ(applied.image.pinned_images, std::vector<std::string>{"x"});
  EXPECT_EQ(applied.api.listen, before.api.listen);
}

TEST(ParseDuration, GoSyntax) {
  EXPECT_EQ(*ParseDuration("4h"), 4LL * 3600 * 1000000000);
  EXPECT_EQ(*ParseDuration("1m30s"), 90LL * 1000000000);
  EXPECT_EQ(*ParseDuration("250ms"), 250LL * 1000000);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500LL * 1000000);
  EXPECT_EQ(*ParseDuration("0"), 0);
  EXPECT_FALSE(ParseDuration("10").ok());
  EXPECT_FALSE(ParseDuration("5 min").ok());
  EXPECT_FALSE(ParseDuration("").ok());
}

TEST_F(ConfigTest, MetricsAndStatsTables) {
  auto defaults = Load();
  ASSERT_TRUE(defaults.ok()) << defaults.status();
  EXPECT_FALSE(defaults->metrics.enable_metrics);
  EXPECT_EQ(defaults->metrics.metrics_host, "127.0.0.1");
  EXPECT_TRUE(defaults->metrics.metrics_socket.empty());
  EXPECT_NE(std::find(defaults->metrics.metrics_collectors.begin(),
                      defaults->metrics.metrics_collectors.end(), "operations_total"),
            defaults->metrics.metrics_collectors.end());
  EXPECT_EQ(defaults->stats.included_pod_metrics, (std::vector<std::string>{"cpu", "memory", "network"}));

  Write("cricket.conf",
        "[crio.metrics]\nenable_metrics = true\nmetrics_socket = \"/run/m.sock\"\n"
        "metrics_collectors = [\"crio_operations_total\", \"image_pulls_layer_size\"]\n"
        "[crio.stats]\nincluded_pod_metrics = [\"all\"]\n");
  auto c = Load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->metrics.enable_metrics);
  EXPECT_EQ(c->metrics.metrics_socket, "/run/m.sock");
  EXPECT_EQ(c->metrics.metrics_collectors.size(), 2u);
  EXPECT_EQ(c->stats.included_pod_metrics, std::vector<std::string>{"all"});
  EXPECT_TRUE(warnings_.empty());

  auto refused = [&](const std::string& toml, const std::string& want) {
    Write("cricket.conf", toml);
    auto r = Load();
    ASSERT_FALSE(r.ok()) << toml;
    EXPECT_TRUE(absl::StrContains(r.status().message(), want)) << r.status();
  };
  refused("[crio.metrics]\nmetrics_collectors = [\"no_such\"]\n",
          "crio.metrics.metrics_collectors: unknown collector \"no_such\"");
  refused("[crio.metrics]\nmetrics_socket = \"relative.sock\"\n", "crio.metrics.metrics_socket");
  refused("[crio.stats]\nincluded_pod_metrics = [\"cpu\", \"gpu\"]\n",
          "crio.stats.included_pod_metrics: unknown metric group \"gpu\"");
  refused("[crio.stats]\nincluded_pod_metrics = [\"all\", \"cpu\"]\n", "\"all\" must be the only entry");
  refused("[crio.stats]\nincluded_pod_metrics = \"cpu\"\n",
          "crio.stats.included_pod_metrics: expected an array");
}

}  // namespace
}  // namespace cricket::server
