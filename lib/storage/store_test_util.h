// Shared fixture pieces for the Store tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "lib/common/file_util.h"
#include "lib/common/strings.h"
#include "lib/storage/store.h"
#include "lib/storage/test_tar.h"

namespace cricket::storage::testing {

// A config whose rootfs.diff_ids are `diff_ids`; `salt` makes distinct image ids.
inline std::string ConfigFor(const std::vector<std::string>& diff_ids, const std::string& salt = "") {
  std::string ids;
  for (const std::string& d : diff_ids) ids += (ids.empty() ? "\"" : ",\"") + d + "\"";
  return StrCat(R"({"architecture":"amd64","os":"linux","config":{"Env":["SALT=)", salt,
                R"("]},"rootfs":{"type":"layers","diff_ids":[)", ids, "]}}");
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cricket-store-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    options_.root = dir_ + "/storage";
    options_.sync_layers = false;
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    ASSERT_TRUE(RemoveAll(dir_).ok());
  }
  void Reopen() {
    store_.reset();
    auto s = Store::Open(options_);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  // Applies a layer on top of `parent` (a chain id or "") and returns its lease.
  LayerLease AddLayer(const std::string& parent, const std::vector<TarEntry>& entries) {
    std::string tar = BuildTar(entries);
    auto claim = store_->ClaimLayer(parent, Sha256(tar));
    EXPECT_TRUE(claim.ok()) << claim.status();
    if (claim->stored()) return std::move(claim->lease());
    StringSource src(tar);
    auto lease = claim->Apply(src);
    EXPECT_TRUE(lease.ok()) << lease.status();
    return std::move(*lease);
  }

  // Stores an image of layers made from `layers` (base first) with `names`.
  ImageInfo AddImage(const std::vector<std::vector<TarEntry>>& layers, const std::vector<std::string>& names,
                     const std::string& salt = "") {
    std::vector<LayerLease> leases;
    std::vector<std::string> diff_ids;
    std::string parent;
    for (const auto& entries : layers) {
      leases.push_back(AddLayer(parent, entries));
      parent = leases.back().layer().chain_id;
      diff_ids.push_back(leases.back().layer().diff_id);
    }
    NewImage img;
    img.config = ConfigFor(diff_ids, salt);
    img.manifest = StrCat(R"({"schemaVersion":2,"salt":")", salt, R"("})");
    img.names = names;
    auto info = store_->PutImage(img);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : ImageInfo{};
  }

  std::string dir_;
  StoreOptions options_;
  std::unique_ptr<Store> store_;
};

}  // namespace cricket::storage::testing
