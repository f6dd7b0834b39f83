// Container events (CRI GetContainerEvents, the stream kubelet's Evented PLEG reads instead of
// relisting): every CREATED, STARTED, STOPPED and DELETED of a container and of a pod sandbox (the
// infra's events carry the sandbox id), in the order they were recorded, each with the pod's records at
// that instant (the RPC turns them into the pod status and its containers' statuses).
//
// Events come from one place: the StateStore tells ContainerEvents (a RecordObserver) of every record it
// loads, saves and deletes, and ContainerEvents derives the transitions from the states it has seen, so
// no RPC handler announces anything. That includes what the daemon settles at start (containers that
// exited while it was down): events recorded in the first minute after start are kept and replayed to
// every subscriber that connects within that minute (a kubelet reconnecting after a restart), followed
// by the live ones, so that every subscriber sees the same sequence.
//
// A subscriber never slows the daemon: publishing appends to each subscriber's bounded queue and never
// waits. A subscriber whose queue overflows is dropped: its queue is freed at once, its stream ends
// with RESOURCE_EXHAUSTED saying why, and the drop is counted. A dropped subscriber stuck in a write
// (a client that stopped reading) is cancelled after a grace period.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "runtime/v1/api.pb.h"
#include "server/records.h"

namespace cricket::server {

// One recorded event: what happened to which object, and its pod's records at that instant.
struct ContainerEvent {
  std::string id;  // the container's id, or the sandbox's for the infra's events
  ::runtime::v1::ContainerEventType type = ::runtime::v1::CONTAINER_CREATED_EVENT;
  int64_t created_at = 0;                                          // ns since the epoch
  bool sandbox_event = false;                                      // `id` names the sandbox
  std::shared_ptr<const ContainerRecord> container;                // the container's (last) record
  std::shared_ptr<const SandboxRecord> sandbox;                    // null if the pod is unknown
  std::vector<std::shared_ptr<const ContainerRecord>> containers;  // the pod's containers
};
using ContainerEventPtr = std::shared_ptr<const ContainerEvent>;

struct ContainerEventsOptions {
  size_t queue_limit = 1000;                                       // events a subscriber may leave unread
  absl::Duration replay_window = absl::Minutes(1);                 // after construction (daemon start)
  size_t replay_limit = 1000;                                      // events kept for replay
  absl::Duration stalled_write_grace = absl::Seconds(10);          // before a dropped writer is cancelled
  std::function<absl::Time()> clock = [] { return absl::Now(); };  // tests set time
};

// One GetContainerEvents stream's queue. Thread-safe.
class EventSubscription {
 public:
  // The next event, waiting up to `timeout`: nullptr when none came. Once the subscription is closed
  // (dropped, or the daemon shutting down), the closing status: ResourceExhausted or Unavailable.
  absl::StatusOr<ContainerEventPtr> Next(absl::Duration timeout);
  // Brackets the stream write of an event, so that a dropped subscriber stuck there can be cancelled.
  void BeginWrite();
  void EndWrite();
  size_t queued() const;

 private:
  friend class ContainerEvents;
  explicit EventSubscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  enum class PushResult { kQueued, kOverflowed, kClosed };
  // Queues `e`; when `limit` events are queued already, closes the subscription instead, discarding
  // its queue (*discarded: how many events that lost, `e` included).
  PushResult Push(const ContainerEventPtr& e, size_t limit, absl::Time now, size_t* discarded);
  void Close(absl::Status why, absl::Time now);
  // Cancels the stream once when it was closed more than `grace` ago and is still stuck in a write.
  void CancelIfStalled(absl::Duration grace, absl::Time now);

  const std::function<void()> cancel_;
  mutable absl::Mutex mu_;
  std::deque<ContainerEventPtr> queue_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Status> closed_ ABSL_GUARDED_BY(mu_);  // why, once closed
  absl::Time closed_at_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

class ContainerEvents final : public RecordObserver {
 public:
  explicit ContainerEvents(ContainerEventsOptions options = {});

  // RecordObserver: derives the transitions and publishes them.
  void Loaded(const SandboxRecord& s) override;
  void Loaded(const ContainerRecord& c) override;
  void Saved(const SandboxRecord& s) override;
  void Saved(const ContainerRecord& c) override;
  void Deleted(const SandboxRecord& s) override;
  void Deleted(const ContainerRecord& c) override;

  // A new subscriber, its queue starting with the replayed events (see the top of this file).
  // `cancel` cancels its stream (ServerContext::TryCancel); called at most once. Unavailable after
  // Shutdown.
  absl::StatusOr<std::shared_ptr<EventSubscription>> Subscribe(std::function<void()> cancel);
  void Unsubscribe(const std::shared_ptr<EventSubscription>& s);
  // Closes every subscription (Unavailable) and cancels those stuck in a write; later Subscribe calls
  // fail. For daemon shutdown, which must not wait for event streams.
  void Shutdown();

  // Called for each published event, under the events lock (keep it quick): the metrics count OOM
  // kills here.
  void SetListener(std::function<void(const ContainerEvent&)> listener);

  struct Counters {
    uint64_t events = 0;               // published
    uint64_t dropped_events = 0;       // discarded with dropped subscribers
    uint64_t dropped_subscribers = 0;  // closed because their queue overflowed
    size_t subscribers = 0;            // connected now
  };
  Counters counters() const;

 private:
  struct Seen {
    bool started = false;
    bool stopped = false;
  };
  // A container's event (`container` its record) or, with `container` null, the sandbox's.
  void Publish(const std::string& sandbox_id, std::shared_ptr<const ContainerRecord> container,
               ::runtime::v1::ContainerEventType type) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ExpireReplay(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ContainerEventsOptions options_;
  const absl::Time replay_until_;
  mutable absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const ContainerEvent&)> listener_ ABSL_GUARDED_BY(mu_);
  // The latest record of every object, and which transitions were announced.
  std::map<std::string, std::shared_ptr<const SandboxRecord>> sandboxes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<const ContainerRecord>> containers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>> pod_containers_ ABSL_GUARDED_BY(mu_);  // sandbox → ids
  std::map<std::string, Seen> seen_ ABSL_GUARDED_BY(mu_);
  std::deque<ContainerEventPtr> replay_ ABSL_GUARDED_BY(mu_);
  bool replay_open_ ABSL_GUARDED_BY(mu_) = true;
  std::vector<std::shared_ptr<EventSubscription>> subscribers_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cricket::server
