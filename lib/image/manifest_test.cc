#include "lib/image/manifest.h"

#include <gtest/gtest.h>

#include "lib/common/strings.h"

namespace cricket::image {
namespace {

std::string D(char c) { return StrCat("sha256:", std::string(64, c)); }

std::string Entry(std::string_view platform_json, char digest, std::string_view extra = "",
                  std::string_view type = media_type::kOciManifest) {
  return StrCat(R"({"mediaType": ")", type, R"(", "digest": ")", D(digest), R"(", "size": 100, "platform": )",
                platform_json, extra, "}");
}

std::string Index(const std::vector<std::string>& entries) {
  return StrCat(
      R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [)",
      Join(entries, ","), "]}");
}

Platform P(std::string_view s) { return *ParsePlatform(s); }

TEST(PlatformTest, ParseAndNormalize) {
  EXPECT_EQ(P("linux/amd64").ToString(), "linux/amd64");
  EXPECT_EQ(P("linux/x86_64").ToString(), "linux/amd64");
  EXPECT_EQ(P("linux/aarch64").ToString(), "linux/arm64/v8");
  EXPECT_EQ(P("Linux/armhf").ToString(), "linux/arm/v7");
  EXPECT_EQ(P("linux/arm/7").ToString(), "linux/arm/v7");
  EXPECT_FALSE(ParsePlatform("linux").ok());
  EXPECT_FALSE(ParsePlatform("linux//v7").ok());
  EXPECT_FALSE(ParsePlatform("a/b/c/d").ok());
  Platform host = HostPlatform();
  EXPECT_EQ(host.os, "linux");
  EXPECT_FALSE(host.architecture.empty());
  EXPECT_NE(host.architecture, "x86_64");
  EXPECT_NE(host.architecture, "aarch64");
}

TEST(PlatformTest, MatchScores) {
  EXPECT_EQ(PlatformMatchScore(P("linux/amd64"), P("linux/amd64")), 100);
  EXPECT_EQ(PlatformMatchScore(P("linux/amd64"), P("linux/arm64")), 0);
  EXPECT_EQ(PlatformMatchScore(P("linux/amd64"), P("windows/amd64")), 0);
  EXPECT_GT(PlatformMatchScore(P("linux/amd64"), P("linux/amd64/v1")), 0);
  EXPECT_EQ(PlatformMatchScore(P("linux/amd64"), P("linux/amd64/v3")), 0);
  EXPECT_GT(PlatformMatchScore(P("linux/amd64/v3"), P("linux/amd64/v2")), 0);
  // arm64 without a variant is v8.
  EXPECT_EQ(PlatformMatchScore(P("linux/arm64/v8"), Platform{"linux", "arm64", "", "", {}}), 100);
  int v7 = PlatformMatchScore(P("linux/arm/v7"), P("linux/arm/v7"));
  int v6 = PlatformMatchScore(P("linux/arm/v7"), P("linux/arm/v6"));
  int none = PlatformMatchScore(P("linux/arm/v7"), Platform{"linux", "arm", "", "", {}});
  EXPECT_GT(v7, v6);
  EXPECT_GT(v6, none);
  EXPECT_GT(none, 0);
  EXPECT_EQ(PlatformMatchScore(P("linux/arm/v6"), P("linux/arm/v7")), 0);
}

TEST(ManifestTest, SelectsPlatformAndSkipsAttestations) {
  std::string json = Index({
      Entry(R"({"os": "unknown", "architecture": "unknown"})", 'a',
            R"(, "annotations": {"vnd.docker.reference.type": "attestation-manifest"})"),
      Entry(R"({"os": "linux", "architecture": "arm", "variant": "v6"})", 'b'),
      Entry(R"({"os": "linux", "architecture": "arm", "variant": "v7"})", 'c'),
      Entry(R"({"os": "linux", "architecture": "amd64"})", 'd'),
      Entry(R"({"os": "linux", "architecture": "amd64"})", 'e',
            R"(, "annotations": {"vnd.docker.reference.type": "attestation-manifest"})"),
      Entry(R"({"os": "windows", "architecture": "amd64", "os.version": "10.0.17763.1"})", 'f'),
      Entry(R"({"os": "linux", "architecture": "arm64"})", '1', "", media_type::kDockerManifest),
  });
  auto parsed = ParseManifest(json, "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->index.has_value());
  EXPECT_FALSE(parsed->image.has_value());
  EXPECT_EQ(parsed->index->manifests.size(), 7u);
  EXPECT_EQ(parsed->index->manifests[5].platform->os_version, "10.0.17763.1");

  auto pick = [&](std::string_view platform) -> std::string {
    auto d = SelectManifest(*parsed->index, P(platform));
    return d.ok() ? d->digest.ToString().substr(7, 1) : std::string(d.status().message());
  };
  EXPECT_EQ(pick("linux/amd64"), "d");
  EXPECT_EQ(pick("linux/arm/v7"), "c");
  EXPECT_EQ(pick("linux/arm/v6"), "b");
  EXPECT_EQ(pick("linux/arm64"), "1");
  EXPECT_EQ(
      pick("linux/s390x"),
      "no image for platform linux/s390x in the index (it has: linux/arm/v6, linux/arm/v7, linux/amd64, "
      "windows/amd64, linux/arm64)");
  EXPECT_EQ(pick("linux/arm/v5"),
            "no image for platform linux/arm/v5 in the index (it has: linux/arm/v6, "
            "linux/arm/v7, linux/amd64, windows/amd64, linux/arm64)");
}

TEST(ManifestTest, ParsesImageManifest) {
  std::string json = StrCat(R"({"schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7, "digest": ")",
                            D('a'), R"("},
    "layers": [
      {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 10, "digest": ")",
                            D('b'), R"("},
      {"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "size": 11, "digest": ")",
                            D('c'), R"(", "annotations": {"k": "v"}}]})");
  auto parsed = ParseManifest(json, "application/json; charset=utf-8");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_TRUE(parsed->image.has_value());
  EXPECT_EQ(parsed->media_type, media_type::kDockerManifest);
  EXPECT_EQ(parsed->image->config.digest.ToString(), D('a'));
  EXPECT_EQ(parsed->image->config.size, 7);
  ASSERT_EQ(parsed->image->layers.size(), 2u);
  EXPECT_EQ(parsed->image->layers[1].media_type, media_type::kOciLayerZstd);
  EXPECT_EQ(parsed->image->layers[1].annotations.at("k"), "v");

  // Without mediaType in the document, the Content-Type decides; without either, the shape.
  std::string bare = StrCat(R"({"schemaVersion": 2, "config": {"mediaType": ")", media_type::kOciConfig,
                            R"(", "size": 2, "digest": ")", D('a'), R"("}, "layers": []})");
  auto b = ParseManifest(bare, media_type::kOciManifest);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->media_type, media_type::kOciManifest);
  b = ParseManifest(bare, "text/plain");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->image.has_value());
}

TEST(ManifestTest, RefusesSchema1AndOtherOddities) {
  auto s1 = ParseManifest(R"({"schemaVersion": 1, "name": "x", "tag": "y", "fsLayers": []})", "");
  ASSERT_FALSE(s1.ok());
  EXPECT_EQ(s1.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s1.status().message().find("schema 1"), absl::string_view::npos);
  auto s1b = ParseManifest(R"({"schemaVersion": 2})", media_type::kDockerSchema1Signed);
  EXPECT_EQ(s1b.status().code(), absl::StatusCode::kFailedPrecondition);

  struct Case {
    std::string json;
    std::string want;
  };
  std::string cfg = StrCat(R"("config": {"mediaType": ")", media_type::kOciConfig,
                           R"(", "size": 2, "digest": ")", D('a'), R"("})");
  const Case cases[] = {
      {"[]", "expected a JSON object"},
      {"{", "manifest"},
      {R"({"schemaVersion": 2, "mediaType": "application/vnd.example+json"})",
       "unsupported manifest media type"},
      {StrCat(R"({"schemaVersion": 3, )", cfg, R"(, "layers": []})"), "schemaVersion is 3"},
      {StrCat(R"({"schemaVersion": 2, "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", )",
              R"("size": 2, "digest": ")", D('a'), R"("}, "layers": []})"),
       "not a container image"},
      {StrCat(R"({"schemaVersion": 2, )", cfg,
              R"(, "layers": [{"mediaType": "application/x-foo", "size": 1, )", R"("digest": ")", D('b'),
              R"("}]})"),
       "layers[0]: unsupported layer media type \"application/x-foo\""},
      {StrCat(R"({"schemaVersion": 2, )", cfg, R"(, "layers": [{"mediaType": ")", media_type::kOciLayerGzip,
              R"(", "size": -1, "digest": ")", D('b'), R"("}]})"),
       "layers[0].size"},
      {StrCat(R"({"schemaVersion": 2, )", cfg, R"(, "layers": [{"mediaType": ")", media_type::kOciLayerGzip,
              R"(", "size": 1, "digest": "sha256:xyz"}]})"),
       "layers[0].digest"},
      {R"({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": {}})",
       "manifests: expected an array"},
  };
  for (const Case& c : cases) {
    auto r = ParseManifest(c.json, "");
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_NE(r.status().message().find(c.want), absl::string_view::npos) << r.status() << " want " << c.want;
  }
  std::string huge(kMaxManifestSize + 1, ' ');
  EXPECT_EQ(ParseManifest(huge, "").status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ImageConfigTest, ParsesFields) {
  std::string json = StrCat(R"({
    "created": "2024-01-02T03:04:05Z", "author": "me", "architecture": "amd64", "os": "linux",
    "config": {"User": "1000:1000", "Env": ["PATH=/bin", "A=b"], "Entrypoint": ["/bin/sh", "-c"],
               "Cmd": null, "WorkingDir": "/work", "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
               "Volumes": {"/data": {}}, "StopSignal": "SIGQUIT", "Labels": {"l": "v"}},
    "rootfs": {"type": "layers", "diff_ids": [")",
                            D('1'), R"(", ")", D('2'), R"("]},
    "history": [{"created_by": "x"}]})");
  auto c = ParseImageConfig(json);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->created, "2024-01-02T03:04:05Z");
  EXPECT_EQ(c->architecture, "amd64");
  EXPECT_EQ(c->user, "1000:1000");
  EXPECT_EQ(c->env, (std::vector<std::string>{"PATH=/bin", "A=b"}));
  ASSERT_TRUE(c->entrypoint.has_value());
  EXPECT_EQ(*c->entrypoint, (std::vector<std::string>{"/bin/sh", "-c"}));
  EXPECT_FALSE(c->cmd.has_value());
  EXPECT_EQ(c->working_dir, "/work");
  EXPECT_EQ(c->exposed_ports, (std::vector<std::string>{"53/udp", "8080/tcp"}));
  EXPECT_EQ(c->volumes, (std::vector<std::string>{"/data"}));
  EXPECT_EQ(c->stop_signal, "SIGQUIT");
  EXPECT_EQ(c->labels.at("l"), "v");
  ASSERT_EQ(c->diff_ids.size(), 2u);
  EXPECT_EQ(c->diff_ids[1].ToString(), D('2'));

  ImageManifest m;
  m.layers.resize(1);
  EXPECT_NE(CheckConfigMatchesManifest(m, *c).message().find("2 diff_ids for a manifest of 1 layers"),
            absl::string_view::npos);
  m.layers.resize(2);
  EXPECT_TRUE(CheckConfigMatchesManifest(m, *c).ok());

  auto empty_cmd =
      ParseImageConfig(R"({"config": {"Cmd": []}, "rootfs": {"type": "layers", "diff_ids": []}})");
  ASSERT_TRUE(empty_cmd.ok());
  ASSERT_TRUE(empty_cmd->cmd.has_value());
  EXPECT_TRUE(empty_cmd->cmd->empty());

  EXPECT_NE(ParseImageConfig(R"({"config": {"Env": "x"}, "rootfs": {"type": "layers"}})")
                .status()
                .message()
                .find("config.Env: expected an array"),
            absl::string_view::npos);
  EXPECT_NE(ParseImageConfig(R"({"rootfs": {"type": "tarball"}})").status().message().find("rootfs.type"),
            absl::string_view::npos);
  EXPECT_NE(ParseImageConfig(R"({"rootfs": {"type": "layers", "diff_ids": ["sha256:1"]}})")
                .status()
                .message()
                .find("rootfs.diff_ids[0]"),
            absl::string_view::npos);
  EXPECT_NE(ParseImageConfig("{}").status().message().find("rootfs"), absl::string_view::npos);
}

}  // namespace
}  // namespace cricket::image
