// A warning a client can trigger in a loop (a refused stream, a failed dial): the first occurrence is
// logged with its details, the rest only counted, and the count logged when the session ends, so that
// a hostile client costs a session two log lines, not one per request.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "lib/common/logging.h"

namespace cricket::streaming {

class CountedWarning {
 public:
  explicit CountedWarning(std::string_view msg) : msg_(msg) {}
  ~CountedWarning() {
    if (count_ > 1) log::Info("streaming", msg_, {{"count", count_}});
  }
  CountedWarning(const CountedWarning&) = delete;
  CountedWarning& operator=(const CountedWarning&) = delete;

  void Add(std::initializer_list<log::Field> fields) {
    if (count_++ == 0) log::Write(log::Level::kWarn, "streaming", msg_, fields);
  }

 private:
  std::string msg_;
  uint64_t count_ = 0;
};

}  // namespace cricket::streaming
