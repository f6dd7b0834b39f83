#include "conmon/exit_watcher.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::conmon {
namespace {

class ExitWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-conmon-exits-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    exits_ = dir_ + "/exits";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  void WriteExit(const std::string& id, int code) {
    ExitRecord r{id, 100, code, 0, 1700000000000000000 + code, code == 137};
    ASSERT_TRUE(WriteFileAtomic(exits_ + "/" + id, FormatExitRecord(r)).ok());
  }

  std::string dir_, exits_;
};

TEST_F(ExitWatcherTest, OpenCreatesTheDirectory) {
  auto w = ExitWatcher::Open(exits_);
  ASSERT_TRUE(w.ok()) << w.status();
  struct stat st;
  ASSERT_EQ(stat(exits_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_GE(w->fd(), 0);
}

TEST_F(ExitWatcherTest, ReportsFilesRenamedIntoPlace) {
  auto w = ExitWatcher::Open(exits_);
  ASSERT_TRUE(w.ok());
  auto none = w->ReadEvents();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  WriteExit("a", 0);
  WriteExit("b", 137);
  auto got = w->Wait(absl::Seconds(5));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, "a");
  EXPECT_EQ((*got)[0].exit_code, 0);
  EXPECT_EQ((*got)[1].id, "b");
  EXPECT_EQ((*got)[1].exit_code, 137);
  EXPECT_TRUE((*got)[1].oom_killed);
  auto again = w->ReadEvents();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

TEST_F(ExitWatcherTest, WaitTimesOutWithNothing) {
  auto w = ExitWatcher::Open(exits_);
  ASSERT_TRUE(w.ok());
  auto got = w->Wait(absl::Milliseconds(50));
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST_F(ExitWatcherTest, TemporariesAndBadFilesAreSkipped) {
  auto w = ExitWatcher::Open(exits_);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(WriteFileAtomic(exits_ + "/.c.tmp-1", "partial").ok());
  ASSERT_TRUE(WriteFileAtomic(exits_ + "/bad", "not json").ok());
  WriteExit("good", 3);
  auto got = w->Wait(absl::Seconds(5));
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, "good");
}

TEST_F(ExitWatcherTest, ScanFindsExitsFromBeforeTheWatch) {
  ASSERT_TRUE(MkdirAll(exits_).ok());
  WriteExit("old1", 1);
  WriteExit("old2", 2);
  auto w = ExitWatcher::Open(exits_);
  ASSERT_TRUE(w.ok());
  auto all = w->Scan();
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].id, "old1");
  EXPECT_EQ((*all)[1].exit_code, 2);
}

TEST_F(ExitWatcherTest, ReadAndRemoveExitFile) {
  ASSERT_TRUE(MkdirAll(exits_).ok());
  EXPECT_EQ(ReadExitFile(exits_, "c").status().code(), absl::StatusCode::kNotFound);
  WriteExit("c", 42);
  auto r = ReadExitFile(exits_, "c");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->exit_code, 42);
  EXPECT_EQ(r->exited_at, 1700000000000000042);
  ASSERT_TRUE(RemoveExitFile(exits_, "c").ok());
  ASSERT_TRUE(RemoveExitFile(exits_, "c").ok());
  EXPECT_EQ(ReadExitFile(exits_, "c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadExitFile(exits_, "../etc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(RemoveExitFile(exits_, "a/b").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cricket::conmon
