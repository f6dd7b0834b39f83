#include "server/user_namespace.h"

#include <gtest/gtest.h>

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

void AddMapping(google::protobuf::RepeatedPtrField<v1::IDMapping>* list, uint32_t container, uint32_t host,
                uint32_t length) {
  v1::IDMapping* m = list->Add();
  m->set_container_id(container);
  m->set_host_id(host);
  m->set_length(length);
}

v1::NamespaceOption PodMode(uint32_t container = 0, uint32_t host = 1000, uint32_t length = 100000) {
  v1::NamespaceOption ns;
  ns.mutable_userns_options()->set_mode(v1::POD);
  AddMapping(ns.mutable_userns_options()->mutable_uids(), container, host, length);
  AddMapping(ns.mutable_userns_options()->mutable_gids(), container, host, length);
  return ns;
}

// The message of the InvalidArgument error `PodUserNamespace(ns)` must give ("" when it must succeed).
std::string Refusal(const v1::NamespaceOption& ns) {
  auto r = PodUserNamespace(ns);
  if (r.ok()) return "";
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  return std::string(r.status().message());
}

TEST(UserNamespaceTest, HostNamespaceWithoutOptionsOrInModeNode) {
  auto none = PodUserNamespace(v1::NamespaceOption());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  v1::NamespaceOption node;
  node.mutable_userns_options()->set_mode(v1::NODE);
  auto host = PodUserNamespace(node);
  ASSERT_TRUE(host.ok());
  EXPECT_FALSE(host->has_value());
  AddMapping(node.mutable_userns_options()->mutable_uids(), 0, 1000, 10);
  EXPECT_NE(Refusal(node).find("mode NODE"), std::string::npos);
}

TEST(UserNamespaceTest, PodModeWithOneMappingEach) {
  auto maps = PodUserNamespace(PodMode());
  ASSERT_TRUE(maps.ok()) << maps.status();
  ASSERT_TRUE(maps->has_value());
  EXPECT_EQ((*maps)->uid_map, (std::vector<sys::UidGidMapping>{{0, 1000, 100000}}));
  EXPECT_EQ((*maps)->gid_map, (std::vector<sys::UidGidMapping>{{0, 1000, 100000}}));
}

// The sets critest's UserNamespaces specs and the CRI comments refuse, each with its reason.
TEST(UserNamespaceTest, RefusedMappingSets) {
  v1::NamespaceOption two = PodMode();
  AddMapping(two.mutable_userns_options()->mutable_uids(), 0, 2000, 100000);
  AddMapping(two.mutable_userns_options()->mutable_gids(), 0, 2000, 100000);
  EXPECT_NE(Refusal(two).find("exactly one uid and one gid mapping"), std::string::npos);
  EXPECT_NE(Refusal(PodMode(1)).find("container uid 0 (root) is not mapped"), std::string::npos);
  EXPECT_NE(Refusal(PodMode(0, 0)).find("host id 0"), std::string::npos);
  EXPECT_NE(Refusal(PodMode(0, 1000, 0)).find("length 0"), std::string::npos);
  EXPECT_NE(Refusal(PodMode(0, 0xFFFFFF00u, 65536)).find("runs past"), std::string::npos);
  v1::NamespaceOption empty;
  empty.mutable_userns_options();  // mode POD (0) without mappings
  EXPECT_NE(Refusal(empty).find("exactly one"), std::string::npos);
  for (v1::NamespaceMode mode : {v1::CONTAINER, v1::TARGET}) {
    v1::NamespaceOption ns;
    ns.mutable_userns_options()->set_mode(mode);
    EXPECT_NE(Refusal(ns).find(v1::NamespaceMode_Name(mode)), std::string::npos);
  }
  v1::NamespaceOption host_net = PodMode();
  host_net.set_network(v1::NODE);
  EXPECT_NE(Refusal(host_net).find("host's network"), std::string::npos);
  v1::NamespaceOption host_pid = PodMode();
  host_pid.set_pid(v1::NODE);
  EXPECT_NE(Refusal(host_pid).find("host's PID"), std::string::npos);
}

TEST(UserNamespaceTest, ContainersRepeatThePodsNamespace) {
  auto pod = *PodUserNamespace(PodMode());
  EXPECT_TRUE(CheckContainerUserNamespace(v1::NamespaceOption(), pod).ok());
  EXPECT_TRUE(CheckContainerUserNamespace(PodMode(), pod).ok());
  auto differs = CheckContainerUserNamespace(PodMode(0, 5000), pod);
  EXPECT_TRUE(absl::IsInvalidArgument(differs));
  EXPECT_NE(differs.message().find("differ from its pod's"), std::string::npos);
  v1::NamespaceOption node;
  node.mutable_userns_options()->set_mode(v1::NODE);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckContainerUserNamespace(node, pod)));
  EXPECT_TRUE(CheckContainerUserNamespace(node, std::nullopt).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(CheckContainerUserNamespace(PodMode(), std::nullopt)));
  v1::NamespaceOption target;
  target.mutable_userns_options()->set_mode(v1::TARGET);
  EXPECT_TRUE(absl::IsInvalidArgument(CheckContainerUserNamespace(target, pod)));
}

TEST(UserNamespaceTest, MountMappingsGoInPairs) {
  v1::Mount m;
  auto none = MountIdMappings(m, "mount /a");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  AddMapping(m.mutable_uidmappings(), 0, 1000, 10);
  auto one_sided = MountIdMappings(m, "mount /a");
  ASSERT_FALSE(one_sided.ok());
  EXPECT_NE(one_sided.status().message().find("mount /a: uidMappings and gidMappings go together"),
            std::string::npos);
  AddMapping(m.mutable_gidmappings(), 0, 2000, 10);
  auto both = MountIdMappings(m, "mount /a");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ((*both)->gid_map[0].host_id, 2000u);
}

TEST(UserNamespaceTest, IdArithmetic) {
  std::vector<sys::UidGidMapping> map = {{0, 1000, 100}, {500, 5000, 10}};
  EXPECT_EQ(IdInNamespace(map, 1000), 0u);
  EXPECT_EQ(IdInNamespace(map, 1099), 99u);
  EXPECT_EQ(IdInNamespace(map, 1100), 65534u);
  EXPECT_EQ(IdInNamespace(map, 5009), 509u);
  EXPECT_EQ(IdInNamespace(map, 0), 65534u);
  EXPECT_EQ(HostIdOf(map, 0), 1000u);
  EXPECT_EQ(HostIdOf(map, 505), 5005u);
  EXPECT_FALSE(HostIdOf(map, 100).has_value());
}

}  // namespace
}  // namespace cricket::server
