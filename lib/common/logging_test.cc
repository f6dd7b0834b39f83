#include "lib/common/logging.h"

#include <gtest/gtest.h>

#include <vector>

namespace cricket::log {
namespace {

TEST(Logging, FormatsLogfmtWithQuoting) {
  std::string line = FormatLine(Level::kInfo, "server", "listening on socket",
                                {{"socket", "/run/x.sock"}, {"n", 3}, {"why", "has space"}, {"q", "a\"b"}});
  EXPECT_NE(line.find(" level=info component=server msg=\"listening on socket\" socket=/run/x.sock n=3 "
                      "why=\"has space\" q=\"a\\\"b\"\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.rfind("time=", 0), 0u);
}

TEST(Logging, LevelFiltersAndSinkReceivesLines) {
  std::vector<std::string> got;
  SetSink([&](std::string_view l) { got.emplace_back(l); });
  SetLevel(Level::kWarn);
  Info("t", "dropped");
  Warn("t", "kept", {{"k", "v"}});
  SetLevel(Level::kInfo);
  SetSink(nullptr);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_NE(got[0].find("msg=\"kept\" k=v"), std::string::npos);
}

TEST(Logging, ParseLevelAcceptsCrioNames) {
  EXPECT_EQ(*ParseLevel("warning"), Level::kWarn);
  EXPECT_EQ(*ParseLevel("DEBUG"), Level::kDebug);
  EXPECT_EQ(*ParseLevel("panic"), Level::kFatal);
  EXPECT_FALSE(ParseLevel("loud").ok());
}

}  // namespace
}  // namespace cricket::log
