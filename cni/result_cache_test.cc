#include "cni/result_cache.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "lib/common/file_util.h"
#include "lib/common/json_util.h"

namespace cricket::cni {
namespace {

using Json = nlohmann::json;

class ResultCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-cnicache-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { EXPECT_TRUE(RemoveAll(root_).ok()); }
  CacheEntry Entry(const std::string& net, const std::string& id, const std::string& ifname) {
    CacheEntry e;
    e.network_name = net;
    e.container_id = id;
    e.ifname = ifname;
    e.netns = "/run/ns/" + id;
    e.config = R"({"name":")" + net + R"(","plugins":[{"type":"bridge"}]})";
    e.cni_args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "p"}};
    e.capability_args = {{"portMappings", Json::array()}};
    return e;
  }
  std::string root_;
};

TEST_F(ResultCacheTest, RoundTripInLibcniLayout) {
  ResultCache cache(root_ + "/results");
  CacheEntry e = Entry("podnet", "abc", "eth0");
  e.result = {{"cniVersion", "1.0.0"}, {"ips", Json::array()}};
  ASSERT_TRUE(cache.Write(e).ok());
  std::string path = root_ + "/results/podnet-abc-eth0";
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto doc = ReadJsonFile(path);
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["kind"], "cniCacheV1");
  EXPECT_EQ((*doc)["containerId"], "abc");
  EXPECT_EQ((*doc)["networkName"], "podnet");
  EXPECT_EQ((*doc)["ifName"], "eth0");
  EXPECT_EQ((*doc)["cniArgs"], Json::parse(R"([["IgnoreUnknown","1"],["K8S_POD_NAME","p"]])"));
  EXPECT_NE((*doc)["config"].get<std::string>(), e.config);  // base64, as Go encodes []byte
  auto found = cache.Find("abc", "eth0");
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].config, e.config);
  EXPECT_EQ((*found)[0].result, e.result);
  EXPECT_EQ((*found)[0].cni_args, e.cni_args);
  EXPECT_EQ((*found)[0].netns, e.netns);
}

TEST_F(ResultCacheTest, FindIsDecidedByContentNotByTheDashedName) {
  ResultCache cache(root_);
  // "a-b-c-eth0" and "x-b-c-eth0" both end in "-c-eth0" and in "-b-c-eth0".
  ASSERT_TRUE(cache.Write(Entry("a-b", "c", "eth0")).ok());
  ASSERT_TRUE(cache.Write(Entry("x", "b-c", "eth0")).ok());
  ASSERT_TRUE(cache.Write(Entry("other", "c", "eth0")).ok());
  auto c = cache.Find("c", "eth0");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].network_name, "a-b");
  EXPECT_EQ((*c)[1].network_name, "other");
  auto bc = cache.Find("b-c", "eth0");
  ASSERT_TRUE(bc.ok());
  ASSERT_EQ(bc->size(), 1u);
  EXPECT_EQ((*bc)[0].network_name, "x");
  EXPECT_TRUE(cache.Find("c", "eth1")->empty());
}

TEST_F(ResultCacheTest, ListSkipsBrokenFilesAndRemoveIsIdempotent) {
  ResultCache cache(root_);
  EXPECT_TRUE(ResultCache(root_ + "/missing").List()->empty());
  ASSERT_TRUE(cache.Write(Entry("n", "x", "eth0")).ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/n-broken-eth0", "{not json").ok());
  ASSERT_TRUE(WriteFileAtomic(root_ + "/n-other-eth0", R"({"kind":"somethingElse"})").ok());
  std::vector<std::string> problems;
  auto all = cache.List(&problems);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ(problems.size(), 2u);
  ASSERT_TRUE(cache.Remove((*all)[0]).ok());
  EXPECT_TRUE(cache.Remove((*all)[0]).ok());
  EXPECT_TRUE(cache.Find("x", "eth0")->empty());
}

}  // namespace
}  // namespace cricket::cni
