#include "server/image_manager.h"

#include <sys/stat.h>

#include <algorithm>

#include "absl/synchronization/notification.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/image/manifest.h"
#include "server/image_lookup.h"

namespace cricket::server {

namespace {

constexpr std::string_view kComponent = "image";

// "path:inode:mtime:size;" of a file, or "path:-;" when absent: enough to notice an edit.
void AppendFileStamp(std::string* out, const std::string& path) {
  struct stat st;
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    StrAppend(out, path, ":-;");
    return;
  }
  StrAppend(out, path, ":", st.st_ino, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ":", st.st_size, ";");
}

// The files a pull policy is built from, stamped.
std::string FilesFingerprint(const ImageSection& image) {
  std::string out;
  AppendFileStamp(&out, image.registries_conf);
  AppendFileStamp(&out, image.registries_conf_dir);
  if (!image.registries_conf_dir.empty()) {
    if (auto entries = ListDir(image.registries_conf_dir); entries.ok()) {
      std::sort(entries->begin(), entries->end());
      for (const std::string& e : *entries) {
        if (e.ends_with(".conf")) AppendFileStamp(&out, JoinPath(image.registries_conf_dir, e));
      }
    }
  }
  AppendFileStamp(&out, image.global_auth_file);
  return out;
}

// [crio.image] bounds on what pulled layers may expand to, the free-space reserve and the failed-layer
// cache (validated with the configuration).
absl::Status SetPullBounds(const ImageSection& image, image::PullPolicy& policy) {
  storage::ApplyLimits& l = policy.limits;
  l.max_layer_size = static_cast<uint64_t>(image.max_layer_size);
  l.max_layer_entries = static_cast<uint64_t>(image.max_layer_entries);
  l.max_layer_sparse_size = static_cast<uint64_t>(image.max_layer_sparse_size);
  l.max_image_size = static_cast<uint64_t>(image.max_image_size);
  l.max_image_entries = static_cast<uint64_t>(image.max_image_entries);
  l.max_image_sparse_size = static_cast<uint64_t>(image.max_image_sparse_size);
  policy.max_layer_expansion_ratio = static_cast<uint64_t>(image.max_layer_expansion_ratio);
  ASSIGN_OR_RETURN(policy.reserve, storage::ParseFreeSpaceReserve(image.min_free_space));
  ASSIGN_OR_RETURN(policy.failed_layer_ttl_ns, ParseDuration(image.failed_layer_cache_duration));
  policy.failed_layer_cache_size = static_cast<size_t>(image.failed_layer_cache_size);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const image::PullPolicy>> BuildPolicy(const Config& config) {
  auto policy = std::make_shared<image::PullPolicy>();
  std::vector<std::string> warnings;
  auto registries =
      image::RegistriesConf::Load(config.image.registries_conf, config.image.registries_conf_dir, &warnings);
  for (const std::string& w : warnings) log::Warn(kComponent, w);
  if (!registries.ok()) return Annotate(registries.status(), "registries.conf");
  policy->registries = *std::move(registries);
  policy->registries.set_insecure_registries(config.image.insecure_registries);
  if (!config.image.global_auth_file.empty()) {
    ASSIGN_OR_RETURN(policy->auth_file, image::AuthFile::Load(config.image.global_auth_file));
  }
  policy->max_parallel_downloads = static_cast<int>(config.image.max_parallel_downloads);
  RETURN_IF_ERROR(SetPullBounds(config.image, *policy));
  return policy;
}

}  // namespace

ImageManager::ImageManager(const ConfigHolder& config, storage::Store& store)
    : config_(config), store_(store) {}

absl::StatusOr<std::shared_ptr<const image::PullPolicy>> ImageManager::Policy() {
  std::shared_ptr<const Config> config = config_.Get();
  std::string fingerprint = FilesFingerprint(config->image);
  absl::MutexLock l(&mu_);
  if (settings_.policy != nullptr && settings_.config == config && settings_.fingerprint == fingerprint) {
    return settings_.policy;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const image::PullPolicy> policy, BuildPolicy(*config));
  if (settings_.policy != nullptr) log::Info(kComponent, "registries configuration reloaded");
  settings_ = Settings{config, std::move(fingerprint), policy};
  return policy;
}

std::shared_ptr<const image::PullPolicy> ImageManager::PolicyOrNull() {
  auto policy = Policy();
  if (!policy.ok()) {
    log::Debug(kComponent, "registries configuration unusable for lookups", {{"error", policy.status()}});
    return nullptr;
  }
  return *std::move(policy);
}

std::shared_ptr<image::Puller> ImageManager::PullerFor(const Config& config) {
  absl::MutexLock l(&mu_);
  if (puller_ == nullptr || certs_dirs_ != config.image.certs_dirs) {
    image::HttpTransport::Options options;
    options.certs_dirs = config.image.certs_dirs;
    auto pool = std::make_shared<image::RegistryClientPool>(std::make_shared<image::HttpTransport>(options));
    puller_ = std::make_shared<image::Puller>(store_, std::move(pool));
    certs_dirs_ = config.image.certs_dirs;
  }
  return puller_;
}

std::shared_ptr<image::policy::PolicyLoader> ImageManager::PolicyLoaderFor(const Config& config) {
  const ImageSection& img = config.image;
  std::string key = StrCat(img.signature_policy, "\n", img.signature_policy_dir, "\n", img.registries_d, "\n",
                           Join(img.certs_dirs, ","));
  absl::MutexLock l(&mu_);
  if (policy_loader_ == nullptr || policy_key_ != key) {
    image::HttpTransport::Options http;
    http.certs_dirs = img.certs_dirs;
    image::policy::PolicyLoader::Options options;
    options.policy_path = img.signature_policy;
    options.policy_dir = img.signature_policy_dir;
    options.registries_d = img.registries_d;
    policy_loader_ = std::make_shared<image::policy::PolicyLoader>(
        std::move(options), std::make_shared<image::HttpTransport>(http));
    policy_key_ = key;
  }
  return policy_loader_;
}

struct ImageManager::InFlight {
  absl::Notification done;
  absl::StatusOr<image::PullResult> result = absl::UnknownError("pull in progress");
};

absl::StatusOr<image::PullResult> ImageManager::Pull(const std::string& image,
                                                     const image::AuthConfig* credentials,
                                                     const image::CallContext& ctx,
                                                     const std::string& pod_namespace) {
  if (image.empty()) return absl::InvalidArgumentError("no image to pull");
  std::string key = StrCat(image, std::string_view("\0", 1), pod_namespace);
  if (credentials != nullptr) {
    for (const std::string* f :
         {&credentials->username, &credentials->password, &credentials->auth, &credentials->server_address,
          &credentials->identity_token, &credentials->registry_token}) {
      StrAppend(&key, std::string_view("\0", 1), *f);
    }
  }
  for (;;) {
    std::shared_ptr<InFlight> pull;
    bool first = false;
    {
      absl::MutexLock l(&inflight_mu_);
      std::shared_ptr<InFlight>& slot = inflight_[key];
      if (slot == nullptr) {
        slot = std::make_shared<InFlight>();
        first = true;
      }
      pull = slot;
    }
    if (first) {
      absl::StatusOr<image::PullResult> result = PullOnce(image, credentials, ctx, pod_namespace);
      pull->result = result;
      {
        absl::MutexLock l(&inflight_mu_);
        inflight_.erase(key);
      }
      pull->done.Notify();
      return result;
    }
    log::Debug(kComponent, "joining a pull in progress", {{"image", image}});
    while (!pull->done.WaitForNotificationWithTimeout(absl::Milliseconds(50))) RETURN_IF_ERROR(ctx.Check());
    const absl::Status& st = pull->result.status();
    // The first caller gave up (its client went away or its deadline passed): not a failure of ours.
    if ((absl::IsCancelled(st) || absl::IsDeadlineExceeded(st)) && ctx.Check().ok()) continue;
    if (!pull->result.ok()) return st;
    image::PullResult shared = *pull->result;
    shared.layers_reused += shared.layers_fetched;
    shared.layers_fetched = 0;
    shared.bytes_fetched = 0;
    return shared;
  }
}

absl::StatusOr<image::PullResult> ImageManager::PullOnce(const std::string& image,
                                                         const image::AuthConfig* credentials,
                                                         const image::CallContext& ctx,
                                                         const std::string& pod_namespace) {
  ASSIGN_OR_RETURN(std::shared_ptr<const image::PullPolicy> base, Policy());
  std::shared_ptr<const Config> config = config_.Get();
  // The signature policy is resolved per pull: it depends on the pod's namespace, and its files are
  // re-read when they change. An unusable policy refuses the pull before anything is fetched.
  ASSIGN_OR_RETURN(std::shared_ptr<const image::policy::SignaturePolicy> signatures,
                   PolicyLoaderFor(*config)->Get(pod_namespace));
  image::PullPolicy policy = *base;
  policy.verify = [signatures](const image::ResolvedPull& pull, const image::CallContext& call) {
    return signatures->Check(signatures->ForDockerPull(pull), call);
  };
  std::shared_ptr<image::Puller> puller = PullerFor(*config);
  return puller->Pull(policy, image, credentials, ctx);
}

absl::StatusOr<storage::ImageInfo> ImageManager::Find(const std::string& image) {
  std::shared_ptr<const image::PullPolicy> policy = PolicyOrNull();
  return LookupImage(store_, image, policy ? &policy->registries : nullptr);
}

absl::Status ImageManager::Remove(const std::string& image) {
  auto found = Find(image);
  if (absl::IsNotFound(found.status())) return absl::OkStatus();  // RemoveImage is idempotent
  if (!found.ok()) return found.status();
  auto removed = store_.RemoveImage(found->id);
  if (absl::IsNotFound(removed.status())) return absl::OkStatus();  // removed meanwhile
  if (!removed.ok()) return removed.status();
  log::Info(kComponent, "image removed",
            {{"image", image}, {"id", found->id}, {"freed_layers", removed->freed_layers.size()}});
  return absl::OkStatus();
}

ImageUser ParseImageUser(std::string_view user) {
  ImageUser out;
  std::string_view name = user.substr(0, user.find(':'));
  if (name.empty()) return out;
  if (std::optional<int64_t> uid = ParseInt64(name); uid && *uid >= 0) {
    out.uid = *uid;
  } else {
    out.username = std::string(name);
  }
  return out;
}

bool MatchesPinnedPattern(const std::vector<std::string>& patterns, const std::string& name) {
  for (const std::string& p : patterns) {
    if (p.size() >= 2 && p.front() == '*' && p.back() == '*') {
      if (name.find(std::string_view(p).substr(1, p.size() - 2)) != std::string::npos) return true;
    } else if (!p.empty() && p.back() == '*') {
      if (name.starts_with(std::string_view(p).substr(0, p.size() - 1))) return true;
    } else if (p == name) {
      return true;
    }
  }
  return false;
}

::runtime::v1::Image ImageManager::ToCri(const storage::ImageInfo& info) const {
  ::runtime::v1::Image out;
  out.set_id(info.id);
  for (const std::string& t : info.repo_tags) out.add_repo_tags(t);
  for (const std::string& d : info.repo_digests) out.add_repo_digests(d);
  out.set_size(info.size);
  out.mutable_spec()->set_image(info.id);
  if (auto config = image::ParseImageConfig(info.config); config.ok()) {
    ImageUser user = ParseImageUser(config->user);
    if (user.uid) out.mutable_uid()->set_value(*user.uid);
    out.set_username(user.username);
  } else {
    log::Warn(kComponent, "stored image config does not parse",
              {{"id", info.id}, {"error", config.status()}});
  }
  std::shared_ptr<const Config> cfg = config_.Get();
  const std::vector<std::string>& pinned = cfg->image.pinned_images;
  bool is_pinned = MatchesPinnedPattern(pinned, info.id);
  for (const std::string& n : info.repo_tags) is_pinned = is_pinned || MatchesPinnedPattern(pinned, n);
  for (const std::string& n : info.repo_digests) is_pinned = is_pinned || MatchesPinnedPattern(pinned, n);
  out.set_pinned(is_pinned);
  return out;
}

std::map<std::string, std::string> ImageManager::VerboseInfo(const storage::ImageInfo& info) {
  nlohmann::json j;
  auto config = ParseJson(info.config, StrCat("config of image ", info.id));
  j["imageSpec"] = config.ok() ? *std::move(config) : nlohmann::json(info.config);
  j["manifestDigest"] = info.manifest_digest;
  j["chainIDs"] = info.layers;
  j["diffIDs"] = info.diff_ids;
  j["storedAt"] = info.created;
  return {{"info", j.dump()}};
}

}  // namespace cricket::server
