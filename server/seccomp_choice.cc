#include "server/seccomp_choice.h"

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {

enum class Choice { kUnconfined, kRuntimeDefault, kLocalhost };

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
const std::string& DeprecatedProfilePath(const v1::LinuxContainerSecurityContext& sc) {
  return sc.seccomp_profile_path();
}
#pragma GCC diagnostic pop

absl::StatusOr<oci::LinuxSeccomp> Render(Choice choice, const std::string& path,
                                         const RuntimeSection& runtime, const std::vector<std::string>& caps,
                                         const oci::SeccompPlatform& platform) {
  if (choice == Choice::kRuntimeDefault && runtime.seccomp_profile.empty()) {
    return oci::RenderRuntimeDefaultSeccomp(caps, platform);
  }
  std::string file = choice == Choice::kRuntimeDefault ? runtime.seccomp_profile : path;
  if (file.empty() || file.front() != '/') {
    return absl::InvalidArgumentError(
        StrCat("seccomp localhost profile \"", file, "\" is not an absolute path"));
  }
  auto profile = oci::LoadSeccompProfileFile(file);
  if (!profile.ok()) {
    return absl::InvalidArgumentError(StrCat("seccomp profile: ", profile.status().message()));
  }
  return oci::RenderSeccompProfile(*profile, caps, platform);
}

}  // namespace

absl::StatusOr<std::optional<oci::LinuxSeccomp>> ResolveSeccomp(const v1::LinuxContainerSecurityContext& sc,
                                                                const RuntimeSection& runtime,
                                                                const std::vector<std::string>& bounding_caps,
                                                                const oci::SeccompPlatform& platform) {
  if (sc.privileged()) return std::optional<oci::LinuxSeccomp>();
  Choice choice = runtime.seccomp_use_default_when_empty ? Choice::kRuntimeDefault : Choice::kUnconfined;
  std::string path;
  if (sc.has_seccomp()) {
    switch (sc.seccomp().profile_type()) {
      case v1::SecurityProfile::RuntimeDefault:
        choice = Choice::kRuntimeDefault;
        break;
      case v1::SecurityProfile::Unconfined:
        choice = Choice::kUnconfined;
        break;
      case v1::SecurityProfile::Localhost:
        choice = Choice::kLocalhost;
        path = sc.seccomp().localhost_ref();
        break;
      default:
        return absl::InvalidArgumentError("unknown seccomp profile type");
    }
  } else if (const std::string& p = DeprecatedProfilePath(sc); !p.empty()) {
    if (p == "runtime/default" || p == "docker/default") {
      choice = Choice::kRuntimeDefault;
    } else if (p == "unconfined") {
      choice = Choice::kUnconfined;
    } else if (p.starts_with("localhost/")) {
      choice = Choice::kLocalhost;
      // "localhost/" + an absolute path (kubelet and critest write "localhost//dir/profile.json").
      path = p.substr(std::string_view("localhost/").size());
      if (!path.starts_with("/")) path.insert(path.begin(), '/');
    } else {
      return absl::InvalidArgumentError(StrCat("unknown seccomp_profile_path \"", p, "\""));
    }
  }
  if (choice == Choice::kUnconfined) return std::optional<oci::LinuxSeccomp>();
  ASSIGN_OR_RETURN(oci::LinuxSeccomp filter, Render(choice, path, runtime, bounding_caps, platform));
  return std::optional<oci::LinuxSeccomp>(std::move(filter));
}

}  // namespace cricket::server
