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

}  // namespace
}  // namespace cricket::cni
