#include "lib/intent/intent_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"

namespace cricket::intent {
namespace {

class IntentLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-intent-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(IntentLogTest, AnIntentIsOnDiskUntilDone) {
  auto log = Log::Open(dir_ + "/intents");
  ASSERT_TRUE(log.ok()) << log.status();
  auto in = log->Begin("run-pod-sandbox", "abc123", {{"run_dir", "/run/x"}});
  ASSERT_TRUE(in.ok()) << in.status();
  std::vector<std::string> problems;
  auto pending = log->Pending(&problems);
  ASSERT_TRUE(pending.ok());
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].kind, "run-pod-sandbox");
  EXPECT_EQ((*pending)[0].object, "abc123");
  EXPECT_EQ((*pending)[0].data["run_dir"], "/run/x");
  EXPECT_EQ((*pending)[0].owner_pid, ::getpid());
  EXPECT_GT((*pending)[0].started, 0);

  ASSERT_TRUE(in->Note("monitor_pid", 42).ok());
  pending = log->Pending(&problems);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].data["monitor_pid"], 42);
  EXPECT_EQ((*pending)[0].data["run_dir"], "/run/x");

  ASSERT_TRUE(in->Done().ok());
  EXPECT_TRUE(log->Pending(&problems)->empty());
  EXPECT_TRUE(problems.empty());
  EXPECT_FALSE(in->Note("late", 1).ok());
}

TEST_F(IntentLogTest, TheDestructorResolvesUnlessKept) {
  auto log = Log::Open(dir_);
  ASSERT_TRUE(log.ok());
  { auto in = log->Begin("create-container", "c1"); }
  std::vector<std::string> problems;
  EXPECT_TRUE(log->Pending(&problems)->empty());
  {
    auto in = log->Begin("create-container", "c2");
    ASSERT_TRUE(in.ok());
    in->Keep();
  }
  auto pending = log->Pending(&problems);
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].object, "c2");
  ASSERT_TRUE(log->Resolve((*pending)[0]).ok());
  EXPECT_TRUE(log->Pending(&problems)->empty());
  EXPECT_TRUE(log->Resolve((*pending)[0]).ok()) << "resolving twice is fine";
}

TEST_F(IntentLogTest, PendingListsInTheOrderWritten) {
  auto log = Log::Open(dir_);
  ASSERT_TRUE(log.ok());
  std::vector<Intent> open;
  for (const char* id : {"z", "a", "m", "b"}) {
    auto in = log->Begin("op", id);
    ASSERT_TRUE(in.ok());
    open.push_back(*std::move(in));
  }
  std::vector<std::string> problems;
  auto pending = log->Pending(&problems);
  ASSERT_EQ(pending->size(), 4u);
  EXPECT_EQ((*pending)[0].object, "z");
  EXPECT_EQ((*pending)[1].object, "a");
  EXPECT_EQ((*pending)[2].object, "m");
  EXPECT_EQ((*pending)[3].object, "b");
}

TEST_F(IntentLogTest, DamagedRecordsAreSetAsideAndNamed) {
  auto log = Log::Open(dir_);
  ASSERT_TRUE(log.ok());
  auto good = log->Begin("op", "good");
  ASSERT_TRUE(good.ok());
  good->Keep();
  ASSERT_TRUE(
      WriteFileAtomic(dir_ + "/00000000000000000001-00000000-op-bad.json", "{\"kind\": \"op\", \"obj").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/00000000000000000002-00000000-op-empty.json", "").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/00000000000000000003-00000000-op-wrong.json", "{\"kind\": 3}").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/.00000000000000000004-00000000-op-x.json.tmp-AbCdEf", "{\"ki").ok());
  std::vector<std::string> problems;
  auto pending = log->Pending(&problems);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].object, "good");
  EXPECT_FALSE(PathExists(dir_ + "/.00000000000000000004-00000000-op-x.json.tmp-AbCdEf"))
      << "the temporary file of a killed write is removed";
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("op-bad.json"), std::string::npos) << problems[0];
  EXPECT_TRUE(PathExists(dir_ + "/damaged-00000000000000000001-00000000-op-bad.json"));
  problems.clear();
  EXPECT_EQ(log->Pending(&problems)->size(), 1u);
  EXPECT_TRUE(problems.empty()) << "set-aside records are not read again";
}

TEST_F(IntentLogTest, RefusesNamesThatAreNotWords) {
  auto log = Log::Open(dir_);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->Begin("op", "../x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Begin("", "x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Begin("op", "x", nlohmann::json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cricket::intent
