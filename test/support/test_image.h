// Small images built in memory for tests: tar layers (ustar), compressed with gzip or zstd (or not),
// a config, a manifest (OCI or Docker media types) and multi-platform indexes; pushed to a registry
// with lib/image's RegistryClient.
//
//   TestImage img = BuildImage({{{TarFile("etc/hello", "hi\n")}, image::Compression::kGzip}});
//   ASSERT_TRUE(PushImage(client, "test/hello", "v1", img, ctx).ok());
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/common/digest.h"
#include "lib/image/http_transport.h"
#include "lib/image/layer_stream.h"
#include "lib/image/manifest.h"
#include "lib/image/platform.h"
#include "lib/image/registry_client.h"

namespace cricket::testing {

struct TarEntry {
  enum class Type { kFile, kDir, kSymlink, kHardlink };
  Type type = Type::kFile;
  std::string path;     // relative, no leading "/"
  std::string content;  // file content, or link target
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
};
TarEntry TarFile(std::string path, std::string content, uint32_t mode = 0644);
TarEntry TarDir(std::string path, uint32_t mode = 0755);
TarEntry TarSymlink(std::string path, std::string target);

// A POSIX ustar archive of `entries` (mtime 0), ending with two zero blocks.
std::string MakeTar(const std::vector<TarEntry>& entries);
std::string GzipBytes(std::string_view data);
std::string ZstdBytes(std::string_view data);

struct TestLayer {
  std::string tar;   // uncompressed
  std::string blob;  // as pushed
  image::Descriptor descriptor;
  Digest diff_id = Digest::Sha256Of("");
};

struct TestImage {
  std::vector<TestLayer> layers;
  std::string config;
  image::Descriptor config_descriptor;
  std::string manifest;
  std::string manifest_media_type;
  Digest manifest_digest = Digest::Sha256Of("");
  image::Platform platform;
};

struct TestImageOptions {
  bool docker_media_types = false;  // Docker schema 2 instead of OCI
  image::Platform platform = image::HostPlatform();
  // Extra members of the config's "config" object, as JSON ({"Cmd": ["/bin/sh"]}).
  std::string container_config_json = "{}";
};

struct LayerSpec {
  std::vector<TarEntry> entries;
  image::Compression compression = image::Compression::kGzip;
};

TestImage BuildImage(const std::vector<LayerSpec>& layers, const TestImageOptions& options = {});
// A runnable image of this machine's static busybox (bin/busybox, bin/sh, in a gzip layer) and a second
// layer (compressed with `second`) holding etc/marker = `marker` + "\n": images told apart by their
// marker. `container_config_json` as in TestImageOptions.
TestImage MarkedBusyboxImage(const std::string& marker, image::Compression second = image::Compression::kGzip,
                             const std::string& container_config_json = R"({"Cmd":["/bin/sh"]})");
// The config and manifest around ready-made layers (descriptors and diff_ids taken as given).
TestImage AssembleImage(std::vector<TestLayer> layers, const TestImageOptions& options = {});
// The OCI (or Docker schema 2) media type of a layer compressed with `c`.
std::string LayerMediaType(image::Compression c, bool docker_media_types = false);

// An index over `images` (their platforms), optionally with a buildkit-style attestation entry.
struct TestIndex {
  std::string bytes;
  std::string media_type;
  Digest digest = Digest::Sha256Of("");
};
TestIndex BuildIndex(const std::vector<const TestImage*>& images, bool docker_media_types = false,
                     bool with_attestation = true);

// Pushes the layers, config and manifest; the manifest under `tag` (or by digest when empty).
absl::StatusOr<Digest> PushImage(image::RegistryClient& client, std::string_view repository,
                                 std::string_view tag, const TestImage& img, const image::CallContext& ctx);

}  // namespace cricket::testing
