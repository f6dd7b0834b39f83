#include "test/support/test_image.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>

#include "lib/common/file_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "nlohmann/json.hpp"

namespace cricket::testing {

namespace {

// width-1 zero-padded octal digits and a NUL.
void Octal(char* field, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

void CopyField(char* field, size_t width, std::string_view s) {
  std::memcpy(field, s.data(), std::min(width, s.size()));
}

void AppendEntry(std::string& out, const TarEntry& e) {
  char h[512] = {0};
  std::string name = e.path;
  if (e.type == TarEntry::Type::kDir && !name.ends_with("/")) name += "/";
  std::string prefix;
  if (name.size() > 100) {
    size_t split = name.rfind('/', name.size() - 2);
    prefix = name.substr(0, split);
    name = name.substr(split + 1);
  }
  CopyField(h, 100, name);
  Octal(h + 100, 8, e.mode & 07777);
  Octal(h + 108, 8, e.uid);
  Octal(h + 116, 8, e.gid);
  bool has_data = e.type == TarEntry::Type::kFile;
  Octal(h + 124, 12, has_data ? e.content.size() : 0);
  Octal(h + 136, 12, 0);  // mtime
  std::memset(h + 148, ' ', 8);
  char type = '0';
  if (e.type == TarEntry::Type::kDir) type = '5';
  if (e.type == TarEntry::Type::kSymlink) type = '2';
  if (e.type == TarEntry::Type::kHardlink) type = '1';
  h[156] = type;
  if (!has_data) CopyField(h + 157, 100, e.content);
  std::memcpy(h + 257,
              "ustar\0"
              "00",
              8);
  CopyField(h + 345, 155, prefix);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  Octal(h + 148, 7, sum);
  h[155] = ' ';
  out.append(h, 512);
  if (has_data) {
    out.append(e.content);
    out.append((512 - e.content.size() % 512) % 512, '\0');
  }
}

std::string Compress(std::string_view tar, image::Compression c) {
  switch (c) {
    case image::Compression::kGzip:
      return GzipBytes(tar);
    case image::Compression::kZstd:
      return ZstdBytes(tar);
    case image::Compression::kNone:
      break;
  }
  return std::string(tar);
}

nlohmann::json DescriptorJson(const image::Descriptor& d) {
  nlohmann::json j = {{"mediaType", d.media_type}, {"digest", d.digest.ToString()}, {"size", d.size}};
  if (d.platform) {
    j["platform"] = {{"os", d.platform->os}, {"architecture", d.platform->architecture}};
    if (!d.platform->variant.empty()) j["platform"]["variant"] = d.platform->variant;
  }
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  return j;
}

}  // namespace

TarEntry TarFile(std::string path, std::string content, uint32_t mode) {
  return {TarEntry::Type::kFile, std::move(path), std::move(content), mode};
}
TarEntry TarDir(std::string path, uint32_t mode) { return {TarEntry::Type::kDir, std::move(path), "", mode}; }
TarEntry TarSymlink(std::string path, std::string target) {
  return {TarEntry::Type::kSymlink, std::move(path), std::move(target), 0777};
}

std::string MakeTar(const std::vector<TarEntry>& entries) {
  std::string out;
  for (const TarEntry& e : entries) AppendEntry(out, e);
  out.append(1024, '\0');
  return out;
}

std::string GzipBytes(std::string_view data) {
  z_stream zs{};
  deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, data.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string ZstdBytes(std::string_view data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3);
  out.resize(ZSTD_isError(n) ? 0 : n);
  return out;
}

std::string LayerMediaType(image::Compression c, bool docker) {
  using namespace image::media_type;
  if (docker) return std::string(kDockerLayerGzip);  // Docker has only the gzip type
  switch (c) {
    case image::Compression::kGzip:
      return std::string(kOciLayerGzip);
    case image::Compression::kZstd:
      return std::string(kOciLayerZstd);
    case image::Compression::kNone:
      break;
  }
  return std::string(kOciLayer);
}

TestImage MarkedBusyboxImage(const std::string& marker, image::Compression second,
                             const std::string& container_config_json) {
  std::string busybox = ReadFile("/bin/busybox").value_or("");
  return BuildImage(
      {LayerSpec{{TarDir("bin"), TarFile("bin/busybox", busybox, 0755), TarSymlink("bin/sh", "busybox")},
                 image::Compression::kGzip},
       LayerSpec{{TarDir("etc"), TarFile("etc/marker", marker + "\n")}, second}},
      {.container_config_json = container_config_json});
}

TestImage BuildImage(const std::vector<LayerSpec>& layers, const TestImageOptions& options) {
  std::vector<TestLayer> built;
  for (const LayerSpec& spec : layers) {
    TestLayer l;
    l.tar = MakeTar(spec.entries);
    // Docker schema 2 has no zstd or uncompressed layer type.
    image::Compression compression =
        options.docker_media_types ? image::Compression::kGzip : spec.compression;
    l.blob = Compress(l.tar, compression);
    l.diff_id = Digest::Sha256Of(l.tar);
    l.descriptor.media_type = LayerMediaType(compression, options.docker_media_types);
    l.descriptor.digest = Digest::Sha256Of(l.blob);
    l.descriptor.size = static_cast<int64_t>(l.blob.size());
    built.push_back(std::move(l));
  }
  return AssembleImage(std::move(built), options);
}

TestImage AssembleImage(std::vector<TestLayer> layers, const TestImageOptions& options) {
  TestImage img;
  img.platform = options.platform;
  img.layers = std::move(layers);
  nlohmann::json diff_ids = nlohmann::json::array();
  for (const TestLayer& l : img.layers) diff_ids.push_back(l.diff_id.ToString());
  nlohmann::json config = {
      {"architecture", options.platform.architecture},
      {"os", options.platform.os},
      {"created", "2024-01-01T00:00:00Z"},
      {"config", nlohmann::json::parse(options.container_config_json)},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
  };
  if (!options.platform.variant.empty()) config["variant"] = options.platform.variant;
  img.config = config.dump();
  using namespace image::media_type;
  bool docker = options.docker_media_types;
  img.config_descriptor.media_type = std::string(docker ? kDockerConfig : kOciConfig);
  img.config_descriptor.digest = Digest::Sha256Of(img.config);
  img.config_descriptor.size = static_cast<int64_t>(img.config.size());
  img.manifest_media_type = std::string(docker ? kDockerManifest : kOciManifest);
  nlohmann::json manifest = {{"schemaVersion", 2},
                             {"mediaType", img.manifest_media_type},
                             {"config", DescriptorJson(img.config_descriptor)},
                             {"layers", nlohmann::json::array()}};
  for (const TestLayer& l : img.layers) manifest["layers"].push_back(DescriptorJson(l.descriptor));
  img.manifest = manifest.dump();
  img.manifest_digest = Digest::Sha256Of(img.manifest);
  return img;
}

TestIndex BuildIndex(const std::vector<const TestImage*>& images, bool docker_media_types,
                     bool with_attestation) {
  using namespace image::media_type;
  TestIndex index;
  index.media_type = std::string(docker_media_types ? kDockerManifestList : kOciIndex);
  nlohmann::json doc = {
      {"schemaVersion", 2}, {"mediaType", index.media_type}, {"manifests", nlohmann::json::array()}};
  for (const TestImage* img : images) {
    image::Descriptor d;
    d.media_type = img->manifest_media_type;
    d.digest = img->manifest_digest;
    d.size = static_cast<int64_t>(img->manifest.size());
    d.platform = img->platform;
    doc["manifests"].push_back(DescriptorJson(d));
    if (with_attestation) {
      // What buildkit adds for provenance: an "unknown/unknown" manifest pointing at its subject.
      image::Descriptor att = d;
      att.platform = image::Platform{"unknown", "unknown", "", "", {}};
      att.annotations = {{"vnd.docker.reference.digest", img->manifest_digest.ToString()},
                         {"vnd.docker.reference.type", "attestation-manifest"}};
      doc["manifests"].push_back(DescriptorJson(att));
    }
  }
  index.bytes = doc.dump();
  index.digest = Digest::Sha256Of(index.bytes);
  return index;
}

absl::StatusOr<Digest> PushImage(image::RegistryClient& client, std::string_view repository,
                                 std::string_view tag, const TestImage& img, const image::CallContext& ctx) {
  for (const TestLayer& l : img.layers) RETURN_IF_ERROR(client.PushBlob(repository, l.blob, ctx).status());
  RETURN_IF_ERROR(client.PushBlob(repository, img.config, ctx).status());
  std::string ref = tag.empty() ? img.manifest_digest.ToString() : std::string(tag);
  return client.PushManifest(repository, ref, img.manifest_media_type, img.manifest, ctx);
}

}  // namespace cricket::testing
