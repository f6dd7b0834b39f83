#include "lib/image/reference.h"

#include <gtest/gtest.h>

#include "lib/common/strings.h"

namespace cricket::image {
namespace {

const char kHex[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(ReferenceTest, NormalisesShortNames) {
  auto r = Reference::ParseNormalized("busybox");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->ToString(), "docker.io/library/busybox:latest");
  EXPECT_EQ(r->domain(), "docker.io");
  EXPECT_EQ(r->path(), "library/busybox");
  EXPECT_EQ(r->tag(), "latest");
  EXPECT_EQ(r->Familiar(), "busybox:latest");

  EXPECT_EQ(Reference::ParseNormalized("user/app:1.0")->ToString(), "docker.io/user/app:1.0");
  EXPECT_EQ(Reference::ParseNormalized("docker.io/alpine")->ToString(), "docker.io/library/alpine:latest");
  EXPECT_EQ(Reference::ParseNormalized("index.docker.io/alpine")->ToString(),
            "docker.io/library/alpine:latest");
  EXPECT_EQ(Reference::ParseNormalized("user/app:1.0")->Familiar(), "user/app:1.0");
}

TEST(ReferenceTest, DomainDetection) {
  auto r = Reference::ParseNormalized("localhost:5000/x");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->domain(), "localhost:5000");
  EXPECT_EQ(r->path(), "x");
  EXPECT_EQ(r->ToString(), "localhost:5000/x:latest");

  EXPECT_EQ(Reference::Parse("localhost/x")->domain(), "localhost");
  EXPECT_EQ(Reference::Parse("quay.io/a/b/c:v1")->domain(), "quay.io");
  EXPECT_EQ(Reference::Parse("quay.io/a/b/c:v1")->path(), "a/b/c");
  EXPECT_EQ(Reference::Parse("127.0.0.1:5000/a")->domain(), "127.0.0.1:5000");
  EXPECT_EQ(Reference::Parse("[::1]:5000/a")->domain(), "[::1]:5000");
  // An uppercase first component is a domain (Docker's rule), a lowercase one without . or : is not.
  EXPECT_EQ(Reference::Parse("Example/a")->domain(), "Example");
  EXPECT_EQ(Reference::Parse("example/a")->domain(), "");
  // "localhost:5000" alone is the repository "localhost" with tag 5000.
  auto lt = Reference::Parse("localhost:5000");
  ASSERT_TRUE(lt.ok());
  EXPECT_EQ(lt->path(), "localhost");
  EXPECT_EQ(lt->tag(), "5000");
}

TEST(ReferenceTest, TagsAndDigests) {
  std::string digest = StrCat("sha256:", kHex);
  auto r = Reference::ParseNormalized(StrCat("busybox@", digest));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tag(), "");  // no :latest when a digest pins the image
  ASSERT_TRUE(r->digest().has_value());
  EXPECT_EQ(r->digest()->ToString(), digest);
  EXPECT_EQ(r->TagOrDigest(), digest);
  EXPECT_EQ(r->ToString(), StrCat("docker.io/library/busybox@", digest));

  auto both = Reference::Parse(StrCat("r.io/a:v1@", digest));
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->tag(), "v1");
  EXPECT_EQ(both->TagOrDigest(), digest);
  EXPECT_EQ(both->ToString(), StrCat("r.io/a:v1@", digest));
  EXPECT_EQ(both->NameOnly().ToString(), "r.io/a");
  EXPECT_EQ(both->NameOnly().WithTag("v2").ToString(), "r.io/a:v2");
  EXPECT_EQ(Reference::Parse("a:V_1.2-x")->tag(), "V_1.2-x");
  EXPECT_EQ(Reference::Parse("r.io/a-b__c.d/e---f:1")->path(), "a-b__c.d/e---f");
}

struct BadCase {
  const char* text;
  const char* want;
};

TEST(ReferenceTest, InvalidNamesHaveClearErrors) {
  const BadCase cases[] = {
      {"", "empty"},
      {"BusyBox", "must be lowercase"},
      {"docker.io/Library/busybox", "must be lowercase"},
      {"busybox:", "invalid tag"},
      {"busybox:-x", "invalid tag"},
      {"busybox:a/b", "invalid registry domain \"busybox:a\""},
      {"busybox@sha256:abc", "invalid digest"},
      {"busybox@md5:0123456789abcdef0123456789abcdef", "unsupported algorithm"},
      {"a//b", "invalid repository name"},
      {"a/b_", "invalid repository name"},
      {"a/b___c", "invalid repository name"},
      {"-a", "invalid repository name"},
      {"bad_domain.io/a", "invalid registry domain"},
      {"r.io:x5/a", "invalid registry domain"},
      {"r.io/", "invalid repository name"},
      {":latest", "missing repository name"},
  };
  for (const BadCase& c : cases) {
    auto r = Reference::Parse(c.text);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.want), absl::string_view::npos) << c.text << ": " << r.status();
    if (*c.text != '\0') {
      EXPECT_NE(r.status().message().find(c.text), absl::string_view::npos);
    }
  }
  std::string long_tag(129, 'a');
  EXPECT_FALSE(Reference::Parse(StrCat("a:", long_tag)).ok());
  EXPECT_TRUE(Reference::Parse(StrCat("a:", long_tag.substr(1))).ok());
  std::string long_name(256, 'a');
  EXPECT_NE(Reference::Parse(long_name).status().message().find("longer than 255"), absl::string_view::npos);
  auto id = Reference::ParseNormalized(kHex);
  EXPECT_NE(id.status().message().find("image id"), absl::string_view::npos);
}

}  // namespace
}  // namespace cricket::image
