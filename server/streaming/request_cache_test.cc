#include "server/streaming/request_cache.h"

#include <gtest/gtest.h>

#include <set>

namespace cricket::streaming {
namespace {

constexpr int64_t kSecond = 1000LL * 1000 * 1000;

ExecParams MakeExec(std::string id) {
  ExecParams p;
  p.container_id = std::move(id);
  return p;
}
AttachParams MakeAttach(std::string id) {
  AttachParams p;
  p.container_id = std::move(id);
  p.stdout = true;
  return p;
}
PortForwardParams MakePortForward(std::string id) {
  PortForwardParams p;
  p.sandbox_id = std::move(id);
  return p;
}

TEST(RequestCache, TokensAreRawBase64UrlOfSixBytes) {
  RequestCache cache;
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto token = cache.Insert(MakeExec("c"));
    ASSERT_TRUE(token.ok());
    EXPECT_EQ(token->size(), 8u);
    EXPECT_EQ(token->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos);
    seen.insert(*token);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(RequestCache, SingleUse) {
  RequestCache cache;
  auto token = cache.Insert(MakeAttach("abc"));
  ASSERT_TRUE(token.ok());
  auto req = cache.Consume(*token);
  ASSERT_TRUE(req.has_value());
  ASSERT_TRUE(std::holds_alternative<AttachParams>(*req));
  EXPECT_EQ(std::get<AttachParams>(*req).container_id, "abc");
  EXPECT_FALSE(cache.Consume(*token).has_value());
  EXPECT_FALSE(cache.Consume("unknown1").has_value());
}

TEST(RequestCache, ExpiresAfterTtl) {
  int64_t now = 100 * kSecond;
  RequestCache cache(
      {.ttl_ns = 60 * kSecond, .max_entries = 1000, .now = [&] { return now; }, .new_token = {}});
  auto a = cache.Insert(MakePortForward("s"));
  ASSERT_TRUE(a.ok());
  now += 59 * kSecond;
  auto b = cache.Insert(MakePortForward("s"));
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(cache.Consume(*b).has_value());
  now += 1 * kSecond;  // exactly the TTL: expired
  EXPECT_FALSE(cache.Consume(*a).has_value());
}

TEST(RequestCache, LimitCountsOnlyUnexpiredRequests) {
  int64_t now = 0;
  RequestCache cache({.ttl_ns = 60 * kSecond, .max_entries = 3, .now = [&] { return now; }, .new_token = {}});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cache.Insert(ExecParams{}).ok());
  auto full = cache.Insert(ExecParams{});
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  now += 61 * kSecond;
  EXPECT_TRUE(cache.Insert(ExecParams{}).ok());
  EXPECT_EQ(cache.size(), 1u);
}

TEST(RequestCache, RedrawsCollidingTokens) {
  int calls = 0;
  RequestCache cache({.ttl_ns = 60 * kSecond, .max_entries = 10, .now = {}, .new_token = [&] {
                        return ++calls <= 2 ? std::string("same") : std::string("other");
                      }});
  auto a = cache.Insert(ExecParams{});
  auto b = cache.Insert(ExecParams{});
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, "same");
  EXPECT_EQ(*b, "other");
}

}  // namespace
}  // namespace cricket::streaming
