#include "server/metrics/endpoint.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::metrics {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string Fetch(int fd, const std::string& request) {
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

std::string FetchTcp(int port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  return Fetch(fd, request);
}

std::string FetchUnix(const std::string& path, const std::string& request) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  return Fetch(fd, request);
}

TEST(HttpResponseTest, AnswersMetricsAndRefusesTheRest) {
  auto render = [] { return std::string("x_up 1\n"); };
  std::string ok = HttpResponse("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", render);
  EXPECT_THAT(ok, StartsWith("HTTP/1.1 200 OK\r\n"));
  EXPECT_THAT(ok, HasSubstr("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
  EXPECT_THAT(ok, HasSubstr("Content-Length: 7\r\n"));
  EXPECT_THAT(ok, EndsWith("\r\n\r\nx_up 1\n"));
  EXPECT_THAT(HttpResponse("GET /metrics?x=1 HTTP/1.0\r\n\r\n", render), StartsWith("HTTP/1.1 200 OK"));
  std::string head = HttpResponse("HEAD /metrics HTTP/1.1\r\n\r\n", render);
  EXPECT_THAT(head, HasSubstr("Content-Length: 7\r\n"));
  EXPECT_THAT(head, EndsWith("\r\n\r\n"));
  EXPECT_THAT(HttpResponse("GET / HTTP/1.1\r\n\r\n", render), StartsWith("HTTP/1.1 404 "));
  EXPECT_THAT(HttpResponse("POST /metrics HTTP/1.1\r\n\r\n", render), StartsWith("HTTP/1.1 405 "));
  EXPECT_THAT(HttpResponse("garbage\r\n\r\n", render), StartsWith("HTTP/1.1 400 "));
  EXPECT_THAT(HttpResponse("", render), StartsWith("HTTP/1.1 400 "));
}

TEST(EndpointTest, ServesTcpAndUnixSocketAndCleansUp) {
  char tmpl[] = "/tmp/cricket-metrics-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string sock = StrCat(tmpl, "/metrics.sock");
  std::atomic<int> renders{0};
  EndpointOptions o;
  o.port = 0;
  o.socket_path = sock;
  o.request_timeout_ms = 300;
  auto e = Endpoint::Start(o, [&] { return StrCat("x_renders ", ++renders, "\n"); });
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_GT((*e)->port(), 0);
  EXPECT_THAT(FetchTcp((*e)->port(), "GET /metrics HTTP/1.1\r\n\r\n"), EndsWith("x_renders 1\n"));
  EXPECT_THAT(FetchUnix(sock, "GET /metrics HTTP/1.1\r\n\r\n"), EndsWith("x_renders 2\n"));
  struct stat st;
  ASSERT_EQ(::stat(sock.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  // A client that never sends its request does not stop the next one.
  int idle = ::socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>((*e)->port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(idle, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_THAT(FetchTcp((*e)->port(), "GET /metrics HTTP/1.1\r\n\r\n"), EndsWith("x_renders 3\n"));
  ::close(idle);
  (*e)->Stop();
  EXPECT_FALSE(PathExists(sock));
  EXPECT_EQ(FetchTcp((*e)->port(), "GET /metrics HTTP/1.1\r\n\r\n"), "");
  (void)RemoveAll(tmpl);
}

TEST(EndpointTest, ReplacesAStaleSocketButNotAFile) {
  char tmpl[] = "/tmp/cricket-metrics-test-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string path = StrCat(tmpl, "/not-a-socket");
  ASSERT_TRUE(WriteFileAtomic(path, "data", 0644).ok());
  EndpointOptions o;
  o.port = 0;
  o.socket_path = path;
  auto e = Endpoint::Start(o, [] { return std::string(); });
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("exists and is not a socket"));
  EXPECT_TRUE(PathExists(path));
  // A socket left by a daemon that died is replaced.
  std::string sock = StrCat(tmpl, "/stale.sock");
  {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = {};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, sock.c_str(), sizeof(a.sun_path) - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<struct sockaddr*>(&a), sizeof(a)), 0);
    ::close(fd);
  }
  o.socket_path = sock;
  auto e2 = Endpoint::Start(o, [] { return std::string("ok 1\n"); });
  ASSERT_TRUE(e2.ok()) << e2.status();
  EXPECT_THAT(FetchUnix(sock, "GET /metrics HTTP/1.1\r\n\r\n"), EndsWith("ok 1\n"));
  e2->reset();
  (void)RemoveAll(tmpl);
}

TEST(EndpointTest, BadHostIsAnErrorNamingIt) {
  EndpointOptions o;
  o.host = "no-such-host.invalid";
  o.port = 0;
  auto e = Endpoint::Start(o, [] { return std::string(); });
  ASSERT_FALSE(e.ok());
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("no-such-host.invalid"));
}

}  // namespace
}  // namespace cricket::metrics
