#include "lib/image/manifest.h"

#include <algorithm>

#include "lib/common/json_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image {

namespace {

using nlohmann::json;

absl::Status FieldError(std::string_view what, std::string_view field, std::string_view msg) {
  return absl::InvalidArgumentError(StrCat(what, ": ", field, ": ", msg));
}

// Reads an optional string field; null counts as absent.
absl::StatusOr<std::string> OptString(const json& obj, const char* key, std::string_view what,
                                      std::string_view path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return FieldError(what, StrCat(path, key), "expected a string");
  return it->get<std::string>();
}

absl::StatusOr<std::vector<std::string>> OptStrings(const json& obj, const char* key, std::string_view what,
                                                    std::string_view path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return FieldError(what, StrCat(path, key), "expected an array of strings");
  for (const json& e : *it) {
    if (!e.is_string()) return FieldError(what, StrCat(path, key, "[", out.size(), "]"), "expected a string");
    out.push_back(e.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> OptStringMap(const json& obj, const char* key,
                                                                std::string_view what,
                                                                std::string_view path) {
  std::map<std::string, std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return FieldError(what, StrCat(path, key), "expected an object");
  for (auto& [k, v] : it->items()) {
    if (!v.is_string()) return FieldError(what, StrCat(path, key, ".", k), "expected a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// The keys of an object-as-set ({"80/tcp": {}}), sorted.
absl::StatusOr<std::vector<std::string>> OptKeys(const json& obj, const char* key, std::string_view what,
                                                 std::string_view path) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_object()) return FieldError(what, StrCat(path, key), "expected an object");
  for (auto& [k, v] : it->items()) out.push_back(k);
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<Platform> ParsePlatformJson(const json& j, std::string_view what, std::string_view path) {
  if (!j.is_object()) return FieldError(what, path, "expected an object");
  Platform p;
  std::string prefix = StrCat(path, ".");
  ASSIGN_OR_RETURN(p.os, OptString(j, "os", what, prefix));
  ASSIGN_OR_RETURN(p.architecture, OptString(j, "architecture", what, prefix));
  ASSIGN_OR_RETURN(p.variant, OptString(j, "variant", what, prefix));
  ASSIGN_OR_RETURN(p.os_version, OptString(j, "os.version", what, prefix));
  ASSIGN_OR_RETURN(p.os_features, OptStrings(j, "os.features", what, prefix));
  return p;
}

absl::StatusOr<Descriptor> ParseDescriptor(const json& j, std::string_view what, const std::string& path) {
  if (!j.is_object()) return FieldError(what, path, "expected an object");
  Descriptor d;
  std::string prefix = StrCat(path, ".");
  ASSIGN_OR_RETURN(d.media_type, OptString(j, "mediaType", what, prefix));
  if (d.media_type.empty()) return FieldError(what, StrCat(prefix, "mediaType"), "missing");
  ASSIGN_OR_RETURN(std::string digest, OptString(j, "digest", what, prefix));
  auto parsed = Digest::Parse(digest);
  if (!parsed.ok()) return FieldError(what, StrCat(prefix, "digest"), ToStd(parsed.status().message()));
  d.digest = *std::move(parsed);
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
    return FieldError(what, StrCat(prefix, "size"), "missing or not a non-negative integer");
  }
  d.size = size->get<int64_t>();
  ASSIGN_OR_RETURN(d.urls, OptStrings(j, "urls", what, prefix));
  ASSIGN_OR_RETURN(d.annotations, OptStringMap(j, "annotations", what, prefix));
  ASSIGN_OR_RETURN(d.artifact_type, OptString(j, "artifactType", what, prefix));
  if (auto p = j.find("platform"); p != j.end() && !p->is_null()) {
    ASSIGN_OR_RETURN(d.platform, ParsePlatformJson(*p, what, StrCat(prefix, "platform")));
  }
  return d;
}

bool IsConfigMediaType(std::string_view t) {
  return t == media_type::kOciConfig || t == media_type::kDockerConfig;
}

std::string_view StripParams(std::string_view content_type) {
  return TrimSpace(content_type.substr(0, content_type.find(';')));
}

absl::StatusOr<ImageIndex> ParseIndex(const json& doc, std::string media_type) {
  constexpr std::string_view what = "image index";
  ImageIndex index;
  index.media_type = std::move(media_type);
  auto manifests = doc.find("manifests");
  if (manifests == doc.end() || !manifests->is_array())
    return FieldError(what, "manifests", "expected an array");
  for (size_t i = 0; i < manifests->size(); ++i) {
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor((*manifests)[i], what, StrCat("manifests[", i, "]")));
    index.manifests.push_back(std::move(d));
  }
  ASSIGN_OR_RETURN(index.annotations, OptStringMap(doc, "annotations", what, ""));
  return index;
}

absl::StatusOr<ImageManifest> ParseImage(const json& doc, std::string media_type) {
  constexpr std::string_view what = "image manifest";
  ImageManifest m;
  m.media_type = std::move(media_type);
  auto config = doc.find("config");
  if (config == doc.end()) return FieldError(what, "config", "missing");
  ASSIGN_OR_RETURN(m.config, ParseDescriptor(*config, what, "config"));
  if (!IsConfigMediaType(m.config.media_type)) {
    return absl::InvalidArgumentError(StrCat("not a container image: the config media type is \"",
                                             m.config.media_type, "\" (an OCI artifact?)"));
  }
  auto layers = doc.find("layers");
  if (layers == doc.end() || !layers->is_array()) return FieldError(what, "layers", "expected an array");
  for (size_t i = 0; i < layers->size(); ++i) {
    std::string path = StrCat("layers[", i, "]");
    ASSIGN_OR_RETURN(Descriptor d, ParseDescriptor((*layers)[i], what, path));
    if (!IsLayerMediaType(d.media_type)) {
      return FieldError(what, path, StrCat("unsupported layer media type \"", d.media_type, "\""));
    }
    m.layers.push_back(std::move(d));
  }
  ASSIGN_OR_RETURN(m.annotations, OptStringMap(doc, "annotations", what, ""));
  return m;
}

}  // namespace

std::string ManifestAcceptHeader() {
  return StrCat(media_type::kOciIndex, ", ", media_type::kOciManifest, ", ", media_type::kDockerManifestList,
                ", ", media_type::kDockerManifest);
}

bool IsManifestMediaType(std::string_view t) {
  return t == media_type::kOciManifest || t == media_type::kDockerManifest;
}
bool IsIndexMediaType(std::string_view t) {
  return t == media_type::kOciIndex || t == media_type::kDockerManifestList;
}

bool IsLayerMediaType(std::string_view t) {
  using namespace media_type;
  return t == kOciLayer || t == kOciLayerGzip || t == kOciLayerZstd || t == kOciLayerNondistributable ||
         t == kOciLayerNondistributableGzip || t == kOciLayerNondistributableZstd || t == kDockerLayerGzip ||
         t == kDockerForeignLayerGzip;
}

absl::StatusOr<ParsedManifest> ParseManifest(std::string_view bytes, std::string_view content_type) {
  if (static_cast<int64_t>(bytes.size()) > kMaxManifestSize) {
    return absl::ResourceExhaustedError(
        StrCat("manifest of ", bytes.size(), " bytes exceeds the limit of ", kMaxManifestSize));
  }
  ASSIGN_OR_RETURN(json doc, ParseJson(bytes, "manifest"));
  if (!doc.is_object()) return absl::InvalidArgumentError("manifest: expected a JSON object");
  ASSIGN_OR_RETURN(std::string type, OptString(doc, "mediaType", "manifest", ""));
  if (type.empty()) type = std::string(StripParams(content_type));
  int64_t schema_version = 0;
  if (auto v = doc.find("schemaVersion"); v != doc.end() && v->is_number_integer()) {
    schema_version = v->get<int64_t>();
  }
  if (type == media_type::kDockerSchema1 || type == media_type::kDockerSchema1Signed || schema_version == 1) {
    return absl::FailedPreconditionError(
        "Docker image manifest schema 1 is deprecated and not supported; the image must be pushed again "
        "with a current client (Docker schema 2 or OCI)");
  }
  if (!IsIndexMediaType(type) && !IsManifestMediaType(type)) {
    // Registries may answer with a generic Content-Type: recognise the document by its shape.
    if (doc.contains("manifests")) {
      type = std::string(media_type::kOciIndex);
    } else if (doc.contains("config") && doc.contains("layers")) {
      type = std::string(media_type::kOciManifest);
    } else {
      return absl::InvalidArgumentError(StrCat("unsupported manifest media type \"", type, "\""));
    }
  }
  if (schema_version != 2) {
    return absl::InvalidArgumentError(StrCat("manifest: schemaVersion is ", schema_version, ", want 2"));
  }
  ParsedManifest out;
  out.media_type = type;
  if (IsIndexMediaType(type)) {
    ASSIGN_OR_RETURN(out.index, ParseIndex(doc, type));
  } else {
    ASSIGN_OR_RETURN(out.image, ParseImage(doc, type));
  }
  return out;
}

absl::StatusOr<Descriptor> SelectManifest(const ImageIndex& index, const Platform& want) {
  const Descriptor* best = nullptr;
  int best_score = 0;
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    if (!IsManifestMediaType(d.media_type) || !d.platform.has_value()) continue;
    auto ref_type = d.annotations.find("vnd.docker.reference.type");
    if (ref_type != d.annotations.end() && ref_type->second == "attestation-manifest") continue;
    if (d.platform->os == "unknown" || d.platform->architecture == "unknown") continue;
    offered.push_back(d.platform->ToString());
    int score = PlatformMatchScore(want, *d.platform);
    if (score > best_score) {
      best = &d;
      best_score = score;
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(StrCat("no image for platform ", want.ToString(), " in the index (it has: ",
                                      offered.empty() ? std::string("none") : Join(offered, ", "), ")"));
  }
  return *best;
}

absl::StatusOr<ImageConfig> ParseImageConfig(std::string_view bytes) {
  constexpr std::string_view what = "image config";
  if (static_cast<int64_t>(bytes.size()) > kMaxConfigSize) {
    return absl::ResourceExhaustedError(
        StrCat("image config of ", bytes.size(), " bytes exceeds the limit of ", kMaxConfigSize));
  }
  ASSIGN_OR_RETURN(json doc, ParseJson(bytes, what));
  if (!doc.is_object()) return absl::InvalidArgumentError("image config: expected a JSON object");
  ImageConfig c;
  ASSIGN_OR_RETURN(c.architecture, OptString(doc, "architecture", what, ""));
  ASSIGN_OR_RETURN(c.os, OptString(doc, "os", what, ""));
  ASSIGN_OR_RETURN(c.variant, OptString(doc, "variant", what, ""));
  ASSIGN_OR_RETURN(c.created, OptString(doc, "created", what, ""));
  ASSIGN_OR_RETURN(c.author, OptString(doc, "author", what, ""));
  if (auto cfg = doc.find("config"); cfg != doc.end() && !cfg->is_null()) {
    if (!cfg->is_object()) return FieldError(what, "config", "expected an object");
    constexpr std::string_view p = "config.";
    ASSIGN_OR_RETURN(c.user, OptString(*cfg, "User", what, p));
    ASSIGN_OR_RETURN(c.env, OptStrings(*cfg, "Env", what, p));
    for (const char* key : {"Entrypoint", "Cmd"}) {
      auto it = cfg->find(key);
      if (it == cfg->end() || it->is_null()) continue;
      ASSIGN_OR_RETURN(std::vector<std::string> v, OptStrings(*cfg, key, what, p));
      (std::string_view(key) == "Cmd" ? c.cmd : c.entrypoint) = std::move(v);
    }
    ASSIGN_OR_RETURN(c.working_dir, OptString(*cfg, "WorkingDir", what, p));
    ASSIGN_OR_RETURN(c.exposed_ports, OptKeys(*cfg, "ExposedPorts", what, p));
    ASSIGN_OR_RETURN(c.volumes, OptKeys(*cfg, "Volumes", what, p));
    ASSIGN_OR_RETURN(c.stop_signal, OptString(*cfg, "StopSignal", what, p));
    ASSIGN_OR_RETURN(c.labels, OptStringMap(*cfg, "Labels", what, p));
  }
  auto rootfs = doc.find("rootfs");
  if (rootfs == doc.end() || !rootfs->is_object()) return FieldError(what, "rootfs", "missing");
  ASSIGN_OR_RETURN(std::string type, OptString(*rootfs, "type", what, "rootfs."));
  if (type != "layers") return FieldError(what, "rootfs.type", StrCat("is \"", type, "\", want \"layers\""));
  ASSIGN_OR_RETURN(std::vector<std::string> ids, OptStrings(*rootfs, "diff_ids", what, "rootfs."));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto d = Digest::Parse(ids[i]);
    if (!d.ok()) return FieldError(what, StrCat("rootfs.diff_ids[", i, "]"), ToStd(d.status().message()));
    c.diff_ids.push_back(*std::move(d));
  }
  return c;
}

absl::Status CheckConfigMatchesManifest(const ImageManifest& manifest, const ImageConfig& config) {
  if (manifest.layers.size() != config.diff_ids.size()) {
    return absl::InvalidArgumentError(StrCat("the image config lists ", config.diff_ids.size(),
                                             " diff_ids for a manifest of ", manifest.layers.size(),
                                             " layers"));
  }
  return absl::OkStatus();
}

}  // namespace cricket::image
