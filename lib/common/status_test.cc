#include "lib/common/status.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace cricket {
namespace {

TEST(StatusTest, AnnotateKeepsCodeAndPayloads) {
  absl::Status s = absl::InvalidArgumentError("entry too big");
  s.SetPayload("example.com/detail", absl::Cord("42"));
  absl::Status a = Annotate(s, "layer 1/2");
  EXPECT_TRUE(absl::IsInvalidArgument(a));
  EXPECT_EQ(a.message(), "layer 1/2: entry too big");
  ASSERT_TRUE(a.GetPayload("example.com/detail").has_value());
  EXPECT_EQ(std::string(*a.GetPayload("example.com/detail")), "42");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(StatusTest, ErrnoErrorNamesVerbObjectAndErrno) {
  absl::Status s = ErrnoError(ENOENT, "open", "/x");
  EXPECT_TRUE(absl::IsNotFound(s));
  EXPECT_NE(s.message().find("open /x: ENOENT"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace cricket
