// Threads of the streaming server: named (they show as /proc/PID/task/*/comm "stream-…"), started
// without exceptions, and never ended by one.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace cricket::streaming {

// Starts `fn` on a new thread named `name` (at most 15 characters). Failure to create the thread (out of
// threads or memory) is ResourceExhausted for the caller's request, never an abort. An exception that
// escapes `fn` is logged and ends only `fn`: it never reaches std::terminate.
absl::StatusOr<std::thread> StartThread(std::string name, std::function<void()> fn);

}  // namespace cricket::streaming
