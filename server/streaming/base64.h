// Base64 (RFC 4648 §4) and its URL-safe unpadded variant (§5), for WebSocket keys, the base64 channel
// protocols and streaming tokens.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cricket::streaming {

std::string Base64Encode(std::string_view data);
// URL and filename safe alphabet, no '=' padding (Go's base64.RawURLEncoding).
std::string Base64RawUrlEncode(std::string_view data);
// Standard alphabet with padding; nullopt on any malformed input.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace cricket::streaming
