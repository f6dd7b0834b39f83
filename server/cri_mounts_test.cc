#include "server/cri_mounts.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

bool Has(const oci::Mount& m, const std::string& option) {
  return std::find(m.options.begin(), m.options.end(), option) != m.options.end();
}

v1::Mount ReadOnly() {
  v1::Mount m;
  m.set_host_path("/srv/vol");
  m.set_container_path("/mnt");
  m.set_readonly(true);
  return m;
}

TEST(CriMountsTest, RecursiveReadOnlyNeedsReadOnlyAndPrivatePropagation) {
  v1::Mount m = ReadOnly();
  m.set_recursive_read_only(true);
  oci::Mount out;
  ASSERT_TRUE(ApplyMountFeatures(m, std::nullopt, "mount /mnt", out).ok());
  EXPECT_TRUE(Has(out, "rro"));
  for (v1::MountPropagation p : {v1::PROPAGATION_HOST_TO_CONTAINER, v1::PROPAGATION_BIDIRECTIONAL}) {
    m.set_propagation(p);
    oci::Mount refused;
    absl::Status s = ApplyMountFeatures(m, std::nullopt, "mount /mnt", refused);
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
    EXPECT_NE(s.message().find(v1::MountPropagation_Name(p)), std::string::npos) << s;
  }
  m.set_propagation(v1::PROPAGATION_PRIVATE);
  m.set_readonly(false);
  oci::Mount writable;
  absl::Status s = ApplyMountFeatures(m, std::nullopt, "mount /mnt", writable);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("needs readonly"), std::string::npos) << s;
}

TEST(CriMountsTest, MappingsLikeThePodsUseThePodsNamespace) {
  UserNamespaceMaps pod{{{0, 1000, 65536}}, {{0, 1000, 65536}}};
  v1::Mount m = ReadOnly();
  for (auto* list : {m.mutable_uidmappings(), m.mutable_gidmappings()}) {
    v1::IDMapping* id = list->Add();
    id->set_container_id(0);
    id->set_host_id(1000);
    id->set_length(65536);
  }
  oci::Mount same;
  ASSERT_TRUE(ApplyMountFeatures(m, pod, "mount /mnt", same).ok());
  EXPECT_TRUE(Has(same, "idmap"));
  EXPECT_TRUE(same.uid_mappings.empty()) << "the pod's own namespace is used";
  oci::Mount host_pod;
  ASSERT_TRUE(ApplyMountFeatures(m, std::nullopt, "mount /mnt", host_pod).ok());
  EXPECT_TRUE(Has(host_pod, "idmap"));
  ASSERT_EQ(host_pod.uid_mappings.size(), 1u);
  EXPECT_EQ(host_pod.uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(host_pod.gid_mappings[0].size, 65536u);
  oci::Mount plain;
  ASSERT_TRUE(ApplyMountFeatures(ReadOnly(), pod, "mount /mnt", plain).ok());
  EXPECT_FALSE(Has(plain, "idmap")) << "a volume without mappings is not idmapped";
}

TEST(CriMountsTest, MountOptionsOfABindMountOnly) {
  v1::Mount m = ReadOnly();
  m.add_mount_options("noexec");
  m.add_mount_options("nosuid");
  m.add_mount_options("nodev");
  m.add_mount_options("noatime");
  oci::Mount out;
  ASSERT_TRUE(ApplyMountFeatures(m, std::nullopt, "mount /mnt", out).ok());
  EXPECT_EQ(out.options, (std::vector<std::string>{"noexec", "nosuid", "nodev", "noatime"}));
  m.add_mount_options("size=1m");
  oci::Mount refused;
  absl::Status s = ApplyMountFeatures(m, std::nullopt, "mount /mnt", refused);
  EXPECT_TRUE(absl::IsInvalidArgument(s));
  EXPECT_NE(s.message().find("\"size=1m\""), std::string::npos) << s;
  v1::Mount rw = ReadOnly();
  rw.add_mount_options("rw");
  oci::Mount contradiction;
  EXPECT_TRUE(absl::IsInvalidArgument(ApplyMountFeatures(rw, std::nullopt, "mount /mnt", contradiction)));
  EXPECT_TRUE(IsBindMountOption("nosymfollow"));
  EXPECT_FALSE(IsBindMountOption("rro"));
  EXPECT_FALSE(IsBindMountOption("bind"));
}

}  // namespace
}  // namespace cricket::server
