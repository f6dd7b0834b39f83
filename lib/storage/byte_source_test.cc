#include "lib/storage/byte_source.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "lib/common/file_util.h"
#include "lib/storage/tar_apply.h"
#include "lib/storage/test_tar.h"

namespace cricket::storage {
namespace {

std::string Drain(ByteSource& src, absl::Status* error) {
  std::string out;
  char buf[1000];
  for (;;) {
    auto n = src.Read(buf, sizeof(buf));
    if (!n.ok()) {
      *error = n.status();
      return out;
    }
    if (*n == 0) return out;
    out.append(buf, *n);
  }
}

TEST(PipeSourceTest, CarriesAStreamLargerThanItsCapacityInOrder) {
  PipeSource pipe(4096);
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>('a' + i % 26));
  std::thread producer([&] {
    for (size_t off = 0; off < data.size(); off += 777)
      EXPECT_TRUE(pipe.Write(std::string_view(data).substr(off, 777)));
    pipe.Close();
  });
  absl::Status error;
  EXPECT_EQ(Drain(pipe, &error), data);
  EXPECT_TRUE(error.ok());
  producer.join();
}

TEST(PipeSourceTest, ProducerErrorReachesTheReaderAfterTheData) {
  PipeSource pipe;
  ASSERT_TRUE(pipe.Write("abc"));
  pipe.Close(absl::UnavailableError("registry went away"));
  absl::Status error;
  EXPECT_EQ(Drain(pipe, &error), "abc");
  EXPECT_TRUE(absl::IsUnavailable(error));
}

TEST(PipeSourceTest, ReaderGoingAwayUnblocksTheProducer) {
  PipeSource pipe(16);
  std::thread producer([&] { EXPECT_FALSE(pipe.Write(std::string(1000, 'x'))); });
  char buf[4];
  ASSERT_TRUE(pipe.Read(buf, sizeof(buf)).ok());
  pipe.CloseRead();
  producer.join();
}

TEST(PipeSourceTest, FeedsALayerApply) {
  std::string tar = testing::BuildTar({testing::File("f", std::string(300000, 'f'))});
  PipeSource pipe(8192);
  std::thread producer([&] {
    pipe.Write(tar);
    pipe.Close();
  });
  char tmpl[] = "/tmp/cricket-pipe-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  int fd = open(tmpl, O_RDONLY | O_DIRECTORY);
  auto r = ApplyLayerTar(pipe, fd, {});
  producer.join();
  close(fd);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->diff_id, testing::Sha256(tar));
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::storage
