#include "server/container_events.h"

#include "lib/common/logging.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"
#include "server/cri_runtime.h"

namespace cricket::server {

namespace v1 = ::runtime::v1;

namespace {
constexpr char kComponent[] = "events";
}  // namespace

// ---------------------------------------------------------------------------------------------------
// EventSubscription

absl::StatusOr<ContainerEventPtr> EventSubscription::Next(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return closed_.has_value() || !queue_.empty(); };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (closed_) return *closed_;
  if (queue_.empty()) return nullptr;
  ContainerEventPtr e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

void EventSubscription::BeginWrite() {
  absl::MutexLock l(&mu_);
  writing_ = true;
}

void EventSubscription::EndWrite() {
  absl::MutexLock l(&mu_);
  writing_ = false;
}

size_t EventSubscription::queued() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

EventSubscription::PushResult EventSubscription::Push(const ContainerEventPtr& e, size_t limit,
                                                      absl::Time now, size_t* discarded) {
  absl::MutexLock l(&mu_);
  if (closed_) return PushResult::kClosed;
  if (queue_.size() < limit) {
    queue_.push_back(e);
    return PushResult::kQueued;
  }
  *discarded = queue_.size() + 1;
  closed_ = absl::ResourceExhaustedError(
      StrCat("cricket dropped this container event subscriber: it left ", queue_.size(),
             " events unread (the limit per subscriber); subscribe again and relist"));
  closed_at_ = now;
  std::deque<ContainerEventPtr>().swap(queue_);  // free the memory now, not when the stream ends
  return PushResult::kOverflowed;
}

void EventSubscription::Close(absl::Status why, absl::Time now) {
  absl::MutexLock l(&mu_);
  if (closed_) return;
  closed_ = std::move(why);
  closed_at_ = now;
  std::deque<ContainerEventPtr>().swap(queue_);
}

void EventSubscription::CancelIfStalled(absl::Duration grace, absl::Time now) {
  {
    absl::MutexLock l(&mu_);
    if (!closed_ || !writing_ || cancelled_ || now - closed_at_ < grace) return;
    cancelled_ = true;
  }
  if (cancel_) cancel_();
}

// ---------------------------------------------------------------------------------------------------
// ContainerEvents

ContainerEvents::ContainerEvents(ContainerEventsOptions options)
    : options_(std::move(options)), replay_until_(options_.clock() + options_.replay_window) {}

void ContainerEvents::SetListener(std::function<void(const ContainerEvent&)> listener) {
  absl::MutexLock l(&mu_);
  listener_ = std::move(listener);
}

void ContainerEvents::Loaded(const SandboxRecord& s) {
  absl::MutexLock l(&mu_);
  sandboxes_[s.id] = std::make_shared<const SandboxRecord>(s);
  pod_containers_[s.id];
  // A loaded sandbox was started in an earlier life of the daemon; NotReady means stopped since.
  seen_[s.id] = Seen{.started = true, .stopped = s.state == SandboxState::kNotReady};
}

void ContainerEvents::Loaded(const ContainerRecord& c) {
  absl::MutexLock l(&mu_);
  containers_[c.id] = std::make_shared<const ContainerRecord>(c);
  pod_containers_[c.sandbox_id].insert(c.id);
  seen_[c.id] = Seen{.started = c.state == ContainerState::kRunning || c.started_at != 0,
                     .stopped = c.state == ContainerState::kExited};
}

void ContainerEvents::Saved(const SandboxRecord& s) {
  absl::MutexLock l(&mu_);
  bool known = sandboxes_.contains(s.id);
  sandboxes_[s.id] = std::make_shared<const SandboxRecord>(s);
  pod_containers_[s.id];
  Seen& seen = seen_[s.id];
  if (!known) Publish(s.id, nullptr, v1::CONTAINER_CREATED_EVENT);
  if (s.state == SandboxState::kReady && !seen.started) {
    seen.started = true;
    Publish(s.id, nullptr, v1::CONTAINER_STARTED_EVENT);
  }
  if (s.state == SandboxState::kNotReady && seen.started && !seen.stopped) {
    seen.stopped = true;
    Publish(s.id, nullptr, v1::CONTAINER_STOPPED_EVENT);
  }
}

void ContainerEvents::Saved(const ContainerRecord& c) {
  absl::MutexLock l(&mu_);
  bool known = containers_.contains(c.id);
  auto record = std::make_shared<const ContainerRecord>(c);
  containers_[c.id] = record;
  pod_containers_[c.sandbox_id].insert(c.id);
  Seen& seen = seen_[c.id];
  if (!known) Publish(c.sandbox_id, record, v1::CONTAINER_CREATED_EVENT);
  // started_at is set before the process is released (container_ops.cc), so a process that exits at
  // once is seen started before it is seen stopped.
  bool started =
      c.state == ContainerState::kRunning || (c.state == ContainerState::kExited && c.started_at != 0);
  if (started && !seen.started) {
    seen.started = true;
    Publish(c.sandbox_id, record, v1::CONTAINER_STARTED_EVENT);
  }
  if (c.state == ContainerState::kExited && !seen.stopped) {
    seen.stopped = true;
    Publish(c.sandbox_id, record, v1::CONTAINER_STOPPED_EVENT);
  }
}

void ContainerEvents::Deleted(const SandboxRecord& s) {
  absl::MutexLock l(&mu_);
  if (!sandboxes_.contains(s.id)) return;
  Publish(s.id, nullptr, v1::CONTAINER_DELETED_EVENT);
  sandboxes_.erase(s.id);
  if (auto it = pod_containers_.find(s.id); it != pod_containers_.end() && it->second.empty()) {
    pod_containers_.erase(it);
  }
  seen_.erase(s.id);
}

void ContainerEvents::Deleted(const ContainerRecord& c) {
  absl::MutexLock l(&mu_);
  auto found = containers_.find(c.id);
  if (found == containers_.end()) return;
  std::shared_ptr<const ContainerRecord> record = std::move(found->second);
  containers_.erase(found);
  if (auto it = pod_containers_.find(c.sandbox_id); it != pod_containers_.end()) {
    it->second.erase(c.id);
    if (it->second.empty() && !sandboxes_.contains(c.sandbox_id)) pod_containers_.erase(it);
  }
  seen_.erase(c.id);
  Publish(c.sandbox_id, std::move(record), v1::CONTAINER_DELETED_EVENT);
}

void ContainerEvents::ExpireReplay(absl::Time now) {
  if (replay_open_ && now >= replay_until_) {
    replay_open_ = false;
    std::deque<ContainerEventPtr>().swap(replay_);
  }
}

void ContainerEvents::Publish(const std::string& sandbox_id, std::shared_ptr<const ContainerRecord> container,
                              v1::ContainerEventType type) {
  auto e = std::make_shared<ContainerEvent>();
  e->id = container ? container->id : sandbox_id;
  e->type = type;
  e->created_at = RealtimeNow();
  e->sandbox_event = container == nullptr;
  e->container = std::move(container);
  if (auto it = sandboxes_.find(sandbox_id); it != sandboxes_.end()) e->sandbox = it->second;
  if (auto it = pod_containers_.find(sandbox_id); it != pod_containers_.end()) {
    for (const std::string& cid : it->second) {
      if (auto c = containers_.find(cid); c != containers_.end()) e->containers.push_back(c->second);
    }
  }
  ++counters_.events;
  if (listener_) listener_(*e);
  absl::Time now = options_.clock();
  ExpireReplay(now);
  if (replay_open_) {
    replay_.push_back(e);
    if (replay_.size() > options_.replay_limit) replay_.pop_front();
  }
  for (const auto& sub : subscribers_) {
    size_t discarded = 0;
    switch (sub->Push(e, options_.queue_limit, now, &discarded)) {
      case EventSubscription::PushResult::kQueued:
        break;
      case EventSubscription::PushResult::kOverflowed:
        ++counters_.dropped_subscribers;
        counters_.dropped_events += discarded;
        log::Warn(kComponent, "dropped a container event subscriber that does not keep up",
                  {{"unread", static_cast<int64_t>(discarded)}});
        break;
      case EventSubscription::PushResult::kClosed:
        sub->CancelIfStalled(options_.stalled_write_grace, now);
        break;
    }
  }
}

absl::StatusOr<std::shared_ptr<EventSubscription>> ContainerEvents::Subscribe(std::function<void()> cancel) {
  absl::MutexLock l(&mu_);
  if (shut_down_) return absl::UnavailableError("cricketd is shutting down");
  std::shared_ptr<EventSubscription> sub(new EventSubscription(std::move(cancel)));
  absl::Time now = options_.clock();
  ExpireReplay(now);
  for (const ContainerEventPtr& e : replay_) {
    size_t discarded = 0;
    (void)sub->Push(e, options_.queue_limit, now, &discarded);
  }
  subscribers_.push_back(sub);
  counters_.subscribers = subscribers_.size();
  return sub;
}

void ContainerEvents::Unsubscribe(const std::shared_ptr<EventSubscription>& s) {
  absl::MutexLock l(&mu_);
  std::erase(subscribers_, s);
  counters_.subscribers = subscribers_.size();
}

void ContainerEvents::Shutdown() {
  std::vector<std::shared_ptr<EventSubscription>> subs;
  {
    absl::MutexLock l(&mu_);
    shut_down_ = true;
    subs = subscribers_;
  }
  for (const auto& sub : subs) {
    sub->Close(absl::UnavailableError("cricketd is shutting down"), options_.clock());
    sub->CancelIfStalled(absl::ZeroDuration(), absl::InfiniteFuture());
  }
}

ContainerEvents::Counters ContainerEvents::counters() const {
  absl::MutexLock l(&mu_);
  return counters_;
}

// ---------------------------------------------------------------------------------------------------
// CriRuntime

void CriRuntime::EventToCri(const ContainerEvent& e, v1::ContainerEventResponse* out) {
  out->set_container_id(e.id);
  out->set_container_event_type(e.type);
  out->set_created_at(e.created_at);
  if (e.sandbox) FillSandboxStatus(*e.sandbox, out->mutable_pod_sandbox_status(), nullptr);
  for (const auto& c : e.containers) FillContainerStatus(*c, false, out->add_containers_statuses(), nullptr);
}

void CriRuntime::ConnectEventsAndMetrics() {
  metrics::DaemonMetrics* m = metrics_.get();
  events_.SetListener([m](const ContainerEvent& e) {
    if (e.container == nullptr) return;
    if (e.type == v1::CONTAINER_STOPPED_EVENT && e.container->reason == "OOMKilled") {
      m->RecordOomKill(e.container->name);
    }
    // As CRI-O: a removed container's per-name series goes with it.
    if (e.type == v1::CONTAINER_DELETED_EVENT) m->ForgetContainer(e.container->name);
  });
  m->registry().AddCollectHook([this, m] {
    ContainerEvents::Counters c = events_.counters();
    m->SetEventCounters(c.dropped_events, c.dropped_subscribers, c.subscribers);
  });
}

}  // namespace cricket::server
