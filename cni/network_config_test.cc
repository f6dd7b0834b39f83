#include "cni/network_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::cni {
namespace {

class NetworkConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-cni-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void Write(const std::string& name, const std::string& content) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, content).ok());
  }
  std::string dir_;
};

TEST_F(NetworkConfigTest, EmptyDirIsNotReadyWithReason) {
  auto r = LoadDefaultNetwork(dir_, "");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status()));
  EXPECT_NE(r.status().message().find("no CNI configuration file"), std::string::npos);
  EXPECT_FALSE(LoadDefaultNetwork(dir_ + "/missing", "").ok());
}

TEST_F(NetworkConfigTest, FirstValidInLexicalOrderWins) {
  Write("10-broken.conflist", "{not json");
  Write("20-b.conflist", R"({"cniVersion":"1.0.0","name":"b","plugins":[{"type":"bridge"}]})");
  Write("30-a.conf", R"({"cniVersion":"0.4.0","name":"a","type":"ptp"})");
  Write("05-ignored.txt", R"({"name":"x","plugins":[{"type":"bridge"}]})");
  auto r = LoadDefaultNetwork(dir_, "");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->name, "b");
  EXPECT_EQ(r->plugins.size(), 1u);
  auto named = LoadDefaultNetwork(dir_, "a");
  ASSERT_TRUE(named.ok()) << named.status();
  EXPECT_EQ(named->plugins[0]["type"], "ptp");
  auto none = LoadDefaultNetwork(dir_, "zzz");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("10-broken.conflist"), std::string::npos);
}

TEST(ParseNetworkConfig, RejectsMissingFields) {
  EXPECT_FALSE(ParseNetworkConfig("x.conflist", R"({"name":"n","plugins":[]})").ok());
  EXPECT_FALSE(ParseNetworkConfig("x.conflist", R"({"name":"n","plugins":[{"ipam":{}}]})").ok());
  EXPECT_FALSE(ParseNetworkConfig("x.conflist", R"({"plugins":[{"type":"bridge"}]})").ok());
  EXPECT_FALSE(ParseNetworkConfig("x.conf", R"({"name":"n"})").ok());
}

TEST(ParseNetworkConfig, VersionsAndFlags) {
  auto l = ParseNetworkConfig("x.conflist", R"({"cniVersion":"1.0.0","cniVersions":["0.4.0","1.1.0","2.0.0"],
      "name":"n","disableCheck":true,"disableGC":true,"plugins":[{"type":"bridge"}]})");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->cni_version, "1.1.0");  // the highest one cricket speaks
  EXPECT_TRUE(l->disable_check);
  EXPECT_TRUE(l->disable_gc);
  auto none =
      ParseNetworkConfig("x.conflist", R"({"cniVersions":["9.0.0"],"name":"n","plugins":[{"type":"b"}]})");
  EXPECT_TRUE(absl::IsInvalidArgument(none.status())) << none.status();
  auto path_type = ParseNetworkConfig("x.conflist", R"({"name":"n","plugins":[{"type":"../../bin/sh"}]})");
  EXPECT_NE(path_type.status().message().find("is not a file name"), std::string::npos) << path_type.status();
  EXPECT_FALSE(ParseNetworkConfig("x.conflist", R"({"name":"bad/name","plugins":[{"type":"b"}]})").ok());
}

TEST(CompareCniVersions, Orders) {
  EXPECT_LT(CompareCniVersions("0.3.1", "0.4.0"), 0);
  EXPECT_LT(CompareCniVersions("0.4.0", "1.0.0"), 0);
  EXPECT_EQ(CompareCniVersions("1.0.0", "1.0.0"), 0);
  EXPECT_GT(CompareCniVersions("1.1.0", "1.0.0"), 0);
  EXPECT_EQ(CompareCniVersions("", "0.1.0"), 0);
  EXPECT_GT(CompareCniVersions("0.10.0", "0.9.0"), 0);
}

TEST_F(NetworkConfigTest, FingerprintChangesWithTheFiles) {
  std::string empty = NetworkDirFingerprint(dir_);
  EXPECT_NE(NetworkDirFingerprint(dir_ + "/missing"), empty);
  Write("10.conflist", R"({"name":"a","plugins":[{"type":"bridge"}]})");
  std::string one = NetworkDirFingerprint(dir_);
  EXPECT_NE(one, empty);
  EXPECT_EQ(NetworkDirFingerprint(dir_), one);
  Write("10.conflist", R"({"name":"b","plugins":[{"type":"bridge"}]})");  // replaced: new inode
  EXPECT_NE(NetworkDirFingerprint(dir_), one);
}

TEST_F(NetworkConfigTest, FindPluginSearchesTheDirectoriesInOrder) {
  ASSERT_TRUE(MkdirAll(dir_ + "/a").ok());
  ASSERT_TRUE(MkdirAll(dir_ + "/b").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/a/bridge", "#!/bin/sh\n", 0644).ok());  // not executable
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/b/bridge", "#!/bin/sh\n", 0755).ok());
  auto found = FindPlugin("bridge", {dir_ + "/a", dir_ + "/b"});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(*found, dir_ + "/b/bridge");
  auto missing = FindPlugin("portmap", {dir_ + "/a", dir_ + "/b"});
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_NE(missing.status().message().find(dir_ + "/a, " + dir_ + "/b"), std::string::npos)
      << missing.status();
  EXPECT_TRUE(absl::IsInvalidArgument(FindPlugin("../b/bridge", {dir_ + "/a"}).status()));
}

}  // namespace
}  // namespace cricket::cni
