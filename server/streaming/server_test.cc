#include "server/streaming/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
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

TEST(StreamingServer, StopEndsConnectionsPromptlyAndExtraConnectionsGet503) {
  StreamingServerOptions o;
  o.max_connections = 1;
  auto s = StartOrDie(o);
  ASSERT_TRUE(s);
  UniqueFd idle = Dial(s->port());
  ASSERT_EQ(send(idle.get(), "GET /exec/x HTTP/1.1\r\n", 22, 0), 22);  // an unfinished request head
  usleep(200 * 1000);
  UniqueFd extra = Dial(s->port());
  char buf[256] = {};
  ASSERT_GT(recv(extra.get(), buf, sizeof(buf) - 1, 0), 0);
  EXPECT_EQ(std::string(buf).rfind("HTTP/1.1 503", 0), 0u) << buf;
  const int64_t start = MonotonicNow();
  s->Stop();
  EXPECT_LT(MonotonicNow() - start, 5LL * 1000 * 1000 * 1000);
  EXPECT_EQ(recv(idle.get(), buf, sizeof(buf), 0), 0);  // closed by the server
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
