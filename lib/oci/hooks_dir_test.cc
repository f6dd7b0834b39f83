#include "lib/oci/hooks_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/strings.h"

namespace cricket::oci {
namespace {

Spec WithProcess(std::vector<std::string> args) {
  Spec s;
  s.process.emplace();
  s.process->args = std::move(args);
  return s;
}

HookDefinition Parse(std::string_view text) {
  auto d = ParseHookDefinition(text, "test.json");
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *std::move(d) : HookDefinition{};
}

TEST(HooksDirTest, ParsesTheOneZeroZeroSchema) {
  HookDefinition d = Parse(R"({"version": "1.0.0",
    "hook": {"path": "/usr/bin/h", "args": ["h", "prestart"], "env": ["A=1"], "timeout": 5},
    "when": {"always": true}, "stages": ["prestart", "poststop"]})");
  EXPECT_EQ(d.hook.path, "/usr/bin/h");
  EXPECT_EQ(d.hook.args, (std::vector<std::string>{"h", "prestart"}));
  EXPECT_EQ(d.hook.timeout, 5);
  EXPECT_EQ(d.stages, (std::vector<std::string>{"prestart", "poststop"}));
  EXPECT_TRUE(d.Matches(Spec{}));
}

TEST(HooksDirTest, BadDefinitionsAreRefusedNamingFileAndProperty) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {R"({"hook": {"path": "/h"}, "when": {"always": true}, "stages": ["prestart"]})", "version"},
      {R"({"version": "0.1.0", "hook": {"path": "/h"}, "when": {"always": true}, "stages": ["prestart"]})",
       "not supported"},
      {R"({"version": "1.0.0", "hook": {"path": "h"}, "when": {"always": true}, "stages": ["prestart"]})",
       "hook.path"},
      {R"({"version": "1.0.0", "hook": {"path": "/h"}, "when": {"always": true}, "stages": ["later"]})",
       "unknown stage \"later\""},
      {R"({"version": "1.0.0", "hook": {"path": "/h"}, "when": {}, "stages": ["prestart"]})", "no condition"},
      {R"({"version": "1.0.0", "hook": {"path": "/h"}, "stages": ["prestart"]})", "when"},
      {R"({"version": "1.0.0", "hook": {"path": "/h"}, "when": {"commands": ["("]}, "stages": ["prestart"]})",
       "when.commands[0]"},
      {R"({"version": "1.0.0", "hook": {"path": "/h", "timeout": 0}, "when": {"always": true},
          "stages": ["prestart"]})",
       "hook.timeout"},
      {"not json", "test.json"},
  };
  for (const Case& c : cases) {
    auto d = ParseHookDefinition(c.json, "test.json");
    ASSERT_FALSE(d.ok()) << c.json;
    EXPECT_TRUE(absl::IsInvalidArgument(d.status())) << d.status();
    EXPECT_NE(d.status().message().find(c.want), absl::string_view::npos) << d.status();
    EXPECT_NE(d.status().message().find("test.json"), absl::string_view::npos) << d.status();
  }
}

TEST(HooksDirTest, EveryConditionSetMustHold) {
  HookDefinition d = Parse(R"({"version": "1.0.0", "hook": {"path": "/h"},
    "when": {"annotations": {"^com\\.example\\.gpu$": "^(yes|true)$"}, "commands": ["/init$", "^sh$"]},
    "stages": ["createRuntime"]})");
  Spec s = WithProcess({"/sbin/init"});
  EXPECT_FALSE(d.Matches(s));  // the command matches, no annotation does
  s.annotations["com.example.gpu"] = "yes";
  EXPECT_TRUE(d.Matches(s));
  s.annotations["com.example.gpu"] = "no";
  EXPECT_FALSE(d.Matches(s));
  s.annotations["com.example.gpu"] = "true";
  s.process->args = {"bash"};
  EXPECT_FALSE(d.Matches(s));  // the annotation matches, the command does not
  s.process->args = {"sh", "-c", "x"};
  EXPECT_TRUE(d.Matches(s));

  HookDefinition binds = Parse(R"({"version": "1.0.0", "hook": {"path": "/h"},
    "when": {"hasBindMounts": true}, "stages": ["prestart"]})");
  Spec plain;
  EXPECT_FALSE(binds.Matches(plain));
  plain.mounts.push_back(
      Mount{.destination = "/data", .type = "", .source = "/srv", .options = {"rbind", "ro"}});
  EXPECT_TRUE(binds.Matches(plain));
  HookDefinition never = Parse(R"({"version": "1.0.0", "hook": {"path": "/h"}, "when": {"always": false},
    "stages": ["prestart"]})");
  EXPECT_FALSE(never.Matches(plain));
}

TEST(HooksDirTest, LaterDirectoriesMaskFilesOfTheSameNameAndInjectionFollowsNames) {
  char tmpl[] = "/tmp/cricket-hooks-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string tmp = tmpl;
  std::string low = JoinPath(tmp, "usr"), high = JoinPath(tmp, "etc");
  ASSERT_TRUE(MkdirAll(low).ok() && MkdirAll(high).ok());
  auto def = [](const char* path, const char* stage) {
    return StrCat(R"({"version": "1.0.0", "hook": {"path": ")", path, R"("}, "when": {"always": true},
                  "stages": [")",
                  stage, R"("]})");
  };
  ASSERT_TRUE(WriteFileAtomic(JoinPath(low, "10-a.json"), def("/low-a", "prestart")).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(low, "20-b.json"), def("/low-b", "prestart")).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(high, "20-b.json"), def("/high-b", "prestart")).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(high, "05-c.json"), def("/high-c", "poststop")).ok());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(high, "notes.txt"), "not a hook").ok());

  HooksDirCache cache;
  std::vector<std::string> dirs = {low, high, JoinPath(tmp, "missing")};
  auto defs = cache.Get(dirs);
  ASSERT_TRUE(defs.ok()) << defs.status();
  Spec spec;
  std::vector<std::string> injected = InjectHooks(**defs, &spec);
  ASSERT_EQ(injected.size(), 3u);
  ASSERT_TRUE(spec.hooks.has_value());
  ASSERT_EQ(spec.hooks->prestart.size(), 2u);
  EXPECT_EQ(spec.hooks->prestart[0].path, "/low-a");
  EXPECT_EQ(spec.hooks->prestart[1].path, "/high-b");
  ASSERT_EQ(spec.hooks->poststop.size(), 1u);
  EXPECT_EQ(spec.hooks->poststop[0].path, "/high-c");

  // Unchanged directories: the same definitions; a changed file is read again; a broken one is an error
  // naming it.
  auto again = cache.Get(dirs);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->get(), defs->get());
  ASSERT_TRUE(WriteFileAtomic(JoinPath(high, "20-b.json"), def("/high-b2", "prestart")).ok());
  auto changed = cache.Get(dirs);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ((**changed)[2].hook.path, "/high-b2");
  ASSERT_TRUE(WriteFileAtomic(JoinPath(low, "30-broken.json"), "{").ok());
  auto broken = cache.Get(dirs);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("30-broken.json"), absl::string_view::npos) << broken.status();
  EXPECT_TRUE(RemoveAll(tmp).ok());
}

}  // namespace
}  // namespace cricket::oci
