// Image manifests, indexes and configs: OCI image-spec v1.1 and Docker image manifest v2 schema 2
// (the media types are listed in interfaces.md §5). Docker schema 1 is refused.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"
#include "lib/image/platform.h"

namespace cricket::image {

namespace media_type {
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip = "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
inline constexpr std::string_view kDockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
}  // namespace media_type

// The Accept header for manifest requests: every index and manifest type we read.
std::string ManifestAcceptHeader();

// Size limits for what is buffered in memory.
inline constexpr int64_t kMaxManifestSize = 4 << 20;
inline constexpr int64_t kMaxConfigSize = 8 << 20;

// Members have initializers so that designated/partial initialisation is warning-free.
struct Descriptor {
  std::string media_type = {};
  Digest digest = Digest::Sha256Of("");  // Digest has no empty state; parsing always sets it
  int64_t size = 0;
  std::vector<std::string> urls = {};
  std::map<std::string, std::string> annotations = {};
  std::optional<Platform> platform = std::nullopt;
  std::string artifact_type = {};
};

struct ImageIndex {
  std::string media_type;
  std::vector<Descriptor> manifests;
  std::map<std::string, std::string> annotations;
};

struct ImageManifest {
  std::string media_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::map<std::string, std::string> annotations;
};

// A parsed manifest document: exactly one of index/image is set.
struct ParsedManifest {
  std::string media_type;
  std::optional<ImageIndex> index;
  std::optional<ImageManifest> image;
};

// Parses manifest bytes. The type comes from the document's mediaType, else the response's Content-Type
// (parameters ignored), else its shape. Docker schema 1 is FailedPrecondition with an explanation;
// unknown types, a non-image config (an OCI artifact) and unknown layer types are InvalidArgument.
absl::StatusOr<ParsedManifest> ParseManifest(std::string_view bytes, std::string_view content_type);

// Chooses the manifest for `want` from an index: only image manifests whose platform runs on `want`
// (PlatformMatchScore), best score first, index order on ties; attestation entries (buildkit's
// "vnd.docker.reference.type": "attestation-manifest", or platform unknown/unknown) are skipped.
// NotFound lists the platforms the index offers.
absl::StatusOr<Descriptor> SelectManifest(const ImageIndex& index, const Platform& want);

bool IsManifestMediaType(std::string_view media_type);  // OCI or Docker image manifest
bool IsIndexMediaType(std::string_view media_type);     // OCI index or Docker manifest list
bool IsLayerMediaType(std::string_view media_type);

// The parts of an image config (image-spec config.md) that containers and CRI need.
struct ImageConfig {
  std::string architecture;
  std::string os;
  std::string variant;
  std::string created;  // RFC 3339 as written, "" when absent
  std::string author;
  std::string user;
  std::vector<std::string> env;
  std::optional<std::vector<std::string>> entrypoint;  // nullopt when absent or null
  std::optional<std::vector<std::string>> cmd;
  std::string working_dir;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> volumes;        // sorted
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids: the sha256 of each uncompressed layer tar
};

// Parses a config blob; InvalidArgument naming the field on bad types or a rootfs that is not "layers".
absl::StatusOr<ImageConfig> ParseImageConfig(std::string_view bytes);

// Checks that a manifest and its config fit together: one diff_id per layer.
absl::Status CheckConfigMatchesManifest(const ImageManifest& manifest, const ImageConfig& config);

}  // namespace cricket::image
