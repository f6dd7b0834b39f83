#include "lib/image/auth.h"

#include "absl/strings/escaping.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image {

absl::Status AuthConfig::DecodeAuth() {
  if (auth.empty() || !username.empty() || !password.empty()) return absl::OkStatus();
  std::string decoded;
  if (!absl::Base64Unescape(ToAbsl(auth), &decoded)) {
    return absl::InvalidArgumentError("credentials: \"auth\" is not valid base64");
  }
  auto parts = SplitOnce(decoded, ':');
  if (!parts || parts->first.empty()) {
    return absl::InvalidArgumentError("credentials: \"auth\" does not decode to \"username:password\"");
  }
  username = std::string(parts->first);
  password = std::string(parts->second);
  return absl::OkStatus();
}

std::string AuthConfig::Fingerprint() const {
  if (empty()) return "anonymous";
  // Length-prefixed fields so that different splits cannot collide.
  std::string material;
  for (const std::string* f : {&username, &password, &auth, &identity_token, &registry_token}) {
    StrAppend(&material, f->size(), ":", *f, ";");
  }
  return Digest::Sha256Of(material).hex().substr(0, 32);
}

std::string NormalizeRegistryHost(std::string_view address) {
  std::string_view s = TrimSpace(address);
  for (std::string_view scheme : {"https://", "http://"}) {
    if (s.starts_with(scheme)) {
      s.remove_prefix(scheme.size());
      // A URL names a host only; its path is an API version ("/v1/"), not a namespace.
      s = s.substr(0, s.find('/'));
      break;
    }
  }
  while (s.ends_with('/')) s.remove_suffix(1);
  std::string out(s);
  std::string_view host = std::string_view(out).substr(0, out.find('/'));
  if (host == "index.docker.io" || host == "registry-1.docker.io") {
    out = StrCat(kDefaultDomain, std::string_view(out).substr(host.size()));
  }
  return out;
}

absl::StatusOr<AuthFile> AuthFile::Parse(std::string_view json, std::string_view what) {
  ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(json, what));
  AuthFile file;
  if (!doc.is_object()) return absl::InvalidArgumentError(StrCat(what, ": expected a JSON object"));
  if (doc.contains("credHelpers") || doc.contains("credsStore")) {
    log::Warn("image", "credential helpers in the auth file are not supported (ignored)", {{"file", what}});
  }
  auto auths = doc.find("auths");
  if (auths == doc.end()) return file;
  if (!auths->is_object()) return absl::InvalidArgumentError(StrCat(what, ": \"auths\" must be an object"));
  for (auto& [key, value] : auths->items()) {
    if (!value.is_object()) {
      return absl::InvalidArgumentError(StrCat(what, ": auths.\"", key, "\" must be an object"));
    }
    AuthConfig c;
    auto str = [&](const char* field, std::string* out) -> absl::Status {
      auto it = value.find(field);
      if (it == value.end() || it->is_null()) return absl::OkStatus();
      if (!it->is_string()) {
        return absl::InvalidArgumentError(StrCat(what, ": auths.\"", key, "\".", field, " must be a string"));
      }
      *out = it->get<std::string>();
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(str("auth", &c.auth));
    RETURN_IF_ERROR(str("username", &c.username));
    RETURN_IF_ERROR(str("password", &c.password));
    RETURN_IF_ERROR(str("identitytoken", &c.identity_token));
    RETURN_IF_ERROR(str("registrytoken", &c.registry_token));
    if (!c.DecodeAuth().ok()) {
      log::Warn("image", "auth file entry has an invalid \"auth\" value (ignored)",
                {{"file", what}, {"key", key}});
      continue;
    }
    if (c.empty()) continue;
    std::string norm = NormalizeRegistryHost(key);
    c.server_address = norm;
    // An exact key wins over a legacy spelling of the same registry.
    if (norm == key || !file.entries_.count(norm)) file.entries_[norm] = std::move(c);
  }
  return file;
}

absl::StatusOr<AuthFile> AuthFile::Load(const std::string& path) {
  if (path.empty() || !PathExists(path)) return AuthFile();
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4 << 20));
  return Parse(text, path);
}

std::optional<AuthConfig> AuthFile::Lookup(std::string_view domain, std::string_view path) const {
  std::string key = StrCat(NormalizeRegistryHost(domain), "/", path);
  for (;;) {
    if (auto it = entries_.find(key); it != entries_.end()) return it->second;
    size_t slash = key.rfind('/');
    if (slash == std::string::npos) return std::nullopt;
    key.resize(slash);
  }
}

std::optional<AuthConfig> SelectCredentials(const AuthConfig* request, const Reference& requested,
                                            const Reference& source, const AuthFile* file) {
  std::string source_host = NormalizeRegistryHost(source.domain());
  if (request != nullptr && !request->empty()) {
    std::string target = request->server_address.empty() ? NormalizeRegistryHost(requested.domain())
                                                         : NormalizeRegistryHost(request->server_address);
    // server_address may carry a namespace ("r.io/team"); the credentials then cover only that subtree.
    std::string_view target_host = std::string_view(target).substr(0, target.find('/'));
    std::string source_name = StrCat(source_host, "/", source.path());
    bool covers = target_host == source_host &&
                  (target.size() == target_host.size() ||
                   (source_name.starts_with(target) &&
                    (source_name.size() == target.size() || source_name[target.size()] == '/')));
    if (covers) {
      AuthConfig c = *request;
      if (c.DecodeAuth().ok()) return c;
    }
  }
  if (file != nullptr) return file->Lookup(source.domain(), source.path());
  return std::nullopt;
}

}  // namespace cricket::image
