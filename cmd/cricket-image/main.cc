// cricket-image: a daemonless image tool in the spirit of skopeo, over lib/image and lib/storage. It
// reads cricketd's configuration (/etc/cricket/cricket.conf and its drop-ins) for the same
// registries.conf, auth file, certs.d directories, signature policy and registries.d, and writes the
// node's store (cricket:) with the store's file locks, beside a running cricketd.
//
//   cricket-image [--config F] [--config-dir D] [--root DIR] COMMAND ...
//   inspect [--raw] [--config] [--format json] LOCATION
//   copy [--all] [--quiet] [--format json] SRC DST
//   sync --src docker|yaml --dest docker|dir [--all] SOURCE DESTINATION
//   delete docker://REF | cricket:NAME
//   list-tags [--format json] docker://REPO
//   login [--authfile F] -u USER (-p PASS | --password-stdin) REGISTRY
//   logout [--authfile F] (REGISTRY | --all)
// Common: --tls-verify=false (also --src-tls-verify, --dest-tls-verify), --creds USER:PASS
// (--src-creds, --dest-creds), --authfile F, --policy F, --insecure-policy, --registries.d DIR.
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>

#include "absl/strings/escaping.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/image/copy/copier.h"
#include "lib/image/policy/signature_policy.h"
#include "lib/storage/store.h"
#include "server/config.h"

namespace cricket {
namespace {

using image::copy::Environment;
using image::copy::Location;
using json = nlohmann::json;

std::atomic<bool> g_cancelled{false};

struct Flags {
  std::map<std::string, std::string> values;  // --name=value or --name value
  std::vector<std::string> args;
  bool Has(const std::string& k) const { return values.contains(k); }
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = values.find(k);
    return it == values.end() ? def : it->second;
  }
};

// Flags that take no value.
const std::set<std::string> kBoolFlags = {
    "raw", "config-blob", "all", "quiet", "insecure-policy", "password-stdin", "help"};

absl::StatusOr<Flags> ParseFlags(const std::vector<std::string>& argv) {
  Flags f;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      f.args.insert(f.args.end(), argv.begin() + static_cast<long>(i) + 1, argv.end());
      break;
    }
    if (a.starts_with("--") || (a.size() == 2 && a[0] == '-' && a != "-")) {
      std::string name = a.starts_with("--") ? a.substr(2) : std::string(a.substr(1));
      if (name == "u") name = "username";
      if (name == "p") name = "password";
      size_t eq = name.find('=');
      if (eq != std::string::npos) {
        f.values[name.substr(0, eq)] = name.substr(eq + 1);
      } else if (kBoolFlags.contains(name)) {
        f.values[name] = "true";
      } else {
        if (i + 1 >= argv.size()) return absl::InvalidArgumentError(StrCat("flag ", a, " needs a value"));
        f.values[name] = argv[++i];
      }
    } else {
      f.args.push_back(a);
    }
  }
  return f;
}

absl::StatusOr<std::optional<bool>> TlsVerify(const Flags& f, const std::string& prefix) {
  std::string v = f.Get(prefix + "tls-verify", f.Get("tls-verify"));
  if (v.empty()) return std::optional<bool>();
  if (v != "true" && v != "false")
    return absl::InvalidArgumentError(StrCat("--", prefix, "tls-verify: want true or false"));
  return std::optional<bool>(v == "true");
}

absl::StatusOr<std::optional<image::AuthConfig>> Creds(const Flags& f, const std::string& prefix) {
  std::string v = f.Get(prefix + "creds", f.Get("creds"));
  if (v.empty()) return std::optional<image::AuthConfig>();
  size_t colon = v.find(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(StrCat("--", prefix, "creds: want USER:PASSWORD"));
  }
  image::AuthConfig a;
  a.username = v.substr(0, colon);
  a.password = v.substr(colon + 1);
  return std::optional<image::AuthConfig>(a);
}

// cricketd's configuration, for the paths both share.
absl::StatusOr<server::Config> NodeConfig(const Flags& f) {
  server::ConfigSources sources;
  sources.config_file = f.Get("config", sources.config_file);
  sources.config_file_required = f.Has("config");
  sources.config_dir = f.Get("config-dir", sources.config_dir);
  server::ConfigOverrides overrides;
  overrides.root = f.Get("root");
  std::vector<server::ConfigWarning> warnings;
  return server::LoadConfig(sources, overrides, &warnings);
}

std::string AuthFilePath(const Flags& f, const server::Config& c) {
  if (f.Has("authfile")) return f.Get("authfile");
  if (!c.image.global_auth_file.empty()) return c.image.global_auth_file;
  return "/etc/cricket/auth.json";
}

absl::StatusOr<Environment> MakeEnv(const Flags& f, const server::Config& c, const std::string& prefix) {
  Environment env;
  std::vector<std::string> warnings;
  ASSIGN_OR_RETURN(env.registries, image::RegistriesConf::Load(c.image.registries_conf,
                                                               c.image.registries_conf_dir, &warnings));
  env.registries.set_insecure_registries(c.image.insecure_registries);
  ASSIGN_OR_RETURN(env.auth_file, image::AuthFile::Load(AuthFilePath(f, c)));
  image::HttpTransport::Options http;
  http.certs_dirs = c.image.certs_dirs;
  if (f.Has("cert-dir")) http.certs_dirs.insert(http.certs_dirs.begin(), f.Get("cert-dir"));
  http.user_agent = "cricket-image";
  env.transport = std::make_shared<image::HttpTransport>(http);
  env.store_root = c.ImageStoreDir();
  ASSIGN_OR_RETURN(env.tls_verify, TlsVerify(f, prefix));
  ASSIGN_OR_RETURN(env.credentials, Creds(f, prefix));
  if (!f.Has("insecure-policy")) {
    image::policy::PolicyLoader::Options po;
    po.policy_path = f.Get("policy", c.image.signature_policy);
    po.registries_d = f.Get("registries.d", c.image.registries_d);
    image::policy::PolicyLoader loader(po, env.transport);
    ASSIGN_OR_RETURN(env.policy, loader.Get(""));
  }
  return env;
}

std::string HumanBytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) {
    b /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", b, units[u]);
  return buf;
}

// Per-blob bytes and rates on one redrawn line while a terminal watches; nothing otherwise.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled), start_(MonotonicNow()) {}
  image::copy::ProgressFn Fn() {
    if (!enabled_) return nullptr;
    return [this](const image::copy::BlobProgress& p) { Update(p); };
  }
  void Done() {
    if (enabled_ && drawn_) std::fputs("\n", stderr);
  }

 private:
  void Update(const image::copy::BlobProgress& p) {
    std::lock_guard<std::mutex> l(mu_);
    auto& b = blobs_[p.digest];
    if (b.first == 0) b.first = MonotonicNow();
    b.done = p.done;
    b.total = p.total;
    b.finished = p.finished;
    int64_t now = MonotonicNow();
    if (!p.finished && now - last_ < 200'000'000) return;
    last_ = now;
    std::string line;
    for (auto& [digest, s] : blobs_) {
      double secs = std::max(1e-3, (now - s.first) / 1e9);
      line += StrCat(digest.substr(7, 12), " ", HumanBytes(static_cast<double>(s.done)), "/",
                     HumanBytes(static_cast<double>(s.total)), s.finished ? " done" : "", " ",
                     HumanBytes(s.done / secs), "/s  ");
    }
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    drawn_ = true;
  }
  struct Blob {
    int64_t done = 0, total = 0, first = 0;
    bool finished = false;
  };
  bool enabled_;
  int64_t start_;
  std::mutex mu_;
  std::map<std::string, Blob> blobs_;
  int64_t last_ = 0;
  bool drawn_ = false;
};

void Print(const Flags& f, const json& j, const std::string& text) {
  if (f.Get("format") == "json") {
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << text;
  }
}

absl::Status CmdInspect(const Flags& f, const server::Config& c) {
  if (f.args.size() != 1) return absl::InvalidArgumentError("inspect: want one LOCATION");
  ASSIGN_OR_RETURN(Location loc, image::copy::ParseLocation(f.args[0]));
  ASSIGN_OR_RETURN(Environment env, MakeEnv(f, c, ""));
  bool raw = f.Has("raw");
  ASSIGN_OR_RETURN(image::copy::Inspected in, image::copy::Inspect(loc, env, !raw && !f.Has("config-blob")));
  if (raw) {
    std::cout << in.raw_manifest;
    return absl::OkStatus();
  }
  if (f.Has("config-blob")) {
    std::cout << in.config << "\n";
    return absl::OkStatus();
  }
  json out;
  out["Name"] = loc.kind == Location::Kind::kDocker ? loc.docker->Name() : loc.ToString();
  out["Digest"] = in.digest.ToString();
  out["RepoTags"] = in.tags;
  out["MediaType"] = in.raw_media_type;
  auto config = ParseJson(in.config, "config");
  if (config.ok() && config->is_object()) {
    out["Created"] = config->value("created", "");
    out["Architecture"] = config->value("architecture", "");
    out["Os"] = config->value("os", "");
    if (config->contains("config") && (*config)["config"].is_object()) {
      const json& cc = (*config)["config"];
      out["Labels"] = cc.contains("Labels") ? cc["Labels"] : json(nullptr);
      out["Env"] = cc.contains("Env") ? cc["Env"] : json::array();
    }
  }
  json layers = json::array();
  if (in.manifest) {
    for (const image::Descriptor& d : in.manifest->layers) {
      layers.push_back({{"Digest", d.digest.ToString()}, {"Size", d.size}, {"MIMEType", d.media_type}});
    }
  }
  out["LayersData"] = layers;
  std::cout << out.dump(4) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<image::copy::CopyResult> DoCopy(const Flags& f, const server::Config& c, const Location& src,
                                               const Location& dst) {
  ASSIGN_OR_RETURN(Environment src_env, MakeEnv(f, c, "src-"));
  ASSIGN_OR_RETURN(Environment dst_env, MakeEnv(f, c, "dest-"));
  image::copy::CopyOptions options;
  options.all = f.Has("all");
  options.cancelled = &g_cancelled;
  Progress progress(!f.Has("quiet") && f.Get("format") != "json" && ::isatty(STDERR_FILENO));
  options.progress = progress.Fn();
  auto r = image::copy::Copy(src, src_env, dst, dst_env, options);
  progress.Done();
  return r;
}

json ResultJson(const Location& src, const Location& dst, const image::copy::CopyResult& r, int64_t ms) {
  json j = {{"source", src.ToString()},
            {"destination", dst.ToString()},
            {"digest", r.manifest_digest},
            {"mediaType", r.media_type},
            {"blobsCopied", r.blobs_copied},
            {"blobsSkipped", r.blobs_skipped},
            {"bytes", r.bytes},
            {"milliseconds", ms}};
  if (!r.stored_id.empty()) j["imageId"] = r.stored_id;
  return j;
}

absl::Status CmdCopy(const Flags& f, const server::Config& c) {
  if (f.args.size() != 2) return absl::InvalidArgumentError("copy: want SRC and DST");
  ASSIGN_OR_RETURN(Location src, image::copy::ParseLocation(f.args[0]));
  ASSIGN_OR_RETURN(Location dst, image::copy::ParseLocation(f.args[1]));
  int64_t start = MonotonicNow();
  ASSIGN_OR_RETURN(image::copy::CopyResult r, DoCopy(f, c, src, dst));
  int64_t ms = (MonotonicNow() - start) / 1'000'000;
  Print(f, ResultJson(src, dst, r, ms),
        f.Has("quiet") ? ""
                       : StrCat("Copied ", src.ToString(), " to ", dst.ToString(), ": ", r.manifest_digest,
                                " (", r.blobs_copied, " blobs, ", HumanBytes(static_cast<double>(r.bytes)),
                                ", ", r.blobs_skipped, " already present)\n"));
  return absl::OkStatus();
}

// skopeo sync's YAML: REGISTRY: {images: {REPO: [TAGS] (empty: all)}, tls-verify, credentials}.
absl::Status CmdSync(const Flags& f, const server::Config& c) {
  if (f.args.size() != 2) return absl::InvalidArgumentError("sync: want SOURCE and DESTINATION");
  std::string src_kind = f.Get("src"), dst_kind = f.Get("dest");
  if (dst_kind != "docker" && dst_kind != "dir")
    return absl::InvalidArgumentError("sync: --dest must be docker or dir");
  struct Item {
    std::string registry, repo;
    std::vector<std::string> tags;
    std::optional<bool> tls_verify;
    std::optional<image::AuthConfig> creds;
  };
  std::vector<Item> items;
  if (src_kind == "yaml") {
    YAML::Node root;
    try {
      root = YAML::LoadFile(f.args[0]);
      if (!root.IsMap())
        return absl::InvalidArgumentError(StrCat(f.args[0], ": the top level must map registries"));
      for (const auto& reg : root) {
        std::string registry = reg.first.as<std::string>();
        const YAML::Node& spec = reg.second;
        std::optional<bool> tls;
        if (spec["tls-verify"]) tls = spec["tls-verify"].as<bool>();
        std::optional<image::AuthConfig> creds;
        if (spec["credentials"]) {
          image::AuthConfig a;
          a.username = spec["credentials"]["username"].as<std::string>("");
          a.password = spec["credentials"]["password"].as<std::string>("");
          creds = a;
        }
        for (const auto& kv : spec) {
          std::string key = kv.first.as<std::string>();
          if (key != "images" && key != "tls-verify" && key != "credentials") {
            return absl::InvalidArgumentError(
                StrCat(f.args[0], ": ", registry, ".", key, ": unsupported key"));
          }
        }
        if (!spec["images"] || !spec["images"].IsMap())
          return absl::InvalidArgumentError(StrCat(f.args[0], ": ", registry, ": no images mapping"));
        for (const auto& img : spec["images"]) {
          Item it{registry, img.first.as<std::string>(), {}, tls, creds};
          if (img.second.IsSequence()) {
            for (const auto& t : img.second) it.tags.push_back(t.as<std::string>());
          } else if (!img.second.IsNull()) {
            return absl::InvalidArgumentError(
                StrCat(f.args[0], ": ", registry, ".images.", it.repo, ": want a list of tags"));
          }
          items.push_back(std::move(it));
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(StrCat(f.args[0], ": ", e.what()));
    }
  } else if (src_kind == "docker") {
    ASSIGN_OR_RETURN(Location loc, image::copy::ParseLocation(StrCat("docker://", f.args[0])));
    Item it{loc.docker->domain(), loc.docker->path(), {}, std::nullopt, std::nullopt};
    if (f.args[0].find(':', f.args[0].rfind('/') + 1) != std::string::npos)
      it.tags.push_back(loc.docker->tag());
    items.push_back(std::move(it));
  } else {
    return absl::InvalidArgumentError("sync: --src must be docker or yaml");
  }
  int copied = 0;
  json results = json::array();
  for (Item& it : items) {
    Flags g = f;
    if (it.tls_verify) g.values["src-tls-verify"] = *it.tls_verify ? "true" : "false";
    if (it.creds) g.values["src-creds"] = StrCat(it.creds->username, ":", it.creds->password);
    if (it.tags.empty()) {
      ASSIGN_OR_RETURN(Location repo,
                       image::copy::ParseLocation(StrCat("docker://", it.registry, "/", it.repo)));
      ASSIGN_OR_RETURN(Environment env, MakeEnv(g, c, "src-"));
      ASSIGN_OR_RETURN(it.tags,
                       env.ClientFor(*repo.docker)->ListTags(repo.docker->path(), image::CallContext()));
    }
    for (const std::string& tag : it.tags) {
      ASSIGN_OR_RETURN(Location src,
                       image::copy::ParseLocation(StrCat("docker://", it.registry, "/", it.repo, ":", tag)));
      std::string dst_text = dst_kind == "docker"
                                 ? StrCat("docker://", f.args[1], "/", it.repo, ":", tag)
                                 : StrCat("dir:", f.args[1], "/", it.registry, "/", it.repo, ":", tag);
      ASSIGN_OR_RETURN(Location dst, image::copy::ParseLocation(dst_text));
      int64_t start = MonotonicNow();
      auto r = DoCopy(g, c, src, dst);
      if (!r.ok()) return Annotate(r.status(), StrCat("sync ", src.ToString()));
      results.push_back(ResultJson(src, dst, *r, (MonotonicNow() - start) / 1'000'000));
      if (f.Get("format") != "json" && !f.Has("quiet"))
        std::cout << "Copied " << src.ToString() << " to " << dst.ToString() << "\n";
      ++copied;
    }
  }
  if (f.Get("format") == "json")
    std::cout << results.dump(2) << "\n";
  else if (!f.Has("quiet"))
    std::cout << "Synced " << copied << " images\n";
  return absl::OkStatus();
}

absl::Status CmdDelete(const Flags& f, const server::Config& c) {
  if (f.args.size() != 1) return absl::InvalidArgumentError("delete: want one LOCATION");
  ASSIGN_OR_RETURN(Location loc, image::copy::ParseLocation(f.args[0]));
  ASSIGN_OR_RETURN(Environment env, MakeEnv(f, c, ""));
  if (loc.kind == Location::Kind::kCricket) {
    storage::StoreOptions so;
    so.root = env.store_root;
    so.shared = true;
    ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(so));
    ASSIGN_OR_RETURN(storage::RemoveImageResult r, store->RemoveImage(loc.name));
    std::cout << (r.image_deleted ? StrCat("Deleted ", r.image_id, "\n")
                                  : StrCat("Untagged ", r.removed_name, "\n"));
    return absl::OkStatus();
  }
  if (loc.kind != Location::Kind::kDocker)
    return absl::InvalidArgumentError("delete: want docker://REF or cricket:NAME");
  std::shared_ptr<image::RegistryClient> client = env.ClientFor(*loc.docker);
  Digest digest = Digest::Sha256Of("");
  if (loc.docker->digest()) {
    digest = *loc.docker->digest();
  } else {
    ASSIGN_OR_RETURN(
        auto m, client->GetManifest(loc.docker->path(), loc.docker->TagOrDigest(), image::CallContext()));
    digest = m.digest;
  }
  RETURN_IF_ERROR(client->DeleteManifest(loc.docker->path(), digest, image::CallContext()));
  std::cout << "Deleted " << loc.docker->Name() << "@" << digest.ToString() << "\n";
  return absl::OkStatus();
}

absl::Status CmdListTags(const Flags& f, const server::Config& c) {
  if (f.args.size() != 1) return absl::InvalidArgumentError("list-tags: want docker://REPOSITORY");
  ASSIGN_OR_RETURN(Location loc, image::copy::ParseLocation(f.args[0]));
  if (loc.kind != Location::Kind::kDocker)
    return absl::InvalidArgumentError("list-tags: want docker://REPOSITORY");
  ASSIGN_OR_RETURN(Environment env, MakeEnv(f, c, ""));
  ASSIGN_OR_RETURN(std::vector<std::string> tags,
                   env.ClientFor(*loc.docker)->ListTags(loc.docker->path(), image::CallContext()));
  json j = {{"Repository", loc.docker->Name()}, {"Tags", tags}};
  std::cout << j.dump(4) << "\n";
  return absl::OkStatus();
}

absl::StatusOr<json> ReadAuthJson(const std::string& path) {
  if (!PathExists(path)) return json{{"auths", json::object()}};
  ASSIGN_OR_RETURN(json j, ReadJsonFile(path));
  if (!j.is_object()) return absl::InvalidArgumentError(StrCat(path, ": not a JSON object"));
  if (!j.contains("auths")) j["auths"] = json::object();
  if (!j["auths"].is_object()) return absl::InvalidArgumentError(StrCat(path, ": auths is not an object"));
  return j;
}

absl::Status CmdLogin(const Flags& f, const server::Config& c) {
  if (f.args.size() != 1) return absl::InvalidArgumentError("login: want REGISTRY");
  std::string registry = image::NormalizeRegistryHost(f.args[0]);
  std::string user = f.Get("username"), password = f.Get("password");
  if (f.Has("password-stdin")) {
    std::getline(std::cin, password);
  }
  if (user.empty() || password.empty()) {
    return absl::InvalidArgumentError("login: --username and --password (or --password-stdin) are required");
  }
  Flags g = f;
  g.values["creds"] = StrCat(user, ":", password);
  g.values["insecure-policy"] = "true";
  ASSIGN_OR_RETURN(Environment env, MakeEnv(g, c, ""));
  ASSIGN_OR_RETURN(image::Reference probe,
                   image::Reference::ParseNormalized(StrCat(registry, "/login-probe")));
  RETURN_IF_ERROR(env.ClientFor(probe)->CheckCredentials(image::CallContext::WithTimeout(60'000)));
  std::string path = AuthFilePath(f, c);
  ASSIGN_OR_RETURN(json j, ReadAuthJson(path));
  std::string auth;
  absl::Base64Escape(ToAbsl(StrCat(user, ":", password)), &auth);
  j["auths"][registry] = {{"auth", auth}};
  RETURN_IF_ERROR(MkdirAll(DirName(path), 0700));
  RETURN_IF_ERROR(WriteFileAtomic(path, j.dump(4) + "\n", 0600));
  std::cout << "Login Succeeded!\n";
  return absl::OkStatus();
}

absl::Status CmdLogout(const Flags& f, const server::Config& c) {
  std::string path = AuthFilePath(f, c);
  ASSIGN_OR_RETURN(json j, ReadAuthJson(path));
  if (f.Has("all")) {
    j["auths"] = json::object();
  } else {
    if (f.args.size() != 1) return absl::InvalidArgumentError("logout: want REGISTRY or --all");
    std::string registry = image::NormalizeRegistryHost(f.args[0]);
    if (!j["auths"].contains(registry)) return absl::NotFoundError(StrCat("not logged in to ", registry));
    j["auths"].erase(registry);
  }
  RETURN_IF_ERROR(WriteFileAtomic(path, j.dump(4) + "\n", 0600));
  std::cout << "Removed login credentials\n";
  return absl::OkStatus();
}

int Usage() {
  std::cerr << "usage: cricket-image [--config FILE] [--root DIR] COMMAND [flags] ARGS\n"
               "  inspect [--raw] [--config-blob] LOCATION\n"
               "  copy [--all] [--quiet] [--format json] SRC DST\n"
               "  sync --src docker|yaml --dest docker|dir [--all] SOURCE DESTINATION\n"
               "  delete docker://REF | cricket:NAME\n"
               "  list-tags docker://REPOSITORY\n"
               "  login -u USER (-p PASS | --password-stdin) REGISTRY\n"
               "  logout (REGISTRY | --all)\n"
               "LOCATION: docker://REF, oci:DIR[:TAG], dir:DIR, cricket:[NAME]\n"
               "common: --tls-verify=false, --creds USER:PASS, --authfile FILE, --policy FILE,\n"
               "        --insecure-policy, --registries.d DIR, --cert-dir DIR, --format json\n";
  return 2;
}

}  // namespace
}  // namespace cricket

int main(int argc, char** argv) {
  using namespace cricket;
  std::signal(SIGINT, [](int) { g_cancelled.store(true); });
  std::signal(SIGTERM, [](int) { g_cancelled.store(true); });
  std::vector<std::string> all(argv + 1, argv + argc);
  // Global flags come before the command.
  size_t cmd_at = 0;
  while (cmd_at < all.size() && all[cmd_at].starts_with("-"))
    cmd_at += all[cmd_at].find('=') == std::string::npos ? 2 : 1;
  if (cmd_at >= all.size()) return Usage();
  std::string cmd = all[cmd_at];
  std::vector<std::string> rest(all.begin(), all.begin() + static_cast<long>(cmd_at));
  rest.insert(rest.end(), all.begin() + static_cast<long>(cmd_at) + 1, all.end());
  auto flags = ParseFlags(rest);
  if (!flags.ok()) {
    std::cerr << "cricket-image: " << flags.status().message() << "\n";
    return 2;
  }
  if (flags->Get("log-level").empty()) log::SetLevel(log::Level::kWarn);
  auto config = NodeConfig(*flags);
  if (!config.ok()) {
    std::cerr << "cricket-image: " << config.status().message() << "\n";
    return 1;
  }
  using Fn = absl::Status (*)(const Flags&, const server::Config&);
  static const std::map<std::string, Fn> kCommands = {
      {"inspect", CmdInspect},    {"copy", CmdCopy},   {"sync", CmdSync},    {"delete", CmdDelete},
      {"list-tags", CmdListTags}, {"login", CmdLogin}, {"logout", CmdLogout}};
  auto it = kCommands.find(cmd);
  if (it == kCommands.end()) return Usage();
  absl::Status s = it->second(*flags, *config);
  if (!s.ok()) {
    std::cerr << "cricket-image " << cmd << ": " << s.message() << "\n";
    return absl::IsPermissionDenied(s) ? 3 : 1;
  }
  return 0;
}
