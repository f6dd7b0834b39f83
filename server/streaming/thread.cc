#include "server/streaming/thread.h"

#include <pthread.h>

#include <exception>
#include <system_error>

#include "lib/common/logging.h"
#include "lib/common/strings.h"

namespace cricket::streaming {
namespace {

void Report(const std::string& thread, const char* what) noexcept {
  try {
    log::Error("streaming", "streaming thread ended by an exception", {{"thread", thread}, {"error", what}});
  } catch (...) {  // nothing left to tell anyone with
  }
}

}  // namespace

absl::StatusOr<std::thread> StartThread(std::string name, std::function<void()> fn) {
  auto body = [name, fn = std::move(fn)]() noexcept {
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    try {
      fn();
    } catch (const std::exception& e) {
      Report(name, e.what());
    } catch (...) {
      Report(name, "unknown exception");
    }
  };
  try {
    return std::thread(std::move(body));
  } catch (const std::system_error& e) {
    return absl::ResourceExhaustedError(StrCat("cannot start thread ", name, ": ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(StrCat("cannot start thread ", name, ": out of memory"));
  }
}

}  // namespace cricket::streaming
