// Where a multi-step RPC spends its time: each Mark() closes a step, and Summary() lists them
// ("pin=0.4 files=0.2 cni=9.1 infra=31.0 save=0.8 total=41.5", milliseconds) for one debug line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_format.h"
#include "lib/common/time_util.h"

namespace cricket::server {

class StepTimer {
 public:
  StepTimer() : start_(MonotonicNow()), last_(start_) {}

  // Closes the step that began at the previous mark (or at construction) under `name`.
  void Mark(std::string_view name) {
    int64_t now = MonotonicNow();
    steps_.append(name);
    steps_ += absl::StrFormat("=%.1f ", static_cast<double>(now - last_) / 1e6);
    last_ = now;
  }

  std::string Summary() const {
    return steps_ + absl::StrFormat("total=%.1f", static_cast<double>(last_ - start_) / 1e6);
  }

 private:
  int64_t start_;
  int64_t last_;
  std::string steps_;
};

}  // namespace cricket::server
