// Content digests ("sha256:<hex>") as used by OCI images and by cricket's ids.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cricket {

// A validated digest: algorithm sha256 (64 hex) or sha512 (128 hex), lowercase hex only.
class Digest {
 public:
  static absl::StatusOr<Digest> Parse(std::string_view text);
  static Digest Sha256Of(std::string_view data);

  const std::string& algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  std::string ToString() const { return algorithm_ + ":" + hex_; }
  bool operator==(const Digest& o) const = default;

 private:
  Digest(std::string algorithm, std::string hex) : algorithm_(std::move(algorithm)), hex_(std::move(hex)) {}
  std::string algorithm_;
  std::string hex_;
};

// Incremental hashing for streams (blobs hashed while they are written or unpacked).
class Hasher {
 public:
  // `algorithm` is "sha256" or "sha512".
  static absl::StatusOr<Hasher> Create(std::string_view algorithm);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(const void* data, size_t len);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Finishes and returns "<algorithm>:<hex>". The hasher may not be used afterwards.
  std::string Finish();
  uint64_t bytes() const { return bytes_; }

 private:
  struct State;
  explicit Hasher(std::string algorithm, std::unique_ptr<State> state);
  std::string algorithm_;
  std::unique_ptr<State> state_;
  uint64_t bytes_ = 0;
};

// 32 random bytes as 64 lowercase hex characters: container and sandbox ids.
std::string RandomHexId();

// `n` random bytes from getrandom(2).
std::string RandomBytes(size_t n);

}  // namespace cricket
