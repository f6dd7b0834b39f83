// Registry credentials: cricket's own AuthConfig (the server converts CRI's AuthConfig message into it)
// and auth files in the containers-auth.json(5) / Docker config.json format.
//
// Credentials go only to the registry they are for: SelectCredentials decides per pull source, the
// registry client sends them only to that registry's host (and to the token realm that registry names),
// never across a redirect to another host. Nothing here is ever logged or put into an error message.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "lib/image/reference.h"

namespace cricket::image {

struct AuthConfig {
  std::string username;
  std::string password;
  std::string auth;            // base64("username:password"), as in auth.json and CRI
  std::string server_address;  // the registry these are for ("" = the image's own registry)
  std::string identity_token;  // OAuth2 refresh token, exchanged at the token realm
  std::string registry_token;  // a bearer token sent to the registry as is

  bool empty() const {
    return username.empty() && password.empty() && auth.empty() && identity_token.empty() &&
           registry_token.empty();
  }
  // Decodes `auth` into username/password when those are empty. InvalidArgument (without the value)
  // when `auth` is not base64 of "user:password".
  absl::Status DecodeAuth();
  // A stable, non-reversible fingerprint of the secret fields, to key caches by credentials.
  std::string Fingerprint() const;
};

// The registry host an auth key or server_address names, with the Docker Hub aliases folded into
// docker.io: "https://index.docker.io/v1/" → "docker.io", "http://r.io:5000/x" → "r.io:5000".
std::string NormalizeRegistryHost(std::string_view address);

// An auth file: {"auths": {"registry[/namespace...]": {"auth": "...", "identitytoken": "..."}}}.
class AuthFile {
 public:
  AuthFile() = default;
  // A missing file is an empty AuthFile; a malformed one is InvalidArgument naming the path.
  static absl::StatusOr<AuthFile> Load(const std::string& path);
  static absl::StatusOr<AuthFile> Parse(std::string_view json, std::string_view what);

  // Most specific key first: "domain/a/b/c", "domain/a/b", "domain/a", "domain" (with Docker Hub keys
  // in any of their legacy spellings). Credentials whose `auth` does not decode are skipped.
  std::optional<AuthConfig> Lookup(std::string_view domain, std::string_view path) const;

  bool empty() const { return entries_.empty(); }

 private:
  std::map<std::string, AuthConfig> entries_;  // key: normalised "host[/path]"
};

// Credentials for fetching from `source` (a pull source's reference) when the user asked for
// `requested` (the logical name). The request's credentials apply when the source's registry is the one
// they name (server_address) or, without server_address, the requested image's own registry; otherwise
// the auth file is consulted for the source. nullopt means anonymous.
std::optional<AuthConfig> SelectCredentials(const AuthConfig* request, const Reference& requested,
                                            const Reference& source, const AuthFile* file);

}  // namespace cricket::image
