// The container side of the streaming server (server/streaming/): exec in a container through
// lib/runtime, attach through the container's cricket-conmon, and port dials inside the pod's pinned
// network namespace.
#pragma once

#include "server/cri_runtime.h"
#include "server/streaming/runtime.h"

namespace cricket::server {

class StreamingBackend final : public streaming::StreamingRuntime {
 public:
  explicit StreamingBackend(CriRuntime& runtime) : runtime_(runtime) {}

  absl::StatusOr<int> Exec(const streaming::ExecParams& params, streaming::StreamIo& io) override;
  absl::Status Attach(const streaming::AttachParams& params, streaming::StreamIo& io) override;
  absl::StatusOr<UniqueFd> DialPort(const std::string& sandbox_id, int32_t port) override;

 private:
  CriRuntime& runtime_;
};

}  // namespace cricket::server
