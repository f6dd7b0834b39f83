#include "lib/image/registries_conf.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"

namespace cricket::image {
namespace {

const char kDigest[] = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

RegistriesConf MustParse(std::string_view toml) {
  RegistriesConf conf;
  absl::Status s = conf.Merge(toml, "test.conf", nullptr);
  EXPECT_TRUE(s.ok()) << s;
  return conf;
}

// The pull sources of `image` as "location[ insecure][ mirror]" strings.
std::vector<std::string> Sources(const RegistriesConf& conf, std::string_view image) {
  auto ref = Reference::ParseNormalized(image);
  EXPECT_TRUE(ref.ok()) << ref.status();
  auto sources = conf.PullSources(*ref);
  EXPECT_TRUE(sources.ok()) << sources.status();
  std::vector<std::string> out;
  if (!sources.ok()) return out;
  for (const PullSource& s : *sources) {
    out.push_back(StrCat(s.reference.ToString(), s.insecure ? " insecure" : "", s.mirror ? " mirror" : ""));
  }
  return out;
}

using Strings = std::vector<std::string>;

TEST(RegistriesConfTest, ManPageExample) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["example.com"]

[[registry]]
prefix = "example.com/foo"
insecure = false
blocked = false
location = "internal-registry-for-example.net/bar"

[[registry.mirror]]
location = "example-mirror-0.local/mirror-for-foo"

[[registry.mirror]]
location = "example-mirror-1.local/mirrors/foo"
insecure = true

[[registry]]
location = "registry.com"

[[registry.mirror]]
location = "mirror.registry.com"
)");
  EXPECT_EQ(Sources(conf, "example.com/foo/image:latest"),
            (Strings{"example-mirror-0.local/mirror-for-foo/image:latest mirror",
                     "example-mirror-1.local/mirrors/foo/image:latest insecure mirror",
                     "internal-registry-for-example.net/bar/image:latest"}));
  EXPECT_EQ(Sources(conf, "registry.com/image"),
            (Strings{"mirror.registry.com/image:latest mirror", "registry.com/image:latest"}));
  // Not under any prefix: the reference itself. "example.com/foobar" is not under "example.com/foo".
  EXPECT_EQ(Sources(conf, "example.com/foobar:1"), (Strings{"example.com/foobar:1"}));
  EXPECT_EQ(Sources(conf, "quay.io/a/b"), (Strings{"quay.io/a/b:latest"}));

  auto candidates = conf.Resolve("image:v2");
  ASSERT_TRUE(candidates.ok()) << candidates.status();
  ASSERT_EQ(candidates->size(), 1u);
  EXPECT_EQ((*candidates)[0].name.ToString(), "example.com/image:v2");
  EXPECT_EQ((*candidates)[0].how, "unqualified-search-registries");
}

TEST(RegistriesConfTest, LongestPrefixWins) {
  RegistriesConf conf = MustParse(R"(
[[registry]]
prefix = "r.io"
location = "a.io"
[[registry]]
prefix = "r.io/team"
location = "b.io/x"
[[registry]]
prefix = "r.io/team/app:v1"
location = "c.io/pinned:one"
)");
  EXPECT_EQ(Sources(conf, "r.io/other"), (Strings{"a.io/other:latest"}));
  EXPECT_EQ(Sources(conf, "r.io/team/app:v2"), (Strings{"b.io/x/app:v2"}));
  EXPECT_EQ(Sources(conf, "r.io/team/app:v1"), (Strings{"c.io/pinned:one"}));
  EXPECT_EQ(Sources(conf, "r.io/team"), (Strings{"b.io/x:latest"}));
  // A host-only prefix does not match another port of the same host.
  EXPECT_EQ(Sources(conf, "r.io:5000/team"), (Strings{"r.io:5000/team:latest"}));
  EXPECT_EQ(conf.FindRegistry(*Reference::ParseNormalized("r.io/team/x"))->prefix, "r.io/team");
  EXPECT_EQ(conf.FindRegistry(*Reference::ParseNormalized("s.io/team/x")), nullptr);
}

TEST(RegistriesConfTest, WildcardPrefix) {
  RegistriesConf conf = MustParse(R"(
[[registry]]
prefix = "*.example.com"
insecure = true
[[registry.mirror]]
location = "mirror.local/ex"

[[registry]]
prefix = "exact.example.com"
location = "elsewhere.io"
)");
  // No location: no rewriting, but the other settings apply.
  EXPECT_EQ(Sources(conf, "a.b.example.com/x/y:1"),
            (Strings{"mirror.local/ex/x/y:1 mirror", "a.b.example.com/x/y:1 insecure"}));
  // An exact prefix of the same length beats the wildcard.
  EXPECT_EQ(Sources(conf, "exact.example.com/x"), (Strings{"elsewhere.io/x:latest"}));
  // The wildcard needs a subdomain and does not cover other ports.
  EXPECT_EQ(Sources(conf, "example.com/x"), (Strings{"example.com/x:latest"}));
  EXPECT_EQ(Sources(conf, "a.example.com:5000/x"), (Strings{"a.example.com:5000/x:latest"}));
}

TEST(RegistriesConfTest, PullFromMirrorAndDigestOnly) {
  RegistriesConf conf = MustParse(R"(
[[registry]]
location = "r.io"
[[registry.mirror]]
location = "all.local"
[[registry.mirror]]
location = "digest.local"
pull-from-mirror = "digest-only"
[[registry.mirror]]
location = "tag.local"
pull-from-mirror = "tag-only"

[[registry]]
location = "d.io"
mirror-by-digest-only = true
[[registry.mirror]]
location = "dmirror.local"
)");
  EXPECT_EQ(Sources(conf, "r.io/a:1"), (Strings{"all.local/a:1 mirror", "tag.local/a:1 mirror", "r.io/a:1"}));
  EXPECT_EQ(Sources(conf, StrCat("r.io/a@", kDigest)),
            (Strings{StrCat("all.local/a@", kDigest, " mirror"),
                     StrCat("digest.local/a@", kDigest, " mirror"), StrCat("r.io/a@", kDigest)}));
  EXPECT_EQ(Sources(conf, "d.io/a:1"), (Strings{"d.io/a:1"}));
  EXPECT_EQ(Sources(conf, StrCat("d.io/a@", kDigest)),
            (Strings{StrCat("dmirror.local/a@", kDigest, " mirror"), StrCat("d.io/a@", kDigest)}));
}

TEST(RegistriesConfTest, Blocked) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["blocked.io", "ok.io"]
[[registry]]
location = "blocked.io"
blocked = true

[[registry]]
prefix = "mirrored.io"
blocked = true
[[registry.mirror]]
location = "m.local"
)");
  auto ref = Reference::ParseNormalized("blocked.io/a");
  auto s = conf.PullSources(*ref);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(s.status().message().find("blocked"), absl::string_view::npos);
  EXPECT_NE(s.status().message().find("test.conf:3"), absl::string_view::npos) << s.status();
  // Mirrors are still used; the blocked primary is not.
  EXPECT_EQ(Sources(conf, "mirrored.io/a"), (Strings{"m.local/a:latest mirror"}));
  // A short name skips the blocked search registry.
  auto c = conf.Resolve("app");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].name.ToString(), "ok.io/app:latest");
  auto all_blocked = MustParse(
                         "unqualified-search-registries = [\"b.io\"]\n[[registry]]\nlocation = \"b.io\"\n"
                         "blocked = true\n")
                         .Resolve("app");
  EXPECT_EQ(all_blocked.status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(RegistriesConfTest, InsecureFromCrioConfig) {
  RegistriesConf conf = MustParse(R"(
[[registry]]
prefix = "p.io"
location = "localhost:5000/p"
)");
  conf.set_insecure_registries({"localhost:5000", "10.0.0.0/8", "quay.io/ns"});
  EXPECT_EQ(Sources(conf, "p.io/x"), (Strings{"localhost:5000/p/x:latest insecure"}));
  EXPECT_EQ(Sources(conf, "10.1.2.3:5000/x"), (Strings{"10.1.2.3:5000/x:latest insecure"}));
  EXPECT_EQ(Sources(conf, "11.1.2.3:5000/x"), (Strings{"11.1.2.3:5000/x:latest"}));
  EXPECT_EQ(Sources(conf, "quay.io/ns/x"), (Strings{"quay.io/ns/x:latest insecure"}));
  EXPECT_EQ(Sources(conf, "quay.io/nsx/x"), (Strings{"quay.io/nsx/x:latest"}));
  EXPECT_EQ(Sources(conf, "localhost:50000/x"), (Strings{"localhost:50000/x:latest"}));
}

TEST(RegistriesConfTest, ShortNamesAndAliases) {
  RegistriesConf conf = MustParse(R"(
unqualified-search-registries = ["quay.io", "docker.io"]
[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"team/tool" = "ghcr.io/team/tool"
)");
  auto c = conf.Resolve("fedora:39");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ((*c)[0].name.ToString(), "registry.fedoraproject.org/fedora:39");
  EXPECT_EQ((*c)[0].how, "alias (test.conf:4)");
  c = conf.Resolve(StrCat("team/tool@", kDigest));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ((*c)[0].name.ToString(), StrCat("ghcr.io/team/tool@", kDigest));

  c = conf.Resolve("busybox");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 2u);
  EXPECT_EQ((*c)[0].name.ToString(), "quay.io/busybox:latest");
  EXPECT_EQ((*c)[1].name.ToString(), "docker.io/library/busybox:latest");
  ASSERT_EQ((*c)[1].sources.size(), 1u);
  EXPECT_EQ((*c)[1].sources[0].reference.ToString(), "docker.io/library/busybox:latest");

  // Without search registries a short name means docker.io, as with Docker.
  c = RegistriesConf().Resolve("busybox");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].name.ToString(), "docker.io/library/busybox:latest");
  EXPECT_EQ((*c)[0].how, "docker.io default");
  c = RegistriesConf().Resolve("localhost:5000/a/b:c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)[0].name.ToString(), "localhost:5000/a/b:c");
  EXPECT_EQ((*c)[0].how, "fully-qualified");

  RegistriesConf enforcing = MustParse(
      "unqualified-search-registries = [\"a.io\", \"b.io\"]\n"
      "short-name-mode = \"enforcing\"\n");
  EXPECT_NE(enforcing.Resolve("x").status().message().find("ambiguous"), absl::string_view::npos);
  EXPECT_TRUE(enforcing.Resolve("a.io/x").ok());
  EXPECT_FALSE(RegistriesConf().Resolve("Upper").ok());
}

class RegistriesConfFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-regconf-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(MkdirAll(dir_ + "/d").ok());
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_).ok()); }
  void Write(const std::string& name, std::string_view text) {
    ASSERT_TRUE(WriteFileAtomic(dir_ + "/" + name, text).ok());
  }
  std::string dir_;
};

TEST_F(RegistriesConfFilesTest, DropInsOverrideInLexicalOrder) {
  Write("main.conf", R"(
unqualified-search-registries = ["main.io"]
[[registry]]
prefix = "r.io"
location = "main-location.io"
[[registry]]
location = "keep.io"
insecure = true
[aliases]
"a" = "main.io/a"
"b" = "main.io/b"
)");
  Write("d/20-second.conf", R"(
[[registry]]
prefix = "r.io"
location = "second-location.io"
[aliases]
"a" = "second.io/a"
)");
  Write("d/10-first.conf", R"(
unqualified-search-registries = ["first.io", "other.io"]
[[registry]]
prefix = "r.io"
location = "first-location.io"
[aliases]
"b" = ""
"c" = "first.io/c"
)");
  Write("d/30-ignored.txt", "this is not TOML [");
  ASSERT_TRUE(MkdirAll(dir_ + "/d/40-dir.conf").ok());
  std::vector<std::string> warnings;
  auto conf = RegistriesConf::Load(dir_ + "/main.conf", dir_ + "/d", &warnings);
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(conf->unqualified_search_registries(), (Strings{"first.io", "other.io"}));
  ASSERT_EQ(conf->registries().size(), 2u);
  EXPECT_EQ(Sources(*conf, "r.io/x"), (Strings{"second-location.io/x:latest"}));
  EXPECT_EQ(Sources(*conf, "keep.io/x"), (Strings{"keep.io/x:latest insecure"}));
  EXPECT_EQ(conf->aliases().at("a"), "second.io/a");
  EXPECT_EQ(conf->aliases().count("b"), 0u);
  EXPECT_EQ(conf->aliases().at("c"), "first.io/c");

  // Absent files are fine.
  auto none = RegistriesConf::Load(dir_ + "/missing.conf", dir_ + "/missing.d", nullptr);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->registries().empty());
}

TEST_F(RegistriesConfFilesTest, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* toml;
    const char* want;
  };
  const Case cases[] = {
      {"unqualified-search-registries = \"x\"\n", ":1: unqualified-search-registries: expected an array"},
      {"unqualified-search-registries = [\"a.io/ns\"]\n", ":1: unqualified-search-registries: \"a.io/ns\""},
      {"\n[[registry]]\nprefix = \"r.io\"\ninsecure = \"yes\"\n",
       ":4: registry[0].insecure: expected a boolean"},
      {"[[registry]]\nprefix = \"ex.*.com\"\n", ":2: registry[0].prefix: \"ex.*.com\": '*'"},
      {"[[registry]]\nprefix = \"*.ex.com/foo\"\n", "registry[0].prefix: wildcard prefix"},
      {"[[registry]]\nlocation = \"noregistry/foo\"\n", "registry[0].location: \"noregistry/foo\""},
      {"[[registry]]\ninsecure = true\n", ":1: registry[0]: needs a prefix or a location"},
      {"[[registry]]\nlocation = \"r.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = "
       "\"x\"\n",
       ":5: registry[0].mirror[0].pull-from-mirror: invalid value \"x\""},
      {"[[registry]]\nlocation = \"r.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "
       "\"m.io\"\npull-from-mirror = \"tag-only\"\n",
       "mirror-by-digest-only"},
      {"[[registry]]\nlocation = \"r.io\"\n[[registry]]\nprefix = \"r.io\"\n",
       ":3: registry[1]: prefix \"r.io\" is already defined at "},
      {"[aliases]\n\"q.io/x\" = \"r.io/x\"\n", ":2: aliases.\"q.io/x\": an alias name must be a short name"},
      {"[aliases]\n\"x\" = \"x:1\"\n", ":2: aliases.\"x\": \"x:1\" must be a fully-qualified"},
      {"[registries.search]\nregistries = [\"a.io\"]\n", "version 1 format"},
      {"short-name-mode = \"sometimes\"\n", ":1: short-name-mode: invalid value"},
      {"[[registry]\n", ":1:"},
  };
  for (const Case& c : cases) {
    Write("bad.conf", c.toml);
    auto conf = RegistriesConf::Load(dir_ + "/bad.conf", "", nullptr);
    ASSERT_FALSE(conf.ok()) << c.toml;
    EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
    std::string msg(conf.status().message());
    EXPECT_NE(msg.find(dir_ + "/bad.conf"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << "want \"" << c.want << "\" in: " << msg;
  }
}

TEST_F(RegistriesConfFilesTest, UnknownKeysWarn) {
  Write("w.conf",
        "short-name-mode = \"permissive\"\nfoo = 1\n[[registry]]\nlocation = \"r.io\"\nbar = true\n");
  std::vector<std::string> warnings;
  auto conf = RegistriesConf::Load(dir_ + "/w.conf", "", &warnings);
  ASSERT_TRUE(conf.ok()) << conf.status();
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_EQ(warnings[0], dir_ + "/w.conf:2: unknown key foo (ignored)");
  EXPECT_EQ(warnings[1], dir_ + "/w.conf:5: unknown key registry[0].bar (ignored)");
}

}  // namespace
}  // namespace cricket::image
