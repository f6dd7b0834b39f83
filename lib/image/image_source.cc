#include "lib/image/image_source.h"

#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image {

absl::StatusOr<ResolvedImage> ResolveImage(RegistryClient& client, const Reference& source,
                                           const Platform& platform, const CallContext& ctx) {
  ResolvedImage out;
  const std::string& repo = source.path();
  ASSIGN_OR_RETURN(RegistryClient::FetchedManifest top, client.GetManifest(repo, source.TagOrDigest(), ctx));
  std::string what = StrCat("image ", source.ToString());
  auto parsed = ParseManifest(top.bytes, top.content_type);
  if (!parsed.ok()) return Annotate(parsed.status(), what);
  out.manifest_digest = top.digest;
  out.manifest_media_type = parsed->media_type;
  if (parsed->index) {
    out.index = parsed->index;
    auto chosen = SelectManifest(*parsed->index, platform);
    if (!chosen.ok()) return Annotate(chosen.status(), what);
    if (chosen->size > kMaxManifestSize) {
      return absl::ResourceExhaustedError(
          StrCat(what, ": manifest of ", chosen->size, " bytes is too large"));
    }
    ASSIGN_OR_RETURN(RegistryClient::FetchedManifest m,
                     client.GetManifest(repo, chosen->digest.ToString(), ctx));
    if (static_cast<int64_t>(m.bytes.size()) != chosen->size) {
      return absl::DataLossError(StrCat(what, ": manifest ", chosen->digest.ToString(), " has ",
                                        m.bytes.size(), " bytes, the index says ", chosen->size));
    }
    auto inner = ParseManifest(m.bytes, m.content_type);
    if (!inner.ok()) return Annotate(inner.status(), what);
    if (!inner->image) {
      return absl::InvalidArgumentError(
          StrCat(what, ": an index that points to another index is not supported"));
    }
    out.image_manifest_digest = m.digest;
    out.image_manifest_bytes = std::move(m.bytes);
    out.manifest = *std::move(inner->image);
  } else {
    out.image_manifest_digest = top.digest;
    out.image_manifest_bytes = std::move(top.bytes);
    out.manifest = *std::move(parsed->image);
  }
  ASSIGN_OR_RETURN(out.config_bytes,
                   client.FetchBlobToString(repo, out.manifest.config, kMaxConfigSize, ctx));
  auto config = ParseImageConfig(out.config_bytes);
  if (!config.ok()) return Annotate(config.status(), what);
  out.config = *std::move(config);
  RETURN_IF_ERROR(Annotate(CheckConfigMatchesManifest(out.manifest, out.config), what));
  return out;
}

absl::StatusOr<ResolvedPull> ResolveFromSources(const std::vector<PullCandidate>& candidates,
                                                const ClientForSource& client_for, const Platform& platform,
                                                const CallContext& ctx) {
  std::vector<std::string> failures;
  std::optional<absl::StatusCode> common_code;  // the code every failure had, if they agree
  bool codes_agree = true;
  for (const PullCandidate& candidate : candidates) {
    for (const PullSource& source : candidate.sources) {
      RETURN_IF_ERROR(ctx.Check());
      absl::StatusOr<ResolvedImage> image = absl::UnknownError("no client");
      auto client = client_for(candidate, source);
      if (client.ok()) {
        image = ResolveImage(**client, source.reference, platform, ctx);
        if (image.ok()) return ResolvedPull{candidate, source, *client, *std::move(image)};
      } else {
        image = client.status();
      }
      const absl::Status& s = image.status();
      bool skip = absl::IsNotFound(s) || absl::IsUnavailable(s) || absl::IsUnauthenticated(s) ||
                  absl::IsPermissionDenied(s) || absl::IsFailedPrecondition(s) ||
                  absl::IsResourceExhausted(s);
      if (!skip || absl::IsCancelled(s) || absl::IsDeadlineExceeded(s)) return s;
      if (common_code && *common_code != s.code()) codes_agree = false;
      common_code = s.code();
      log::Debug("image", "pull source failed, trying the next",
                 {{"source", source.reference.ToString()}, {"mirror", source.mirror}, {"error", s}});
      failures.push_back(StrCat(source.reference.ToString(), ": ", s.message()));
    }
  }
  if (failures.empty()) return absl::NotFoundError("nothing to pull from");
  std::string msg = StrCat("no pull source had the image (", Join(failures, "; "), ")");
  // One cause everywhere (missing, refused credentials, ...) keeps its code; mixed causes are Unavailable.
  absl::StatusCode code = codes_agree ? *common_code : absl::StatusCode::kUnavailable;
  return absl::Status(code, ToAbsl(msg));
}

}  // namespace cricket::image
