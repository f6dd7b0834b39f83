#include "server/streaming/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/common/time_util.h"

namespace cricket::streaming {
namespace {

class NoRuntime : public StreamingRuntime {
 public:
  absl::StatusOr<int> Exec(const ExecParams&, StreamIo&) override { return absl::UnimplementedError("exec"); }
  absl::Status Attach(const AttachParams&, StreamIo&) override { return absl::UnimplementedError("attach"); }
  absl::StatusOr<UniqueFd> DialPort(const std::string&, int32_t) override {
    return absl::UnimplementedError("dial");
  }
};

std::unique_ptr<StreamingServer> StartOrDie(StreamingServerOptions o) {
  auto s = StreamingServer::Start(o, std::make_shared<NoRuntime>());
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

UniqueFd Dial(int port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  return fd;
}

TEST(StreamingServer, WildcardAddressGetsAConcreteUrlHost) {
  StreamingServerOptions o;
  o.address = "0.0.0.0";
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_GT(s->port(), 0);
  EXPECT_EQ(s->base_url(), "http://127.0.0.1:" + std::to_string(s->port()));
  ExecParams p;
  p.container_id = "c";
  p.cmd = {"ls"};
  p.stdout = true;
  auto url = s->GetExecUrl(p);
  ASSERT_TRUE(url.ok());
  EXPECT_EQ(url->rfind(s->base_url() + "/exec/", 0), 0u);
  EXPECT_EQ(url->size(), s->base_url().size() + 6 + 8);
}

TEST(StreamingServer, UrlHostOverrideAndIpv6Brackets) {
  StreamingServerOptions o;
  o.url_host = "fd00::1";
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->base_url(), "http://[fd00::1]:" + std::to_string(s->port()));
}

TEST(StreamingServer, ValidatesRequests) {
  auto s = StartOrDie({});
  ASSERT_TRUE(s);
  ExecParams e;
  EXPECT_EQ(s->GetExecUrl(e).status().code(), absl::StatusCode::kInvalidArgument);  // no container
  e.container_id = "c";
  EXPECT_FALSE(s->GetExecUrl(e).ok());  // no cmd
  e.cmd = {"sh"};
  EXPECT_FALSE(s->GetExecUrl(e).ok());  // no stream
  e.tty = e.stderr = true;
  EXPECT_FALSE(s->GetExecUrl(e).ok());  // tty with stderr
  e.stderr = false;
  e.stdin = true;
  EXPECT_TRUE(s->GetExecUrl(e).ok());
  AttachParams a;
  a.container_id = "c";
  EXPECT_FALSE(s->GetAttachUrl(a).ok());
  a.stdout = true;
  EXPECT_EQ(s->GetAttachUrl(a)->find("/attach/"), s->base_url().size());
  PortForwardParams pf;
  EXPECT_FALSE(s->GetPortForwardUrl(pf).ok());
  pf.sandbox_id = "pod";
  pf.ports = {0};
  EXPECT_FALSE(s->GetPortForwardUrl(pf).ok());
  pf.ports = {8080};
  EXPECT_EQ(s->GetPortForwardUrl(pf)->find("/portforward/"), s->base_url().size());
}

TEST(StreamingServer, BadTlsFilesAreNamed) {
  StreamingServerOptions o;
  o.enable_tls = true;
  o.tls_cert = "/nonexistent/cert.pem";
  o.tls_key = "/nonexistent/key.pem";
  auto s = StreamingServer::Start(o, std::make_shared<NoRuntime>());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/cert.pem"), absl::string_view::npos);
  o.tls_cert.clear();
  EXPECT_FALSE(StreamingServer::Start(o, std::make_shared<NoRuntime>()).ok());
}

TEST(StreamingServer, BindErrorNamesTheAddress) {
  auto first = StartOrDie({});
  ASSERT_TRUE(first);
  StreamingServerOptions o;
  o.port = first->port();
  auto second = StreamingServer::Start(o, std::make_shared<NoRuntime>());
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("127.0.0.1:" + std::to_string(o.port)), absl::string_view::npos);
}

// What arrives on `fd` within `ms` (until the peer closes, or `until` arrived); "<open>" appended when
// it neither closed nor sent `until`.
std::string ReadFor(int fd, int ms, std::string_view until = "") {
  std::string got;
  const int64_t deadline = MonotonicNow() + int64_t{ms} * 1000000;
  while (true) {
    if (!until.empty() && got.find(until) != std::string::npos) return got;
    const int64_t left = (deadline - MonotonicNow()) / 1000000;
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, static_cast<int>(left)) <= 0) return got + "<open>";
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

void SendAll(int fd, std::string_view data) {
  ASSERT_EQ(send(fd, data.data(), data.size(), MSG_NOSIGNAL), static_cast<ssize_t>(data.size()));
}

std::string SpdyRequest(const std::string& url) {
  const std::string path = url.substr(url.find('/', 8));
  return "POST " + path +
         " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
         "X-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n";
}

std::string PortForwardUrl(StreamingServer& s) {
  PortForwardParams p;
  p.sandbox_id = "pod";
  auto url = s.GetPortForwardUrl(p);
  EXPECT_TRUE(url.ok()) << url.status();
  return url.value_or("");
}

TEST(StreamingServer, StopEndsWaitingConnectionsAndSessionsPromptly) {
  auto s = StartOrDie({});
  ASSERT_TRUE(s);
  UniqueFd idle = Dial(s->port());
  SendAll(idle.get(), "GET /exec/x HTTP/1.1\r\n");  // an unfinished request head
  UniqueFd session = Dial(s->port());
  SendAll(session.get(), SpdyRequest(PortForwardUrl(*s)));
  ASSERT_EQ(ReadFor(session.get(), 2000, "\r\n\r\n").rfind("HTTP/1.1 101", 0), 0u);
  const int64_t start = MonotonicNow();
  s->Stop();
  EXPECT_LT(MonotonicNow() - start, 5LL * 1000 * 1000 * 1000);
  EXPECT_EQ(ReadFor(idle.get(), 1000), "");  // closed by the server
  EXPECT_EQ(ReadFor(session.get(), 1000).find("<open>"), std::string::npos);
}

TEST(StreamingServer, WaitingConnectionsAreDisplacedAndTokenHoldersGetThrough) {
  StreamingServerOptions o;
  o.max_pending = 3;
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  // Connections that send nothing are not even handed over by the kernel (TCP_DEFER_ACCEPT); these send
  // the start of a request and stall.
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 3; ++i) {
    idle.push_back(Dial(s->port()));
    SendAll(idle.back().get(), "G");
  }
  UniqueFd silent = Dial(s->port());
  usleep(100 * 1000);
  // Each new connection displaces the oldest waiting one, so a client with a token gets served.
  UniqueFd holder = Dial(s->port());
  SendAll(holder.get(), SpdyRequest(PortForwardUrl(*s)));
  EXPECT_EQ(ReadFor(holder.get(), 2000, "\r\n\r\n").rfind("HTTP/1.1 101", 0), 0u);
  EXPECT_EQ(ReadFor(idle[0].get(), 1000), "");  // displaced
  // The holder's session is no longer waiting: two more make the waiting full again, then displace.
  UniqueFd more1 = Dial(s->port());
  SendAll(more1.get(), "G");
  usleep(100 * 1000);
  EXPECT_EQ(ReadFor(idle[1].get(), 200), "<open>");
  UniqueFd more2 = Dial(s->port());
  SendAll(more2.get(), "G");
  EXPECT_EQ(ReadFor(idle[1].get(), 1000), "");
  EXPECT_EQ(ReadFor(idle[2].get(), 200), "<open>");
  EXPECT_EQ(ReadFor(more1.get(), 200), "<open>");
  EXPECT_EQ(ReadFor(more2.get(), 200), "<open>");
}

TEST(StreamingServer, ConnectionsWithoutARequestAreDroppedAfterTheTimeout) {
  StreamingServerOptions o;
  o.pending_timeout_ns = 300LL * 1000 * 1000;
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  UniqueFd slow = Dial(s->port());
  SendAll(slow.get(), "GET /ex");
  const int64_t start = MonotonicNow();
  EXPECT_EQ(ReadFor(slow.get(), 5000), "");
  EXPECT_GE(MonotonicNow() - start, 200LL * 1000 * 1000);
}

TEST(StreamingServer, SessionLimitsAnswer503AndKeepTheToken) {
  for (bool per_peer : {false, true}) {
    SCOPED_TRACE(per_peer ? "per peer" : "in all");
    StreamingServerOptions o;
    o.max_connections = per_peer ? 4 : 1;
    o.max_connections_per_peer = 1;
    auto s = StartOrDie(o);
    ASSERT_TRUE(s);
    UniqueFd first = Dial(s->port());
    SendAll(first.get(), SpdyRequest(PortForwardUrl(*s)));
    ASSERT_EQ(ReadFor(first.get(), 2000, "\r\n\r\n").rfind("HTTP/1.1 101", 0), 0u);
    const std::string url = PortForwardUrl(*s);
    UniqueFd second = Dial(s->port());
    SendAll(second.get(), SpdyRequest(url));
    const std::string refused = ReadFor(second.get(), 2000);
    EXPECT_EQ(refused.rfind("HTTP/1.1 503", 0), 0u) << refused;
    EXPECT_NE(refused.find(per_peer ? "from this address" : "too many streaming connections"),
              std::string::npos)
        << refused;
    first.reset();  // the session ends with its client; the refused token still works
    std::string again;
    for (int i = 0; i < 50 && again.rfind("HTTP/1.1 101", 0) != 0; ++i) {
      usleep(100 * 1000);
      UniqueFd retry = Dial(s->port());
      SendAll(retry.get(), SpdyRequest(url));
      again = ReadFor(retry.get(), 1000, "\r\n\r\n");
    }
    EXPECT_EQ(again.rfind("HTTP/1.1 101", 0), 0u) << again;
  }
}

TEST(StreamingServer, LimitsAreValidated) {
  StreamingServerOptions o;
  o.total_buffer_bytes = 1 << 20;  // cannot give 256 connections 64 KiB each
  EXPECT_TRUE(absl::IsInvalidArgument(StreamingServer::Start(o, std::make_shared<NoRuntime>()).status()));
  o = {};
  o.connection_buffer_floor = 4096;
  EXPECT_TRUE(absl::IsInvalidArgument(StreamingServer::Start(o, std::make_shared<NoRuntime>()).status()));
  o = {};
  o.max_pending = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(StreamingServer::Start(o, std::make_shared<NoRuntime>()).status()));
}

TEST(StreamingServer, GarbageGets400) {
  auto s = StartOrDie({});
  ASSERT_TRUE(s);
  UniqueFd fd = Dial(s->port());
  const std::string junk = "NOT HTTP\r\n\r\n";
  ASSERT_EQ(send(fd.get(), junk.data(), junk.size(), 0), static_cast<ssize_t>(junk.size()));
  char buf[256] = {};
  ASSERT_GT(recv(fd.get(), buf, sizeof(buf) - 1, 0), 0);
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 400", 0), 0u) << buf;
}

}  // namespace
}  // namespace cricket::streaming
