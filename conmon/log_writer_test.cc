#include "conmon/log_writer.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::conmon {
namespace {

constexpr int64_t kT0 = 1475713029669794202;  // 2016-10-06T00:17:09.669794202Z
constexpr char kTs0[] = "2016-10-06T00:17:09.669794202Z";

struct Record {
  std::string time, stream, tag, content;
};

// Parses records the way kubelet and critest do: SplitN(line, " ", 4) per '\n'-terminated line.
std::vector<Record> ParseLog(const std::string& text) {
  std::vector<Record> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "record without a newline at offset " << pos;
    if (nl == std::string::npos) break;
    std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    Record r;
    size_t a = line.find(' '), b = line.find(' ', a + 1), c = line.find(' ', b + 1);
    EXPECT_NE(c, std::string::npos) << line;
    if (c == std::string::npos) continue;
    r.time = line.substr(0, a);
    r.stream = line.substr(a + 1, b - a - 1);
    r.tag = line.substr(b + 1, c - b - 1);
    r.content = line.substr(c + 1);
    out.push_back(r);
  }
  return out;
}

// Joins P chunks and their F the way kubelet reassembles lines.
std::vector<std::string> Lines(const std::vector<Record>& records, std::string_view stream) {
  std::vector<std::string> lines;
  std::string cur;
  for (const auto& r : records) {
    if (r.stream != stream) continue;
    cur += r.content;
    if (r.tag == "F") {
      lines.push_back(cur);
      cur.clear();
    }
  }
  if (!cur.empty()) lines.push_back(cur + "<partial>");
  return lines;
}

class LogWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-conmon-log-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/pods/ns_pod_uid/ctr/0.log";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  LogWriter Open(int64_t size_max = -1, size_t chunk = kDefaultChunkSize) {
    auto w = LogWriter::Open(
        {.path = path_, .size_max = size_max, .chunk_size = chunk, .clock = [this] { return now_; }});
    EXPECT_TRUE(w.ok()) << w.status();
    return std::move(*w);
  }
  std::string Content(const std::string& path = "") {
    return ReadFile(path.empty() ? path_ : path).value_or("<missing>");
  }

  std::string dir_, path_;
  int64_t now_ = kT0;
};

TEST_F(LogWriterTest, CompleteLinesAreFullRecordsInCriFormat) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "hello World\nsecond\n").ok());
  now_ += 1'000'000'000;
  ASSERT_TRUE(w.Write(Stream::kStderr, "oops\n").ok());
  EXPECT_EQ(Content(), StrCat(kTs0, " stdout F hello World\n", kTs0, " stdout F second\n",
                              "2016-10-06T00:17:10.669794202Z stderr F oops\n"));
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(*ParseRFC3339(records[0].time), kT0);
}

TEST_F(LogWriterTest, ParentDirectoriesAreCreatedWithTheFile) {
  LogWriter w = Open();
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(st.st_size, 0);
}

TEST_F(LogWriterTest, EmptyLinesAreKept) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "\n\na\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].content, "");
  EXPECT_EQ(records[0].tag, "F");
  EXPECT_EQ(records[2].content, "a");
}

TEST_F(LogWriterTest, PartialLineWaitsForItsNewlineAcrossWrites) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "hel").ok());
  EXPECT_EQ(Content(), "");
  EXPECT_EQ(w.pending(Stream::kStdout), 3u);
  ASSERT_TRUE(w.Write(Stream::kStdout, "lo\nwor").ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "ld\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].content, "hello");
  EXPECT_EQ(records[0].tag, "F");
  EXPECT_EQ(records[1].content, "world");
}

TEST_F(LogWriterTest, StreamsKeepSeparatePartialLines) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "out-").ok());
  ASSERT_TRUE(w.Write(Stream::kStderr, "err-").ok());
  ASSERT_TRUE(w.Write(Stream::kStderr, "line\n").ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "line\n").ok());
  auto records = ParseLog(Content());
  EXPECT_EQ(Lines(records, "stdout"), std::vector<std::string>{"out-line"});
  EXPECT_EQ(Lines(records, "stderr"), std::vector<std::string>{"err-line"});
}

TEST_F(LogWriterTest, FlushWritesTheUnterminatedTailAsPartial) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStderr, "done\nno newline at EOF").ok());
  ASSERT_TRUE(w.Flush(Stream::kStderr).ok());
  ASSERT_TRUE(w.Flush(Stream::kStdout).ok());  // nothing held: no record
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].tag, "P");
  EXPECT_EQ(records[1].stream, "stderr");
  EXPECT_EQ(records[1].content, "no newline at EOF");
  EXPECT_EQ(Content().back(), '\n');
}

TEST_F(LogWriterTest, LongLinesAreSplitIntoChunks) {
  LogWriter w = Open(-1, 8);
  ASSERT_TRUE(w.Write(Stream::kStdout, "0123456789abcdefXYZ\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].tag, "P");
  EXPECT_EQ(records[0].content, "01234567");
  EXPECT_EQ(records[1].tag, "P");
  EXPECT_EQ(records[1].content, "89abcdef");
  EXPECT_EQ(records[2].tag, "F");
  EXPECT_EQ(records[2].content, "XYZ");
}

TEST_F(LogWriterTest, ExactChunkMultipleEndsWithAFullChunk) {
  LogWriter w = Open(-1, 4);
  ASSERT_TRUE(w.Write(Stream::kStdout, "abcdefgh\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].tag, "P");
  EXPECT_EQ(records[1].tag, "F");
  EXPECT_EQ(records[1].content, "efgh");
}

TEST_F(LogWriterTest, LongUnterminatedOutputIsNotHeldBeyondOneChunk) {
  LogWriter w = Open(-1, 4);
  ASSERT_TRUE(w.Write(Stream::kStdout, "ab").ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "cdefghi").ok());
  EXPECT_EQ(w.pending(Stream::kStdout), 1u);
  ASSERT_TRUE(w.Write(Stream::kStdout, "\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].content, "abcd");
  EXPECT_EQ(records[1].content, "efgh");
  EXPECT_EQ(records[2].content, "i");
  EXPECT_EQ(records[2].tag, "F");
  EXPECT_EQ(Lines(records, "stdout"), std::vector<std::string>{"abcdefghi"});
}

TEST_F(LogWriterTest, HeldTailPlusLongLineIsReassembledExactly) {
  LogWriter w = Open(-1, 16);
  std::string big(100, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(w.Write(Stream::kStdout, "head:").ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, big + "\ntail\n").ok());
  auto records = ParseLog(Content());
  for (const auto& r : records) EXPECT_LE(r.content.size(), 16u);
  EXPECT_EQ(Lines(records, "stdout"), (std::vector<std::string>{"head:" + big, "tail"}));
}

TEST_F(LogWriterTest, DefaultChunkIs16KiB) {
  LogWriter w = Open();
  std::string line(40 * 1024, 'z');
  ASSERT_TRUE(w.Write(Stream::kStdout, line + "\n").ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].content.size(), 16384u);
  EXPECT_EQ(records[1].content.size(), 16384u);
  EXPECT_EQ(records[2].content.size(), 40u * 1024 - 32768);
}

TEST_F(LogWriterTest, CarriageReturnsAndBinaryBytesPassThrough) {
  LogWriter w = Open();
  std::string data("a\r\nb\0c\n", 7);
  ASSERT_TRUE(w.Write(Stream::kStdout, data).ok());
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].content, "a\r");
  EXPECT_EQ(records[1].content, std::string("b\0c", 3));
}

TEST_F(LogWriterTest, ReopenAfterRenameStartsANewFileAndTheOldStopsGrowing) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "before\n").ok());
  std::string rotated = path_ + ".20240101-000000";
  ASSERT_EQ(rename(path_.c_str(), rotated.c_str()), 0);
  ASSERT_TRUE(w.Write(Stream::kStdout, "still old\n").ok());
  ASSERT_TRUE(w.Reopen().ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "after\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content(rotated)), "stdout"), (std::vector<std::string>{"before", "still old"}));
  EXPECT_EQ(Lines(ParseLog(Content()), "stdout"), std::vector<std::string>{"after"});
}

TEST_F(LogWriterTest, ReopenOfAnExistingFileAppends) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "one\n").ok());
  ASSERT_TRUE(w.Reopen().ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "two\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content()), "stdout"), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(w.file_bytes(), static_cast<int64_t>(Content().size()));
}

TEST_F(LogWriterTest, PartialLineSurvivesReopen) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "spl").ok());
  ASSERT_EQ(rename(path_.c_str(), (path_ + ".1").c_str()), 0);
  ASSERT_TRUE(w.Reopen().ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "it\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content()), "stdout"), std::vector<std::string>{"split"});
}

TEST_F(LogWriterTest, FailedReopenKeepsTheOldFile) {
  LogWriter w = Open();
  ASSERT_TRUE(w.Write(Stream::kStdout, "one\n").ok());
  std::string parent = dir_ + "/pods/ns_pod_uid/ctr";
  ASSERT_EQ(rename(path_.c_str(), (dir_ + "/moved.log").c_str()), 0);
  // Make the path impossible to create: its parent becomes a file.
  ASSERT_TRUE(RemoveAll(dir_ + "/pods").ok());
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/pods", "not a directory").ok());
  EXPECT_FALSE(w.Reopen().ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, "two\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content(dir_ + "/moved.log")), "stdout"),
            (std::vector<std::string>{"one", "two"}));
}

TEST_F(LogWriterTest, SizeMaxReplacesTheFileBeforeItWouldBeExceeded) {
  // Each "x\n" line is a record of 30 (timestamp) + 1 + 6 + 3 + 1 + 1 = 42 bytes.
  LogWriter w = Open(100);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(w.Write(Stream::kStdout, StrCat(i, "\n")).ok());
  std::string text = Content();
  EXPECT_LE(text.size(), 100u);
  EXPECT_EQ(Lines(ParseLog(text), "stdout"), std::vector<std::string>{"4"});
  EXPECT_FALSE(PathExists(path_ + ".tmp"));
  EXPECT_EQ(w.file_bytes(), static_cast<int64_t>(text.size()));
}

TEST_F(LogWriterTest, SizeMaxWithinOneWriteKeepsTheNewestRecords) {
  LogWriter w = Open(100);
  ASSERT_TRUE(w.Write(Stream::kStdout, "a\nb\nc\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content()), "stdout"), std::vector<std::string>{"c"});
}

TEST_F(LogWriterTest, RecordLargerThanSizeMaxStillGoesToAFreshFile) {
  LogWriter w = Open(60);
  ASSERT_TRUE(w.Write(Stream::kStdout, "small\n").ok());
  ASSERT_TRUE(w.Write(Stream::kStdout, std::string(100, 'L') + "\n").ok());
  EXPECT_EQ(Lines(ParseLog(Content()), "stdout"), std::vector<std::string>{std::string(100, 'L')});
}

TEST_F(LogWriterTest, UnlimitedWhenSizeMaxIsNotPositive) {
  LogWriter w = Open(-1);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w.Write(Stream::kStdout, "line\n").ok());
  EXPECT_EQ(ParseLog(Content()).size(), 100u);
}

TEST_F(LogWriterTest, OpenFailsNamingThePath) {
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/file", "x").ok());
  auto w = LogWriter::Open(dir_ + "/file/sub/0.log");
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find(dir_ + "/file"), std::string::npos) << w.status();
}

TEST_F(LogWriterTest, TimestampsUseTheRealClockByDefault) {
  auto w = LogWriter::Open(path_);
  ASSERT_TRUE(w.ok());
  int64_t before = RealtimeNow();
  ASSERT_TRUE(w->Write(Stream::kStdout, "now\n").ok());
  int64_t after = RealtimeNow();
  auto records = ParseLog(Content());
  ASSERT_EQ(records.size(), 1u);
  auto t = ParseRFC3339(records[0].time);
  ASSERT_TRUE(t.ok());
  EXPECT_GE(*t, before);
  EXPECT_LE(*t, after);
}

}  // namespace
}  // namespace cricket::conmon
