#include "lib/image/copy/copier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/json_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/unique_fd.h"
#include "lib/image/layer_stream.h"
#include "lib/storage/byte_source.h"
#include "lib/storage/store.h"

namespace cricket::image::copy {
namespace {

using json = nlohmann::json;

constexpr std::string_view kDirVersion = "Directory Transport Version: 1.1\n";
constexpr std::string_view kRefNameAnnotation = "org.opencontainers.image.ref.name";

CallContext Ctx(const std::atomic<bool>* cancelled) {
  CallContext c;
  c.cancelled = cancelled;
  return c;
}

// Reads a local file in chunks through `sink`, verifying it against `d`.
absl::Status ReadVerified(const std::string& path, const Descriptor& d, const ChunkSink& sink) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return ErrnoError("open", path);
  BlobVerifier verifier(d.digest, d.size, d.digest.ToString());
  std::string buf(1 << 20, '\0');
  for (;;) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", path);
    if (n == 0) break;
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    RETURN_IF_ERROR(verifier.Update(chunk));
    RETURN_IF_ERROR(sink(chunk));
  }
  return verifier.Finish();
}

// Where an image's parts come from.
struct Source {
  std::function<absl::StatusOr<std::pair<std::string, std::string>>()> top;  // bytes, media type
  std::function<absl::StatusOr<std::string>(const Descriptor&)> child;       // verified bytes
  std::function<absl::Status(const Descriptor&, const ChunkSink&)> blob;     // verified stream
};

absl::StatusOr<std::string> ReadLocalManifest(const std::string& path, const Descriptor& d) {
  ASSIGN_OR_RETURN(std::string bytes, ReadFile(path, kMaxManifestSize));
  if (Digest::Sha256Of(bytes) != d.digest) {
    return absl::DataLossError(StrCat(path, ": content does not match digest ", d.digest.ToString()));
  }
  return bytes;
}

std::string MediaTypeOf(std::string_view bytes) {
  auto j = ParseJson(bytes, "manifest");
  if (j.ok() && j->is_object() && j->contains("mediaType") && (*j)["mediaType"].is_string()) {
    return (*j)["mediaType"].get<std::string>();
  }
  return "";
}

absl::StatusOr<Source> OpenSource(const Location& loc, const Environment& env, const CallContext& ctx) {
  Source s;
  switch (loc.kind) {
    case Location::Kind::kDocker: {
      std::shared_ptr<RegistryClient> client = env.ClientFor(*loc.docker);
      std::string repo = loc.docker->path();
      std::string ref = loc.docker->TagOrDigest();
      s.top = [client, repo, ref, ctx]() -> absl::StatusOr<std::pair<std::string, std::string>> {
        ASSIGN_OR_RETURN(RegistryClient::FetchedManifest m, client->GetManifest(repo, ref, ctx));
        return std::make_pair(m.bytes, m.content_type);
      };
      s.child = [client, repo, ctx](const Descriptor& d) -> absl::StatusOr<std::string> {
        ASSIGN_OR_RETURN(RegistryClient::FetchedManifest m,
                         client->GetManifest(repo, d.digest.ToString(), ctx));
        return m.bytes;
      };
      s.blob = [client, repo, ctx](const Descriptor& d, const ChunkSink& sink) {
        return client->FetchBlob(repo, d, sink, ctx);
      };
      return s;
    }
    case Location::Kind::kOci: {
      std::string dir = loc.path, tag = loc.tag;
      auto blob_path = [dir](const Digest& d) { return StrCat(dir, "/blobs/", d.algorithm(), "/", d.hex()); };
      s.top = [dir, tag, blob_path]() -> absl::StatusOr<std::pair<std::string, std::string>> {
        ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/index.json", kMaxManifestSize));
        ASSIGN_OR_RETURN(ParsedManifest index,
                         ParseManifest(text, "application/vnd.oci.image.index.v1+json"));
        if (!index.index) return absl::InvalidArgumentError(StrCat(dir, "/index.json is not an image index"));
        const Descriptor* found = nullptr;
        for (const Descriptor& d : index.index->manifests) {
          auto it = d.annotations.find(std::string(kRefNameAnnotation));
          if (tag.empty() ? index.index->manifests.size() == 1
                          : (it != d.annotations.end() && it->second == tag))
            found = &d;
        }
        if (found == nullptr) {
          return absl::NotFoundError(tag.empty()
                                         ? StrCat(dir, ": give a tag (the layout holds several images)")
                                         : StrCat(dir, ": no image tagged \"", tag, "\""));
        }
        ASSIGN_OR_RETURN(std::string bytes, ReadLocalManifest(blob_path(found->digest), *found));
        return std::make_pair(bytes, found->media_type);
      };
      s.child = [blob_path](const Descriptor& d) { return ReadLocalManifest(blob_path(d.digest), d); };
      s.blob = [blob_path](const Descriptor& d, const ChunkSink& sink) {
        return ReadVerified(blob_path(d.digest), d, sink);
      };
      return s;
    }
    case Location::Kind::kDir: {
      std::string dir = loc.path;
      s.top = [dir]() -> absl::StatusOr<std::pair<std::string, std::string>> {
        ASSIGN_OR_RETURN(std::string bytes, ReadFile(dir + "/manifest.json", kMaxManifestSize));
        return std::make_pair(bytes, MediaTypeOf(bytes));
      };
      s.child = [dir](const Descriptor& d) {
        return ReadLocalManifest(StrCat(dir, "/", d.digest.hex(), ".manifest.json"), d);
      };
      s.blob = [dir](const Descriptor& d, const ChunkSink& sink) {
        return ReadVerified(StrCat(dir, "/", d.digest.hex()), d, sink);
      };
      return s;
    }
    case Location::Kind::kCricket:
      return absl::UnimplementedError(
          "copying out of cricket: is not implemented (the store keeps layers extracted, not as blobs)");
  }
  return absl::InternalError("unknown transport");
}

// The signature policy on the source, before anything is written.
absl::Status CheckPolicy(const Location& src, const Environment& env, const Digest& digest,
                         const CallContext& ctx) {
  if (env.policy == nullptr) return absl::OkStatus();
  policy::PolicyImage img;
  img.transport = src.PolicyTransport();
  img.identity = src.PolicyIdentity();
  img.manifest_digest = digest;
  if (src.kind == Location::Kind::kDocker) {
    img.docker_reference = *src.docker;
    std::shared_ptr<const policy::SignaturePolicy> p = env.policy;
    Reference ref = *src.docker;
    img.simple_signatures = [p, ref, digest](const CallContext& c) {
      return p->LookasideSignatures(ref, digest, c);
    };
    if (p->registries_d().For(ref.ToString()).use_sigstore_attachments) {
      std::shared_ptr<RegistryClient> client = env.ClientFor(ref);
      img.sigstore_signatures = [client, ref, digest](const CallContext& c) {
        return policy::FetchSigstoreSignatures(*client, ref.path(), digest, c);
      };
    }
  } else if (src.kind == Location::Kind::kDir) {
    std::string dir = src.path;
    img.simple_signatures = [dir](const CallContext&) { return policy::ReadSignatureFiles(dir); };
  }
  return env.policy->Check(img, ctx);
}

// One image to copy: its manifest and the blobs it needs.
struct Instance {
  Descriptor descriptor;
  std::string bytes;
  ImageManifest manifest;
};

struct Plan {
  std::string top_bytes;
  std::string top_media_type;
  Digest top_digest = Digest::Sha256Of("");
  bool is_index = false;
  std::vector<Instance> instances;
  std::vector<Descriptor> blobs;  // unique, configs and layers
};

absl::StatusOr<Plan> MakePlan(const Source& src, const Environment& env, const CopyOptions& options) {
  Plan plan;
  ASSIGN_OR_RETURN(auto top, src.top());
  plan.top_bytes = std::move(top.first);
  plan.top_digest = Digest::Sha256Of(plan.top_bytes);
  ASSIGN_OR_RETURN(ParsedManifest parsed, ParseManifest(plan.top_bytes, top.second));
  plan.top_media_type = parsed.media_type;
  auto add_instance = [&](const Descriptor& d, std::string bytes) -> absl::Status {
    ASSIGN_OR_RETURN(ParsedManifest m, ParseManifest(bytes, d.media_type));
    if (!m.image)
      return absl::InvalidArgumentError(StrCat("manifest ", d.digest.ToString(), ": nested index"));
    plan.instances.push_back(Instance{d, std::move(bytes), *m.image});
    return absl::OkStatus();
  };
  if (parsed.index) {
    std::vector<Descriptor> wanted;
    if (options.all) {
      for (const Descriptor& d : parsed.index->manifests) wanted.push_back(d);
    } else {
      ASSIGN_OR_RETURN(Descriptor d, SelectManifest(*parsed.index, env.platform));
      wanted.push_back(d);
    }
    plan.is_index = options.all;
    for (const Descriptor& d : wanted) {
      ASSIGN_OR_RETURN(std::string bytes, src.child(d));
      RETURN_IF_ERROR(add_instance(d, std::move(bytes)));
    }
  } else {
    Descriptor d;
    d.media_type = parsed.media_type;
    d.digest = plan.top_digest;
    d.size = static_cast<int64_t>(plan.top_bytes.size());
    RETURN_IF_ERROR(add_instance(d, plan.top_bytes));
  }
  std::set<std::string> seen;
  for (const Instance& inst : plan.instances) {
    for (const Descriptor* d : {&inst.manifest.config}) {
      if (seen.insert(d->digest.ToString()).second) plan.blobs.push_back(*d);
    }
    for (const Descriptor& d : inst.manifest.layers) {
      if (seen.insert(d.digest.ToString()).second) plan.blobs.push_back(d);
    }
  }
  return plan;
}

// Runs fn(i) for i in [0, n) on up to `parallel` threads; the first error wins and stops the rest.
absl::Status ParallelFor(size_t n, int parallel, const std::function<absl::Status(size_t)>& fn,
                         std::atomic<bool>* abort) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  absl::Status first;
  auto worker = [&] {
    for (size_t i; !abort->load() && (i = next.fetch_add(1)) < n;) {
      absl::Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        if (first.ok()) first = s;
        abort->store(true);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < std::max(1, std::min<int>(parallel, static_cast<int>(n))); ++t)
    threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  return first;
}

// A sink that counts bytes for progress reports.
ChunkSink Counting(ChunkSink inner, const Descriptor& d, const ProgressFn& progress) {
  auto done = std::make_shared<int64_t>(0);
  return [inner = std::move(inner), d, progress, done](std::string_view chunk) -> absl::Status {
    RETURN_IF_ERROR(inner(chunk));
    *done += static_cast<int64_t>(chunk.size());
    if (progress) progress(BlobProgress{d.digest.ToString(), *done, d.size, false});
    return absl::OkStatus();
  };
}

// Copies a blob into a file: written to a temporary name, renamed once the source verified it.
absl::Status BlobToFile(const Source& src, const Descriptor& d, const std::string& path,
                        const ProgressFn& progress) {
  std::string tmp = StrCat(path, ".tmp-", RandomHexId().substr(0, 8));
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) return ErrnoError("create", tmp);
  absl::Cleanup remove = [&] { ::unlink(tmp.c_str()); };
  ChunkSink write = [&fd, &tmp](std::string_view chunk) -> absl::Status {
    while (!chunk.empty()) {
      ssize_t n = ::write(fd.get(), chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoError("write", tmp);
      chunk.remove_prefix(static_cast<size_t>(n));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(src.blob(d, Counting(write, d, progress)));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return ErrnoError(StrCat("rename ", tmp, " to"), path);
  std::move(remove).Cancel();
  if (progress) progress(BlobProgress{d.digest.ToString(), d.size, d.size, true});
  return absl::OkStatus();
}

bool HasFileOfSize(const std::string& path, int64_t size) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == size;
}

// Destination writers.
struct Dest {
  std::function<absl::StatusOr<bool>(const Descriptor&)> copy_blob;  // true: copied, false: present
  std::function<absl::Status(const Plan&)> finish;
};

absl::StatusOr<Dest> OpenFileDest(const Location& dst, const Source& src, const CopyOptions& options) {
  Dest out;
  bool oci = dst.kind == Location::Kind::kOci;
  std::string dir = dst.path;
  RETURN_IF_ERROR(MkdirAll(oci ? dir + "/blobs/sha256" : dir, 0755));
  auto blob_path = [dir, oci](const Digest& d) {
    return oci ? StrCat(dir, "/blobs/", d.algorithm(), "/", d.hex()) : StrCat(dir, "/", d.hex());
  };
  ProgressFn progress = options.progress;
  out.copy_blob = [blob_path, &src, progress](const Descriptor& d) -> absl::StatusOr<bool> {
    std::string path = blob_path(d.digest);
    if (HasFileOfSize(path, d.size)) return false;
    RETURN_IF_ERROR(BlobToFile(src, d, path, progress));
    return true;
  };
  out.finish = [dir, oci, blob_path, dst](const Plan& plan) -> absl::Status {
    if (!oci) {
      for (const Instance& inst : plan.instances) {
        if (plan.is_index) {
          RETURN_IF_ERROR(
              WriteFileAtomic(StrCat(dir, "/", inst.descriptor.digest.hex(), ".manifest.json"), inst.bytes));
        }
      }
      const std::string& top = plan.is_index ? plan.top_bytes : plan.instances.front().bytes;
      RETURN_IF_ERROR(WriteFileAtomic(dir + "/manifest.json", top));
      return WriteFileAtomic(dir + "/version", kDirVersion);
    }
    for (const Instance& inst : plan.instances) {
      RETURN_IF_ERROR(WriteFileAtomic(blob_path(inst.descriptor.digest), inst.bytes));
    }
    Descriptor top = plan.instances.front().descriptor;
    if (plan.is_index) {
      RETURN_IF_ERROR(WriteFileAtomic(blob_path(plan.top_digest), plan.top_bytes));
      top.media_type = plan.top_media_type;
      top.digest = plan.top_digest;
      top.size = static_cast<int64_t>(plan.top_bytes.size());
    }
    json index = {{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"manifests", json::array()}};
    if (PathExists(dir + "/index.json")) {
      ASSIGN_OR_RETURN(json old, ReadJsonFile(dir + "/index.json"));
      if (old.is_object() && old.contains("manifests") && old["manifests"].is_array()) {
        for (const json& m : old["manifests"]) {
          bool same_tag = !dst.tag.empty() && m.contains("annotations") && m["annotations"].is_object() &&
                          m["annotations"].value(std::string(kRefNameAnnotation), "") == dst.tag;
          if (!same_tag) index["manifests"].push_back(m);
        }
      }
    }
    json entry = {{"mediaType", top.media_type}, {"digest", top.digest.ToString()}, {"size", top.size}};
    if (!dst.tag.empty()) entry["annotations"] = {{std::string(kRefNameAnnotation), dst.tag}};
    index["manifests"].push_back(entry);
    RETURN_IF_ERROR(WriteFileAtomic(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
    return WriteFileAtomic(dir + "/index.json", index.dump());
  };
  return out;
}

absl::StatusOr<Dest> OpenDockerDest(const Location& dst, const Environment& env, const Source& src,
                                    const CopyOptions& options, const CallContext& ctx) {
  Dest out;
  std::shared_ptr<RegistryClient> client = env.ClientFor(*dst.docker);
  std::string repo = dst.docker->path();
  ProgressFn progress = options.progress;
  out.copy_blob = [client, repo, &src, progress, ctx](const Descriptor& d) -> absl::StatusOr<bool> {
    ASSIGN_OR_RETURN(bool has, client->HasBlob(repo, d.digest, ctx));
    if (has) return false;
    std::string data;
    RETURN_IF_ERROR(src.blob(d, Counting(
                                    [&data](std::string_view c) {
                                      data.append(c);
                                      return absl::OkStatus();
                                    },
                                    d, progress)));
    RETURN_IF_ERROR(client->PushBlob(repo, data, ctx).status());
    if (progress) progress(BlobProgress{d.digest.ToString(), d.size, d.size, true});
    return true;
  };
  std::string ref = dst.docker->TagOrDigest();
  out.finish = [client, repo, ref, ctx](const Plan& plan) -> absl::Status {
    if (plan.is_index) {
      for (const Instance& inst : plan.instances) {
        RETURN_IF_ERROR(client
                            ->PushManifest(repo, inst.descriptor.digest.ToString(), inst.manifest.media_type,
                                           inst.bytes, ctx)
                            .status());
      }
      return client->PushManifest(repo, ref, plan.top_media_type, plan.top_bytes, ctx).status();
    }
    const Instance& inst = plan.instances.front();
    return client->PushManifest(repo, ref, inst.manifest.media_type, inst.bytes, ctx).status();
  };
  return out;
}

// Into the node's store: every layer decompressed and applied under the store's claims and leases,
// then the image recorded with its names.
absl::StatusOr<CopyResult> CopyToStore(const Location& src, const Source& source, const Plan& plan,
                                       const Location& dst, const Environment& env,
                                       const CopyOptions& options) {
  if (plan.instances.size() != 1) {
    return absl::InvalidArgumentError("cricket: stores one platform's image; --all does not apply");
  }
  // The names first: a bad one is refused before anything is written.
  std::vector<std::string> names;
  std::string name = dst.name;
  if (name.empty() && src.kind == Location::Kind::kDocker) name = src.docker->ToString();
  if (!name.empty()) {
    ASSIGN_OR_RETURN(Reference n, Reference::ParseNormalized(name));
    if (!n.digest() && !n.tag().empty()) names.push_back(n.ToString());
    names.push_back(n.NameOnly().WithDigest(plan.top_digest).ToString());
  }
  storage::StoreOptions so;
  so.root = env.store_root;
  so.shared = true;
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(so));
  const Instance& inst = plan.instances.front();
  ASSIGN_OR_RETURN(std::string config, [&]() -> absl::StatusOr<std::string> {
    std::string out;
    RETURN_IF_ERROR(source.blob(inst.manifest.config, [&out](std::string_view c) {
      out.append(c);
      return absl::OkStatus();
    }));
    return out;
  }());
  ASSIGN_OR_RETURN(ImageConfig cfg, ParseImageConfig(config));
  RETURN_IF_ERROR(CheckConfigMatchesManifest(inst.manifest, cfg));
  CopyResult result;
  std::vector<std::optional<storage::LayerLease>> leases(inst.manifest.layers.size());
  std::vector<std::string> parents(inst.manifest.layers.size());
  for (size_t i = 1; i < parents.size(); ++i) {
    parents[i] = storage::Store::ChainId(parents[i - 1], cfg.diff_ids[i - 1].ToString());
  }
  std::atomic<bool> abort{false};
  std::mutex mu;
  absl::Status layers = ParallelFor(
      inst.manifest.layers.size(), options.parallel,
      [&](size_t i) -> absl::Status {
        const Descriptor& d = inst.manifest.layers[i];
        ASSIGN_OR_RETURN(storage::LayerClaim claim,
                         store->ClaimLayer(parents[i], cfg.diff_ids[i].ToString()));
        if (claim.stored()) {
          leases[i].emplace(std::move(claim.lease()));
          std::lock_guard<std::mutex> l(mu);
          ++result.blobs_skipped;
          return absl::OkStatus();
        }
        storage::PipeSource pipe(1 << 20);
        absl::Status fetched;
        std::thread producer([&] {
          auto decoder = LayerDecoder::Create(d, [&pipe](std::string_view c) {
            if (!pipe.Write(c)) return absl::AbortedError("the layer's extraction stopped");
            return absl::OkStatus();
          });
          if (!decoder.ok()) {
            fetched = decoder.status();
          } else {
            fetched = source.blob(
                d, Counting([&](std::string_view c) { return (*decoder)->Write(c); }, d, options.progress));
            if (fetched.ok()) fetched = (*decoder)->Finish().status();
          }
          pipe.Close(fetched);
        });
        absl::StatusOr<storage::LayerLease> lease = claim.Apply(pipe);
        if (!lease.ok()) pipe.CloseRead();
        producer.join();
        if (!fetched.ok() && !absl::IsAborted(fetched))
          return Annotate(fetched, StrCat("layer ", d.digest.ToString()));
        if (!lease.ok()) return Annotate(lease.status(), StrCat("layer ", d.digest.ToString()));
        leases[i].emplace(*std::move(lease));
        if (options.progress) options.progress(BlobProgress{d.digest.ToString(), d.size, d.size, true});
        std::lock_guard<std::mutex> l(mu);
        ++result.blobs_copied;
        result.bytes += d.size;
        return absl::OkStatus();
      },
      &abort);
  // Layers this copy applied that no image uses are removed when it fails (as a failed pull does).
  auto fail = [&](absl::Status s) -> absl::Status {
    leases.clear();
    if (result.blobs_copied > 0) (void)store->GarbageCollect();
    return s;
  };
  if (!layers.ok()) return fail(layers);
  storage::NewImage record;
  record.config = config;
  record.manifest = inst.bytes;
  record.names = std::move(names);
  absl::StatusOr<storage::ImageInfo> info = store->PutImage(record);
  if (!info.ok()) return fail(info.status());
  result.stored_id = info->id;
  result.manifest_digest = plan.top_digest.ToString();
  result.media_type = inst.manifest.media_type;
  return result;
}

}  // namespace

std::string Location::ToString() const {
  switch (kind) {
    case Kind::kDocker:
      return StrCat("docker://", docker->ToString());
    case Kind::kOci:
      return tag.empty() ? StrCat("oci:", path) : StrCat("oci:", path, ":", tag);
    case Kind::kDir:
      return StrCat("dir:", path);
    case Kind::kCricket:
      return StrCat("cricket:", name);
  }
  return "?";
}

std::string Location::PolicyTransport() const {
  switch (kind) {
    case Kind::kDocker:
      return "docker";
    case Kind::kOci:
      return "oci";
    case Kind::kDir:
      return "dir";
    case Kind::kCricket:
      return "cricket";
  }
  return "?";
}

std::string Location::PolicyIdentity() const {
  switch (kind) {
    case Kind::kDocker:
      return docker->ToString();
    case Kind::kOci:
      return tag.empty() ? path : StrCat(path, ":", tag);
    case Kind::kDir:
      return path;
    case Kind::kCricket:
      return name;
  }
  return "";
}

absl::StatusOr<Location> ParseLocation(std::string_view text) {
  Location loc;
  auto absolute = [](std::string_view p) -> absl::StatusOr<std::string> {
    if (p.empty()) return absl::InvalidArgumentError("empty path");
    if (p[0] == '/') return CleanPath(p);
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoError("getcwd", ".");
    return CleanPath(StrCat(cwd, "/", p));
  };
  if (text.starts_with("docker://")) {
    loc.kind = Location::Kind::kDocker;
    auto ref = Reference::ParseNormalized(text.substr(9));
    if (!ref.ok()) return Annotate(ref.status(), StrCat("\"", text, "\""));
    loc.docker = *ref;
  } else if (text.starts_with("oci:")) {
    loc.kind = Location::Kind::kOci;
    std::string_view rest = text.substr(4);
    size_t colon = rest.rfind(':');
    if (colon != std::string_view::npos) {
      loc.tag = std::string(rest.substr(colon + 1));
      rest = rest.substr(0, colon);
      if (!loc.tag.empty() && !IsValidTag(loc.tag) && loc.tag.find('/') == std::string::npos) {
        return absl::InvalidArgumentError(StrCat("\"", text, "\": invalid tag \"", loc.tag, "\""));
      }
    }
    ASSIGN_OR_RETURN(loc.path, absolute(rest));
  } else if (text.starts_with("dir:")) {
    loc.kind = Location::Kind::kDir;
    ASSIGN_OR_RETURN(loc.path, absolute(text.substr(4)));
  } else if (text.starts_with("cricket:")) {
    loc.kind = Location::Kind::kCricket;
    loc.name = std::string(text.substr(8));
  } else {
    return absl::InvalidArgumentError(StrCat(
        "\"", text, "\": unknown transport (want docker://REF, oci:DIR[:TAG], dir:DIR or cricket:[NAME])"));
  }
  return loc;
}

std::shared_ptr<RegistryClient> Environment::ClientFor(const Reference& ref) const {
  bool insecure = false;
  if (tls_verify) {
    insecure = !*tls_verify;
  } else {
    const RegistryEntry* e = registries.FindRegistry(ref);
    insecure = (e != nullptr && e->insecure) || registries.InsecureByCrioConfig(ref.domain());
  }
  std::optional<AuthConfig> creds = credentials;
  if (!creds) creds = auth_file.Lookup(ref.domain(), ref.path());
  return std::make_shared<RegistryClient>(transport, std::make_shared<TokenCache>(), ref.domain(), insecure,
                                          creds);
}

absl::StatusOr<CopyResult> Copy(const Location& src, const Environment& src_env, const Location& dst,
                                const Environment& dst_env, const CopyOptions& options) {
  CallContext ctx = Ctx(options.cancelled);
  ASSIGN_OR_RETURN(Source source, OpenSource(src, src_env, ctx));
  ASSIGN_OR_RETURN(Plan plan, MakePlan(source, src_env, options));
  RETURN_IF_ERROR(CheckPolicy(src, src_env, plan.top_digest, ctx));
  if (dst.kind == Location::Kind::kCricket) return CopyToStore(src, source, plan, dst, dst_env, options);
  Dest dest;
  if (dst.kind == Location::Kind::kDocker) {
    ASSIGN_OR_RETURN(dest, OpenDockerDest(dst, dst_env, source, options, ctx));
  } else {
    ASSIGN_OR_RETURN(dest, OpenFileDest(dst, source, options));
  }
  CopyResult result;
  std::mutex mu;
  std::atomic<bool> abort{false};
  RETURN_IF_ERROR(ParallelFor(
      plan.blobs.size(), options.parallel,
      [&](size_t i) -> absl::Status {
        ASSIGN_OR_RETURN(bool copied, dest.copy_blob(plan.blobs[i]));
        std::lock_guard<std::mutex> l(mu);
        (copied ? result.blobs_copied : result.blobs_skipped)++;
        if (copied) result.bytes += plan.blobs[i].size;
        return absl::OkStatus();
      },
      &abort));
  RETURN_IF_ERROR(dest.finish(plan));
  const Instance& first = plan.instances.front();
  result.manifest_digest = plan.is_index ? plan.top_digest.ToString() : first.descriptor.digest.ToString();
  result.media_type = plan.is_index ? plan.top_media_type : first.manifest.media_type;
  return result;
}

absl::StatusOr<Inspected> Inspect(const Location& loc, const Environment& env, bool with_tags) {
  Inspected out;
  CallContext ctx;
  if (loc.kind == Location::Kind::kCricket) {
    storage::StoreOptions so;
    so.root = env.store_root;
    so.shared = true;
    ASSIGN_OR_RETURN(std::unique_ptr<storage::Store> store, storage::Store::Open(so));
    ASSIGN_OR_RETURN(storage::ImageInfo info, store->FindImage(loc.name));
    out.config = info.config;
    if (!info.manifest_digest.empty()) {
      ASSIGN_OR_RETURN(out.raw_manifest, store->GetBlob(info.manifest_digest));
      ASSIGN_OR_RETURN(ParsedManifest m, ParseManifest(out.raw_manifest, ""));
      out.raw_media_type = m.media_type;
      out.manifest = m.image;
      ASSIGN_OR_RETURN(out.digest, Digest::Parse(info.manifest_digest));
    }
    out.tags = info.repo_tags;
    return out;
  }
  ASSIGN_OR_RETURN(Source source, OpenSource(loc, env, ctx));
  CopyOptions options;
  ASSIGN_OR_RETURN(Plan plan, MakePlan(source, env, options));
  out.raw_manifest = plan.top_bytes;
  out.raw_media_type = plan.top_media_type;
  out.digest = plan.top_digest;
  out.manifest = plan.instances.front().manifest;
  RETURN_IF_ERROR(source.blob(out.manifest->config, [&out](std::string_view c) {
    out.config.append(c);
    return absl::OkStatus();
  }));
  if (with_tags && loc.kind == Location::Kind::kDocker) {
    ASSIGN_OR_RETURN(out.tags, env.ClientFor(*loc.docker)->ListTags(loc.docker->path(), ctx));
  }
  return out;
}

}  // namespace cricket::image::copy
