// ImageManager without a registry: the CRI view of stored images (users, pinning, verbose info),
// lookups by every kind of name (including registries.conf short names) and removal semantics, on a
// Store in a temporary directory.
#include "server/image_manager.h"

#include <gtest/gtest.h>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/storage/byte_source.h"
#include "nlohmann/json.hpp"
#include "server/image_lookup.h"

namespace cricket::server {
namespace {

TEST(ParseImageUserTest, CriFields) {
  struct Case {
    std::string user;
    std::optional<int64_t> uid;
    std::string username;
  };
  const Case cases[] = {
      {"", std::nullopt, ""},
      {"0", 0, ""},
      {"1002", 1002, ""},
      {"1003:1003", 1003, ""},
      {"www-data", std::nullopt, "www-data"},
      {"www-data:www-data", std::nullopt, "www-data"},
      {"1000:grp", 1000, ""},
      {":100", std::nullopt, ""},
      {"-1", std::nullopt, "-1"},
  };
  for (const Case& c : cases) {
    ImageUser u = ParseImageUser(c.user);
    EXPECT_EQ(u.uid, c.uid) << c.user;
    EXPECT_EQ(u.username, c.username) << c.user;
  }
}

TEST(PinnedPatternTest, ExactPrefixAndKeyword) {
  std::vector<std::string> p = {"registry.k8s.io/pause:3.9", "quay.io/team/*", "*critical*"};
  EXPECT_TRUE(MatchesPinnedPattern(p, "registry.k8s.io/pause:3.9"));
  EXPECT_FALSE(MatchesPinnedPattern(p, "registry.k8s.io/pause:3.10"));
  EXPECT_TRUE(MatchesPinnedPattern(p, "quay.io/team/app:1"));
  EXPECT_FALSE(MatchesPinnedPattern(p, "quay.io/other/app:1"));
  EXPECT_TRUE(MatchesPinnedPattern(p, "docker.io/x/critical-app:1"));
  EXPECT_FALSE(MatchesPinnedPattern({}, "anything"));
  EXPECT_TRUE(MatchesPinnedPattern({"*"}, "anything"));
}

std::string Tar(const std::string& name, const std::string& content) {
  // One ustar regular file plus the end-of-archive blocks.
  std::string h(512, '\0');
  std::snprintf(h.data(), 100, "%s", name.c_str());
  std::snprintf(h.data() + 100, 8, "%07o", 0644);
  std::snprintf(h.data() + 108, 8, "%07o", 0);
  std::snprintf(h.data() + 116, 8, "%07o", 0);
  std::snprintf(h.data() + 124, 12, "%011o", static_cast<unsigned>(content.size()));
  std::snprintf(h.data() + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h.data() + 257, "ustar", 6);
  std::memcpy(h.data() + 263, "00", 2);
  std::memset(h.data() + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : h) sum += c;
  std::snprintf(h.data() + 148, 8, "%06o", sum);
  std::string body = content;
  body.resize((content.size() + 511) / 512 * 512, '\0');
  return h + body + std::string(1024, '\0');
}

class ImageManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-imgmgr-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    storage::StoreOptions o;
    o.root = dir_ + "/storage";
    o.sync_layers = false;
    auto s = storage::Store::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    registries_ = dir_ + "/registries.conf";
    ASSERT_TRUE(
        WriteFileAtomic(registries_, "unqualified-search-registries = [\"quay.io\", \"docker.io\"]\n").ok());
    Config c;
    c.image.registries_conf = registries_;
    c.image.registries_conf_dir = "";
    c.image.pinned_images = {"quay.io/pinned/*"};
    holder_ = std::make_unique<ConfigHolder>(c);
    manager_ = std::make_unique<ImageManager>(*holder_, *store_);
  }
  void TearDown() override {
    manager_.reset();
    store_.reset();
    (void)RemoveAll(dir_);
  }

  // Stores a one-layer image with `user` in its config under `names`.
  storage::ImageInfo Add(const std::vector<std::string>& names, const std::string& user,
                         const std::string& salt) {
    std::string tar = Tar("file", salt);
    std::string diff_id = Digest::Sha256Of(tar).ToString();
    auto claim = store_->ClaimLayer("", diff_id);
    EXPECT_TRUE(claim.ok());
    std::optional<storage::LayerLease> lease;
    if (claim->stored()) {
      lease.emplace(std::move(claim->lease()));
    } else {
      storage::StringSource src(tar);
      auto l = claim->Apply(src);
      EXPECT_TRUE(l.ok()) << l.status();
      lease.emplace(*std::move(l));
    }
    storage::NewImage img;
    img.config = StrCat(R"({"architecture":"amd64","os":"linux","config":{"User":")", user,
                        R"("},"rootfs":{"type":"layers","diff_ids":[")", diff_id, R"("]}})");
    img.names = names;
    auto info = store_->PutImage(img);
    EXPECT_TRUE(info.ok()) << info.status();
    return *info;
  }

  std::string dir_;
  std::string registries_;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ConfigHolder> holder_;
  std::unique_ptr<ImageManager> manager_;
};

TEST_F(ImageManagerTest, CriViewOfAStoredImage) {
  storage::ImageInfo info =
      Add({"quay.io/pinned/app:1", "quay.io/pinned/app@sha256:" + std::string(64, 'a')}, "1000:1000", "a");
  ::runtime::v1::Image im = manager_->ToCri(info);
  EXPECT_EQ(im.id(), info.id);
  ASSERT_EQ(im.repo_tags_size(), 1);
  EXPECT_EQ(im.repo_tags(0), "quay.io/pinned/app:1");
  ASSERT_EQ(im.repo_digests_size(), 1);
  EXPECT_EQ(im.size(), info.size);
  EXPECT_TRUE(im.has_uid());
  EXPECT_EQ(im.uid().value(), 1000);
  EXPECT_EQ(im.username(), "");
  EXPECT_TRUE(im.pinned());
  EXPECT_EQ(im.spec().image(), info.id);

  storage::ImageInfo named = Add({"docker.io/library/web:1"}, "www-data", "b");
  im = manager_->ToCri(named);
  EXPECT_FALSE(im.has_uid());
  EXPECT_EQ(im.username(), "www-data");
  EXPECT_FALSE(im.pinned());

  auto verbose = ImageManager::VerboseInfo(named);
  ASSERT_EQ(verbose.count("info"), 1u);
  auto j = nlohmann::json::parse(verbose["info"]);
  EXPECT_EQ(j["imageSpec"]["config"]["User"], "www-data");
  EXPECT_EQ(j["chainIDs"].size(), 1u);
}

TEST_F(ImageManagerTest, LookupByEveryKindOfName) {
  storage::ImageInfo quay = Add({"quay.io/busybox:latest"}, "", "q");
  storage::ImageInfo hub =
      Add({"docker.io/library/alpine:3", "docker.io/library/alpine@sha256:" + std::string(64, 'b')}, "", "h");
  auto find = [&](const std::string& name) {
    auto r = manager_->Find(name);
    return r.ok() ? r->id : StrCat("error: ", r.status().message());
  };
  EXPECT_EQ(find(quay.id), quay.id);
  EXPECT_EQ(find(quay.id.substr(7)), quay.id);
  EXPECT_EQ(find(quay.id.substr(7, 10)), quay.id);
  // Short names resolve through unqualified-search-registries, in order.
  EXPECT_EQ(find("busybox"), quay.id);
  EXPECT_EQ(find("alpine:3"), hub.id);
  EXPECT_EQ(find("library/alpine:3"), hub.id);
  EXPECT_EQ(find("docker.io/library/alpine:3"), hub.id);
  EXPECT_EQ(find("alpine@sha256:" + std::string(64, 'b')), hub.id);
  EXPECT_EQ(find("alpine:3@sha256:" + std::string(64, 'b')), hub.id);
  EXPECT_TRUE(absl::IsNotFound(manager_->Find("alpine:4").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(manager_->Find("").status()));
  // Without registries.conf the docker.io normalisation still applies.
  EXPECT_EQ(LookupImage(*store_, "alpine:3")->id, hub.id);
  EXPECT_TRUE(absl::IsNotFound(LookupImage(*store_, "busybox").status()));
}

TEST_F(ImageManagerTest, RemoveTakesEveryNameAndIsIdempotent) {
  storage::ImageInfo img = Add({"docker.io/library/app:1", "docker.io/library/app:2"}, "", "r");
  storage::ImageInfo other = Add({"docker.io/library/other:1"}, "", "o");
  ASSERT_TRUE(manager_->Remove("app:1").ok());
  EXPECT_TRUE(absl::IsNotFound(store_->GetImage(img.id).status()));
  EXPECT_TRUE(absl::IsNotFound(manager_->Find("app:2").status()));
  EXPECT_TRUE(manager_->Remove("app:1").ok());
  EXPECT_TRUE(manager_->Remove(img.id).ok());
  EXPECT_TRUE(store_->GetImage(other.id).ok());
  // In use by a container: refused, naming it.
  ASSERT_TRUE(store_->CreateContainerRootfs("ctr-1", other.id).ok());
  absl::Status used = manager_->Remove("other:1");
  EXPECT_TRUE(absl::IsFailedPrecondition(used)) << used;
  EXPECT_NE(used.message().find("ctr-1"), absl::string_view::npos) << used;
  ASSERT_TRUE(store_->RemoveContainerRootfs("ctr-1").ok());
  EXPECT_TRUE(manager_->Remove("other:1").ok());
  EXPECT_TRUE(store_->ListImages()->empty());
}

TEST_F(ImageManagerTest, PullPolicyFollowsRegistriesConfEdits) {
  // A broken registries.conf makes pulls fail with the file named, and lookups fall back to Docker's
  // normalisation; fixing the file takes effect without a reload.
  ASSERT_TRUE(WriteFileAtomic(registries_, "unqualified-search-registries = 42\n").ok());
  auto pulled = manager_->Pull("busybox", nullptr, image::CallContext::WithTimeout(5000));
  EXPECT_FALSE(pulled.ok());
  EXPECT_NE(pulled.status().message().find("registries.conf"), absl::string_view::npos) << pulled.status();
  storage::ImageInfo quay = Add({"quay.io/busybox:latest"}, "", "p");
  EXPECT_TRUE(absl::IsNotFound(manager_->Find("busybox").status()));
  ASSERT_TRUE(WriteFileAtomic(registries_, "unqualified-search-registries = [\"quay.io\"]\n").ok());
  EXPECT_EQ(manager_->Find("busybox")->id, quay.id);
  // Blocked: refused before any network traffic.
  ASSERT_TRUE(WriteFileAtomic(registries_, "[[registry]]\nlocation = \"quay.io\"\nblocked = true\n").ok());
  pulled = manager_->Pull("quay.io/busybox", nullptr, image::CallContext::WithTimeout(5000));
  EXPECT_EQ(pulled.status().code(), absl::StatusCode::kPermissionDenied) << pulled.status();
}

}  // namespace
}  // namespace cricket::server
