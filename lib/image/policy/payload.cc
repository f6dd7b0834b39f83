#include "lib/image/policy/payload.h"

#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image::policy {
namespace {

using json = nlohmann::json;

absl::Status Bad(std::string_view problem) {
  return absl::PermissionDeniedError(StrCat("invalid signature payload: ", problem));
}

// `obj` must have exactly the members `keys`.
bool ExactMembers(const json& obj, std::initializer_list<std::string_view> keys) {
  if (!obj.is_object() || obj.size() != keys.size()) return false;
  for (std::string_view k : keys) {
    if (!obj.contains(std::string(k))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<SignaturePayload> ParsePayload(std::string_view text, std::string_view type) {
  auto parsed = ParseJson(text, "signature payload");
  if (!parsed.ok()) return Bad(ToStd(parsed.status().message()));
  const json& j = *parsed;
  if (!ExactMembers(j, {"critical", "optional"}))
    return Bad("the top level must hold exactly critical and optional");
  const json& optional = j.at("optional");
  if (!optional.is_object() && !(optional.is_null() && type == kCosignSignatureType)) {
    return Bad("optional is not an object");
  }
  const json& critical = j.at("critical");
  if (!ExactMembers(critical, {"type", "image", "identity"})) {
    return Bad("critical must hold exactly type, image and identity");
  }
  if (!critical.at("type").is_string() || critical.at("type").get<std::string>() != type) {
    return Bad(StrCat("critical.type is not \"", type, "\""));
  }
  const json& image = critical.at("image");
  if (!ExactMembers(image, {"docker-manifest-digest"}) || !image.at("docker-manifest-digest").is_string()) {
    return Bad("critical.image must hold exactly a docker-manifest-digest string");
  }
  const json& identity = critical.at("identity");
  if (!ExactMembers(identity, {"docker-reference"}) || !identity.at("docker-reference").is_string()) {
    return Bad("critical.identity must hold exactly a docker-reference string");
  }
  SignaturePayload out;
  auto digest = Digest::Parse(image.at("docker-manifest-digest").get<std::string>());
  if (!digest.ok())
    return Bad(StrCat("critical.image.docker-manifest-digest: ", ToStd(digest.status().message())));
  out.manifest_digest = *digest;
  out.docker_reference = identity.at("docker-reference").get<std::string>();
  return out;
}

absl::Status MatchIdentity(const IdentityRule& rule, const Reference& image,
                           std::string_view signed_identity) {
  auto parsed = Reference::ParseNormalized(signed_identity);
  // Cosign signs repositories: a reference without tag or digest names the repository.
  auto bare = Reference::Parse(signed_identity);
  if (!parsed.ok() || !bare.ok()) {
    return absl::PermissionDeniedError(
        StrCat("the signature claims identity \"", signed_identity, "\", which is not a docker reference"));
  }
  bool sig_has_tag_or_digest = !bare->tag().empty() || bare->digest().has_value();
  Reference sig = sig_has_tag_or_digest ? *parsed : parsed->NameOnly();
  auto mismatch = [&](std::string_view want) {
    return absl::PermissionDeniedError(StrCat("identity mismatch: the signature claims \"", signed_identity,
                                              "\", the policy (", rule.Describe(), ") wants ", want));
  };
  auto exact_or_repo = [&](const Reference& img) -> absl::Status {
    if (img.digest() && img.tag().empty()) {
      if (sig.Name() != img.Name()) return mismatch(StrCat("repository ", img.Name()));
      return absl::OkStatus();
    }
    if (!sig_has_tag_or_digest || sig.ToString() != img.ToString())
      return mismatch(StrCat("\"", img.ToString(), "\""));
    return absl::OkStatus();
  };
  using T = IdentityRule::Type;
  switch (rule.type) {
    case T::kMatchExact:
      if (image.tag().empty() || !sig_has_tag_or_digest || sig.ToString() != image.ToString())
        return mismatch(StrCat("\"", image.ToString(), "\""));
      return absl::OkStatus();
    case T::kMatchRepoDigestOrExact:
      return exact_or_repo(image);
    case T::kMatchRepository:
      if (sig.Name() != image.Name()) return mismatch(StrCat("repository ", image.Name()));
      return absl::OkStatus();
    case T::kExactReference: {
      auto want = Reference::Parse(rule.docker_reference);
      if (!want.ok() || !sig_has_tag_or_digest || sig.ToString() != want->ToString())
        return mismatch(StrCat("\"", rule.docker_reference, "\""));
      return absl::OkStatus();
    }
    case T::kExactRepository:
      if (sig.Name() != rule.docker_repository)
        return mismatch(StrCat("repository ", rule.docker_repository));
      return absl::OkStatus();
    case T::kRemapIdentity: {
      std::string name = image.ToString();
      const std::string& p = rule.prefix;
      bool applies = name.starts_with(p) && (name.size() == p.size() || name[p.size()] == '/' ||
                                             name[p.size()] == ':' || name[p.size()] == '@');
      // A host prefix matches only "host/..." (not "host:port"); a repository prefix also ":tag"/"@digest".
      if (applies && p.find('/') == std::string::npos && name[p.size()] != '/') applies = false;
      if (!applies) return exact_or_repo(image);
      auto remapped = Reference::Parse(StrCat(rule.signed_prefix, name.substr(p.size())));
      if (!remapped.ok()) {
        return absl::PermissionDeniedError(
            StrCat("remapIdentity turns \"", name, "\" into an invalid reference"));
      }
      return exact_or_repo(remapped->has_domain() ? *remapped : remapped->Normalized());
    }
  }
  return mismatch("?");
}

}  // namespace cricket::image::policy
