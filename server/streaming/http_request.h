// The part of HTTP/1.1 (RFC 9112) that the streaming server needs: parsing one request head and writing
// simple responses. Upgrade requests carry no body; the bytes after the head belong to the upgraded
// protocol.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace cricket::streaming {

struct HttpRequest {
  std::string method;
  std::string target;                                        // as sent: path plus optional "?query"
  std::string path;                                          // percent-decoded path
  std::vector<std::pair<std::string, std::string>> query;    // decoded key/value pairs, in order
  int minor_version = 1;                                     // HTTP/1.<minor>
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, values trimmed

  // The first value of header `name` (lowercase), or "" when absent.
  std::string_view Header(std::string_view name) const;
  // Every comma-separated element of every `name` header, trimmed, empty elements dropped (RFC 9110
  // §5.3: repeated headers and comma lists are equivalent).
  std::vector<std::string> HeaderList(std::string_view name) const;
  // True when a `name` header has `token` as one of its comma-separated elements (case-insensitive).
  bool HeaderHasToken(std::string_view name, std::string_view token) const;
  std::vector<std::string> QueryValues(std::string_view key) const;
};

// Parses a request head ending in "\r\n\r\n". Errors name what was malformed (they become 400s).
absl::StatusOr<HttpRequest> ParseHttpRequest(std::string_view head);

// Decodes %XX escapes (and '+' as space when `plus_is_space`); malformed escapes are errors.
absl::StatusOr<std::string> PercentDecode(std::string_view s, bool plus_is_space);

// A complete response with "Connection: close" and a text/plain body (when non-empty).
std::string HttpResponse(int code, const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view body);
std::string_view HttpReason(int code);

}  // namespace cricket::streaming
