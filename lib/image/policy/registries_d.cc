#include "lib/image/policy/registries_d.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>

#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/image/policy/policy.h"

namespace cricket::image::policy {
namespace {

constexpr std::string_view kBuiltinLookaside = "file:///var/lib/containers/sigstore";

absl::Status KeyError(const std::string& file, std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(StrCat(file, ": ", key, ": ", problem));
}

absl::StatusOr<SignatureStorage> ParseSection(const YAML::Node& node, const std::string& file,
                                              const std::string& where) {
  SignatureStorage out;
  out.origin = StrCat(file, ": ", where);
  if (node.IsNull()) return out;
  if (!node.IsMap()) return KeyError(file, where, "must be a mapping");
  std::string lookaside, staging;
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    if (key == "lookaside" || key == "sigstore" || key == "lookaside-staging" || key == "sigstore-staging") {
      if (!v.IsScalar()) return KeyError(file, StrCat(where, ".", key), "must be a URL string");
      std::string url = v.as<std::string>();
      if (!url.starts_with("file:///") && !url.starts_with("http://") && !url.starts_with("https://")) {
        return KeyError(file, StrCat(where, ".", key),
                        StrCat("\"", url, "\" is not a file:///, http:// or https:// URL"));
      }
      std::string& slot = key.ends_with("staging") ? staging : lookaside;
      if (!slot.empty())
        return KeyError(file, StrCat(where, ".", key), "is set twice (lookaside and sigstore)");
      slot = url;
    } else if (key == "use-sigstore-attachments") {
      if (!v.IsScalar() || (v.Scalar() != "true" && v.Scalar() != "false")) {
        return KeyError(file, StrCat(where, ".", key), "must be true or false");
      }
      out.use_sigstore_attachments = v.Scalar() == "true";
    } else {
      return KeyError(file, StrCat(where, ".", key), "unknown key");
    }
  }
  out.lookaside = !lookaside.empty() ? lookaside : staging;
  while (out.lookaside.size() > 8 && out.lookaside.back() == '/') out.lookaside.pop_back();
  return out;
}

}  // namespace

absl::StatusOr<RegistriesD> RegistriesD::Load(const std::string& dir) {
  RegistriesD out;
  if (dir.empty() || !PathExists(dir)) return out;
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  std::sort(names.begin(), names.end());
  for (const std::string& n : names) {
    if (!n.ends_with(".yaml")) continue;
    std::string path = JoinPath(dir, n);
    ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
    RETURN_IF_ERROR(out.Add(text, path));
  }
  return out;
}

absl::Status RegistriesD::Add(std::string_view yaml, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat(file, ": malformed YAML: ", e.what()));
  }
  if (root.IsNull()) return absl::OkStatus();
  if (!root.IsMap()) return absl::InvalidArgumentError(StrCat(file, ": the top level must be a mapping"));
  try {
    for (const auto& kv : root) {
      std::string key = kv.first.as<std::string>();
      if (key == "default-docker") {
        if (default_docker_) {
          return KeyError(file, key, StrCat("is already defined in ", default_docker_->origin));
        }
        ASSIGN_OR_RETURN(SignatureStorage s, ParseSection(kv.second, file, key));
        default_docker_ = std::move(s);
      } else if (key == "docker") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) return KeyError(file, key, "must be a mapping of scopes");
        for (const auto& scope : kv.second) {
          std::string name = scope.first.as<std::string>();
          std::string where = StrCat("docker[\"", name, "\"]");
          if (name.empty() || name.find("://") != std::string::npos)
            return KeyError(file, where, "is not a registry, namespace or image name");
          if (auto it = docker_.find(name); it != docker_.end()) {
            return KeyError(file, where, StrCat("is already defined in ", it->second.origin));
          }
          ASSIGN_OR_RETURN(SignatureStorage s, ParseSection(scope.second, file, where));
          docker_.emplace(name, std::move(s));
        }
      } else {
        return KeyError(file, key, "unknown top-level key (want docker or default-docker)");
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(StrCat(file, ": ", e.what()));
  }
  return absl::OkStatus();
}

SignatureStorage RegistriesD::For(std::string_view docker_reference) const {
  // Wildcards are not part of registries.d; only the exact scopes of the policy lookup apply.
  for (const std::string& candidate : ScopeCandidates("docker", docker_reference)) {
    if (candidate.starts_with("*.")) break;
    if (auto it = docker_.find(candidate); it != docker_.end()) return it->second;
  }
  if (default_docker_) return *default_docker_;
  return SignatureStorage{std::string(kBuiltinLookaside), false, "built-in default"};
}

}  // namespace cricket::image::policy
