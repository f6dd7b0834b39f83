#include "lib/image/reference.h"

#include <cctype>

#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image {

namespace {

constexpr size_t kMaxNameLength = 255;
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; }
bool IsWord(char c) { return IsAlnum(c) || c == '_'; }

// component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
bool IsValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or any number of "-".
    size_t start = i;
    while (i < c.size() && !IsLowerAlnum(c[i])) ++i;
    std::string_view sep = c.substr(start, i - start);
    bool ok = sep == "." || sep == "_" || sep == "__" || sep.find_first_not_of('-') == std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

// domain-component := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
bool IsValidHostLabel(std::string_view l) {
  if (l.empty() || !IsAlnum(l.front()) || !IsAlnum(l.back())) return false;
  for (char c : l) {
    if (!IsAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsValidIpv6Literal(std::string_view s) {
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  for (char c : s.substr(1, s.size() - 2)) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
  }
  return true;
}

bool HasUpper(std::string_view s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return true;
  }
  return false;
}

bool IsHex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Whether the first component of a name is a registry domain rather than a path component.
bool LooksLikeDomain(std::string_view first) {
  return first.find_first_of(".:") != std::string_view::npos || first == "localhost" || HasUpper(first);
}

absl::Status Invalid(std::string_view text, std::string_view why) {
  return absl::InvalidArgumentError(StrCat("invalid image reference \"", text, "\": ", why));
}

}  // namespace

bool IsValidDomain(std::string_view domain) {
  if (domain.empty()) return false;
  std::string_view host = domain;
  if (domain.front() == '[') {
    size_t close = domain.find(']');
    if (close == std::string_view::npos) return false;
    host = domain.substr(0, close + 1);
    if (!IsValidIpv6Literal(host)) return false;
    std::string_view rest = domain.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    return rest.size() > 1 && ParseUint64(rest.substr(1)).has_value();
  }
  size_t colon = domain.find(':');
  if (colon != std::string_view::npos) {
    host = domain.substr(0, colon);
    std::string_view port = domain.substr(colon + 1);
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  }
  for (std::string_view label : Split(host, '.')) {
    if (!IsValidHostLabel(label)) return false;
  }
  return true;
}

bool IsValidPath(std::string_view path) {
  if (path.empty()) return false;
  for (std::string_view c : Split(path, '/')) {
    if (!IsValidComponent(c)) return false;
  }
  return true;
}

bool IsValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength || !IsWord(tag.front())) return false;
  for (char c : tag) {
    if (!IsWord(c) && c != '.' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<Reference> Reference::Parse(std::string_view text) {
  if (text.empty()) return absl::InvalidArgumentError("invalid image reference: empty");
  Reference ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    auto digest = Digest::Parse(rest.substr(at + 1));
    if (!digest.ok()) return Invalid(text, ToStd(digest.status().message()));
    ref.digest_ = *std::move(digest);
    rest = rest.substr(0, at);
  }
  // A ":" after the last "/" starts the tag; one before it belongs to a domain's port.
  size_t colon = rest.rfind(':');
  size_t slash = rest.rfind('/');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    std::string_view tag = rest.substr(colon + 1);
    if (!IsValidTag(tag)) {
      return Invalid(
          text, StrCat("invalid tag \"", tag, "\" (want [A-Za-z0-9_] then up to 127 of [A-Za-z0-9_.-])"));
    }
    ref.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return Invalid(text, "missing repository name");
  if (rest.size() > kMaxNameLength) {
    return Invalid(text, StrCat("repository name longer than ", kMaxNameLength, " characters"));
  }
  std::string_view path = rest;
  if (size_t first = rest.find('/');
      first != std::string_view::npos && LooksLikeDomain(rest.substr(0, first))) {
    std::string_view domain = rest.substr(0, first);
    if (!IsValidDomain(domain)) return Invalid(text, StrCat("invalid registry domain \"", domain, "\""));
    ref.domain_ = std::string(domain);
    path = rest.substr(first + 1);
  }
  if (HasUpper(path)) return Invalid(text, "repository name must be lowercase");
  if (!IsValidPath(path)) {
    return Invalid(text,
                   StrCat("invalid repository name \"", path,
                          "\" (components of [a-z0-9] joined by '.', '_', '__' or '-', separated by '/')"));
  }
  ref.path_ = std::string(path);
  return ref;
}

absl::StatusOr<Reference> Reference::ParseNormalized(std::string_view text) {
  if (IsHex64(text)) {
    return Invalid(text, "a 64-character hexadecimal name is an image id, not a repository name");
  }
  ASSIGN_OR_RETURN(Reference ref, Parse(text));
  return ref.Normalized();
}

Reference Reference::Normalized() const {
  Reference out = *this;
  if (out.domain_.empty() || out.domain_ == "index.docker.io") out.domain_ = std::string(kDefaultDomain);
  if (out.domain_ == kDefaultDomain && out.path_.find('/') == std::string::npos) {
    out.path_ = "library/" + out.path_;
  }
  if (out.tag_.empty() && !out.digest_.has_value()) out.tag_ = std::string(kDefaultTag);
  return out;
}

std::string Reference::Name() const { return domain_.empty() ? path_ : StrCat(domain_, "/", path_); }

std::string Reference::ToString() const {
  std::string out = Name();
  if (!tag_.empty()) StrAppend(&out, ":", tag_);
  if (digest_.has_value()) StrAppend(&out, "@", digest_->ToString());
  return out;
}

std::string Reference::Familiar() const {
  std::string name = Name();
  if (domain_ == kDefaultDomain) {
    name = path_;
    constexpr std::string_view kLibrary = "library/";
    if (name.starts_with(kLibrary) && name.find('/', kLibrary.size()) == std::string::npos) {
      name = name.substr(kLibrary.size());
    }
  }
  if (!tag_.empty()) StrAppend(&name, ":", tag_);
  if (digest_.has_value()) StrAppend(&name, "@", digest_->ToString());
  return name;
}

std::string Reference::TagOrDigest() const {
  if (digest_.has_value()) return digest_->ToString();
  return tag_.empty() ? std::string(kDefaultTag) : tag_;
}

Reference Reference::WithTag(std::string tag) const {
  Reference out = *this;
  out.tag_ = std::move(tag);
  return out;
}

Reference Reference::WithDigest(const Digest& digest) const {
  Reference out = *this;
  out.digest_ = digest;
  return out;
}

Reference Reference::NameOnly() const {
  Reference out = *this;
  out.tag_.clear();
  out.digest_.reset();
  return out;
}

}  // namespace cricket::image
