#include "lib/common/strings.h"

#include <gtest/gtest.h>

namespace cricket {
namespace {

TEST(Strings, StrCatAcceptsStdAndAbslViews) {
  std::string_view sv = "std";
  absl::string_view av = "absl";
  EXPECT_EQ(StrCat(sv, "-", av, "-", 42, "-", std::string("s")), "std-absl-42-s");
  std::string out = "x";
  StrAppend(&out, sv, 7);
  EXPECT_EQ(out, "xstd7");
}

TEST(Strings, SplitKeepsEmptyPieces) {
  EXPECT_EQ(Split("a,,b", ','), (std::vector<std::string_view>{"a", "", "b"}));
  EXPECT_EQ(Split("", ','), (std::vector<std::string_view>{""}));
  auto kv = SplitOnce("k=v=w", '=');
  ASSERT_TRUE(kv.has_value());
  EXPECT_EQ(kv->first, "k");
  EXPECT_EQ(kv->second, "v=w");
  EXPECT_FALSE(SplitOnce("novalue", '=').has_value());
}

TEST(Strings, TrimCaseAndNumbers) {
  EXPECT_EQ(TrimSpace("  a b \n"), "a b");
  EXPECT_EQ(ToLower("AbC"), "abc");
  EXPECT_EQ(ToUpper("cap_chown"), "CAP_CHOWN");
  EXPECT_EQ(ParseInt64("-12"), -12);
  EXPECT_FALSE(ParseInt64("12x").has_value());
  EXPECT_FALSE(ParseInt64("").has_value());
  EXPECT_FALSE(ParseUint64("-1").has_value());
  EXPECT_EQ(ParseUint64("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(Join(std::vector<std::string>{"a", "b"}, ", "), "a, b");
  EXPECT_EQ(Join(std::vector<std::string_view>{}, ","), "");
}

}  // namespace
}  // namespace cricket
