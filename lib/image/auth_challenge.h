// WWW-Authenticate challenges (RFC 9110 §11.6.1) and bearer token responses (distribution token spec:
// docs/spec/auth/token.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::image {

struct AuthChallenge {
  std::string scheme;                         // lowercased: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lowercased, values unquoted and unescaped
  std::string token68;                        // the "token68" form, when used instead of params

  std::string param(const std::string& name) const {
    auto it = params.find(name);
    return it == params.end() ? std::string() : it->second;
  }
};

// Parses one WWW-Authenticate field value, which may hold several comma-separated challenges:
//   Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"
// Malformed trailing input ends the parse; what was understood before it is returned.
std::vector<AuthChallenge> ParseWwwAuthenticate(std::string_view value);

// A token endpoint's answer: {"token" | "access_token": "...", "expires_in": N, "issued_at": RFC3339}.
struct TokenResponse {
  std::string token;
  int64_t lifetime_seconds = 60;  // how long it may be used from now
};

// `now_unix_seconds` is the local wall clock. The lifetime is expires_in (default 60) minus the age
// given by issued_at; an issued_at in the future or older than expires_in (clock skew) is ignored.
absl::StatusOr<TokenResponse> ParseTokenResponse(std::string_view body, int64_t now_unix_seconds);

}  // namespace cricket::image
