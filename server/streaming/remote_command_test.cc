#include "server/streaming/remote_command.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/streaming/port_forward.h"
#include "server/streaming/remote_command_framing.h"
#include "server/streaming/websocket.h"

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

TEST(CommandStatus, InvalidUtf8IsReplacedNotThrown) {
  const std::string bad = "\xff\xfe";
  auto j = nlohmann::json::parse(CommandStatusJson(3, {"sh", bad}));
  EXPECT_EQ(j["reason"], "NonZeroExitCode");
  j = nlohmann::json::parse(CommandStatusJson(absl::InternalError("no such file " + bad), {bad}));
  EXPECT_EQ(j["reason"], "InternalError");
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

class RecordingSink : public CommandSink {
 public:
  void OnStdin(std::string_view data) override { stdin += data; }
  void OnStdinClose() override { stdin_closed = true; }
  void OnResize(std::string_view json) override { resize += json; }
  void OnOutputClosed(Channel) override {}
  void OnPeerGone() override { gone = true; }
  std::string stdin, resize;
  bool stdin_closed = false, gone = false;
};

// Messages are passed on in pieces as they arrive: the channel byte, base64 groups split anywhere, and
// v5's CLOSE message split from its channel.
TEST(WebSocketFraming, MessagesInPiecesAreDecodedAsTheyArrive) {
  for (bool base64 : {false, true}) {
    SCOPED_TRACE(base64 ? "base64" : "binary");
    auto framing = NewWebSocketCommandFraming(base64 ? CommandProtocol::kV4 : CommandProtocol::kV5, base64,
                                              StreamSet{true, true, true, false});
    RecordingSink sink;
    const std::string data = "hello, streaming world\n";
    const std::string resize = R"({"Width":1,"Height":2})";
    std::string wire;
    if (base64) {
      // "0" + base64(data), then "4" + base64(resize): text messages fed byte by byte.
      wire = ws::EncodeMaskedFrame(ws::kText, "0aGVsbG8sIHN0cmVhbWluZyB3b3JsZAo=", 0x01020304) +
             ws::EncodeMaskedFrame(ws::kText, "4eyJXaWR0aCI6MSwiSGVpZ2h0IjoyfQ==", 0x02030405);
    } else {
      // stdin split over two frames, the resize, then v5's CLOSE of stdin split from its channel.
      wire = ws::EncodeMaskedFrame(ws::kBinary, std::string(1, '\0') + data.substr(0, 5), 0x01020304, false) +
             ws::EncodeMaskedFrame(ws::kContinuation, data.substr(5), 0x05060708) +
             ws::EncodeMaskedFrame(ws::kBinary, "\x04" + resize, 0x11111111) +
             ws::EncodeMaskedFrame(ws::kBinary, "\xff", 0x0, false) +
             ws::EncodeMaskedFrame(ws::kContinuation, std::string(1, '\0'), 0x0);
    }
    for (char c : wire) ASSERT_TRUE(framing->Feed(std::string_view(&c, 1), sink).ok());
    EXPECT_EQ(sink.stdin, data);
    EXPECT_EQ(sink.resize, resize);
    EXPECT_EQ(sink.stdin_closed, !base64);
    EXPECT_LT(framing->buffered(), 64u);  // nothing held but a frame header and the first output
  }
}

}  // namespace
}  // namespace cricket::streaming
