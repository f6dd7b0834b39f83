#include "server/streaming/remote_command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/streaming/port_forward.h"

namespace cricket::streaming {
namespace {

TEST(CommandStatus, SuccessJson) {
  EXPECT_EQ(CommandStatusJson(0, {"true"}), R"({"metadata":{},"status":"Success"})");
  EXPECT_EQ(CommandStatusText(0, {"true"}), "");
}

TEST(CommandStatus, NonZeroExitCodeJson) {
  auto j = nlohmann::json::parse(CommandStatusJson(42, {"sh", "-c", "exit 42"}));
  EXPECT_EQ(j["status"], "Failure");
  EXPECT_EQ(j["reason"], "NonZeroExitCode");
  EXPECT_EQ(j["details"]["causes"], nlohmann::json::parse(R"([{"reason":"ExitCode","message":"42"}])"));
  EXPECT_EQ(
      j["message"],
      "command terminated with non-zero exit code: error executing command [sh -c exit 42], exit code 42");
  EXPECT_FALSE(j.contains("code"));
  EXPECT_EQ(CommandStatusText(42, {"x"}),
            "command terminated with non-zero exit code: error executing command [x], exit code 42");
}

TEST(CommandStatus, InternalErrorJson) {
  auto j = nlohmann::json::parse(CommandStatusJson(absl::NotFoundError("container abc not found"), {"ls"}));
  EXPECT_EQ(j["reason"], "InternalError");
  EXPECT_EQ(j["code"], 500);
  EXPECT_EQ(j["message"], "Internal error occurred: container abc not found");
  // Exit codes the client cannot parse (strconv.ParseUint(…, 10, 8)) are internal errors, not causes.
  auto bad = nlohmann::json::parse(CommandStatusJson(300, {"ls"}));
  EXPECT_EQ(bad["reason"], "InternalError");
  EXPECT_EQ(CommandStatusText(absl::InternalError("boom"), {}), "Internal error occurred: boom");
}

TEST(PortForward, ParsePort) {
  EXPECT_EQ(*ParsePort("80"), 80);
  EXPECT_EQ(*ParsePort("65535"), 65535);
  for (const char* bad : {"", "0", "65536", "-1", "http", "80 ", "+80"})
    EXPECT_FALSE(ParsePort(bad).ok()) << bad;
}

}  // namespace
}  // namespace cricket::streaming
