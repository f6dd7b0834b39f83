#include "lib/storage/store.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

#include "lib/common/digest.h"
#include "lib/storage/store_test_util.h"

namespace cricket::storage {
namespace {

using testing::BuildTar;
using testing::ConfigFor;
using testing::Dir;
using testing::File;
using testing::Sha256;
using testing::StoreTest;
using testing::Symlink;

// The store's directories that hold data; leftovers show up here.
std::vector<std::string> Entries(const std::string& dir) {
  return ListDir(dir).value_or(std::vector<std::string>{"?"});
}

TEST(ChainIdTest, FollowsTheImageSpec) {
  std::string a = "sha256:" + std::string(64, 'a'), b = "sha256:" + std::string(64, 'b');
  EXPECT_EQ(Store::ChainId("", a), a);
  EXPECT_EQ(Store::ChainId(a, b), Digest::Sha256Of(a + " " + b).ToString());
}

TEST_F(StoreTest, PutImageAndLookups) {
  ImageInfo img =
      AddImage({{Dir("etc"), File("etc/os-release", "ID=test\n")}, {File("bin/app", "app", 0755)}},
               {"docker.io/library/app:1.0", "docker.io/library/app@sha256:" + std::string(64, 'c')});
  ASSERT_EQ(img.layers.size(), 2u);
  EXPECT_EQ(img.id, Digest::Sha256Of(img.config).ToString());
  EXPECT_EQ(img.repo_tags, std::vector<std::string>{"docker.io/library/app:1.0"});
  EXPECT_EQ(img.repo_digests.size(), 1u);
  EXPECT_EQ(img.top_layer, img.layers[1]);
  EXPECT_GT(img.size, 2048u);
  EXPECT_EQ(store_->FindImage(img.id)->id, img.id);
  EXPECT_EQ(store_->FindImage(img.id.substr(7))->id, img.id);
  EXPECT_EQ(store_->FindImage(img.id.substr(7, 12))->id, img.id);
  EXPECT_EQ(store_->FindImage("docker.io/library/app:1.0")->id, img.id);
  EXPECT_EQ(store_->FindImage(img.repo_digests[0])->id, img.id);
  EXPECT_TRUE(absl::IsNotFound(store_->FindImage("docker.io/library/app:2.0").status()));
  EXPECT_EQ(store_->GetBlob(img.id).value_or(""), img.config);
  EXPECT_TRUE(store_->GetBlob(img.manifest_digest).ok());
  auto layer = store_->GetLayer(img.top_layer);
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(layer->image_users, 1);
  EXPECT_EQ(layer->parent, img.layers[0]);
  EXPECT_EQ(*ReadFile(layer->diff_dir + "/bin/app"), "app");
  EXPECT_TRUE(PathExists(options_.root + "/overlay/l/" + layer->link));
  Reopen();  // everything is durable
  auto list = store_->ListImages();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].layers, img.layers);
  EXPECT_EQ((*list)[0].config, img.config);
}

// Another process reads the metadata with SQLite while the store is open (WAL readers do not block).
TEST_F(StoreTest, DatabaseIsReadableByAnotherProcessWhileOpen) {
  AddImage({{File("a", "a")}}, {"r/one:1"}, "1");
  AddImage({{File("b", "b")}}, {"r/two:1"}, "2");
  std::string db = options_.root + "/storage.db";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    sqlite3* conn = nullptr;
    if (sqlite3_open_v2(db.c_str(), &conn, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) _exit(100);
    sqlite3_stmt* q = nullptr;
    if (sqlite3_prepare_v2(conn, "SELECT COUNT(*) FROM names", -1, &q, nullptr) != SQLITE_OK) _exit(101);
    if (sqlite3_step(q) != SQLITE_ROW) _exit(102);
    _exit(static_cast<int>(sqlite3_column_int(q, 0)));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
  EXPECT_TRUE(store_->FindImage("r/two:1").ok());  // and the store keeps working
}

TEST_F(StoreTest, DiffIdMismatchStoresNothing) {
  std::string tar = BuildTar({File("a", "a")});
  auto claim = store_->ClaimLayer("", Sha256("something else"));
  ASSERT_TRUE(claim.ok());
  ASSERT_FALSE(claim->stored());
  StringSource src(tar);
  auto lease = claim->Apply(src);
  ASSERT_FALSE(lease.ok());
  EXPECT_TRUE(absl::IsDataLoss(lease.status())) << lease.status();
  EXPECT_TRUE(IsLayerRefused(lease.status()));
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(Entries(options_.root + "/tmp").empty());
  EXPECT_EQ(Entries(options_.root + "/overlay"), (std::vector<std::string>{"empty", "l"}));
  EXPECT_TRUE(Entries(options_.root + "/overlay/l").empty());
}

TEST_F(StoreTest, HostileOrTruncatedLayerLeavesNothing) {
  std::string hostile = BuildTar({Symlink("evil", dir_), File("evil/owned", "x")});
  auto claim = store_->ClaimLayer("", Sha256(hostile));
  StringSource src(hostile);
  auto lease = claim->Apply(src);
  ASSERT_FALSE(lease.ok());
  EXPECT_NE(lease.status().message().find("\"evil/owned\""), absl::string_view::npos) << lease.status();
  EXPECT_FALSE(PathExists(dir_ + "/owned"));
  std::string tar = BuildTar({File("big", std::string(100000, 'x'))});
  std::string cut = tar.substr(0, 30000);
  auto claim2 = store_->ClaimLayer("", Sha256(tar));
  StringSource src2(cut);
  EXPECT_TRUE(absl::IsDataLoss(claim2->Apply(src2).status()));
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(Entries(options_.root + "/tmp").empty());
  EXPECT_EQ(Entries(options_.root + "/overlay"), (std::vector<std::string>{"empty", "l"}));
}

TEST_F(StoreTest, PutImageNeedsEveryLayer) {
  LayerLease base = AddLayer("", {File("a", "a")});
  NewImage img;
  img.config = ConfigFor({base.layer().diff_id, Sha256("missing layer")});
  img.names = {"docker.io/library/x:latest"};
  auto r = store_->PutImage(img);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsNotFound(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("layer 1"), absl::string_view::npos);
  EXPECT_TRUE(store_->ListImages()->empty());
  EXPECT_TRUE(absl::IsNotFound(store_->FindImage("docker.io/library/x:latest").status()));
  img.config = "{not json";
  EXPECT_TRUE(absl::IsInvalidArgument(store_->PutImage(img).status()));
  img.config = ConfigFor({base.layer().diff_id});
  img.names = {"no-tag-or-digest"};
  EXPECT_TRUE(absl::IsInvalidArgument(store_->PutImage(img).status()));
}

TEST_F(StoreTest, TagMovesAndOldImageKeepsItsDigest) {
  std::string digest_name = "docker.io/library/app@sha256:" + std::string(64, '1');
  ImageInfo old_img = AddImage({{File("v", "1")}}, {"docker.io/library/app:latest", digest_name}, "1");
  ImageInfo new_img = AddImage({{File("v", "2")}}, {"docker.io/library/app:latest"}, "2");
  EXPECT_EQ(store_->FindImage("docker.io/library/app:latest")->id, new_img.id);
  auto old_now = store_->GetImage(old_img.id);
  ASSERT_TRUE(old_now.ok());
  EXPECT_TRUE(old_now->repo_tags.empty());
  EXPECT_EQ(old_now->repo_digests, std::vector<std::string>{digest_name});
  ASSERT_TRUE(store_->TagImage(old_img.id, "docker.io/library/app:latest").ok());
  EXPECT_EQ(store_->FindImage("docker.io/library/app:latest")->id, old_img.id);
  EXPECT_TRUE(store_->GetImage(new_img.id)->repo_tags.empty());
  EXPECT_EQ(store_->ListImages()->size(), 2u);  // an image left without tags stays, as in CRI-O
}

TEST_F(StoreTest, RemoveImageUntagsThenDeletesAndFreesUnsharedLayers) {
  std::vector<testing::TarEntry> base = {File("base", "shared")};
  ImageInfo a = AddImage({base, {File("a", "a")}}, {"r/a:1", "r/a:2"}, "a");
  ImageInfo b = AddImage({base, {File("b", "b")}}, {"r/b:1"}, "b");
  ASSERT_EQ(a.layers[0], b.layers[0]);
  EXPECT_EQ(store_->GetLayer(a.layers[0])->image_users, 2);
  auto r = store_->RemoveImage("r/a:1");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->image_deleted);
  EXPECT_EQ(r->removed_name, "r/a:1");
  r = store_->RemoveImage("r/a:2");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->image_deleted);
  EXPECT_EQ(r->freed_layers, std::vector<std::string>{a.layers[1]});
  EXPECT_TRUE(absl::IsNotFound(store_->GetLayer(a.layers[1]).status()));
  EXPECT_FALSE(PathExists(options_.root + "/overlay/" + a.layers[1].substr(7)));
  EXPECT_TRUE(store_->GetLayer(a.layers[0]).ok());  // still used by b
  EXPECT_FALSE(PathExists(options_.root + "/blobs/sha256/" + a.id.substr(7)));
  EXPECT_TRUE(absl::IsNotFound(store_->RemoveImage("r/a:2").status()));
  r = store_->RemoveImage(b.id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->freed_layers.size(), 2u);
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(Entries(options_.root + "/overlay/l").empty());
  EXPECT_TRUE(Entries(options_.root + "/blobs/sha256").empty());
  EXPECT_TRUE(Entries(options_.root + "/tmp").empty());
}

TEST_F(StoreTest, ImageInUseByAContainerIsNotDeleted) {
  ImageInfo img = AddImage({{File("f", "x")}}, {"r/used:1"});
  auto c = store_->CreateContainerRootfs("ctr1", img.id);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(PathExists(c->upper));
  EXPECT_TRUE(absl::IsAlreadyExists(store_->CreateContainerRootfs("ctr1", img.id).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(store_->CreateContainerRootfs("../x", img.id).status()));
  auto r = store_->RemoveImage("r/used:1");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status()));
  EXPECT_NE(r.status().message().find("ctr1"), absl::string_view::npos) << r.status();
  EXPECT_TRUE(store_->FindImage("r/used:1").ok());
  EXPECT_TRUE(store_->GarbageCollect()->empty());
  ASSERT_TRUE(WriteFileAtomic(c->upper + "/written", std::string(10000, 'w')).ok());
  EXPECT_GE(store_->ContainerUsage("ctr1")->bytes, 10000u);
  ASSERT_TRUE(store_->RemoveContainerRootfs("ctr1").ok());
  ASSERT_TRUE(store_->RemoveContainerRootfs("ctr1").ok());  // idempotent
  EXPECT_FALSE(PathExists(c->dir));
  EXPECT_TRUE(store_->RemoveImage("r/used:1").ok());
}

TEST_F(StoreTest, LeasesKeepLayersFromGarbageCollection) {
  auto lease = std::make_unique<LayerLease>(AddLayer("", {File("pending", "p")}));
  std::string chain = lease->layer().chain_id;
  EXPECT_TRUE(store_->GarbageCollect()->empty());
  EXPECT_TRUE(store_->GetLayer(chain).ok());
  lease.reset();
  EXPECT_EQ(*store_->GarbageCollect(), std::vector<std::string>{chain});
  EXPECT_TRUE(store_->ListLayers()->empty());
}

TEST_F(StoreTest, ConcurrentClaimsOfOneLayerShareOneExtraction) {
  std::string tar = BuildTar({File("big", std::string(4 << 20, 'z'))});
  std::string diff = Sha256(tar);
  std::atomic<int> applies{0}, stored{0};
  std::vector<std::thread> threads;
  std::vector<std::string> chains(6);
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&, i] {
      auto claim = store_->ClaimLayer("", diff);
      ASSERT_TRUE(claim.ok());
      if (claim->stored()) {
        stored++;
        chains[i] = claim->lease().layer().chain_id;
        return;
      }
      applies++;
      StringSource src(tar);
      auto lease = claim->Apply(src);
      ASSERT_TRUE(lease.ok()) << lease.status();
      chains[i] = lease->layer().chain_id;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applies.load(), 1);
  EXPECT_EQ(stored.load(), 5);
  for (const auto& c : chains) EXPECT_EQ(c, diff);
  EXPECT_EQ(store_->ListLayers()->size(), 1u);
}

// The waiter gets the claim once the failed one is dropped (not as soon as its Apply fails, so that the
// failing puller can record the failure first).
TEST_F(StoreTest, AFailedClaimHandsTheLayerToAWaiter) {
  std::string tar = BuildTar({File("x", "x")});
  std::optional<absl::StatusOr<LayerClaim>> first(store_->ClaimLayer("", Sha256(tar)));
  ASSERT_TRUE(first->ok() && !(*first)->stored());
  std::atomic<bool> second_claimed{false};
  std::atomic<bool> second_applied{false};
  std::thread waiter([&] {
    auto second = store_->ClaimLayer("", Sha256(tar));  // waits for `first`
    second_claimed = true;
    ASSERT_TRUE(second.ok());
    ASSERT_FALSE(second->stored());
    StringSource src(tar);
    second_applied = second->Apply(src).ok();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::string cut = tar.substr(0, 100);
  StringSource broken(cut);
  EXPECT_FALSE((*first)->Apply(broken).ok());
  EXPECT_FALSE((*first)->Apply(broken).ok());  // once only
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(second_claimed.load());
  first.reset();
  waiter.join();
  EXPECT_TRUE(second_applied.load());
}

// Per-apply options: bounds other than the store's, and a reserve the store's filesystem cannot keep.
TEST_F(StoreTest, ApplyOptionsBoundTheApplyAndTheFreeSpace) {
  std::string tar = BuildTar({File("a", "a"), File("b", "b")});
  {
    auto claim = store_->ClaimLayer("", Sha256(tar));
    ASSERT_TRUE(claim.ok());
    ApplyOptions options;
    options.limits.max_layer_entries = 1;
    StringSource src(tar);
    auto lease = claim->Apply(src, options);
    ASSERT_FALSE(lease.ok());
    EXPECT_TRUE(absl::IsInvalidArgument(lease.status())) << lease.status();
    EXPECT_TRUE(IsLayerRefused(lease.status()));
    EXPECT_TRUE(Entries(options_.root + "/tmp").empty());
  }

  auto headroom = store_->FreeSpaceHeadroom(FreeSpaceReserve{.bytes = 1});
  ASSERT_TRUE(headroom.ok()) << headroom.status();
  EXPECT_GT(*headroom, 0u);
  auto again = store_->ClaimLayer("", Sha256(tar));
  ASSERT_TRUE(again.ok());
  ApplyOptions full;
  full.reserve.fraction = 1.0;  // everything must stay free: nothing fits
  StringSource src2(tar);
  auto lease = again->Apply(src2, full);
  ASSERT_FALSE(lease.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(lease.status())) << lease.status();
  EXPECT_NE(std::string(lease.status().message()).find(options_.root), std::string::npos) << lease.status();
  EXPECT_TRUE(store_->ListLayers()->empty());
}

// Pulls and removals of images sharing a base layer, from several threads at once: no deadlock, no
// error other than the expected NotFound of a racing removal, and a consistent store at the end.
TEST_F(StoreTest, ConcurrentPullsAndRemovalsStayConsistent) {
  std::vector<std::thread> threads;
  std::atomic<int> unexpected{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 15; ++i) {
        std::string name = StrCat("r/img", (t + i) % 3, ":latest");
        std::string base = BuildTar({File("base", "shared")});
        std::string top = BuildTar({File("top", StrCat(t, "-", i))});
        auto c1 = store_->ClaimLayer("", Sha256(base));
        if (!c1.ok()) {
          unexpected++;
          continue;
        }
        std::optional<LayerLease> l1;
        if (c1->stored()) {
          l1.emplace(std::move(c1->lease()));
        } else {
          StringSource src(base);
          auto r = c1->Apply(src);
          if (!r.ok()) {
            unexpected++;
            continue;
          }
          l1.emplace(std::move(*r));
        }
        auto c2 = store_->ClaimLayer(l1->layer().chain_id, Sha256(top));
        if (!c2.ok() || c2->stored()) {
          unexpected++;
          continue;
        }
        StringSource src2(top);
        auto l2 = c2->Apply(src2);
        if (!l2.ok()) {
          unexpected++;
          continue;
        }
        NewImage img;
        img.config = ConfigFor({l1->layer().diff_id, l2->layer().diff_id}, StrCat(t, "-", i));
        img.names = {name};
        if (!store_->PutImage(img).ok()) unexpected++;
        auto rm = store_->RemoveImage(name);
        if (!rm.ok() && !absl::IsNotFound(rm.status())) unexpected++;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  auto images = store_->ListImages();
  ASSERT_TRUE(images.ok());
  for (const auto& img : *images) ASSERT_TRUE(store_->RemoveImage(img.id).ok());
  EXPECT_TRUE(store_->GarbageCollect().ok());
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(store_->Check(false)->ok());
}

TEST_F(StoreTest, SecondOpenOfTheSameRootIsRefused) {
  auto second = Store::Open(options_);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
}

// A child applies a layer from a pipe and is killed with SIGKILL mid-stream; reopening the store
// shows no layer and no leftovers.
TEST_F(StoreTest, KillDuringApplyLeavesNothingVisible) {
  std::string tar = BuildTar({File("a", std::string(1 << 20, 'a')), File("b", std::string(1 << 20, 'b'))});
  store_.reset();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(p[1]);
    auto store = Store::Open(options_);
    if (!store.ok()) _exit(2);
    auto claim = (*store)->ClaimLayer("", Sha256(tar));
    FdSource src(p[0]);
    (void)claim->Apply(src);
    _exit(3);
  }
  close(p[0]);
  ASSERT_EQ(write(p[1], tar.data(), 1200000), 1200000);  // more than the first file
  for (int i = 0; i < 200 && Entries(options_.root + "/tmp").empty(); ++i) usleep(10000);
  usleep(50000);
  kill(pid, SIGKILL);
  int status;
  waitpid(pid, &status, 0);
  close(p[1]);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(Entries(options_.root + "/tmp").empty());  // the staging directory was left behind
  Reopen();
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(Entries(options_.root + "/tmp").empty());
  EXPECT_EQ(Entries(options_.root + "/overlay"), (std::vector<std::string>{"empty", "l"}));
}

// The instants around the commit points, reproduced on disk: a layer renamed and linked but never
// recorded, a removal that moved data to trash, a blob written for an image never committed, and a
// container directory never recorded.
TEST_F(StoreTest, RecoveryRemovesUnrecordedLeftovers) {
  AddImage({{File("k", "k")}}, {"r/k:1"});
  std::string root = options_.root;
  ASSERT_TRUE(MkdirAll(root + "/overlay/" + std::string(64, 'e') + "/diff").ok());
  ASSERT_EQ(
      symlink(("../" + std::string(64, 'e') + "/diff").c_str(), (root + "/overlay/l/zzzzzzzzzzzz").c_str()),
      0);
  ASSERT_TRUE(MkdirAll(root + "/tmp/trash-123/x").ok());
  ASSERT_TRUE(WriteFileAtomic(root + "/blobs/sha256/" + std::string(64, 'f'), "orphan").ok());
  ASSERT_TRUE(MkdirAll(root + "/overlay-containers/ghost/upper").ok());
  Reopen();
  EXPECT_EQ(store_->ListLayers()->size(), 1u);
  EXPECT_TRUE(store_->FindImage("r/k:1").ok());
  EXPECT_FALSE(PathExists(root + "/overlay/" + std::string(64, 'e')));
  EXPECT_FALSE(PathExists(root + "/overlay/l/zzzzzzzzzzzz"));
  EXPECT_TRUE(Entries(root + "/tmp").empty());
  EXPECT_FALSE(PathExists(root + "/blobs/sha256/" + std::string(64, 'f')));
  EXPECT_FALSE(PathExists(root + "/overlay-containers/ghost"));
  EXPECT_TRUE(store_->Check(false)->ok());
}

TEST_F(StoreTest, UnusedLayersOfAnInterruptedPullAreRemovedOnOpen) {
  std::string chain;
  {
    LayerLease l = AddLayer("", {File("orphan", "o")});
    chain = l.layer().chain_id;
  }
  Reopen();
  EXPECT_TRUE(absl::IsNotFound(store_->GetLayer(chain).status()));
}

TEST_F(StoreTest, CheckDetectsAndRepairsACorruptedLayer) {
  ImageInfo img =
      AddImage({{File("etc/passwd", "root:x:0:0::/root:/bin/sh\n")}, {File("bin/tool", "tool")}}, {"r/c:1"});
  auto report = store_->Check(false);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << report->problems[0];
  auto layer = store_->GetLayer(img.layers[0]);
  std::string victim = layer->diff_dir + "/etc/passwd";
  ASSERT_TRUE(WriteFileAtomic(victim, "root:x:0:0::/root:/bin/ev\n", 0644).ok());  // same size
  report = store_->Check(false);
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->ok());
  EXPECT_NE(report->problems[0].find("etc/passwd: content"), std::string::npos) << report->problems[0];
  EXPECT_EQ(report->damaged_layers, std::vector<std::string>{img.layers[0]});
  EXPECT_EQ(report->damaged_images, std::vector<std::string>{img.id});
  EXPECT_TRUE(store_->FindImage("r/c:1").ok());  // not repaired without the flag
  report = store_->Check(true);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->repaired.empty());
  EXPECT_TRUE(absl::IsNotFound(store_->FindImage("r/c:1").status()));
  EXPECT_TRUE(store_->ListLayers()->empty());
  EXPECT_TRUE(store_->Check(false)->ok());
}

TEST_F(StoreTest, CheckRepairsLinksAndConfigBlobs) {
  ImageInfo img = AddImage({{File("a", "a")}}, {"r/l:1"});
  auto layer = store_->GetLayer(img.top_layer);
  ASSERT_EQ(unlink((options_.root + "/overlay/l/" + layer->link).c_str()), 0);
  ASSERT_TRUE(WriteFileAtomic(options_.root + "/blobs/sha256/" + img.id.substr(7), "garbage").ok());
  auto report = store_->Check(true);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->problems.size(), 2u);
  EXPECT_EQ(report->repaired.size(), 2u);
  EXPECT_TRUE(store_->Check(false)->ok());
  EXPECT_EQ(*store_->GetBlob(img.id), img.config);
}

TEST_F(StoreTest, UsageCountsLayersAndBlobs) {
  auto empty = store_->ImageStoreUsage();
  ASSERT_TRUE(empty.ok());
  ImageInfo img = AddImage({{File("data", std::string(1 << 20, 'd'))}}, {"r/u:1"});
  auto used = store_->ImageStoreUsage();
  ASSERT_TRUE(used.ok());
  EXPECT_GE(used->bytes, empty->bytes + (1 << 20));
  EXPECT_GT(used->inodes, empty->inodes);
  ASSERT_TRUE(store_->RemoveImage(img.id).ok());
  EXPECT_LT(store_->ImageStoreUsage()->bytes, used->bytes - (1 << 19));  // the WAL may grow a little
}

}  // namespace
}  // namespace cricket::storage

namespace cricket::storage::testing {
namespace {

// A tool's Store (shared) beside the daemon's on the same root: what one stores the other lists at
// once, a layer one process is applying is applied once (the other waits and leases it), and a
// layer one process has leased is not garbage-collected by the other.
TEST_F(StoreTest, SharedOpenBesideTheDaemonCoordinatesThroughLockFiles) {
  StoreOptions tool_options = options_;
  tool_options.shared = true;
  auto tool = Store::Open(tool_options);
  ASSERT_TRUE(tool.ok()) << tool.status();
  EXPECT_FALSE(Store::Open(options_).ok());  // still one daemon per root

  std::string tar = BuildTar({File("shared", "data")});
  std::string diff = Sha256(tar);
  auto claim = (*tool)->ClaimLayer("", diff);
  ASSERT_TRUE(claim.ok()) << claim.status();
  ASSERT_FALSE(claim->stored());
  std::atomic<bool> daemon_done{false};
  bool daemon_found_stored = false;
  std::thread daemon([&] {
    auto c = store_->ClaimLayer("", diff);  // waits for the tool's claim
    daemon_found_stored = c.ok() && c->stored();
    daemon_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(daemon_done.load());
  StringSource src(tar);
  auto lease = claim->Apply(src);
  ASSERT_TRUE(lease.ok()) << lease.status();
  daemon.join();
  EXPECT_TRUE(daemon_found_stored);

  // Leased by the tool, unused by any image: the daemon's GC keeps it.
  EXPECT_TRUE(store_->GarbageCollect()->empty());
  auto put = (*tool)->PutImage({ConfigFor({diff}), "", {"r/tool:1"}});
  ASSERT_TRUE(put.ok()) << put.status();
  auto found = store_->FindImage("r/tool:1");
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->id, put->id);
  lease = absl::CancelledError("released");  // the image holds the layer now
  EXPECT_TRUE(store_->RemoveImage("r/tool:1").ok());
  EXPECT_TRUE(absl::IsNotFound((*tool)->FindImage("r/tool:1").status()));
  EXPECT_TRUE((*tool)->ListLayers()->empty());
}

}  // namespace
}  // namespace cricket::storage::testing
