#include "lib/image/policy/crypto.h"

#include <gpgme.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include <memory>
#include <mutex>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"

namespace cricket::image::policy {
namespace {

absl::Status GpgError(std::string_view what, gpgme_error_t err) {
  return absl::InternalError(StrCat("gpgme ", what, ": ", gpgme_strerror(err)));
}

absl::Status InitGpgme() {
  static std::once_flag once;
  static absl::Status status;
  std::call_once(once, [] {
    if (gpgme_check_version(nullptr) == nullptr) {
      status = absl::InternalError("gpgme: library initialisation failed");
      return;
    }
    gpgme_error_t err = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
    if (err != 0) status = GpgError("OpenPGP engine (is gnupg installed?)", err);
  });
  return status;
}

struct DataDeleter {
  void operator()(gpgme_data_t d) const { gpgme_data_release(d); }
};
using Data = std::unique_ptr<std::remove_pointer_t<gpgme_data_t>, DataDeleter>;

absl::StatusOr<Data> DataFrom(std::string_view bytes) {
  gpgme_data_t d = nullptr;
  gpgme_error_t err = gpgme_data_new_from_mem(&d, bytes.data(), bytes.size(), 1);
  if (err != 0) return GpgError("data", err);
  return Data(d);
}

std::string ReadAll(gpgme_data_t d) {
  std::string out;
  gpgme_data_seek(d, 0, SEEK_SET);
  char buf[4096];
  for (;;) {
    ssize_t n = gpgme_data_read(d, buf, sizeof(buf));
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string OpenSslErrors() {
  std::string out;
  for (unsigned long e = ERR_get_error(); e != 0; e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

}  // namespace

absl::StatusOr<std::string> VerifyGpgSignature(std::string_view blob,
                                               const std::vector<std::string>& keyrings) {
  RETURN_IF_ERROR(InitGpgme());
  // A home of its own per verification: only the policy's keys are known to gpg there.
  char tmpl[] = "/tmp/cricket-gpg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return ErrnoError("mkdtemp", tmpl);
  std::string home = tmpl;
  absl::Cleanup remove_home = [&] { (void)RemoveAll(home); };

  gpgme_ctx_t raw = nullptr;
  if (gpgme_error_t err = gpgme_new(&raw); err != 0) return GpgError("new context", err);
  std::unique_ptr<std::remove_pointer_t<gpgme_ctx_t>, void (*)(gpgme_ctx_t)> ctx(raw, gpgme_release);
  if (gpgme_error_t err = gpgme_set_protocol(ctx.get(), GPGME_PROTOCOL_OpenPGP); err != 0)
    return GpgError("protocol", err);
  if (gpgme_error_t err = gpgme_ctx_set_engine_info(ctx.get(), GPGME_PROTOCOL_OpenPGP, nullptr, home.c_str());
      err != 0) {
    return GpgError("engine home", err);
  }
  for (const std::string& keyring : keyrings) {
    ASSIGN_OR_RETURN(Data keys, DataFrom(keyring));
    if (gpgme_error_t err = gpgme_op_import(ctx.get(), keys.get()); err != 0)
      return GpgError("import keys", err);
  }
  // Every (sub)key fingerprint of the imported keys: a signature by any of them is by a trusted key.
  std::set<std::string> trusted;
  if (gpgme_error_t err = gpgme_op_keylist_start(ctx.get(), nullptr, 0); err != 0)
    return GpgError("keylist", err);
  for (;;) {
    gpgme_key_t key = nullptr;
    if (gpgme_op_keylist_next(ctx.get(), &key) != 0) break;
    for (gpgme_subkey_t sub = key->subkeys; sub != nullptr; sub = sub->next) {
      if (sub->fpr != nullptr) trusted.insert(sub->fpr);
    }
    gpgme_key_unref(key);
  }
  gpgme_op_keylist_end(ctx.get());
  if (trusted.empty())
    return absl::InvalidArgumentError("the policy's keyring contains no usable public key");

  ASSIGN_OR_RETURN(Data sig, DataFrom(blob));
  gpgme_data_t plain_raw = nullptr;
  if (gpgme_error_t err = gpgme_data_new(&plain_raw); err != 0) return GpgError("data", err);
  Data plain(plain_raw);
  gpgme_error_t err = gpgme_op_verify(ctx.get(), sig.get(), nullptr, plain.get());
  if (err != 0) {
    return absl::PermissionDeniedError(
        StrCat("the signature is not a valid OpenPGP signed message (", gpgme_strerror(err), ")"));
  }
  gpgme_verify_result_t result = gpgme_op_verify_result(ctx.get());
  if (result == nullptr || result->signatures == nullptr) {
    return absl::PermissionDeniedError("the signature blob carries no OpenPGP signature");
  }
  if (result->signatures->next != nullptr) {
    return absl::PermissionDeniedError("the signature blob carries more than one OpenPGP signature");
  }
  gpgme_signature_t s = result->signatures;
  std::string fpr = s->fpr != nullptr ? s->fpr : "";
  if (gpgme_err_code(s->status) == GPG_ERR_NO_PUBKEY || (!fpr.empty() && !trusted.contains(fpr))) {
    return absl::PermissionDeniedError(
        StrCat("signed by key ", fpr.empty() ? "(unknown)" : fpr, ", which is not among the policy's keys"));
  }
  if (gpgme_err_code(s->status) != GPG_ERR_NO_ERROR) {
    return absl::PermissionDeniedError(
        StrCat("invalid signature by key ", fpr, ": ", gpgme_strerror(s->status)));
  }
  if ((s->summary & (GPGME_SIGSUM_SIG_EXPIRED | GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_KEY_REVOKED)) != 0) {
    return absl::PermissionDeniedError(
        StrCat("signature by key ", fpr, " is expired or its key is expired or revoked"));
  }
  if (!trusted.contains(fpr)) {
    return absl::PermissionDeniedError(
        StrCat("signed by key ", fpr, ", which is not among the policy's keys"));
  }
  return ReadAll(plain.get());
}

absl::Status VerifySigstoreSignature(std::string_view payload, std::string_view signature,
                                     std::string_view public_key_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())), BIO_free);
  if (bio == nullptr) return absl::InternalError("BIO_new_mem_buf failed");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
  if (key == nullptr) {
    return absl::InvalidArgumentError(StrCat("the public key is not a PEM public key: ", OpenSslErrors()));
  }
  int type = EVP_PKEY_get_base_id(key.get());
  const EVP_MD* md = nullptr;
  if (type == EVP_PKEY_EC || type == EVP_PKEY_RSA) {
    md = EVP_sha256();
  } else if (type != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError(
        StrCat("public key type ", OBJ_nid2sn(type), " is not supported (ECDSA, RSA or Ed25519)"));
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.get()) != 1) {
    return absl::InternalError(StrCat("EVP_DigestVerifyInit: ", OpenSslErrors()));
  }
  int rc =
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                       reinterpret_cast<const unsigned char*>(payload.data()), payload.size());
  ERR_clear_error();
  if (rc != 1)
    return absl::PermissionDeniedError("the signature does not verify with the policy's public key");
  return absl::OkStatus();
}

}  // namespace cricket::image::policy
