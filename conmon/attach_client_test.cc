// The attach client's wire behaviour against a fake conmon (a plain SOCK_SEQPACKET listener).
#include "conmon/attach_client.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <mutex>
#include <thread>

#include "lib/common/file_util.h"

namespace cricket::conmon {
namespace {

class AttachClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-conmon-attach-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/attach";
    auto l = ListenUnixSocket(path_, SOCK_SEQPACKET, 0600);
    ASSERT_TRUE(l.ok()) << l.status();
    listen_ = std::move(*l);
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }

  UniqueFd Accept() {
    pollfd p{listen_.get(), POLLIN, 0};
    EXPECT_EQ(poll(&p, 1, 10'000), 1);
    return UniqueFd(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
  }
  static std::string Recv(int fd) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 10'000) != 1) return "<timeout>";
    char buf[kMaxMessage];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
  }
  static void Send(int fd, std::string_view m) {
    ASSERT_EQ(send(fd, m.data(), m.size(), 0), static_cast<ssize_t>(m.size()));
  }
  static std::string ReadAll(int fd) {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    return out;
  }

  std::string dir_, path_;
  UniqueFd listen_;
};

TEST_F(AttachClientTest, ConnectionSpeaksTheDocumentedFraming) {
  auto c = AttachConnection::Connect(path_, true);
  ASSERT_TRUE(c.ok()) << c.status();
  UniqueFd server = Accept();
  EXPECT_EQ(Recv(server.get()), std::string("\x06\x01", 2));
  ASSERT_TRUE(c->SendStdin("abc").ok());
  EXPECT_EQ(Recv(server.get()), std::string("\x00"
                                            "abc",
                                            4));
  ASSERT_TRUE(c->Resize({80, 25}).ok());
  EXPECT_EQ(Recv(server.get()), std::string("\x04\x50\x00\x19\x00", 5));
  ASSERT_TRUE(c->CloseStdin().ok());
  EXPECT_EQ(Recv(server.get()), std::string("\x05", 1));
  Send(server.get(), std::string("\x02"
                                 "err",
                                 4));
  auto m = c->Receive(10'000);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->first, kStderr);
  EXPECT_EQ((*m)->second, "err");
  server.reset();
  m = c->Receive(10'000);
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->first, kAttachClosed);
}

TEST_F(AttachClientTest, LargeStdinIsSplitIntoBoundedMessages) {
  auto c = AttachConnection::Connect(path_, false);
  ASSERT_TRUE(c.ok());
  UniqueFd server = Accept();
  EXPECT_EQ(Recv(server.get()), std::string("\x06\x00", 2));
  std::string big(kMaxPayload + 10, 'q');
  std::thread sender([&] { ASSERT_TRUE(c->SendStdin(big).ok()); });
  std::string first = Recv(server.get());
  std::string second = Recv(server.get());
  sender.join();
  EXPECT_EQ(first.size(), kMaxMessage);
  EXPECT_EQ(second, std::string("\x00", 1) + std::string(10, 'q'));
}

TEST_F(AttachClientTest, ConnectToAMissingMonitorIsUnavailable) {
  auto c = AttachConnection::Connect(dir_ + "/gone", false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(AttachClientTest, SessionPumpsBothWaysAndEndsWhenConmonCloses) {
  int in[2], out[2], err[2], resize[2];
  ASSERT_EQ(pipe(in), 0);
  ASSERT_EQ(pipe(out), 0);
  ASSERT_EQ(pipe(err), 0);
  ASSERT_EQ(pipe2(resize, O_NONBLOCK), 0);
  std::mutex mu;
  std::deque<WindowSize> sizes = {{120, 40}};
  AttachStreams s;
  s.stdin_fd = in[0];
  s.stdout_fd = out[1];
  s.stderr_fd = err[1];
  s.resize_fd = resize[0];
  s.next_resize = [&]() -> std::optional<WindowSize> {
    std::lock_guard<std::mutex> l(mu);
    char c;
    while (read(resize[0], &c, 1) == 1) {
    }
    if (sizes.empty()) return std::nullopt;
    WindowSize w = sizes.front();
    sizes.pop_front();
    return w;
  };
  absl::Status result = absl::UnknownError("not run");
  std::thread t([&] { result = RunAttachSession(path_, s); });
  UniqueFd server = Accept();
  EXPECT_EQ(Recv(server.get()), std::string("\x06\x01", 2));
  ASSERT_EQ(write(in[1], "typed", 5), 5);
  EXPECT_EQ(Recv(server.get()), std::string("\x00"
                                            "typed",
                                            6));
  ASSERT_EQ(write(resize[1], "x", 1), 1);
  EXPECT_EQ(Recv(server.get()), std::string("\x04\x78\x00\x28\x00", 5));
  close(in[1]);
  EXPECT_EQ(Recv(server.get()), std::string("\x05", 1));
  Send(server.get(), std::string("\x01"
                                 "out1",
                                 5));
  Send(server.get(), std::string("\x02"
                                 "err1",
                                 5));
  Send(server.get(), std::string("\x01"
                                 "out2",
                                 5));
  Send(server.get(), std::string("\x09"
                                 "ignored",
                                 8));
  server.reset();
  t.join();
  EXPECT_TRUE(result.ok()) << result;
  close(out[1]);
  close(err[1]);
  EXPECT_EQ(ReadAll(out[0]), "out1out2");
  EXPECT_EQ(ReadAll(err[0]), "err1");
  for (int fd : {in[0], out[0], err[0], resize[0], resize[1]}) close(fd);
}

TEST_F(AttachClientTest, OutputForAStreamNotRequestedIsDropped) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  AttachStreams s;
  s.stdout_fd = out[1];
  absl::Status result;
  std::thread t([&] { result = RunAttachSession(path_, s); });
  UniqueFd server = Accept();
  EXPECT_EQ(Recv(server.get()), std::string("\x06\x00", 2));
  Send(server.get(), std::string("\x02"
                                 "nobody wants this",
                                 18));
  Send(server.get(), std::string("\x01"
                                 "ok",
                                 3));
  server.reset();
  t.join();
  EXPECT_TRUE(result.ok());
  close(out[1]);
  EXPECT_EQ(ReadAll(out[0]), "ok");
  close(out[0]);
}

TEST_F(AttachClientTest, ClosedOutputReaderEndsTheSessionWithoutSigpipe) {
  int out[2];
  ASSERT_EQ(pipe(out), 0);
  close(out[0]);  // the client's side went away
  AttachStreams s;
  s.stdout_fd = out[1];
  absl::Status result = absl::UnknownError("not run");
  std::thread t([&] { result = RunAttachSession(path_, s); });
  UniqueFd server = Accept();
  Recv(server.get());
  Send(server.get(), std::string("\x01"
                                 "data",
                                 5));
  t.join();  // the process is still alive: SIGPIPE was consumed
  EXPECT_TRUE(result.ok()) << result;
  close(out[1]);
}

}  // namespace
}  // namespace cricket::conmon
