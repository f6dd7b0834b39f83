#include "lib/oci/state.h"

#include <gtest/gtest.h>

namespace cricket::oci {
namespace {

using nlohmann::json;

TEST(State, SerializesLikeRunc) {
  State s;
  s.oci_version = "1.2.1";
  s.id = "c1";
  s.status = ContainerStatus::kRunning;
  s.pid = 4422;
  s.bundle = "/containers/redis";
  s.annotations = {{"k", "v"}};
  s.rootfs = "/containers/redis/rootfs";
  s.created_ns = 1475713029669794202;
  EXPECT_EQ(StateToJson(s), json::parse(R"({"ociVersion":"1.2.1","id":"c1","status":"running","pid":4422,
      "bundle":"/containers/redis","rootfs":"/containers/redis/rootfs",
      "created":"2016-10-06T00:17:09.669794202Z","owner":"","annotations":{"k":"v"}})"));
  absl::StatusOr<State> back = ParseStateText(SerializeState(s, 2));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, s);
}

TEST(State, StoppedStateKeepsPidZeroAndOmitsEmptyExtras) {
  State s{.oci_version = "1.2.1", .id = "x", .status = ContainerStatus::kStopped, .bundle = "/b"};
  json j = StateToJson(s);
  EXPECT_EQ(j["pid"], 0);
  EXPECT_FALSE(j.contains("rootfs"));
  EXPECT_FALSE(j.contains("created"));
  EXPECT_FALSE(j.contains("annotations"));
}

TEST(State, ParsesTheSpecExampleAndIgnoresUnknownProperties) {
  absl::StatusOr<State> s = ParseStateText(R"({"ociVersion":"0.2.0","id":"oci-container1","status":"created",
      "pid":4422,"bundle":"/containers/redis","annotations":{"myKey":"myValue"},"extra":[1]})");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->status, ContainerStatus::kCreated);
  EXPECT_EQ(s->pid, 4422);
  EXPECT_EQ(s->annotations.at("myKey"), "myValue");
}

TEST(State, ErrorsNameTheProperty) {
  EXPECT_EQ(
      ParseStateText(R"({"ociVersion":"1","id":"a","status":"zombie","bundle":"/b"})").status().message(),
      "state.json: status: unknown container status \"zombie\"");
  EXPECT_EQ(ParseStateText(R"({"ociVersion":"1","id":"a","status":"running"})").status().message(),
            "state.json: bundle: required property missing");
  EXPECT_EQ(ParseStateText(R"({"ociVersion":"1","id":"a","status":"running","bundle":"/b","pid":"1"})")
                .status()
                .message(),
            "state.json: pid: expected integer, got string");
  EXPECT_EQ(
      ParseStateText(R"({"ociVersion":"1","id":"a","status":"running","bundle":"/b","created":"yesterday"})")
          .status()
          .message(),
      "state.json: created: invalid time \"yesterday\"");
}

TEST(State, StatusNames) {
  for (auto st : {ContainerStatus::kCreating, ContainerStatus::kCreated, ContainerStatus::kRunning,
                  ContainerStatus::kStopped, ContainerStatus::kPaused}) {
    EXPECT_EQ(ParseContainerStatus(ContainerStatusName(st)), st);
  }
  EXPECT_EQ(ContainerStatusName(ContainerStatus::kStopped), "stopped");
  EXPECT_FALSE(ParseContainerStatus("Running").has_value());
}

TEST(State, ContainerProcessStateRoundTrip) {
  ContainerProcessState c;
  c.oci_version = "1.2.1";
  c.fds = {std::string(kSeccompFdName)};
  c.pid = 42;
  c.metadata = "m";
  c.state = State{
      .oci_version = "1.2.1", .id = "c", .status = ContainerStatus::kCreating, .pid = 42, .bundle = "/b"};
  json j = ContainerProcessStateToJson(c);
  EXPECT_EQ(j["fds"], json::parse(R"(["seccompFd"])"));
  EXPECT_EQ(j["state"]["status"], "creating");
  absl::StatusOr<ContainerProcessState> back = ParseContainerProcessState(j);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
  EXPECT_EQ(ParseContainerProcessState(json::parse(R"({"ociVersion":"1","pid":1})")).status().message(),
            "state: required property missing");
}

}  // namespace
}  // namespace cricket::oci
