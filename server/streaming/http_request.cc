#include "server/streaming/http_request.h"

#include "lib/common/strings.h"

namespace cricket::streaming {
namespace {

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

absl::Status BadRequest(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("bad HTTP request: ", what));
}

absl::Status ParseRequestLine(std::string_view line, HttpRequest* req) {
  const auto sp1 = line.find(' ');
  const auto sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return BadRequest("malformed request line");
  req->method = std::string(line.substr(0, sp1));
  req->target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  const std::string_view version = line.substr(sp2 + 1);
  if (req->method.empty()) return BadRequest("empty method");
  for (char c : req->method) {
    if (!IsTchar(c)) return BadRequest("invalid character in method");
  }
  if (version == "HTTP/1.1") {
    req->minor_version = 1;
  } else if (version == "HTTP/1.0") {
    req->minor_version = 0;
  } else {
    return BadRequest(StrCat("unsupported version \"", version, "\""));
  }
  if (req->target.empty() || req->target[0] != '/')
    return BadRequest("request target must be an absolute path");
  for (char c : req->target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return BadRequest("invalid character in request target");
  }
  const std::string_view target = req->target;
  const auto q = target.find('?');
  auto path = PercentDecode(target.substr(0, q), false);
  if (!path.ok()) return BadRequest(ToStd(path.status().message()));
  req->path = *std::move(path);
  if (q != std::string_view::npos) {
    for (std::string_view part : Split(target.substr(q + 1), '&')) {
      if (part.empty()) continue;
      const auto kv = SplitOnce(part, '=');
      auto key = PercentDecode(kv ? kv->first : part, true);
      auto value = PercentDecode(kv ? kv->second : std::string_view(), true);
      if (!key.ok() || !value.ok()) return BadRequest("malformed query escape");
      req->query.emplace_back(*std::move(key), *std::move(value));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return absl::InvalidArgumentError("truncated %-escape");
      const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
      if (hi < 0 || lo < 0) return absl::InvalidArgumentError("invalid %-escape");
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (s[i] == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

std::string_view HttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

std::vector<std::string> HttpRequest::HeaderList(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k != name) continue;
    for (std::string_view part : Split(v, ',')) {
      part = TrimSpace(part);
      if (!part.empty()) out.emplace_back(part);
    }
  }
  return out;
}

bool HttpRequest::HeaderHasToken(std::string_view name, std::string_view token) const {
  const std::string want = ToLower(token);
  for (const std::string& v : HeaderList(name)) {
    if (ToLower(v) == want) return true;
  }
  return false;
}

std::vector<std::string> HttpRequest::QueryValues(std::string_view key) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : query) {
    if (k == key) out.push_back(v);
  }
  return out;
}

absl::StatusOr<HttpRequest> ParseHttpRequest(std::string_view head) {
  if (head.size() < 4 || head.substr(head.size() - 4) != "\r\n\r\n")
    return BadRequest("incomplete request head");
  head.remove_suffix(2);  // every line now ends in "\r\n"
  HttpRequest req;
  bool first = true;
  while (!head.empty()) {
    const auto eol = head.find("\r\n");
    if (eol == std::string_view::npos) return BadRequest("line without CRLF");
    const std::string_view line = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    if (line.find('\0') != std::string_view::npos || line.find('\n') != std::string_view::npos ||
        line.find('\r') != std::string_view::npos) {
      return BadRequest("stray control character");
    }
    if (first) {
      first = false;
      if (auto s = ParseRequestLine(line, &req); !s.ok()) return s;
      continue;
    }
    if (line.empty()) return BadRequest("empty header line");
    if (line[0] == ' ' || line[0] == '\t') return BadRequest("obsolete header line folding");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return BadRequest("header line without a name");
    const std::string_view name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTchar(c)) return BadRequest(StrCat("invalid header name \"", name, "\""));
    }
    req.headers.emplace_back(ToLower(name), std::string(TrimSpace(line.substr(colon + 1))));
  }
  if (first) return BadRequest("missing request line");
  if (!req.Header("transfer-encoding").empty()) return BadRequest("request bodies are not supported");
  const std::string_view length = req.Header("content-length");
  if (!length.empty() && length != "0") return BadRequest("request bodies are not supported");
  return req;
}

std::string_view HttpReason(int code) {
  switch (code) {
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 426:
      return "Upgrade Required";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Unknown";
  }
}

std::string HttpResponse(int code, const std::vector<std::pair<std::string, std::string>>& headers,
                         std::string_view body) {
  std::string out = StrCat("HTTP/1.1 ", code, " ", HttpReason(code), "\r\n");
  for (const auto& [k, v] : headers) StrAppend(&out, k, ": ", v, "\r\n");
  if (code != 101) {
    if (!body.empty()) out += "Content-Type: text/plain; charset=utf-8\r\n";
    StrAppend(&out, "Content-Length: ", body.size(), "\r\nConnection: close\r\n");
  }
  out += "\r\n";
  out.append(body);
  return out;
}

}  // namespace cricket::streaming
