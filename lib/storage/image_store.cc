// Images: PutImage, lookups, names, removal, blobs. Part of Store (store.h).
#include <sys/stat.h>

#include <cctype>

#include "lib/common/digest.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/storage/metadata_db.h"
#include "lib/storage/store.h"

namespace cricket::storage {
namespace {

constexpr std::string_view kComponent = "storage";

// The layers an image config names: rootfs.diff_ids (image-spec config.md), base first.
absl::StatusOr<std::vector<std::string>> DiffIdsOf(const std::string& config) {
  ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(config, "image config"));
  if (!j.is_object()) return absl::InvalidArgumentError("image config: not a JSON object");
  auto rootfs = j.find("rootfs");
  if (rootfs == j.end() || !rootfs->is_object()) return absl::InvalidArgumentError("image config: no rootfs");
  auto type = rootfs->find("type");
  if (type != rootfs->end() && (!type->is_string() || type->get<std::string>() != "layers")) {
    return absl::InvalidArgumentError("image config: rootfs.type is not \"layers\"");
  }
  auto ids = rootfs->find("diff_ids");
  if (ids == rootfs->end()) return std::vector<std::string>();
  if (!ids->is_array()) return absl::InvalidArgumentError("image config: rootfs.diff_ids is not an array");
  std::vector<std::string> out;
  for (const auto& v : *ids) {
    if (!v.is_string()) return absl::InvalidArgumentError("image config: rootfs.diff_ids has a non-string");
    std::string id = v.get<std::string>();
    absl::StatusOr<Digest> d = Digest::Parse(id);
    if (!d.ok() || d->algorithm() != "sha256") {
      return absl::InvalidArgumentError(
          StrCat("image config: rootfs.diff_ids entry \"", id, "\" is not a sha256 digest"));
    }
    out.push_back(std::move(id));
  }
  return out;
}

// "tag" for "repo:tag", "digest" for "repo@sha256:…".
absl::StatusOr<std::string> NameKind(std::string_view name) {
  if (name.empty() || name.size() > 4096)
    return absl::InvalidArgumentError("image name is empty or too long");
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f) {
      return absl::InvalidArgumentError(
          StrCat("image name \"", name, "\" contains a space or control character"));
    }
  }
  size_t at = name.find('@');
  if (at != std::string_view::npos) {
    if (at == 0 || !Digest::Parse(name.substr(at + 1)).ok()) {
      return absl::InvalidArgumentError(StrCat("image name \"", name, "\": invalid repository digest"));
    }
    return std::string("digest");
  }
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon == std::string_view::npos || (slash != std::string_view::npos && colon < slash) || colon == 0 ||
      colon + 1 == name.size()) {
    return absl::InvalidArgumentError(StrCat("image name \"", name, "\" has neither a tag nor a digest"));
  }
  return std::string("tag");
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!std::isxdigit(static_cast<unsigned char>(c)) || std::isupper(static_cast<unsigned char>(c)))
      return false;
  }
  return !s.empty();
}

}  // namespace

absl::Status Store::WriteBlobLocked(const std::string& data) {
  std::string path = BlobPath(Digest::Sha256Of(data).ToString());
  if (PathExists(path)) return absl::OkStatus();  // content-addressed: same name, same bytes
  return WriteFileAtomic(path, data, 0600);
}

absl::Status Store::PutNameLocked(const std::string& id, const std::string& name) {
  ASSIGN_OR_RETURN(std::string kind, NameKind(name));
  ASSIGN_OR_RETURN(Statement q,
                   db_->Prepare("INSERT INTO names(name, kind, image_id, added) VALUES(?, ?, ?, ?)"
                                " ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id,"
                                " kind = excluded.kind, added = excluded.added"));
  return q.Bind(1, name).Bind(2, kind).Bind(3, id).Bind(4, RealtimeNow()).Run();
}

absl::StatusOr<ImageInfo> Store::PutImage(const NewImage& image) {
  ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, DiffIdsOf(image.config));
  for (const std::string& n : image.names) RETURN_IF_ERROR(NameKind(n).status());
  std::vector<std::string> chain;
  for (const std::string& d : diff_ids) chain.push_back(ChainId(chain.empty() ? "" : chain.back(), d));
  std::string id = Digest::Sha256Of(image.config).ToString();
  std::string manifest_digest = image.manifest.empty() ? "" : Digest::Sha256Of(image.manifest).ToString();

  absl::MutexLock l(&mu_);
  // Blobs are written inside the transaction (see RemoveUnreferencedBlobsLocked); a crash before the
  // commit leaves unreferenced blob files, removed at the next open.
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  RETURN_IF_ERROR(WriteBlobLocked(image.config));
  if (!image.manifest.empty()) RETURN_IF_ERROR(WriteBlobLocked(image.manifest));
  int64_t layer_bytes = 0;
  for (size_t i = 0; i < chain.size(); ++i) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT tar_size FROM layers WHERE chain_id = ?"));
    ASSIGN_OR_RETURN(bool row, q.Bind(1, chain[i]).Step());
    if (!row) {
      return absl::NotFoundError(StrCat("image ", id, ": layer ", i, " (diff_id ", diff_ids[i], ", chain id ",
                                        chain[i], ") is not stored"));
    }
    layer_bytes += q.Int(0);
  }
  ASSIGN_OR_RETURN(Statement exists, db_->Prepare("SELECT 1 FROM images WHERE id = ?"));
  ASSIGN_OR_RETURN(bool found, exists.Bind(1, id).Step());
  if (!found) {
    ASSIGN_OR_RETURN(Statement ins,
                     db_->Prepare("INSERT INTO images(id, config, manifest_digest, size, created)"
                                  " VALUES(?, ?, ?, ?, ?)"));
    int64_t size = layer_bytes + static_cast<int64_t>(image.config.size() + image.manifest.size());
    RETURN_IF_ERROR(ins.Bind(1, id)
                        .BindBlob(2, image.config)
                        .Bind(3, manifest_digest)
                        .Bind(4, size)
                        .Bind(5, RealtimeNow())
                        .Run());
    for (size_t i = 0; i < chain.size(); ++i) {
      ASSIGN_OR_RETURN(
          Statement il,
          db_->Prepare("INSERT INTO image_layers(image_id, position, chain_id) VALUES(?, ?, ?)"));
      RETURN_IF_ERROR(il.Bind(1, id).Bind(2, static_cast<int64_t>(i)).Bind(3, chain[i]).Run());
    }
  } else if (!manifest_digest.empty()) {
    ASSIGN_OR_RETURN(
        Statement up,
        db_->Prepare("UPDATE images SET manifest_digest = ? WHERE id = ? AND manifest_digest = ''"));
    RETURN_IF_ERROR(up.Bind(1, manifest_digest).Bind(2, id).Run());
  }
  ASSIGN_OR_RETURN(
      Statement blob,
      db_->Prepare("INSERT OR IGNORE INTO blobs(image_id, digest, kind, size) VALUES(?, ?, ?, ?)"));
  RETURN_IF_ERROR(blob.Bind(1, id)
                      .Bind(2, id)
                      .Bind(3, "config")
                      .Bind(4, static_cast<int64_t>(image.config.size()))
                      .Run());
  if (!manifest_digest.empty()) {
    ASSIGN_OR_RETURN(
        Statement mb,
        db_->Prepare("INSERT OR IGNORE INTO blobs(image_id, digest, kind, size) VALUES(?, ?, ?, ?)"));
    RETURN_IF_ERROR(mb.Bind(1, id)
                        .Bind(2, manifest_digest)
                        .Bind(3, "manifest")
                        .Bind(4, static_cast<int64_t>(image.manifest.size()))
                        .Run());
  }
  for (const std::string& n : image.names) RETURN_IF_ERROR(PutNameLocked(id, n));
  RETURN_IF_ERROR(tx->Commit());
  log::Info(kComponent, "image stored", {{"id", id}, {"layers", static_cast<int64_t>(chain.size())}});
  ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(id));
  if (!info) return absl::InternalError(StrCat("image ", id, " vanished after its commit"));
  return *info;
}

absl::StatusOr<std::optional<ImageInfo>> Store::LoadImageLocked(std::string_view id) {
  ASSIGN_OR_RETURN(
      Statement q,
      db_->Prepare("SELECT id, config, manifest_digest, size, created FROM images WHERE id = ?"));
  ASSIGN_OR_RETURN(bool row, q.Bind(1, id).Step());
  if (!row) return std::optional<ImageInfo>();
  ImageInfo info;
  info.id = q.Text(0);
  info.config = q.Text(1);
  info.manifest_digest = q.Text(2);
  info.size = static_cast<uint64_t>(q.Int(3));
  info.created = q.Int(4);
  ASSIGN_OR_RETURN(Statement n,
                   db_->Prepare("SELECT name, kind FROM names WHERE image_id = ? ORDER BY added, name"));
  n.Bind(1, id);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, n.Step());
    if (!more) break;
    (n.Text(1) == "tag" ? info.repo_tags : info.repo_digests).push_back(n.Text(0));
  }
  ASSIGN_OR_RETURN(Statement ls,
                   db_->Prepare("SELECT il.chain_id, l.diff_id FROM image_layers il JOIN layers l"
                                " ON l.chain_id = il.chain_id WHERE il.image_id = ? ORDER BY il.position"));
  ls.Bind(1, id);
  for (;;) {
    ASSIGN_OR_RETURN(bool more, ls.Step());
    if (!more) break;
    info.layers.push_back(ls.Text(0));
    info.diff_ids.push_back(ls.Text(1));
  }
  if (!info.layers.empty()) info.top_layer = info.layers.back();
  return std::optional<ImageInfo>(std::move(info));
}

absl::StatusOr<std::string> Store::ResolveImageLocked(std::string_view name_or_id, bool* by_name) {
  *by_name = false;
  if (name_or_id.empty()) return absl::InvalidArgumentError("empty image name or id");
  std::string_view hex = name_or_id.starts_with("sha256:") ? name_or_id.substr(7) : name_or_id;
  if (IsHex(hex) && hex.size() == 64) {
    std::string id = StrCat("sha256:", hex);
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT 1 FROM images WHERE id = ?"));
    ASSIGN_OR_RETURN(bool row, q.Bind(1, id).Step());
    if (row) return id;
  }
  {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT image_id FROM names WHERE name = ?"));
    ASSIGN_OR_RETURN(bool row, q.Bind(1, name_or_id).Step());
    if (row) {
      *by_name = true;
      return q.Text(0);
    }
  }
  if (IsHex(hex) && hex.size() >= 3 && hex.size() < 64) {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT id FROM images WHERE substr(id, 1, ?) = ? LIMIT 2"));
    std::string prefix = StrCat("sha256:", hex);
    q.Bind(1, static_cast<int64_t>(prefix.size())).Bind(2, prefix);
    ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) {
      std::string id = q.Text(0);
      ASSIGN_OR_RETURN(bool second, q.Step());
      if (second)
        return absl::InvalidArgumentError(StrCat("image id prefix \"", name_or_id, "\" is ambiguous"));
      return id;
    }
  }
  return absl::NotFoundError(StrCat("image \"", name_or_id, "\" not found"));
}

absl::StatusOr<ImageInfo> Store::GetImage(std::string_view id) {
  std::string full = id.starts_with("sha256:") ? std::string(id) : StrCat("sha256:", id);
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(full));
  if (!info) return absl::NotFoundError(StrCat("image ", id, " not found"));
  return *info;
}

absl::StatusOr<ImageInfo> Store::FindImage(std::string_view name_or_id) {
  absl::MutexLock l(&mu_);
  bool by_name;
  ASSIGN_OR_RETURN(std::string id, ResolveImageLocked(name_or_id, &by_name));
  ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(id));
  if (!info) return absl::NotFoundError(StrCat("image \"", name_or_id, "\" not found"));
  return *info;
}

absl::StatusOr<std::vector<ImageInfo>> Store::ListImages() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> ids;
  {
    ASSIGN_OR_RETURN(Statement q, db_->Prepare("SELECT id FROM images ORDER BY created, id"));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.Text(0));
    }
  }
  std::vector<ImageInfo> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(id));
    if (info) out.push_back(std::move(*info));
  }
  return out;
}

absl::Status Store::TagImage(std::string_view id, std::string_view name) {
  RETURN_IF_ERROR(NameKind(name).status());
  std::string full = id.starts_with("sha256:") ? std::string(id) : StrCat("sha256:", id);
  absl::MutexLock l(&mu_);
  ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(full));
  if (!info) return absl::NotFoundError(StrCat("image ", id, " not found"));
  ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
  RETURN_IF_ERROR(PutNameLocked(full, std::string(name)));
  return tx->Commit();
}

absl::StatusOr<RemoveImageResult> Store::RemoveImage(std::string_view name_or_id) {
  RemoveImageResult result;
  std::vector<std::string> trash;
  {
    absl::MutexLock l(&mu_);
    bool by_name;
    ASSIGN_OR_RETURN(result.image_id, ResolveImageLocked(name_or_id, &by_name));
    ASSIGN_OR_RETURN(std::optional<ImageInfo> info, LoadImageLocked(result.image_id));
    if (!info) return absl::NotFoundError(StrCat("image \"", name_or_id, "\" not found"));
    if (by_name && info->repo_tags.size() + info->repo_digests.size() > 1) {
      ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
      ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM names WHERE name = ?"));
      RETURN_IF_ERROR(del.Bind(1, name_or_id).Run());
      RETURN_IF_ERROR(tx->Commit());
      result.removed_name = std::string(name_or_id);
      return result;
    }
    ASSIGN_OR_RETURN(std::vector<std::string> containers, ImageUsersLocked(result.image_id, 5));
    if (!containers.empty()) {
      return absl::FailedPreconditionError(
          StrCat("image ", result.image_id, " is in use by container ", Join(containers, ", ")));
    }
    ASSIGN_OR_RETURN(auto tx, Transaction::Begin(*db_));
    ASSIGN_OR_RETURN(Statement del, db_->Prepare("DELETE FROM images WHERE id = ?"));
    RETURN_IF_ERROR(del.Bind(1, result.image_id).Run());
    ASSIGN_OR_RETURN(LayerFiles freed, DeleteUnusedLayersLocked(info->layers));
    RETURN_IF_ERROR(tx->Commit());
    result.image_deleted = true;
    DiscardLayerFilesLocked(freed, &trash);
    for (auto& [chain, link] : freed) result.freed_layers.push_back(chain);
    absl::Status s = RemoveUnreferencedBlobsLocked();
    if (!s.ok()) log::Warn(kComponent, "cannot remove blobs; removed at the next open", {{"error", s}});
    log::Info(kComponent, "image deleted",
              {{"id", result.image_id}, {"freed_layers", static_cast<int64_t>(freed.size())}});
  }
  EmptyTrash(trash);
  return result;
}

absl::StatusOr<std::string> Store::GetBlob(std::string_view digest) {
  absl::StatusOr<Digest> d = Digest::Parse(digest);
  if (!d.ok() || d->algorithm() != "sha256") {
    return absl::InvalidArgumentError(StrCat("blob digest \"", digest, "\" is not a sha256 digest"));
  }
  ASSIGN_OR_RETURN(std::string data, ReadFile(BlobPath(digest)));
  if (Digest::Sha256Of(data) != *d) return absl::DataLossError(StrCat("blob ", digest, " is damaged"));
  return data;
}

}  // namespace cricket::storage
