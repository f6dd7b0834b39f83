#include "server/container_events.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "lib/common/file_util.h"

namespace cricket::server {
namespace {

namespace v1 = ::runtime::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

SandboxRecord Pod(const std::string& id, SandboxState state) {
  SandboxRecord s;
  s.id = id;
  s.state = state;
  s.config.mutable_metadata()->set_name("pod-" + id);
  return s;
}

ContainerRecord Ctr(const std::string& id, const std::string& pod, ContainerState state,
                    int64_t started_at = 0) {
  ContainerRecord c;
  c.id = id;
  c.sandbox_id = pod;
  c.name = "name-" + id;
  c.state = state;
  c.started_at = started_at;
  return c;
}

// "id:TYPE" for each event left in the subscription.
std::vector<std::string> Drain(EventSubscription& sub) {
  std::vector<std::string> out;
  for (;;) {
    auto e = sub.Next(absl::ZeroDuration());
    if (!e.ok() || *e == nullptr) return out;
    std::string type = v1::ContainerEventType_Name((*e)->type);
    out.push_back((*e)->id + ":" + type.substr(10, type.size() - 16));  // CONTAINER_X_EVENT -> X
  }
}

std::shared_ptr<EventSubscription> MustSubscribe(ContainerEvents& events, std::function<void()> cancel = {}) {
  auto sub = events.Subscribe(std::move(cancel));
  EXPECT_TRUE(sub.ok()) << sub.status();
  return sub.ok() ? *sub : nullptr;
}

TEST(ContainerEventsTest, TransitionsOfAPodAndItsContainerInOrder) {
  ContainerEvents events({.replay_window = absl::ZeroDuration()});
  auto sub = MustSubscribe(events);
  events.Saved(Pod("p", SandboxState::kReady));
  events.Saved(Ctr("c", "p", ContainerState::kCreated));
  events.Saved(Ctr("c", "p", ContainerState::kCreated));  // a save without a transition
  events.Saved(Ctr("c", "p", ContainerState::kRunning, 5));
  events.Saved(Ctr("c", "p", ContainerState::kExited, 5));
  events.Deleted(Ctr("c", "p", ContainerState::kExited, 5));
  events.Saved(Pod("p", SandboxState::kNotReady));
  events.Deleted(Pod("p", SandboxState::kNotReady));
  EXPECT_THAT(Drain(*sub), ElementsAre("p:CREATED", "p:STARTED", "c:CREATED", "c:STARTED", "c:STOPPED",
                                       "c:DELETED", "p:STOPPED", "p:DELETED"));
  EXPECT_EQ(events.counters().events, 8u);
}

TEST(ContainerEventsTest, EventsCarryThePodAndItsContainersAtThatInstant) {
  ContainerEvents events({.replay_window = absl::ZeroDuration()});
  events.Saved(Pod("p", SandboxState::kReady));
  events.Saved(Ctr("a", "p", ContainerState::kRunning, 1));
  auto sub = MustSubscribe(events);
  events.Saved(Ctr("b", "p", ContainerState::kCreated));
  events.Saved(Ctr("a", "p", ContainerState::kExited, 1));
  events.Deleted(Ctr("a", "p", ContainerState::kExited, 1));
  auto created = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(created.ok() && *created);
  EXPECT_EQ((*created)->id, "b");
  ASSERT_NE((*created)->sandbox, nullptr);
  EXPECT_EQ((*created)->sandbox->id, "p");
  ASSERT_EQ((*created)->containers.size(), 2u);
  EXPECT_EQ((*created)->containers[0]->state, ContainerState::kRunning);  // a, as it was then
  auto stopped = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(stopped.ok() && *stopped);
  EXPECT_EQ((*stopped)->containers[0]->state, ContainerState::kExited);
  EXPECT_EQ((*created)->containers[0]->state, ContainerState::kRunning);  // snapshots do not change
  auto deleted = sub->Next(absl::ZeroDuration());
  ASSERT_TRUE(deleted.ok() && *deleted);
  EXPECT_EQ((*deleted)->type, v1::CONTAINER_DELETED_EVENT);
  ASSERT_NE((*deleted)->container, nullptr);
  EXPECT_EQ((*deleted)->container->id, "a");
  ASSERT_EQ((*deleted)->containers.size(), 1u);  // only b is left in the pod
  EXPECT_EQ((*deleted)->containers[0]->id, "b");
}

TEST(ContainerEventsTest, AQuickExitIsSeenStartedThenStopped) {
  ContainerEvents events({.replay_window = absl::ZeroDuration()});
  auto sub = MustSubscribe(events);
  events.Saved(Ctr("c", "p", ContainerState::kCreated));
  // The exit monitor records the exit before StartContainer saves the running state.
  events.Saved(Ctr("c", "p", ContainerState::kExited, /*started_at=*/7));
  events.Saved(Ctr("c", "p", ContainerState::kExited, 7));
  EXPECT_THAT(Drain(*sub), ElementsAre("c:CREATED", "c:STARTED", "c:STOPPED"));
  // Killed before it was started: stopped, never started.
  events.Saved(Ctr("d", "p", ContainerState::kCreated));
  events.Saved(Ctr("d", "p", ContainerState::kExited, 0));
  EXPECT_THAT(Drain(*sub), ElementsAre("d:CREATED", "d:STOPPED"));
}

TEST(ContainerEventsTest, LoadedRecordsAreNotAnnouncedButTheirExitsAre) {
  ContainerEvents events;  // the default replay window: a subscriber arriving after the restart
  events.Loaded(Pod("p", SandboxState::kReady));
  events.Loaded(Ctr("run", "p", ContainerState::kRunning, 3));
  events.Loaded(Ctr("old", "p", ContainerState::kExited, 3));
  // Settled at start: it died while the daemon was down.
  events.Saved(Ctr("run", "p", ContainerState::kExited, 3));
  events.Saved(Ctr("old", "p", ContainerState::kExited, 3));
  auto late = MustSubscribe(events);
  auto another = MustSubscribe(events);
  events.Saved(Pod("p", SandboxState::kNotReady));
  EXPECT_THAT(Drain(*late), ElementsAre("run:STOPPED", "p:STOPPED"));
  EXPECT_THAT(Drain(*another), ElementsAre("run:STOPPED", "p:STOPPED"));
}

TEST(ContainerEventsTest, ReplayEndsWithItsWindow) {
  absl::Time now = absl::UnixEpoch();
  ContainerEvents events({.replay_window = absl::Minutes(1), .clock = [&] { return now; }});
  events.Saved(Pod("p", SandboxState::kReady));
  now += absl::Seconds(59);
  auto early = MustSubscribe(events);
  now += absl::Seconds(2);
  auto late = MustSubscribe(events);
  events.Saved(Ctr("c", "p", ContainerState::kCreated));
  EXPECT_THAT(Drain(*early), ElementsAre("p:CREATED", "p:STARTED", "c:CREATED"));
  EXPECT_THAT(Drain(*late), ElementsAre("c:CREATED"));
}

TEST(ContainerEventsTest, ASubscriberThatFallsBehindIsDroppedAndCounted) {
  ContainerEvents events({.queue_limit = 4, .replay_window = absl::ZeroDuration()});
  auto slow = MustSubscribe(events);
  auto fast = MustSubscribe(events);
  std::vector<std::string> seen_fast;
  for (int i = 0; i < 10; ++i) {
    events.Saved(Ctr("c" + std::to_string(i), "p", ContainerState::kCreated));
    for (auto& e : Drain(*fast)) seen_fast.push_back(e);
  }
  EXPECT_EQ(seen_fast.size(), 10u);  // the fast one never noticed
  EXPECT_EQ(slow->queued(), 0u);     // the dropped queue is freed at once
  auto next = slow->Next(absl::ZeroDuration());
  ASSERT_FALSE(next.ok());
  EXPECT_EQ(next.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(next.status().message()), HasSubstr("left 4 events unread"));
  ContainerEvents::Counters c = events.counters();
  EXPECT_EQ(c.dropped_subscribers, 1u);
  EXPECT_EQ(c.dropped_events, 5u);  // the four queued and the fifth that did not fit
  EXPECT_EQ(c.subscribers, 2u);     // until its stream ends and it unsubscribes
  events.Unsubscribe(slow);
  EXPECT_EQ(events.counters().subscribers, 1u);
}

TEST(ContainerEventsTest, ADroppedSubscriberStuckInAWriteIsCancelledAfterTheGrace) {
  absl::Time now = absl::UnixEpoch();
  ContainerEvents events({.queue_limit = 1,
                          .replay_window = absl::ZeroDuration(),
                          .stalled_write_grace = absl::Seconds(10),
                          .clock = [&] { return now; }});
  std::atomic<int> cancels{0};
  auto stuck = MustSubscribe(events, [&] { ++cancels; });
  stuck->BeginWrite();  // never returns: the client stopped reading
  events.Saved(Ctr("a", "p", ContainerState::kCreated));
  events.Saved(Ctr("b", "p", ContainerState::kCreated));  // overflow: dropped
  now += absl::Seconds(9);
  events.Saved(Ctr("c", "p", ContainerState::kCreated));
  EXPECT_EQ(cancels, 0);  // within the grace
  now += absl::Seconds(2);
  events.Saved(Ctr("d", "p", ContainerState::kCreated));
  events.Saved(Ctr("e", "p", ContainerState::kCreated));
  EXPECT_EQ(cancels, 1);  // once
  // A dropped subscriber that is not in a write ends by itself at its next Next(): never cancelled.
  auto idle = MustSubscribe(events, [&] { ++cancels; });
  events.Saved(Ctr("f", "p", ContainerState::kCreated));
  events.Saved(Ctr("g", "p", ContainerState::kCreated));
  now += absl::Minutes(1);
  events.Saved(Ctr("h", "p", ContainerState::kCreated));
  EXPECT_EQ(cancels, 1);
  EXPECT_EQ(idle->Next(absl::ZeroDuration()).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(ContainerEventsTest, ShutdownClosesEverySubscriberAndRefusesNewOnes) {
  ContainerEvents events;
  std::atomic<int> cancels{0};
  auto waiting = MustSubscribe(events, [&] { ++cancels; });
  auto writing = MustSubscribe(events, [&] { ++cancels; });
  writing->BeginWrite();
  std::thread reader([&] {
    auto e = waiting->Next(absl::Seconds(30));
    EXPECT_EQ(e.status().code(), absl::StatusCode::kUnavailable);
  });
  absl::SleepFor(absl::Milliseconds(20));
  events.Shutdown();
  reader.join();
  EXPECT_EQ(cancels, 1);  // only the one stuck in a write needed cancelling
  EXPECT_EQ(events.Subscribe({}).status().code(), absl::StatusCode::kUnavailable);
}

TEST(ContainerEventsTest, TenSubscribersSeeTheSameSequence) {
  ContainerEvents events({.replay_window = absl::ZeroDuration()});
  std::vector<std::shared_ptr<EventSubscription>> subs;
  for (int i = 0; i < 10; ++i) subs.push_back(MustSubscribe(events));
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        events.Saved(Ctr(id, "p", ContainerState::kCreated));
        events.Saved(Ctr(id, "p", ContainerState::kRunning, 1));
      }
    });
  }
  for (auto& w : writers) w.join();
  std::vector<std::string> first = Drain(*subs[0]);
  EXPECT_EQ(first.size(), 200u);
  for (size_t i = 1; i < subs.size(); ++i) EXPECT_EQ(Drain(*subs[i]), first) << i;
}

TEST(ContainerEventsTest, TheStoreFeedsItsObserver) {
  char tmpl[] = "/tmp/cricket-events-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  ContainerEvents events({.replay_window = absl::ZeroDuration()});
  StateStore store(tmpl);
  store.SetObserver(&events);
  auto sub = MustSubscribe(events);
  ContainerRecord c = Ctr("c", "p", ContainerState::kCreated);
  ASSERT_TRUE(store.Save(c).ok());
  c.state = ContainerState::kRunning;
  c.started_at = 1;
  ASSERT_TRUE(store.Save(c).ok());
  ASSERT_TRUE(store.Delete(c).ok());
  EXPECT_THAT(Drain(*sub), ElementsAre("c:CREATED", "c:STARTED", "c:DELETED"));
  // A record that cannot be written is not announced: its directory is taken by a file.
  ASSERT_TRUE(WriteFileAtomic(std::string(tmpl) + "/containers/c2", "not a directory").ok());
  EXPECT_FALSE(store.Save(Ctr("c2", "p", ContainerState::kCreated)).ok());
  EXPECT_TRUE(Drain(*sub).empty());
  ASSERT_TRUE(RemoveAll(tmpl).ok());
}

}  // namespace
}  // namespace cricket::server
