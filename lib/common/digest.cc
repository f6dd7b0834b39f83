#include "lib/common/digest.h"

#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>

#include "absl/strings/escaping.h"
#include "lib/common/strings.h"

namespace cricket {

namespace {
bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}
}  // namespace

absl::StatusOr<Digest> Digest::Parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("invalid digest \"", text, "\": missing algorithm"));
  }
  std::string_view alg = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  size_t want = 0;
  if (alg == "sha256") {
    want = 64;
  } else if (alg == "sha512") {
    want = 128;
  } else {
    return absl::InvalidArgumentError(
        StrCat("invalid digest \"", text, "\": unsupported algorithm \"", alg, "\""));
  }
  if (hex.size() != want || !IsLowerHex(hex)) {
    return absl::InvalidArgumentError(
        StrCat("invalid digest \"", text, "\": want ", want, " lowercase hex characters"));
  }
  return Digest(std::string(alg), std::string(hex));
}

Digest Digest::Sha256Of(std::string_view data) {
  auto h = Hasher::Create("sha256");
  h->Update(data);
  std::string s = h->Finish();
  return Digest("sha256", s.substr(7));
}

struct Hasher::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() {
    if (ctx) EVP_MD_CTX_free(ctx);
  }
};

Hasher::Hasher(std::string algorithm, std::unique_ptr<State> state)
    : algorithm_(std::move(algorithm)), state_(std::move(state)) {}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

absl::StatusOr<Hasher> Hasher::Create(std::string_view algorithm) {
  const EVP_MD* md = nullptr;
  if (algorithm == "sha256") {
    md = EVP_sha256();
  } else if (algorithm == "sha512") {
    md = EVP_sha512();
  } else {
    return absl::InvalidArgumentError(StrCat("unsupported digest algorithm \"", algorithm, "\""));
  }
  auto state = std::make_unique<State>();
  state->ctx = EVP_MD_CTX_new();
  if (state->ctx == nullptr || EVP_DigestInit_ex(state->ctx, md, nullptr) != 1) {
    return absl::InternalError("EVP_DigestInit failed");
  }
  return Hasher(std::string(algorithm), std::move(state));
}

void Hasher::Update(const void* data, size_t len) {
  EVP_DigestUpdate(state_->ctx, data, len);
  bytes_ += len;
}

std::string Hasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, out, &len);
  return StrCat(algorithm_, ":",
                absl::BytesToHexString(absl::string_view(reinterpret_cast<char*>(out), len)));
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  size_t got = 0;
  while (got < n) {
    ssize_t r = getrandom(out.data() + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;  // getrandom cannot fail otherwise once the pool is initialised
    }
    got += static_cast<size_t>(r);
  }
  return out;
}

std::string RandomHexId() { return absl::BytesToHexString(RandomBytes(32)); }

}  // namespace cricket
