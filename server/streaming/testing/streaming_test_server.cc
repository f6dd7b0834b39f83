// A streaming server over LocalProcessRuntime, driven by JSON lines on stdin, for the e2e clients in
// test/e2e/streaming. Prints {"base_url":…,"port":…} once listening, then answers each request line:
//   {"op":"exec","container":"c","cmd":["sh","-c","…"],"tty":false,"stdin":true,"stdout":true,"stderr":true}
//   {"op":"attach","container":"c",…}   (containers: --container=ID=CMD, run afresh per attach)
//   {"op":"portforward","sandbox":"s","ports":[80]}   (sandboxes: --sandbox=ID; ports dialled on loopback)
// with {"url":…} or {"error":…,"code":…}. Exits at EOF on stdin.
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/strings.h"
#include "server/streaming/server.h"
#include "server/streaming/testing/local_process_runtime.h"

using cricket::StrCat;
using namespace cricket::streaming;

namespace {

nlohmann::json Answer(StreamingServer& server, const nlohmann::json& req) {
  const std::string op = req.value("op", "");
  absl::StatusOr<std::string> url = absl::InvalidArgumentError(StrCat("unknown op \"", op, "\""));
  if (op == "exec") {
    ExecParams p;
    p.container_id = req.value("container", "");
    p.cmd = req.value("cmd", std::vector<std::string>{});
    p.tty = req.value("tty", false);
    p.stdin = req.value("stdin", false);
    p.stdout = req.value("stdout", false);
    p.stderr = req.value("stderr", false);
    url = server.GetExecUrl(p);
  } else if (op == "attach") {
    AttachParams p;
    p.container_id = req.value("container", "");
    p.tty = req.value("tty", false);
    p.stdin = req.value("stdin", false);
    p.stdout = req.value("stdout", false);
    p.stderr = req.value("stderr", false);
    url = server.GetAttachUrl(p);
  } else if (op == "portforward") {
    PortForwardParams p;
    p.sandbox_id = req.value("sandbox", "");
    p.ports = req.value("ports", std::vector<int32_t>{});
    url = server.GetPortForwardUrl(p);
  }
  if (url.ok()) return {{"url", *url}};
  return {{"error", std::string(url.status().message())},
          {"code", absl::StatusCodeToString(url.status().code())}};
}

}  // namespace

int main(int argc, char** argv) {
  StreamingServerOptions options;
  auto runtime = std::make_shared<testing::LocalProcessRuntime>();
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto kv = cricket::SplitOnce(arg, '=');
    const std::string_view key = kv ? kv->first : arg;
    const std::string value(kv ? kv->second : std::string_view());
    if (key == "--address")
      options.address = value;
    else if (key == "--port")
      options.port = std::stoi(value);
    else if (key == "--tls-cert")
      options.tls_cert = value, options.enable_tls = true;
    else if (key == "--tls-key")
      options.tls_key = value;
    else if (key == "--tls-ca")
      options.tls_ca = value;
    else if (key == "--idle-timeout-ms")
      options.idle_timeout_ns = std::stoll(value) * 1000000;
    else if (key == "--creation-timeout-ms")
      options.creation_timeout_ns = std::stoll(value) * 1000000;
    else if (key == "--max-tokens")
      options.max_tokens = std::stoul(value);
    else if (key == "--max-port-pairs")
      options.max_port_pairs = std::stoul(value);
    else if (key == "--max-pairs-per-port")
      options.max_pairs_per_port = std::stoul(value);
    else if (key == "--connection-buffer-bytes")
      options.connection_buffer_bytes = std::stoul(value);
    else if (key == "--sandbox")
      runtime->AddSandbox(value);
    else if (key == "--container") {
      auto idcmd = cricket::SplitOnce(value, '=');
      if (!idcmd) {
        std::cerr << "--container wants ID=CMD\n";
        return 2;
      }
      runtime->AddContainer(std::string(idcmd->first), {"/bin/sh", "-c", std::string(idcmd->second)});
    } else if (key == "--debug") {
      cricket::log::SetLevel(cricket::log::Level::kDebug);
    } else {
      std::cerr << "unknown flag " << arg << "\n";
      return 2;
    }
  }
  auto server = StreamingServer::Start(options, runtime);
  if (!server.ok()) {
    std::cerr << "start: " << server.status() << "\n";
    return 1;
  }
  std::cout << nlohmann::json{{"base_url", (*server)->base_url()}, {"port", (*server)->port()}}.dump()
            << std::endl;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (cricket::TrimSpace(line).empty()) continue;
    auto req = cricket::ParseJson(line, "request line");
    nlohmann::json answer = {{"error", std::string(req.status().message())}};
    if (req.ok()) {
      try {  // the parse boundary for request fields of the wrong type
        answer = Answer(**server, *req);
      } catch (const nlohmann::json::exception& e) {
        answer = {{"error", e.what()}};
      }
    }
    std::cout << answer.dump() << std::endl;
  }
  (*server)->Stop();
  return 0;
}
