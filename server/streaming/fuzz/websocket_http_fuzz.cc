// libFuzzer target: the HTTP request-head parser and the WebSocket message reader.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "server/streaming/http_request.h"
#include "server/streaming/websocket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto req = cricket::streaming::ParseHttpRequest(input); req.ok()) {
    (void)req->HeaderList("x-stream-protocol-version");
    (void)req->HeaderHasToken("connection", "upgrade");
  }
  cricket::streaming::ws::MessageReader reader(1 << 20);
  reader.Append(input.substr(0, size / 2));
  for (int round = 0; round < 2; ++round) {
    while (true) {
      auto m = reader.Next();
      if (!m.ok() || !m->has_value()) break;
    }
    reader.Append(input.substr(size / 2));
  }
  return 0;
}
