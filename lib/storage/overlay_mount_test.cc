#include "lib/storage/overlay_mount.h"

#include <gtest/gtest.h>

#include "lib/common/strings.h"

namespace cricket::storage {
namespace {

std::vector<std::string> Links(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(StrCat("l/", std::string(12 - std::to_string(i).size(), 'a'), i));
  return out;
}

TEST(OverlayMountPlanTest, OptionsNameLayersTopFirstWithUpperAndWork) {
  auto plan = PlanOverlayMount("/s/overlay", "/s/c/merged", {"l/top", "l/base"}, "/s/c/upper", "/s/c/work",
                               {"metacopy=off"});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->data, "lowerdir=l/top:l/base,upperdir=/s/c/upper,workdir=/s/c/work,metacopy=off");
  EXPECT_FALSE(plan->readonly);
  auto ro = PlanOverlayMount("/s/overlay", "/m", {"l/a", "/s/c/lower-pad"}, "", "", {});
  ASSERT_TRUE(ro.ok());
  EXPECT_TRUE(ro->readonly);
  EXPECT_EQ(ro->data, "lowerdir=l/a:/s/c/lower-pad");
  EXPECT_FALSE(PlanOverlayMount("/s", "/m", {"l/a"}, "", "", {}).ok());
  EXPECT_FALSE(PlanOverlayMount("/s", "/m", {"l/a:b"}, "/u", "/w", {}).ok());
}

TEST(OverlayMountPlanTest, ShortLinksFitTwoHundredLayersInOnePage) {
  std::string upper = "/var/lib/cricket/storage/overlay-containers/" + std::string(64, 'c') + "/upper";
  std::string work = "/var/lib/cricket/storage/overlay-containers/" + std::string(64, 'c') + "/work";
  auto plan = PlanOverlayMount("/var/lib/cricket/storage/overlay", "/m", Links(200), upper, work, {});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_LT(plan->data.size(), 4096u);
  auto too_many = PlanOverlayMount("/x", "/m", Links(300), upper, work, {});
  ASSERT_FALSE(too_many.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(too_many.status()));
  EXPECT_NE(too_many.status().message().find("300 layers"), absl::string_view::npos);
}

}  // namespace
}  // namespace cricket::storage
