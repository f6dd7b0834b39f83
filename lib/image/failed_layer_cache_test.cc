#include "lib/image/failed_layer_cache.h"

#include <gtest/gtest.h>

#include "lib/storage/tar_apply.h"

namespace cricket::image {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

absl::Status Refused(std::string msg) { return storage::MarkLayerRefused(absl::InvalidArgumentError(msg)); }

absl::Status NoRoom(uint64_t needs) {
  absl::Status s = absl::ResourceExhaustedError("no room");
  s.SetPayload(storage::kLayerNeedsBytesPayload, absl::Cord(std::to_string(needs)));
  return s;
}

TEST(FailedLayerCacheTest, RemembersOnlyFailuresOfTheLayerItself) {
  int64_t now = 1;
  FailedLayerCache cache([&] { return now; });
  std::string key = FailedLayerCache::Key("r.example", "evil/app", "sha256:aa", "sha256:bb", "bounds");
  EXPECT_FALSE(cache.Remember(key, absl::UnavailableError("connection reset"), 60 * kSecond, 10));
  EXPECT_FALSE(cache.Remember(key, absl::CancelledError("cancelled"), 60 * kSecond, 10));
  EXPECT_FALSE(cache.Remember(key, absl::InvalidArgumentError("max_image_entries"), 60 * kSecond, 10));
  EXPECT_FALSE(cache.Remember(key, absl::ResourceExhaustedError("below the reserve"), 60 * kSecond, 10));
  EXPECT_FALSE(cache.Find(key).has_value());

  EXPECT_TRUE(cache.Remember(key, Refused("exceeds max_layer_entries"), 60 * kSecond, 10));
  auto f = cache.Find(key);
  ASSERT_TRUE(f.has_value());
  EXPECT_TRUE(absl::IsInvalidArgument(f->error));
  EXPECT_EQ(f->error.message(), "exceeds max_layer_entries");
  EXPECT_FALSE(f->needs_bytes.has_value());
  // The same digest from another registry or repository, or under other bounds, is another entry.
  EXPECT_FALSE(
      cache.Find(FailedLayerCache::Key("other.example", "evil/app", "sha256:aa", "sha256:bb", "bounds")));
  EXPECT_FALSE(
      cache.Find(FailedLayerCache::Key("r.example", "evil/app", "sha256:aa", "sha256:bb", "raised")));

  now += 60 * kSecond;
  EXPECT_FALSE(cache.Find(key).has_value());  // expired
  EXPECT_EQ(cache.size(), 0u);

  EXPECT_TRUE(cache.Remember(key, NoRoom(5000), 60 * kSecond, 10));
  ASSERT_TRUE(cache.Find(key).has_value());
  EXPECT_EQ(cache.Find(key)->needs_bytes, 5000u);
  cache.Forget(key);
  EXPECT_FALSE(cache.Find(key).has_value());
  EXPECT_FALSE(cache.Remember(key, Refused("x"), 0, 10));  // duration 0: off
}

TEST(FailedLayerCacheTest, BoundedInEntriesAndMessageSize) {
  int64_t now = 1;
  FailedLayerCache cache([&] { return now; });
  for (int i = 0; i < 50; ++i) {
    ++now;
    cache.Remember(std::to_string(i), Refused(std::string(10000, 'x')), 60 * kSecond, 8);
  }
  EXPECT_EQ(cache.size(), 8u);
  EXPECT_FALSE(cache.Find("0").has_value());  // the oldest went first
  auto last = cache.Find("49");
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->error.message().size(), FailedLayerCache::kMaxMessage);
}

}  // namespace
}  // namespace cricket::image
