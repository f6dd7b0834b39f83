#include "lib/runtime/container_store.h"

#include <gtest/gtest.h>

#include "lib/common/file_util.h"
#include "lib/runtime/testing/test_bundle.h"

namespace cricket::runtime {
namespace {

TEST(ContainerStoreTest, IdsAreValidated) {
  EXPECT_TRUE(ValidateContainerId("abc-DEF_1.2+3").ok());
  for (const char* bad : {"", ".", "..", "a/b", "a b", "x\n", "../etc"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateContainerId(bad))) << bad;
  }
  EXPECT_FALSE(ValidateContainerId(std::string(1025, 'a')).ok());
}

TEST(ContainerStoreTest, RecordsRoundTripAndList) {
  auto dir = testing::TempDir::Create("cricket-store");
  ASSERT_TRUE(dir.ok());
  ContainerStore store(dir->path() + "/root");
  EXPECT_TRUE(store.List()->empty());
  ASSERT_TRUE(store.CreateDir("c1").ok());
  EXPECT_TRUE(absl::IsAlreadyExists(store.CreateDir("c1")));
  ContainerRecord r;
  r.id = "c1";
  r.bundle = "/b";
  r.rootfs = "/b/rootfs";
  r.created_ns = 123;
  r.annotations = {{"k", "v"}};
  r.init = {4242, 987654};
  r.created = true;
  r.cgroups_path = "/kubepods/c1";
  r.shares_host_mount_ns = true;
  ASSERT_TRUE(store.Save(r).ok());
  auto back = store.Load("c1");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->init, r.init);
  EXPECT_EQ(back->annotations, r.annotations);
  EXPECT_TRUE(back->created);
  EXPECT_FALSE(back->started);
  EXPECT_TRUE(back->shares_host_mount_ns);
  EXPECT_EQ(back->cgroups_path, "/kubepods/c1");
  // A directory without a record (a create in progress before its first save) is not listed.
  ASSERT_TRUE(store.CreateDir("c2").ok());
  EXPECT_EQ(*store.List(), std::vector<std::string>{"c1"});
  EXPECT_TRUE(absl::IsNotFound(store.Load("c2").status()));
  EXPECT_NE(store.Load("c2").status().message().find("container c2 does not exist"), std::string::npos);
  auto names = ListDir(store.Dir("c1"));
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"state.json"}) << "a temporary file was left";
}

TEST(ContainerStoreTest, LockOfARemovedContainerIsNotFound) {
  auto dir = testing::TempDir::Create("cricket-store");
  ASSERT_TRUE(dir.ok());
  ContainerStore store(dir->path());
  ASSERT_TRUE(store.CreateDir("c").ok());
  {
    auto lock = store.Lock("c");
    ASSERT_TRUE(lock.ok());
    ASSERT_TRUE(store.RemoveDir("c").ok());
  }
  EXPECT_TRUE(absl::IsNotFound(store.Lock("c").status()));
}

}  // namespace
}  // namespace cricket::runtime
