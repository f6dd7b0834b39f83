#include "server/runtime_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParsePodCidrsTest, CanonicalFormsAndDualStack) {
  EXPECT_THAT(*ParsePodCidrs("10.99.0.0/16"), ElementsAre("10.99.0.0/16"));
  EXPECT_THAT(*ParsePodCidrs("10.99.3.7/16"), ElementsAre("10.99.0.0/16"));  // host bits cleared
  EXPECT_THAT(*ParsePodCidrs("10.99.0.0/16, fd00:99:0:0::/64"), ElementsAre("10.99.0.0/16", "fd00:99::/64"));
  EXPECT_THAT(*ParsePodCidrs("10.1.2.3/32"), ElementsAre("10.1.2.3/32"));
  EXPECT_THAT(*ParsePodCidrs("10.1.2.3/20"), ElementsAre("10.1.0.0/20"));
}

TEST(ParsePodCidrsTest, BadInputNamesThePart) {
  for (const char* bad : {"10.99.0.0", "10.99.0.0/33", "10.99.0.0/-1", "10.99.0.0/x", "10.999.0.0/16",
                          "fd00::/129", "hello/8", "10.0.0.0/8,", ",10.0.0.0/8"}) {
    auto r = ParsePodCidrs(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("pod CIDR")) << bad;
  }
}

TEST(RuntimeConfigStoreTest, KeptAcrossRestartsAndEmptyChangesNothing) {
  char tmpl[] = "/tmp/cricket-rtconfig-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/runtime-config.json";
  {
    RuntimeConfigStore store(path);
    ASSERT_TRUE(store.Load().ok());  // no file yet
    EXPECT_TRUE(store.PodCidrs().empty());
    EXPECT_TRUE(*store.SetPodCidr("10.99.0.0/16"));
    EXPECT_FALSE(*store.SetPodCidr("10.99.0.0/16"));  // unchanged: not written again
    EXPECT_FALSE(*store.SetPodCidr(""));
    EXPECT_FALSE(store.SetPodCidr("10.99.0.0/40").ok());
    EXPECT_THAT(store.PodCidrs(), ElementsAre("10.99.0.0/16"));
  }
  RuntimeConfigStore reloaded(path);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_THAT(reloaded.PodCidrs(), ElementsAre("10.99.0.0/16"));
  ASSERT_TRUE(WriteFileAtomic(path, "{\"podCIDR\": 5}").ok());
  RuntimeConfigStore damaged(path);
  absl::Status st = damaged.Load();
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(st.message()), HasSubstr(path));
  EXPECT_TRUE(damaged.PodCidrs().empty());
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::server
