#include "lib/image/auth_challenge.h"

#include <cctype>

#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::image {

namespace {

// tchar of RFC 9110 §5.6.2.
bool IsTokenChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool IsToken68Char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("-._~+/").find(c) != std::string_view::npos;
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  size_t pos() const { return i_; }
  void set_pos(size_t p) { i_ = p; }
  char peek() const { return done() ? '\0' : s_[i_]; }
  void SkipSpace() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  void SkipSpaceAndCommas() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == ',')) ++i_;
  }
  std::string_view Token() {
    size_t start = i_;
    while (!done() && IsTokenChar(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  // token68 := 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  std::string_view Token68() {
    size_t start = i_;
    while (!done() && IsToken68Char(s_[i_])) ++i_;
    if (i_ == start) return {};
    while (!done() && s_[i_] == '=') ++i_;
    return s_.substr(start, i_ - start);
  }
  // quoted-string with quoted-pair escapes; nullopt when unterminated.
  std::optional<std::string> Quoted() {
    if (peek() != '"') return std::nullopt;
    ++i_;
    std::string out;
    while (!done()) {
      char c = s_[i_++];
      if (c == '"') return out;
      if (c == '\\' && !done()) c = s_[i_++];
      out.push_back(c);
    }
    return std::nullopt;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Tries `name = value` at the lexer's position; restores the position and returns false otherwise.
bool ParseParam(Lexer& lx, AuthChallenge& ch) {
  size_t start = lx.pos();
  std::string_view name = lx.Token();
  lx.SkipSpace();
  if (name.empty() || lx.peek() != '=') {
    lx.set_pos(start);
    return false;
  }
  lx.set_pos(lx.pos() + 1);
  lx.SkipSpace();
  std::string value;
  if (lx.peek() == '"') {
    auto q = lx.Quoted();
    if (!q) {
      lx.set_pos(start);
      return false;
    }
    value = *std::move(q);
  } else {
    std::string_view t = lx.Token();
    if (t.empty()) {
      lx.set_pos(start);
      return false;
    }
    value = std::string(t);
  }
  ch.params[ToLower(name)] = std::move(value);
  return true;
}

}  // namespace

std::vector<AuthChallenge> ParseWwwAuthenticate(std::string_view value) {
  std::vector<AuthChallenge> out;
  Lexer lx(value);
  for (;;) {
    lx.SkipSpaceAndCommas();
    if (lx.done()) break;
    std::string_view scheme = lx.Token();
    if (scheme.empty()) break;
    AuthChallenge ch;
    ch.scheme = ToLower(scheme);
    lx.SkipSpace();
    // Either auth-params (possibly none) or a single token68.
    if (!ParseParam(lx, ch)) {
      size_t before = lx.pos();
      std::string_view t68 = lx.Token68();
      lx.SkipSpace();
      if (!t68.empty() && (lx.done() || lx.peek() == ',')) {
        ch.token68 = std::string(t68);
      } else {
        lx.set_pos(before);
      }
    } else {
      // More params follow after commas; a token not followed by "=" starts the next challenge.
      for (;;) {
        size_t before = lx.pos();
        lx.SkipSpaceAndCommas();
        if (lx.done() || !ParseParam(lx, ch)) {
          lx.set_pos(before);
          break;
        }
      }
    }
    out.push_back(std::move(ch));
    lx.SkipSpace();
    if (!lx.done() && lx.peek() != ',') break;  // garbage: stop
  }
  return out;
}

absl::StatusOr<TokenResponse> ParseTokenResponse(std::string_view body, int64_t now_unix_seconds) {
  ASSIGN_OR_RETURN(nlohmann::json doc, ParseJson(body, "token response"));
  if (!doc.is_object()) return absl::InvalidArgumentError("token response: expected a JSON object");
  TokenResponse r;
  for (const char* field : {"token", "access_token"}) {
    auto it = doc.find(field);
    if (it != doc.end() && it->is_string() && !it->get<std::string>().empty()) {
      r.token = it->get<std::string>();
      break;
    }
  }
  if (r.token.empty()) return absl::InvalidArgumentError("token response has neither token nor access_token");
  int64_t expires_in = 60;
  if (auto it = doc.find("expires_in");
      it != doc.end() && it->is_number_integer() && it->get<int64_t>() > 0) {
    expires_in = it->get<int64_t>();
  }
  r.lifetime_seconds = expires_in;
  if (auto it = doc.find("issued_at"); it != doc.end() && it->is_string()) {
    auto issued = ParseRFC3339(it->get<std::string>());
    if (issued.ok()) {
      int64_t age = now_unix_seconds - *issued / 1'000'000'000;
      if (age >= 0 && age < expires_in) r.lifetime_seconds = expires_in - age;
    }
  }
  return r;
}

}  // namespace cricket::image
