#include "lib/image/policy/policy.h"

#include <set>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/image/reference.h"

namespace cricket::image::policy {
namespace {

using json = nlohmann::json;

// Errors while parsing one file: every message names the file and the member path.
class Parser {
 public:
  explicit Parser(std::string_view what) : what_(what) {}

  absl::Status Error(std::string_view where, std::string_view problem) const {
    return absl::InvalidArgumentError(StrCat(what_, ": ", where, ": ", problem));
  }

  // Refuses members other than `allowed` (the man page: unrecognized fields reject the file).
  absl::Status OnlyMembers(const json& obj, std::string_view where, std::set<std::string> allowed) const {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      if (!allowed.contains(it.key())) return Error(where, StrCat("unknown member \"", it.key(), "\""));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::string> String(const json& obj, std::string_view where, const std::string& key) const {
    const json& v = obj.at(key);
    if (!v.is_string()) return Error(StrCat(where, ".", key), "must be a string");
    return v.get<std::string>();
  }

  absl::StatusOr<IdentityRule> Identity(const json& j, const std::string& where) const {
    IdentityRule r;
    if (!j.is_object()) return Error(where, "must be an object");
    if (!j.contains("type")) return Error(where, "has no \"type\"");
    ASSIGN_OR_RETURN(std::string type, String(j, where, "type"));
    using T = IdentityRule::Type;
    if (type == "matchExact" || type == "matchRepoDigestOrExact" || type == "matchRepository") {
      RETURN_IF_ERROR(OnlyMembers(j, where, {"type"}));
      r.type = type == "matchExact"        ? T::kMatchExact
               : type == "matchRepository" ? T::kMatchRepository
                                           : T::kMatchRepoDigestOrExact;
    } else if (type == "exactReference") {
      RETURN_IF_ERROR(OnlyMembers(j, where, {"type", "dockerReference"}));
      if (!j.contains("dockerReference")) return Error(where, "exactReference needs \"dockerReference\"");
      ASSIGN_OR_RETURN(r.docker_reference, String(j, where, "dockerReference"));
      auto ref = Reference::Parse(r.docker_reference);
      if (!ref.ok() || !ref->has_domain() || (ref->tag().empty() && !ref->digest())) {
        return Error(
            StrCat(where, ".dockerReference"),
            StrCat("\"", r.docker_reference, "\" is not a fully expanded reference with a tag or digest"));
      }
      r.type = T::kExactReference;
    } else if (type == "exactRepository") {
      RETURN_IF_ERROR(OnlyMembers(j, where, {"type", "dockerRepository"}));
      if (!j.contains("dockerRepository")) return Error(where, "exactRepository needs \"dockerRepository\"");
      ASSIGN_OR_RETURN(r.docker_repository, String(j, where, "dockerRepository"));
      auto ref = Reference::Parse(r.docker_repository);
      if (!ref.ok() || !ref->has_domain() || !ref->tag().empty() || ref->digest()) {
        return Error(StrCat(where, ".dockerRepository"),
                     StrCat("\"", r.docker_repository, "\" is not a fully expanded repository name"));
      }
      r.type = T::kExactRepository;
    } else if (type == "remapIdentity") {
      RETURN_IF_ERROR(OnlyMembers(j, where, {"type", "prefix", "signedPrefix"}));
      if (!j.contains("prefix") || !j.contains("signedPrefix"))
        return Error(where, "remapIdentity needs \"prefix\" and \"signedPrefix\"");
      ASSIGN_OR_RETURN(r.prefix, String(j, where, "prefix"));
      ASSIGN_OR_RETURN(r.signed_prefix, String(j, where, "signedPrefix"));
      for (const std::string* p : {&r.prefix, &r.signed_prefix}) {
        if (p->empty() || p->find_first_of("@ ") != std::string::npos || p->back() == '/') {
          return Error(where, StrCat("prefix \"", *p, "\" is not a host, namespace or repository"));
        }
      }
      r.type = T::kRemapIdentity;
    } else {
      return Error(StrCat(where, ".type"), StrCat("unknown signedIdentity type \"", type, "\""));
    }
    return r;
  }

  absl::StatusOr<std::string> DecodeKeyData(const json& j, const std::string& where) const {
    ASSIGN_OR_RETURN(std::string b64, String(j, where, "keyData"));
    std::string out;
    if (b64.empty() || !absl::Base64Unescape(ToAbsl(b64), &out)) {
      return Error(StrCat(where, ".keyData"), "is not base64");
    }
    return out;
  }

  absl::StatusOr<Requirement> OneRequirement(const json& j, const std::string& where) const {
    if (!j.is_object()) return Error(where, "a requirement must be an object");
    if (!j.contains("type")) return Error(where, "has no \"type\"");
    ASSIGN_OR_RETURN(std::string type, String(j, where, "type"));
    Requirement r;
    using T = Requirement::Type;
    if (type == "insecureAcceptAnything" || type == "reject") {
      RETURN_IF_ERROR(OnlyMembers(j, where, {"type"}));
      r.type = type == "reject" ? T::kReject : T::kInsecureAcceptAnything;
      return r;
    }
    if (type == "signedBy") {
      r.type = T::kSignedBy;
      RETURN_IF_ERROR(
          OnlyMembers(j, where, {"type", "keyType", "keyPath", "keyPaths", "keyData", "signedIdentity"}));
      if (!j.contains("keyType")) return Error(where, "signedBy needs \"keyType\"");
      ASSIGN_OR_RETURN(std::string key_type, String(j, where, "keyType"));
      if (key_type != "GPGKeys") {
        return Error(StrCat(where, ".keyType"),
                     StrCat("\"", key_type, "\" is not supported (only \"GPGKeys\")"));
      }
      int sources = j.contains("keyPath") + j.contains("keyPaths") + j.contains("keyData");
      if (sources != 1) return Error(where, "exactly one of keyPath, keyPaths and keyData must be present");
      if (j.contains("keyPath")) {
        ASSIGN_OR_RETURN(std::string p, String(j, where, "keyPath"));
        r.key_paths.push_back(std::move(p));
      } else if (j.contains("keyPaths")) {
        const json& ps = j.at("keyPaths");
        if (!ps.is_array() || ps.empty())
          return Error(StrCat(where, ".keyPaths"), "must be a non-empty array");
        for (const json& p : ps) {
          if (!p.is_string()) return Error(StrCat(where, ".keyPaths"), "must contain strings");
          r.key_paths.push_back(p.get<std::string>());
        }
      } else {
        ASSIGN_OR_RETURN(r.key_data, DecodeKeyData(j, where));
      }
    } else if (type == "sigstoreSigned") {
      r.type = T::kSigstoreSigned;
      RETURN_IF_ERROR(OnlyMembers(j, where,
                                  {"type", "keyPath", "keyData", "fulcio", "rekorPublicKeyPath",
                                   "rekorPublicKeyData", "signedIdentity"}));
      int sources = j.contains("keyPath") + j.contains("keyData") + j.contains("fulcio");
      if (sources != 1) return Error(where, "exactly one of keyPath, keyData and fulcio must be present");
      if (j.contains("rekorPublicKeyPath") && j.contains("rekorPublicKeyData"))
        return Error(where, "at most one of rekorPublicKeyPath and rekorPublicKeyData may be present");
      if (j.contains("keyPath")) {
        ASSIGN_OR_RETURN(std::string p, String(j, where, "keyPath"));
        r.key_paths.push_back(std::move(p));
      } else if (j.contains("keyData")) {
        ASSIGN_OR_RETURN(r.key_data, DecodeKeyData(j, where));
      }
      if (j.contains("fulcio") || j.contains("rekorPublicKeyPath") || j.contains("rekorPublicKeyData")) {
        r.unsupported =
            "Fulcio certificates and Rekor entries are not supported by cricket (only keyPath/keyData)";
      }
    } else {
      return Error(StrCat(where, ".type"), StrCat("unknown requirement type \"", type, "\""));
    }
    for (const std::string& p : r.key_paths) {
      if (p.empty() || p[0] != '/') return Error(where, StrCat("key path \"", p, "\" must be absolute"));
    }
    if (j.contains("signedIdentity")) {
      ASSIGN_OR_RETURN(r.identity, Identity(j.at("signedIdentity"), StrCat(where, ".signedIdentity")));
    }
    return r;
  }

  absl::StatusOr<std::vector<Requirement>> Requirements(const json& j, const std::string& where) const {
    if (!j.is_array()) return Error(where, "must be an array of requirements");
    if (j.empty()) return Error(where, "must not be empty (use [{\"type\": \"insecureAcceptAnything\"}])");
    std::vector<Requirement> out;
    for (size_t i = 0; i < j.size(); ++i) {
      ASSIGN_OR_RETURN(Requirement r, OneRequirement(j[i], StrCat(where, "[", i, "]")));
      out.push_back(std::move(r));
    }
    return out;
  }

 private:
  std::string what_;
};

// Scope syntax per transport (containers-policy.json(5), "Supported transports and their scopes").
absl::Status ValidateScope(const Parser& p, std::string_view transport, const std::string& scope,
                           const std::string& where) {
  if (scope.empty()) return absl::OkStatus();  // the transport default
  if (transport == "docker" || transport == "atomic") {
    if (scope.starts_with("*.")) {
      if (!IsValidDomain(scope.substr(2)) || scope.find(':') != std::string::npos)
        return p.Error(where, StrCat("invalid wildcard scope \"", scope, "\""));
      return absl::OkStatus();
    }
    if (scope.find('/') == std::string::npos) {
      if (!IsValidDomain(scope)) return p.Error(where, StrCat("invalid registry scope \"", scope, "\""));
      return absl::OkStatus();
    }
    auto ref = Reference::Parse(scope);
    if (!ref.ok() || !ref->has_domain() || ref->Normalized().Name() != ref->Name()) {
      return p.Error(
          where, StrCat("scope \"", scope, "\" is not a fully expanded name (host/namespace/repo[:tag])"));
    }
    return absl::OkStatus();
  }
  if (transport == "dir" || transport == "oci") {
    std::string_view path = scope;
    if (transport == "oci") {
      size_t colon = path.rfind(':');
      if (colon != std::string_view::npos) path = path.substr(0, colon);
    }
    if (path.empty() || path[0] != '/' || path == "/" || CleanPath(path) != path) {
      return p.Error(where, StrCat("scope \"", scope, "\" must be a clean absolute path other than \"/\""));
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string IdentityRule::Describe() const {
  switch (type) {
    case Type::kMatchExact:
      return "matchExact";
    case Type::kMatchRepoDigestOrExact:
      return "matchRepoDigestOrExact";
    case Type::kMatchRepository:
      return "matchRepository";
    case Type::kExactReference:
      return StrCat("exactReference ", docker_reference);
    case Type::kExactRepository:
      return StrCat("exactRepository ", docker_repository);
    case Type::kRemapIdentity:
      return StrCat("remapIdentity ", prefix, " -> ", signed_prefix);
  }
  return "?";
}

std::string Requirement::Name() const {
  switch (type) {
    case Type::kInsecureAcceptAnything:
      return "insecureAcceptAnything";
    case Type::kReject:
      return "reject";
    case Type::kSignedBy:
      return "signedBy";
    case Type::kSigstoreSigned:
      return "sigstoreSigned";
  }
  return "?";
}

std::string ScopeMatch::Describe() const {
  if (transport.empty()) return "default";
  if (scope.empty()) return StrCat(transport, " default");
  return StrCat(transport, " scope \"", scope, "\"");
}

absl::StatusOr<PolicyFile> PolicyFile::Parse(std::string_view text, std::string_view what) {
  Parser p(what);
  ASSIGN_OR_RETURN(json j, ParseJson(text, what));
  if (!j.is_object()) return p.Error("top level", "must be a JSON object");
  RETURN_IF_ERROR(p.OnlyMembers(j, "top level", {"default", "transports"}));
  if (!j.contains("default")) return p.Error("top level", "the mandatory \"default\" is missing");
  PolicyFile out;
  out.source_ = std::string(what);
  ASSIGN_OR_RETURN(out.default_, p.Requirements(j.at("default"), "default"));
  if (j.contains("transports")) {
    const json& ts = j.at("transports");
    if (!ts.is_object()) return p.Error("transports", "must be an object");
    for (auto t = ts.begin(); t != ts.end(); ++t) {
      std::string where = StrCat("transports.", t.key());
      if (t.key().empty()) return p.Error("transports", "empty transport name");
      if (!t.value().is_object()) return p.Error(where, "must be an object of scopes");
      Transport transport{t.key(), {}};
      for (auto s = t.value().begin(); s != t.value().end(); ++s) {
        std::string swhere = StrCat(where, "[\"", s.key(), "\"]");
        RETURN_IF_ERROR(ValidateScope(p, t.key(), s.key(), swhere));
        ASSIGN_OR_RETURN(std::vector<Requirement> reqs, p.Requirements(s.value(), swhere));
        transport.scopes.push_back(Scope{s.key(), std::move(reqs)});
      }
      out.transports_.push_back(std::move(transport));
    }
  }
  return out;
}

absl::StatusOr<PolicyFile> PolicyFile::Load(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(path, 4 << 20));
  return Parse(text, path);
}

PolicyFile PolicyFile::AcceptAnything(std::string source) {
  PolicyFile out;
  out.source_ = std::move(source);
  Requirement accept;
  accept.type = Requirement::Type::kInsecureAcceptAnything;
  out.default_.push_back(std::move(accept));
  return out;
}

std::vector<std::string> ScopeCandidates(std::string_view transport, std::string_view identity) {
  std::vector<std::string> out;
  if (transport == "docker" || transport == "atomic") {
    std::string s(identity);
    out.push_back(s);
    size_t at = s.find('@');
    std::string name = at != std::string::npos ? s.substr(0, at) : s;
    size_t slash = name.rfind('/');
    size_t colon = name.rfind(':');
    if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) name.resize(colon);
    if (name != s) out.push_back(name);
    for (size_t pos = name.rfind('/'); pos != std::string::npos; pos = name.rfind('/')) {
      name.resize(pos);
      out.push_back(name);
    }
    // name is now the host[:port]; wildcards cover host names without a port.
    if (name.find(':') == std::string::npos) {
      for (size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
        out.push_back(StrCat("*", name.substr(dot)));
      }
    }
  } else if (transport == "dir" || transport == "oci") {
    std::string path(identity);
    if (transport == "oci") {
      out.push_back(path);
      size_t colon = path.rfind(':');
      if (colon != std::string::npos && path.find('/', colon) == std::string::npos) path.resize(colon);
    }
    for (;;) {
      if (out.empty() || out.back() != path) out.push_back(path);
      size_t slash = path.rfind('/');
      if (slash == std::string::npos || slash == 0) break;
      path.resize(slash);
    }
  } else {
    out.push_back(std::string(identity));
  }
  return out;
}

ScopeMatch PolicyFile::Lookup(std::string_view transport, std::string_view identity) const {
  for (const Transport& t : transports_) {
    if (t.name != transport) continue;
    for (const std::string& candidate : ScopeCandidates(transport, identity)) {
      for (const Scope& s : t.scopes) {
        if (!s.name.empty() && s.name == candidate) return ScopeMatch{t.name, s.name, &s.requirements};
      }
    }
    for (const Scope& s : t.scopes) {
      if (s.name.empty()) return ScopeMatch{t.name, "", &s.requirements};
    }
  }
  return ScopeMatch{"", "", &default_};
}

}  // namespace cricket::image::policy
