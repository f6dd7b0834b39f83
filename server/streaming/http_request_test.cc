#include "server/streaming/http_request.h"

#include <gtest/gtest.h>

namespace cricket::streaming {
namespace {

TEST(HttpRequest, ParsesClientGoUpgrade) {
  auto req = ParseHttpRequest(
      "POST /exec/AbC-_123?x=1&port=80,81&port=82 HTTP/1.1\r\n"
      "Host: 127.0.0.1:1234\r\n"
      "Connection: Upgrade\r\n"
      "Upgrade: SPDY/3.1\r\n"
      "X-Stream-Protocol-Version: v5.channel.k8s.io\r\n"
      "X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io\r\n"
      "Content-Length: 0\r\n"
      "\r\n");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->method, "POST");
  EXPECT_EQ(req->path, "/exec/AbC-_123");
  EXPECT_EQ(req->Header("upgrade"), "SPDY/3.1");
  EXPECT_TRUE(req->HeaderHasToken("connection", "upgrade"));
  EXPECT_EQ(req->HeaderList("x-stream-protocol-version"),
            (std::vector<std::string>{"v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io"}));
  EXPECT_EQ(req->QueryValues("port"), (std::vector<std::string>{"80,81", "82"}));
  EXPECT_EQ(req->QueryValues("x"), (std::vector<std::string>{"1"}));
}

TEST(HttpRequest, HeaderTokensAreCaseInsensitiveAndListsMerge) {
  auto req = ParseHttpRequest("GET / HTTP/1.1\r\nConnection: keep-alive, UPGRADE\r\n\r\n");
  ASSERT_TRUE(req.ok());
  EXPECT_TRUE(req->HeaderHasToken("connection", "Upgrade"));
  EXPECT_FALSE(req->HeaderHasToken("connection", "close"));
}

TEST(HttpRequest, PercentDecoding) {
  auto req = ParseHttpRequest("GET /a%2Fb?k=a+b%21 HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->path, "/a/b");
  EXPECT_EQ(req->minor_version, 0);
  EXPECT_EQ(req->QueryValues("k"), (std::vector<std::string>{"a b!"}));
  EXPECT_FALSE(PercentDecode("%4", false).ok());
  EXPECT_FALSE(PercentDecode("%zz", false).ok());
  EXPECT_EQ(*PercentDecode("a+b", false), "a+b");
}

TEST(HttpRequest, RejectsMalformedHeads) {
  const char* bad[] = {
      "GET / HTTP/1.1\r\n",                            // incomplete
      "GET / HTTP/2.0\r\n\r\n",                        // version
      "GET\r\n\r\n",                                   // request line
      "GET relative HTTP/1.1\r\n\r\n",                 // target
      "G(T / HTTP/1.1\r\n\r\n",                        // method token
      "GET / HTTP/1.1\r\nNoColon\r\n\r\n",             // header
      "GET / HTTP/1.1\r\n: empty\r\n\r\n",             // header name
      "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",         // header name token
      "GET / HTTP/1.1\r\nA: b\r\n continued\r\n\r\n",  // folding
      "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",  // body
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET /%zz HTTP/1.1\r\n\r\n",
  };
  for (const char* head : bad) EXPECT_FALSE(ParseHttpRequest(head).ok()) << head;
}

TEST(HttpResponse, Format) {
  EXPECT_EQ(HttpResponse(404, {}, "nope\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n"
            "Connection: close\r\n\r\nnope\n");
  EXPECT_EQ(HttpResponse(101, {{"Connection", "Upgrade"}, {"Upgrade", "SPDY/3.1"}}, ""),
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n");
}

}  // namespace
}  // namespace cricket::streaming
