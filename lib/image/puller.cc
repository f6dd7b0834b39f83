#include "lib/image/puller.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/common/logging.h"
#include "lib/common/memory.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "lib/image/image_source.h"
#include "lib/storage/byte_source.h"

namespace cricket::image {

namespace {
constexpr std::string_view kComponent = "pull";
}  // namespace

std::string PullPolicy::BoundsFingerprint() const {
  const storage::ApplyLimits& l = limits;
  return StrCat(l.max_file_size, ",", l.max_layer_size, ",", l.max_layer_entries, ",",
                l.max_layer_sparse_size, ",", l.allow_device_nodes, ",", max_layer_expansion_ratio, ",",
                reserve.bytes, ",", reserve.fraction);
}

// One layer of the image: where it sits in the chain and what to download.
struct Puller::LayerPlan {
  size_t index = 0;
  std::string parent_chain_id;  // "" for the base layer
  std::string diff_id;
  Descriptor descriptor;
};

// The layer phase of one pull, shared by its workers.
struct Puller::LayerRun {
  std::vector<LayerPlan> layers;
  std::vector<std::optional<storage::LayerLease>> leases;  // by layer index, filled by the workers
  std::atomic<size_t> next{0};
  // Set on the first failure or when the caller cancels: workers stop taking layers, and transfers in
  // flight stop at their next progress check (inner_ctx watches it).
  std::atomic<bool> abort{false};
  CallContext inner_ctx;
  storage::ImageTally tally;  // for the max_image_* bounds

  absl::Mutex mu;
  absl::Status error ABSL_GUARDED_BY(mu);
  int running ABSL_GUARDED_BY(mu) = 0;
  int fetched ABSL_GUARDED_BY(mu) = 0;
  int reused ABSL_GUARDED_BY(mu) = 0;
  int64_t bytes ABSL_GUARDED_BY(mu) = 0;

  void Fail(absl::Status s) {
    absl::MutexLock l(&mu);
    if (error.ok()) error = std::move(s);
    abort.store(true);
  }
};

absl::StatusOr<PullResult> Puller::Pull(const PullPolicy& policy, std::string_view image,
                                        const AuthConfig* credentials, const CallContext& ctx) {
  int64_t start = MonotonicNow();
  // A pull's buffers are freed by the time it returns; give their pages back, since a pull's
  // threads leave them spread over the allocator's arenas.
  absl::Cleanup return_memory = [] { ReturnFreeMemory(); };
  ASSIGN_OR_RETURN(std::vector<PullCandidate> candidates, policy.registries.Resolve(image));
  ClientForSource client_for =
      [&](const PullCandidate& candidate,
          const PullSource& source) -> absl::StatusOr<std::shared_ptr<RegistryClient>> {
    std::optional<AuthConfig> creds =
        SelectCredentials(credentials, candidate.name, source.reference, &policy.auth_file);
    return clients_->Get(source.reference.domain(), source.insecure, creds);
  };
  ASSIGN_OR_RETURN(ResolvedPull resolved, ResolveFromSources(candidates, client_for, policy.platform, ctx));
  if (policy.verify) {
    absl::Status verified = policy.verify(resolved, ctx);
    if (!verified.ok()) {
      log::Info(kComponent, "pull refused", {{"image", image}, {"error", verified}});
      return verified;
    }
  }
  const Reference& name = resolved.candidate.name;
  const ResolvedImage& img = resolved.image;

  PullResult result;
  result.name = name.ToString();
  result.source = resolved.source.reference.ToString();
  result.repo_digest = name.NameOnly().WithDigest(img.manifest_digest).ToString();

  LayerRun run;
  std::string parent;
  for (size_t i = 0; i < img.manifest.layers.size(); ++i) {
    std::string diff_id = img.config.diff_ids[i].ToString();
    run.layers.push_back(LayerPlan{i, parent, diff_id, img.manifest.layers[i]});
    parent = storage::Store::ChainId(parent, diff_id);
  }
  run.leases.resize(run.layers.size());
  absl::Status layers = FetchLayers(policy, *resolved.client, resolved.source.reference.path(), run, ctx);
  {
    absl::MutexLock l(&run.mu);
    result.layers_fetched = run.fetched;
    result.layers_reused = run.reused;
    result.bytes_fetched = run.bytes;
  }

  absl::StatusOr<storage::ImageInfo> stored = absl::UnknownError("not stored");
  if (!layers.ok()) {
    stored = layers;
  } else {
    storage::NewImage record;
    record.config = img.config_bytes;
    record.manifest = img.image_manifest_bytes;
    // A reference with a digest names content; a tag beside it is not recorded, since the tag may
    // point elsewhere by now.
    if (!name.digest() && !name.tag().empty()) record.names.push_back(name.ToString());
    record.names.push_back(result.repo_digest);
    stored = store_.PutImage(record);
  }
  run.leases.clear();  // the image (or nothing) holds the layers now
  if (!stored.ok()) {
    if (result.layers_fetched > 0) {
      // Layers this pull applied would otherwise stay until the next GarbageCollect or restart.
      auto freed = store_.GarbageCollect();
      if (!freed.ok())
        log::Warn(kComponent, "garbage collection after a failed pull", {{"error", freed.status()}});
    }
    log::Info(kComponent, "pull failed", {{"image", image}, {"error", stored.status()}});
    return stored.status();
  }
  result.image = *std::move(stored);
  log::Info(kComponent, "pulled",
            {{"image", image},
             {"name", result.name},
             {"source", result.source},
             {"id", result.image.id},
             {"layers_fetched", result.layers_fetched},
             {"layers_reused", result.layers_reused},
             {"bytes", result.bytes_fetched},
             {"ms", (MonotonicNow() - start) / 1'000'000}});
  return result;
}

// Runs up to max_parallel_downloads workers over the layers and waits for them, relaying the caller's
// cancellation into the run's own flag (which also stops the other layers when one fails).
absl::Status Puller::FetchLayers(const PullPolicy& policy, RegistryClient& client,
                                 const std::string& repository, LayerRun& run, const CallContext& ctx) {
  if (run.layers.empty()) return absl::OkStatus();
  run.inner_ctx.cancelled = &run.abort;
  run.inner_ctx.deadline = ctx.deadline;
  size_t workers = std::min<size_t>(run.layers.size(), std::max(1, policy.max_parallel_downloads));
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&run.mu);
    run.running = static_cast<int>(workers);
  }
  for (size_t i = 0; i < workers; ++i) {
    threads.emplace_back([&] { LayerWorker(client, repository, policy, run); });
  }
  auto done = [&run]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(run.mu) { return run.running == 0; };
  for (;;) {
    absl::MutexLock l(&run.mu);
    if (run.mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(100))) break;
    absl::Status s = ctx.Check();
    if (!s.ok() && run.error.ok()) {
      run.error = s;
      run.abort.store(true);
    }
  }
  for (std::thread& t : threads) t.join();
  absl::MutexLock l(&run.mu);
  return run.error;
}

void Puller::LayerWorker(RegistryClient& client, const std::string& repository, const PullPolicy& policy,
                         LayerRun& run) {
  absl::Cleanup finished = [&run] {
    absl::MutexLock l(&run.mu);
    --run.running;
  };
  for (;;) {
    if (run.abort.load()) return;
    size_t i = run.next.fetch_add(1);
    if (i >= run.layers.size()) return;
    const LayerPlan& layer = run.layers[i];
    // Waits while another pull holds the claim on this layer; finds it stored afterwards (or gets the
    // claim when that pull failed).
    absl::StatusOr<storage::LayerClaim> claim = store_.ClaimLayer(layer.parent_chain_id, layer.diff_id);
    if (!claim.ok()) return run.Fail(claim.status());
    if (claim->stored()) {
      run.leases[i].emplace(std::move(claim->lease()));
      absl::MutexLock l(&run.mu);
      ++run.reused;
      continue;
    }
    // Checked and recorded while the claim is held, so a concurrent pull of the same layer waiting
    // for the claim finds the failure instead of repeating the work.
    std::string key = FailedLayerCache::Key(client.registry(), repository, layer.descriptor.digest.ToString(),
                                            layer.diff_id, policy.BoundsFingerprint());
    if (absl::Status prior = RecentFailure(policy, key); !prior.ok()) return run.Fail(prior);
    absl::StatusOr<storage::LayerLease> lease = FetchAndApply(client, repository, policy, layer, *claim, run);
    if (!lease.ok()) {
      if (failures_.Remember(key, lease.status(), policy.failed_layer_ttl_ns,
                             policy.failed_layer_cache_size)) {
        log::Warn(kComponent, "layer refused; remembered",
                  {{"registry", client.registry()},
                   {"repository", repository},
                   {"digest", layer.descriptor.digest.ToString()},
                   {"seconds", policy.failed_layer_ttl_ns / 1'000'000'000},
                   {"error", lease.status()}});
      }
      return run.Fail(lease.status());
    }
    run.leases[i].emplace(*std::move(lease));
  }
}

// The remembered failure of the layer under `key`, as an error (OK when there is none). A free-space
// failure holds only while the store still lacks the room the layer needed.
absl::Status Puller::RecentFailure(const PullPolicy& policy, const std::string& key) {
  std::optional<FailedLayerCache::Failure> prior = failures_.Find(key);
  if (!prior) return absl::OkStatus();
  if (prior->needs_bytes) {
    absl::StatusOr<uint64_t> room = store_.FreeSpaceHeadroom(policy.reserve);
    if (room.ok() && *room >= *prior->needs_bytes) {
      failures_.Forget(key);
      return absl::OkStatus();
    }
  }
  int64_t left = std::max<int64_t>(1, (prior->expires - MonotonicNow()) / 1'000'000'000);
  return absl::Status(prior->error.code(), StrCat("failed earlier, not fetched again for ", left,
                                                  " s ([crio.image] failed_layer_cache_duration): ",
                                                  ToStd(prior->error.message())));
}

// One pass over the layer: this thread extracts from a PipeSource while a producer thread runs the
// download, whose verified and decompressed chunks it pushes into the pipe. The pipe is closed with
// the download's final status, so the extraction (which reads to the end of the stream) commits only
// after the compressed digest and size matched.
absl::StatusOr<storage::LayerLease> Puller::FetchAndApply(RegistryClient& client,
                                                          const std::string& repository,
                                                          const PullPolicy& policy, const LayerPlan& layer,
                                                          storage::LayerClaim& claim, LayerRun& run) {
  int64_t start = MonotonicNow();
  storage::PipeSource pipe(std::max<size_t>(policy.pipe_capacity, kDecompressChunk));
  absl::StatusOr<LayerStreamResult> fetched = absl::UnknownError("not run");
  std::thread producer([&] {
    ChunkSink sink = [&pipe](std::string_view chunk) {
      if (!pipe.Write(chunk)) return absl::AbortedError("the layer's extraction stopped");
      return absl::OkStatus();
    };
    LayerDecoder::Options decode;
    decode.max_expansion_ratio = policy.max_layer_expansion_ratio;
    fetched = client.FetchLayer(repository, layer.descriptor, sink, run.inner_ctx, decode);
    pipe.Close(fetched.status());
  });
  storage::ApplyOptions apply;
  apply.limits = policy.limits;
  apply.reserve = policy.reserve;
  apply.cancelled = run.inner_ctx.cancelled;
  apply.deadline = run.inner_ctx.deadline;
  apply.image = &run.tally;
  absl::StatusOr<storage::LayerLease> lease = claim.Apply(pipe, apply);
  if (!lease.ok()) pipe.CloseRead();
  producer.join();
  std::string what = StrCat("layer ", layer.index + 1, "/", run.layers.size(), " (",
                            layer.descriptor.digest.ToString(), ")");
  if (!lease.ok()) {
    // A download error reaches Apply through the pipe and comes back from it; report the download's
    // own status then, without the extraction's wrapping.
    if (!fetched.ok() && !absl::IsAborted(fetched.status())) return Annotate(fetched.status(), what);
    return Annotate(lease.status(), what);
  }
  {
    absl::MutexLock l(&run.mu);
    ++run.fetched;
    run.bytes += fetched->compressed_size;
  }
  log::Debug(kComponent, "layer stored",
             {{"layer", what},
              {"compression", CompressionName(fetched->compression)},
              {"compressed", fetched->compressed_size},
              {"uncompressed", fetched->uncompressed_size},
              {"ms", (MonotonicNow() - start) / 1'000'000}});
  return lease;
}

}  // namespace cricket::image
