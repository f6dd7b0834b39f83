#include "lib/image/policy/signature_policy.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/image/policy/crypto.h"
#include "lib/image/policy/payload.h"

namespace cricket::image::policy {
namespace {

constexpr std::string_view kComponent = "policy";
constexpr int kMaxSignatures = 64;
constexpr int64_t kMaxSignatureSize = 4 << 20;
constexpr std::string_view kCosignLayerType = "application/vnd.dev.cosign.simplesigning.v1+json";
constexpr std::string_view kCosignSignatureAnnotation = "dev.cosignproject.cosign/signature";

bool IsStop(const absl::Status& s) { return absl::IsCancelled(s) || absl::IsDeadlineExceeded(s); }

absl::StatusOr<std::vector<std::string>> ReadKeys(const Requirement& req) {
  std::vector<std::string> out;
  if (!req.key_data.empty()) out.push_back(req.key_data);
  for (const std::string& p : req.key_paths) {
    auto data = ReadFile(p, 4 << 20);
    if (!data.ok())
      return absl::PermissionDeniedError(StrCat("cannot read key file: ", data.status().message()));
    out.push_back(*std::move(data));
  }
  return out;
}

// Checks one decoded signature payload against the image: manifest digest, then identity.
absl::Status CheckPayload(const Requirement& req, const PolicyImage& image, std::string_view payload_json,
                          std::string_view type) {
  ASSIGN_OR_RETURN(SignaturePayload payload, ParsePayload(payload_json, type));
  if (payload.manifest_digest != image.manifest_digest) {
    return absl::PermissionDeniedError(StrCat("the signature is for manifest ",
                                              payload.manifest_digest.ToString(), ", not ",
                                              image.manifest_digest.ToString()));
  }
  using T = IdentityRule::Type;
  if (image.docker_reference)
    return MatchIdentity(req.identity, *image.docker_reference, payload.docker_reference);
  if (req.identity.type != T::kExactReference && req.identity.type != T::kExactRepository) {
    return absl::PermissionDeniedError(StrCat("signedIdentity ", req.identity.Describe(),
                                              " needs a docker image; ", image.transport,
                                              ": images can only use exactReference or exactRepository"));
  }
  auto placeholder = Reference::ParseNormalized("localhost/none");
  return MatchIdentity(req.identity, *placeholder, payload.docker_reference);
}

std::string FileStamp(const std::string& path) {
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return StrCat(path, ":-;");
  return StrCat(path, ":", st.st_ino, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ";");
}

std::string DirStamp(const std::string& dir) {
  std::string out = FileStamp(dir);
  if (auto names = ListDir(dir); names.ok()) {
    std::sort(names->begin(), names->end());
    for (const std::string& n : *names) out += FileStamp(JoinPath(dir, n));
  }
  return out;
}

bool IsSafeNamespace(const std::string& ns) {
  if (ns.empty() || ns.size() > 253 || ns == "." || ns == "..") return false;
  for (char c : ns) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_')) return false;
  }
  return true;
}

}  // namespace

absl::Status SignaturePolicy::Check(const PolicyImage& image, const CallContext& ctx) const {
  ScopeMatch match = file_.Lookup(image.transport, image.identity);
  std::vector<std::string> refusals;
  for (const Requirement& req : *match.requirements) {
    absl::Status s = CheckRequirement(req, image, ctx);
    if (IsStop(s)) return s;
    if (!s.ok()) refusals.push_back(StrCat(req.Name(), ": ", s.message()));
  }
  if (refusals.empty()) {
    log::Debug(kComponent, "image accepted",
               {{"image", StrCat(image.transport, ":", image.identity)}, {"scope", match.Describe()}});
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(StrCat(image.transport, ":", image.identity,
                                            " is rejected by signature policy ", file_.source(), " (",
                                            match.Describe(), "): ", Join(refusals, "; ")));
}

absl::Status SignaturePolicy::CheckRequirement(const Requirement& req, const PolicyImage& image,
                                               const CallContext& ctx) const {
  using T = Requirement::Type;
  if (req.type == T::kInsecureAcceptAnything) return absl::OkStatus();
  if (req.type == T::kReject) return absl::PermissionDeniedError("every image in this scope is rejected");
  if (!req.unsupported.empty()) return absl::PermissionDeniedError(req.unsupported);
  ASSIGN_OR_RETURN(std::vector<std::string> keys, ReadKeys(req));
  std::vector<std::string> reasons;
  if (req.type == T::kSignedBy) {
    absl::StatusOr<std::vector<std::string>> sigs = std::vector<std::string>();
    if (image.simple_signatures) sigs = image.simple_signatures(ctx);
    if (!sigs.ok()) {
      if (IsStop(sigs.status())) return sigs.status();
      return absl::PermissionDeniedError(StrCat("cannot read signatures: ", sigs.status().message()));
    }
    if (sigs->empty())
      return absl::PermissionDeniedError("a signature was required, but no signature exists");
    for (size_t i = 0; i < sigs->size(); ++i) {
      absl::StatusOr<std::string> payload = VerifyGpgSignature((*sigs)[i], keys);
      absl::Status s =
          payload.ok() ? CheckPayload(req, image, *payload, kAtomicSignatureType) : payload.status();
      if (s.ok()) return s;
      reasons.push_back(StrCat("signature ", i + 1, ": ", s.message()));
    }
  } else {
    absl::StatusOr<std::vector<SigstoreSignature>> sigs = std::vector<SigstoreSignature>();
    if (image.sigstore_signatures) sigs = image.sigstore_signatures(ctx);
    if (!sigs.ok()) {
      if (IsStop(sigs.status())) return sigs.status();
      return absl::PermissionDeniedError(
          StrCat("cannot read sigstore signatures: ", sigs.status().message()));
    }
    if (sigs->empty()) {
      return absl::PermissionDeniedError(
          "a sigstore signature was required, but no signature exists (is use-sigstore-attachments enabled "
          "in "
          "registries.d?)");
    }
    for (size_t i = 0; i < sigs->size(); ++i) {
      const SigstoreSignature& sig = (*sigs)[i];
      absl::Status s = VerifySigstoreSignature(sig.payload, sig.signature, keys.front());
      if (s.ok()) s = CheckPayload(req, image, sig.payload, kCosignSignatureType);
      if (s.ok()) return s;
      reasons.push_back(StrCat("signature ", i + 1, ": ", s.message()));
    }
  }
  return absl::PermissionDeniedError(Join(reasons, "; "));
}

PolicyImage SignaturePolicy::ForDockerPull(const ResolvedPull& pull) const {
  PolicyImage out;
  out.transport = "docker";
  const Reference& name = pull.candidate.name;
  out.identity = name.ToString();
  out.docker_reference = name;
  out.manifest_digest = pull.image.manifest_digest;
  Reference source = pull.source.reference;
  Digest digest = pull.image.manifest_digest;
  out.simple_signatures = [this, source, digest](const CallContext& ctx) {
    return LookasideSignatures(source, digest, ctx);
  };
  std::shared_ptr<RegistryClient> client = pull.client;
  bool attachments = registries_d_.For(source.ToString()).use_sigstore_attachments;
  if (attachments) {
    out.sigstore_signatures = [client, source, digest](const CallContext& ctx) {
      return FetchSigstoreSignatures(*client, source.path(), digest, ctx);
    };
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> SignaturePolicy::LookasideSignatures(const Reference& source,
                                                                              const Digest& digest,
                                                                              const CallContext& ctx) const {
  SignatureStorage storage = registries_d_.For(source.ToString());
  std::vector<std::string> out;
  if (storage.lookaside.empty()) return out;
  std::string hex(digest.hex());
  std::string base = StrCat(storage.lookaside, "/", source.path(), "@", digest.algorithm(), "=", hex);
  for (int i = 1; i <= kMaxSignatures; ++i) {
    std::string url = StrCat(base, "/signature-", i);
    if (url.starts_with("file://")) {
      std::string path = url.substr(7);
      if (!PathExists(path)) break;
      ASSIGN_OR_RETURN(std::string data, ReadFile(path, kMaxSignatureSize));
      out.push_back(std::move(data));
      continue;
    }
    if (transport_ == nullptr) return absl::FailedPreconditionError(StrCat("no HTTP transport for ", url));
    HttpRequest req;
    req.url = url;
    req.max_body = kMaxSignatureSize;
    ASSIGN_OR_RETURN(HttpResponse resp, transport_->Do(req, ctx));
    if (resp.status == 404) break;
    if (resp.status != 200) return absl::UnavailableError(StrCat("GET ", url, ": HTTP ", resp.status));
    out.push_back(std::move(resp.body));
  }
  return out;
}

absl::StatusOr<std::vector<SigstoreSignature>> FetchSigstoreSignatures(RegistryClient& client,
                                                                       const std::string& repository,
                                                                       const Digest& digest,
                                                                       const CallContext& ctx) {
  std::vector<SigstoreSignature> out;
  std::string tag = StrCat(digest.algorithm(), "-", digest.hex(), ".sig");
  auto manifest = client.GetManifest(repository, tag, ctx);
  if (absl::IsNotFound(manifest.status())) return out;
  if (!manifest.ok()) return manifest.status();
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(manifest->bytes, StrCat("signature manifest ", tag)));
  if (!j.is_object() || !j.contains("layers") || !j["layers"].is_array()) {
    return absl::InvalidArgumentError(StrCat("signature manifest ", tag, " has no layers array"));
  }
  for (const nlohmann::json& layer : j["layers"]) {
    if (!layer.is_object() || layer.value("mediaType", "") != kCosignLayerType) continue;
    if (out.size() >= static_cast<size_t>(kMaxSignatures)) break;
    const nlohmann::json* ann = layer.contains("annotations") ? &layer["annotations"] : nullptr;
    if (ann == nullptr || !ann->is_object() || !ann->contains(std::string(kCosignSignatureAnnotation)) ||
        !(*ann)[std::string(kCosignSignatureAnnotation)].is_string()) {
      return absl::InvalidArgumentError(
          StrCat("signature manifest ", tag, ": a layer has no ", kCosignSignatureAnnotation));
    }
    SigstoreSignature sig;
    std::string b64 = (*ann)[std::string(kCosignSignatureAnnotation)].get<std::string>();
    if (!absl::Base64Unescape(ToAbsl(b64), &sig.signature)) {
      return absl::InvalidArgumentError(StrCat("signature manifest ", tag, ": the signature is not base64"));
    }
    Descriptor d;
    d.media_type = std::string(kCosignLayerType);
    if (!layer.contains("digest") || !layer["digest"].is_string() || !layer.contains("size") ||
        !layer["size"].is_number_integer()) {
      return absl::InvalidArgumentError(StrCat("signature manifest ", tag, ": a layer lacks digest or size"));
    }
    ASSIGN_OR_RETURN(d.digest, Digest::Parse(layer["digest"].get<std::string>()));
    d.size = layer["size"].get<int64_t>();
    ASSIGN_OR_RETURN(sig.payload, client.FetchBlobToString(repository, d, kMaxSignatureSize, ctx));
    out.push_back(std::move(sig));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadSignatureFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (int i = 1; i <= kMaxSignatures; ++i) {
    std::string path = JoinPath(dir, StrCat("signature-", i));
    if (!PathExists(path)) break;
    ASSIGN_OR_RETURN(std::string data, ReadFile(path, kMaxSignatureSize));
    out.push_back(std::move(data));
  }
  return out;
}

PolicyLoader::PolicyLoader(Options options, std::shared_ptr<HttpTransport> transport)
    : options_(std::move(options)), transport_(std::move(transport)) {}

absl::StatusOr<std::shared_ptr<const SignaturePolicy>> PolicyLoader::Get(const std::string& ns) {
  std::string path = options_.policy_path;
  bool required = !path.empty();
  if (!ns.empty() && !options_.policy_dir.empty() && IsSafeNamespace(ns)) {
    std::string candidate = JoinPath(options_.policy_dir, StrCat(ns, ".json"));
    if (PathExists(candidate)) {
      path = candidate;
      required = true;
    }
  }
  if (path.empty()) path = std::string(kDefaultPolicyPath);
  std::string stamp = StrCat(FileStamp(path), DirStamp(options_.registries_d));
  absl::MutexLock l(&mu_);
  Cached& c = cache_[path];
  if (c.stamp == stamp) return c.policy;
  c.stamp = stamp;
  auto load = [&]() -> absl::StatusOr<std::shared_ptr<const SignaturePolicy>> {
    PolicyFile file;
    if (!required && !PathExists(path)) {
      log::Warn(kComponent, "no signature policy file; images are accepted without verification",
                {{"path", path}});
      file = PolicyFile::AcceptAnything(path);
    } else {
      auto loaded = PolicyFile::Load(path);
      if (!loaded.ok()) {
        return absl::FailedPreconditionError(StrCat(
            "signature policy ", path, " is unusable, every pull is refused: ", loaded.status().message()));
      }
      file = *std::move(loaded);
    }
    auto regd = RegistriesD::Load(options_.registries_d);
    if (!regd.ok()) {
      return absl::FailedPreconditionError(
          StrCat("registries.d ", options_.registries_d,
                 " is unusable, every pull is refused: ", regd.status().message()));
    }
    return std::make_shared<const SignaturePolicy>(std::move(file), *std::move(regd), transport_);
  };
  c.policy = load();
  if (c.policy.ok()) {
    log::Info(kComponent, "signature policy loaded", {{"path", path}});
  } else {
    log::Warn(kComponent, "signature policy unusable", {{"error", c.policy.status()}});
  }
  return c.policy;
}

}  // namespace cricket::image::policy
