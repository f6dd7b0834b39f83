// Store::Check: verification of the database, layers (by their content manifests), links and blobs,
// and the optional repair. Part of Store (store.h).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "absl/container/flat_hash_set.h"
#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"
#include "lib/storage/layer_manifest.h"
#include "lib/storage/metadata_db.h"
#include "lib/storage/store.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kComponent = "storage";

std::string HexOf(std::string_view digest) {
  auto colon = digest.find(':');
  return std::string(colon == std::string_view::npos ? digest : digest.substr(colon + 1));
}

struct LayerRow {
  LayerInfo info;
  std::string manifest_digest;
};

}  // namespace

// Verifies one layer against its content manifest; the layer is immutable, so this runs unlocked.
void Store::CheckLayer(const LayerInfo& layer, const std::string& manifest_digest, CheckReport* report) {
  auto damaged = [&](std::string what) {
    report->problems.push_back(StrCat("layer ", layer.chain_id, ": ", what));
    if (report->damaged_layers.empty() || report->damaged_layers.back() != layer.chain_id) {
      report->damaged_layers.push_back(layer.chain_id);
    }
  };
  std::string dir = LayerDir(layer.chain_id);
  absl::StatusOr<std::string> text = ReadFile(StrCat(dir, "/content-manifest"));
  if (!text.ok()) return damaged(StrCat("content manifest unreadable: ", ToStd(text.status().message())));
  if (Digest::Sha256Of(*text).ToString() != manifest_digest) return damaged("content manifest changed");
  absl::StatusOr<LayerManifest> manifest = ParseManifest(*text);
  if (!manifest.ok()) return damaged(std::string(ToStd(manifest.status().message())));
  UniqueFd root(::open(layer.diff_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root)
    return damaged(StrCat("diff directory ", layer.diff_dir, " cannot be opened: ", ErrnoName(errno)));
  absl::StatusOr<std::vector<std::string>> problems = VerifyTree(root.get(), *manifest);
  if (!problems.ok()) return damaged(std::string(ToStd(problems.status().message())));
  for (const std::string& p : *problems) damaged(p);
}

void Store::CheckBlobsLocked(bool repair, CheckReport* report) {
  absl::StatusOr<Statement> q = db_->Prepare(
      "SELECT b.image_id, b.digest, b.kind, i.config FROM blobs b JOIN images i ON i.id = b.image_id");
  if (!q.ok()) {
    report->problems.push_back(StrCat("database: ", ToStd(q.status().message())));
    return;
  }
  struct Bad {
    std::string image, digest, kind, config;
  };
  std::vector<Bad> bad;
  for (;;) {
    absl::StatusOr<bool> row = q->Step();
    if (!row.ok() || !*row) break;
    std::string image = q->Text(0), digest = q->Text(1), kind = q->Text(2);
    if (kind == "config" && Digest::Sha256Of(q->Text(3)).ToString() != image) {
      report->problems.push_back(StrCat("image ", image, ": recorded config does not match the image id"));
      report->damaged_images.push_back(image);
      continue;
    }
    absl::StatusOr<std::string> data = ReadFile(BlobPath(digest));
    if (data.ok() && Digest::Sha256Of(*data).ToString() == digest) continue;
    report->problems.push_back(StrCat("blob ", digest, " (", kind, " of image ", image,
                                      "): ", data.ok() ? "content does not match its digest" : "missing"));
    bad.push_back({image, digest, kind, q->Text(3)});
  }
  if (!repair) return;
  for (const Bad& b : bad) {
    if (b.kind == "config") {
      absl::Status s = WriteFileAtomic(BlobPath(b.digest), b.config, 0600);
      report->repaired.push_back(s.ok()
                                     ? StrCat("rewrote config blob ", b.digest, " from the database")
                                     : StrCat("cannot rewrite config blob ", b.digest, ": ", s.ToString()));
    } else {
      // A manifest is informational once the image is stored; it cannot be fetched again from here.
      (void)::unlink(BlobPath(b.digest).c_str());
      absl::StatusOr<Statement> del = db_->Prepare("DELETE FROM blobs WHERE digest = ?");
      if (del.ok() && del->Bind(1, b.digest).Run().ok()) {
        report->repaired.push_back(StrCat("dropped damaged manifest blob ", b.digest));
      }
    }
  }
}

// Deletes the images that use a damaged layer (unless a container uses them), then the damaged and
// now unused layers.
absl::Status Store::RepairLayersLocked(CheckReport* report, std::vector<std::string>* trash) {
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  std::vector<std::string> candidates = report->damaged_layers;
  for (const std::string& image : report->damaged_images) {
    ASSIGN_OR_RETURN(std::vector<std::string> users, ImageUsersLocked(image, 1));
    if (!users.empty()) {
      report->repaired.push_back(
          StrCat("image ", image, " is damaged but in use by container ", users[0], "; not removed"));
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(image));
    if (!info) continue;
    candidates.insert(candidates.end(), info->layers.begin(), info->layers.end());
    ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM images WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, image).Run());
    report->repaired.push_back(StrCat("removed damaged image ", image));
  }
  ASSIGN_OR_RETURN(LayerFiles freed, DeleteUnusedLayersLocked(candidates));
  RETURN_IF_ERROR(tx->Commit());
  DiscardLayerFilesLocked(freed, trash);
  for (const auto& [chain, link] : freed) report->repaired.push_back(StrCat("removed layer ", chain));
  return RemoveUnreferencedBlobsLocked();
}

absl::StatusOr<CheckReport> Store::Check(bool repair) {
  CheckReport report;
  std::vector<LayerRow> layers;
  {
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(Statement qc, db_->Prepare("PRAGMA quick_check"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, qc.Step());
      if (!row) break;
      if (qc.Text(0) != "ok") report.problems.push_back(StrCat("database: ", qc.Text(0)));
    }
    ASSIGN_OR_RETURN(Statement q,
                     db_->Prepare("SELECT chain_id, content_manifest, link FROM layers ORDER BY chain_id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ASSIGN_OR_RETURN(std::optional<LayerInfo> info, LoadLayerLocked(q.Text(0)));
      if (info) layers.push_back({std::move(*info), q.Text(1)});
    }
  }
  for (const LayerRow& row : layers) CheckLayer(row.info, row.manifest_digest, &report);
  std::vector<std::string> trash;
  {
    absl::MutexLock l(&mu_);
    for (const LayerRow& row : layers) {
      std::string link = Path(StrCat("overlay/l/", row.info.link));
      std::string want = StrCat("../", HexOf(row.info.chain_id), "/diff");
      char buf[PATH_MAX] = {};
      ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
      if (n >= 0 && std::string_view(buf, static_cast<size_t>(n)) == want) continue;
      report.problems.push_back(StrCat("layer ", row.info.chain_id, ": link ", link, " is missing or wrong"));
      if (!repair) continue;
      ::unlink(link.c_str());
      if (::symlink(want.c_str(), link.c_str()) == 0)
        report.repaired.push_back(StrCat("recreated link ", link));
    }
    CheckBlobsLocked(repair, &report);
    absl::flat_hash_set<std::string> images(report.damaged_images.begin(), report.damaged_images.end());
    for (const std::string& chain : report.damaged_layers) {
      ASSIGN_OR_RETURN(Statement q,
                       db_->Prepare("SELECT DISTINCT image_id FROM image_layers WHERE chain_id = ?"));
      q.Bind(1, chain);
      for (;;) {
        ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        images.insert(q.Text(0));
      }
    }
    report.damaged_images.assign(images.begin(), images.end());
    std::sort(report.damaged_images.begin(), report.damaged_images.end());
    if (repair && (!report.damaged_layers.empty() || !report.damaged_images.empty())) {
      RETURN_IF_ERROR(RepairLayersLocked(&report, &trash));
    }
  }
  EmptyTrash(trash);
  for (const std::string& p : report.problems) log::Warn(kComponent, "check", {{"problem", p}});
  return report;
}

}  // namespace cricket::storage
