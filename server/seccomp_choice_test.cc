#include "server/seccomp_choice.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "lib/common/file_util.h"

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;

class SeccompChoiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    platform_.arch = "amd64";
    platform_.kernel = {6, 1};
    caps_ = {"CAP_CHOWN", "CAP_KILL"};
  }
  absl::StatusOr<std::optional<oci::LinuxSeccomp>> Resolve() {
    return ResolveSeccomp(sc_, runtime_, caps_, platform_);
  }
  v1::LinuxContainerSecurityContext sc_;
  RuntimeSection runtime_;
  std::vector<std::string> caps_;
  oci::SeccompPlatform platform_;
};

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void SetPath(v1::LinuxContainerSecurityContext& sc, const std::string& p) { sc.set_seccomp_profile_path(p); }
#pragma GCC diagnostic pop

TEST_F(SeccompChoiceTest, NothingMeansUnconfinedUnlessConfigured) {
  auto r = Resolve();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  runtime_.seccomp_use_default_when_empty = true;
  r = Resolve();
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->default_action, oci::SeccompAction::kErrno);
}

TEST_F(SeccompChoiceTest, ProfileTypesAndDeprecatedPaths) {
  sc_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::RuntimeDefault);
  auto r = Resolve();
  ASSERT_TRUE(r.ok() && r->has_value());
  sc_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Unconfined);
  r = Resolve();
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_value());
  sc_.clear_seccomp();
  SetPath(sc_, "docker/default");
  r = Resolve();
  ASSERT_TRUE(r.ok() && r->has_value());
  SetPath(sc_, "unconfined");
  r = Resolve();
  ASSERT_TRUE(r.ok() && !r->has_value());
  SetPath(sc_, "bogus");
  EXPECT_FALSE(Resolve().ok());
  sc_.set_privileged(true);
  SetPath(sc_, "runtime/default");
  r = Resolve();
  ASSERT_TRUE(r.ok() && !r->has_value());
}

TEST_F(SeccompChoiceTest, LocalhostProfileFromFile) {
  char tmpl[] = "/tmp/cricket-seccomp-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string file = std::string(tmpl) + "/profile.json";
  ASSERT_TRUE(WriteFileAtomic(file, R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
      {"names":["sethostname"],"action":"SCMP_ACT_ERRNO"}]})")
                  .ok());
  sc_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  sc_.mutable_seccomp()->set_localhost_ref(file);
  auto r = Resolve();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ((*r)->default_action, oci::SeccompAction::kAllow);
  ASSERT_EQ((*r)->syscalls.size(), 1u);
  sc_.clear_seccomp();
  SetPath(sc_, "localhost/" + file);
  r = Resolve();
  ASSERT_TRUE(r.ok() && r->has_value()) << r.status();
  sc_.mutable_seccomp()->set_profile_type(v1::SecurityProfile::Localhost);
  sc_.mutable_seccomp()->set_localhost_ref(std::string(tmpl) + "/missing.json");
  r = Resolve();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.json"), std::string::npos);
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::server
