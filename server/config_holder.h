// The running configuration, shared by the RPC handlers. SIGHUP swaps in a new snapshot; a handler
// takes one snapshot per call and keeps using it.
#pragma once

#include <memory>
#include <mutex>

#include "server/config.h"

namespace cricket::server {

class ConfigHolder {
 public:
  explicit ConfigHolder(Config config) : current_(std::make_shared<const Config>(std::move(config))) {}

  std::shared_ptr<const Config> Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void Set(Config config) {
    auto next = std::make_shared<const Config>(std::move(config));
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(next);
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Config> current_;
};

}  // namespace cricket::server
