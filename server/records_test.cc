#include "server/records.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::server {
namespace {

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-records-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  std::string dir_;
};

TEST_F(RecordsTest, RecordsRoundTripThroughDisk) {
  StateStore store(dir_);
  auto s = std::make_shared<Sandbox>();
  {
    absl::MutexLock l(&s->mu);
    s->record.id = "aaaa1111";
    s->record.name = "pod_ns_uid_0";
    s->record.state = SandboxState::kReady;
    s->record.config.mutable_metadata()->set_name("pod");
    s->record.ips = {"10.88.0.2"};
    s->record.network_attached = true;
    s->record.userns_path = "/run/cricket/ns/userns/aaaa1111";
    s->record.pod_resources.emplace().set_memory_limit_in_bytes(256 << 20);
    ASSERT_TRUE(store.Save(s->record).ok());
  }
  ASSERT_TRUE(store.AddSandbox(s, "aaaa1111", "pod_ns_uid_0").ok());
  auto c = std::make_shared<Container>();
  {
    absl::MutexLock l(&c->mu);
    c->record.id = "bbbb2222";
    c->record.name = "ctr_pod_0";
    c->record.sandbox_id = "aaaa1111";
    c->record.state = ContainerState::kExited;
    c->record.exit_code = 137;
    c->record.reason = "OOMKilled";
    c->record.config.add_command("/bin/sh");
    c->record.user = ContainerRecord::User{1000, 1000, {1000, 1234, 50000}};
    ASSERT_TRUE(store.Save(c->record).ok());
  }
  ASSERT_TRUE(store.AddContainer(c, "bbbb2222", "ctr_pod_0", "aaaa1111").ok());

  StateStore reloaded(dir_);
  auto problems = reloaded.Load();
  ASSERT_TRUE(problems.ok()) << problems.status();
  EXPECT_TRUE(problems->empty());
  auto rs = reloaded.GetSandbox("aaaa1111");
  ASSERT_NE(rs, nullptr);
  {
    absl::MutexLock l(&rs->mu);
    EXPECT_EQ(rs->record.config.metadata().name(), "pod");
    EXPECT_EQ(rs->record.state, SandboxState::kReady);
    EXPECT_EQ(rs->record.ips, std::vector<std::string>{"10.88.0.2"});
    EXPECT_TRUE(rs->record.network_attached);
    EXPECT_EQ(rs->record.userns_path, "/run/cricket/ns/userns/aaaa1111");
    ASSERT_TRUE(rs->record.pod_resources.has_value());
    EXPECT_EQ(rs->record.pod_resources->memory_limit_in_bytes(), 256 << 20);
    EXPECT_FALSE(rs->record.pod_overhead.has_value());
  }
  auto rc = reloaded.GetContainer("bbbb2222");
  ASSERT_NE(rc, nullptr);
  {
    absl::MutexLock l(&rc->mu);
    EXPECT_EQ(rc->record.exit_code, 137);
    EXPECT_EQ(rc->record.reason, "OOMKilled");
    EXPECT_EQ(rc->record.config.command(0), "/bin/sh");
    ASSERT_TRUE(rc->record.user.has_value());
    EXPECT_EQ(*rc->record.user, (ContainerRecord::User{1000, 1000, {1000, 1234, 50000}}));
  }
  EXPECT_EQ(reloaded.ContainersOf("aaaa1111").size(), 1u);
}

TEST_F(RecordsTest, NamesAreReservedAndPrefixesResolve) {
  StateStore store(dir_);
  ASSERT_TRUE(store.AddSandbox(std::make_shared<Sandbox>(), "abc123", "pod-a").ok());
  ASSERT_TRUE(store.AddSandbox(std::make_shared<Sandbox>(), "abd456", "pod-b").ok());
  auto dup = store.AddSandbox(std::make_shared<Sandbox>(), "fff", "pod-a");
  EXPECT_TRUE(absl::IsAlreadyExists(dup));
  EXPECT_NE(dup.message().find("abc123"), std::string::npos);
  EXPECT_TRUE(store.FindSandbox("abc").ok());
  EXPECT_TRUE(absl::IsInvalidArgument(store.FindSandbox("ab").status()));
  EXPECT_TRUE(absl::IsNotFound(store.FindSandbox("zzz").status()));
  store.RemoveSandbox("abc123");
  EXPECT_TRUE(store.AddSandbox(std::make_shared<Sandbox>(), "new", "pod-a").ok());
}

TEST_F(RecordsTest, DamagedRecordIsReportedNamedAndSetAside) {
  ASSERT_TRUE(MkdirAll(dir_ + "/containers/broken").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/containers/broken/container.json", "{\"id\": 5").ok());
  ASSERT_TRUE(MkdirAll(dir_ + "/pods/truncated").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/pods/truncated/sandbox.json", "").ok());
  // A creation killed before its record was written: not damage, nothing to report.
  ASSERT_TRUE(MkdirAll(dir_ + "/pods/unwritten").ok());
  StateStore store(dir_);
  auto problems = store.Load();
  ASSERT_TRUE(problems.ok());
  ASSERT_EQ(problems->size(), 2u);
  std::string all = (*problems)[0] + "\n" + (*problems)[1];
  EXPECT_NE(all.find("broken/container.json"), std::string::npos) << all;
  EXPECT_NE(all.find("moved to " + dir_ + "/damaged/containers-broken-"), std::string::npos) << all;
  EXPECT_NE(all.find("truncated/sandbox.json"), std::string::npos) << all;
  EXPECT_TRUE(store.Containers().empty());
  EXPECT_TRUE(store.Sandboxes().empty());
  EXPECT_FALSE(PathExists(dir_ + "/containers/broken"));
  EXPECT_EQ(ListDir(dir_ + "/damaged")->size(), 2u);
  EXPECT_TRUE(PathExists(dir_ + "/pods/unwritten"));
  // Set aside for good: the next load has nothing to report.
  StateStore again(dir_);
  EXPECT_TRUE(again.Load()->empty());
}

}  // namespace
}  // namespace cricket::server
