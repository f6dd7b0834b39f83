#include "lib/image/registry_client.h"

#include <algorithm>
#include <random>
#include <thread>

#include "absl/strings/escaping.h"
#include "lib/common/json_util.h"
#include "lib/common/logging.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::image {

namespace {

constexpr std::string_view kComponent = "image";

bool IsRetryableStatus(int status) { return status == 429 || status >= 500; }

absl::StatusOr<Digest> HashAs(std::string_view algorithm, std::string_view data) {
  ASSIGN_OR_RETURN(Hasher h, Hasher::Create(algorithm));
  h.Update(data);
  return Digest::Parse(h.Finish());
}

// The value of "Content-Range: bytes START-END/TOTAL", START only.
std::optional<int64_t> ContentRangeStart(std::string_view v) {
  v = TrimSpace(v);
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  auto dash = v.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  return ParseInt64(v.substr(0, dash));
}

// Prefers a Bearer challenge, then Basic.
std::optional<AuthChallenge> PickChallenge(const HttpResponse& resp) {
  std::optional<AuthChallenge> basic;
  for (const std::string& value : resp.Headers("www-authenticate")) {
    for (AuthChallenge& ch : ParseWwwAuthenticate(value)) {
      if (ch.scheme == "bearer") return ch;
      if (ch.scheme == "basic" && !basic) basic = std::move(ch);
    }
  }
  return basic;
}

std::string BasicAuth(const AuthConfig& c) {
  return StrCat("Basic ", absl::Base64Escape(StrCat(c.username, ":", c.password)));
}

}  // namespace

// ---------------------------------------------------------------------------------------------------
// TokenCache

std::optional<std::string> TokenCache::Get(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (MonotonicNow() >= it->second.expires_at) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.token;
}

void TokenCache::Put(const std::string& key, std::string token, int64_t lifetime_seconds) {
  // Stop using a token a little before it expires so that it does not lapse in flight.
  int64_t margin = std::min<int64_t>(10, lifetime_seconds / 5);
  int64_t expires = MonotonicNow() + (lifetime_seconds - margin) * 1'000'000'000;
  absl::MutexLock lock(&mu_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = MonotonicNow() >= it->second.expires_at ? entries_.erase(it) : std::next(it);
  }
  entries_[key] = {std::move(token), expires};
}

void TokenCache::Erase(const std::string& key) {
  absl::MutexLock lock(&mu_);
  entries_.erase(key);
}

// ---------------------------------------------------------------------------------------------------
// RegistryClientPool

RegistryClientPool::RegistryClientPool(std::shared_ptr<HttpTransport> transport,
                                       RegistryClient::Options options, int64_t ttl_seconds)
    : transport_(std::move(transport)),
      tokens_(std::make_shared<TokenCache>()),
      options_(std::move(options)),
      ttl_ns_(ttl_seconds * 1'000'000'000) {}

std::shared_ptr<RegistryClient> RegistryClientPool::Get(const std::string& registry, bool insecure,
                                                        const std::optional<AuthConfig>& credentials) {
  std::string fingerprint = credentials && !credentials->empty() ? credentials->Fingerprint() : "anonymous";
  std::string key = StrCat(registry, "\n", insecure, "\n", fingerprint);
  int64_t now = MonotonicNow();
  absl::MutexLock lock(&mu_);
  for (auto it = clients_.begin(); it != clients_.end();) {
    it = now - it->second.created >= ttl_ns_ ? clients_.erase(it) : std::next(it);
  }
  Entry& e = clients_[key];
  if (e.client == nullptr) {
    e.client =
        std::make_shared<RegistryClient>(transport_, tokens_, registry, insecure, credentials, options_);
    e.created = now;
  }
  return e.client;
}

// ---------------------------------------------------------------------------------------------------
// Errors

absl::Status HttpError(std::string_view what, const HttpResponse& resp) {
  std::string detail;
  auto doc = ParseJson(resp.body, "registry error");
  if (doc.ok() && doc->is_object() && doc->contains("errors") && (*doc)["errors"].is_array()) {
    std::vector<std::string> parts;
    for (const auto& e : (*doc)["errors"]) {
      if (!e.is_object()) continue;
      std::string code = e.value("code", "");
      std::string message =
          e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
      parts.push_back(message.empty() ? code : StrCat(code, ": ", message));
    }
    detail = Join(parts, "; ");
  }
  std::string msg = StrCat(what, ": HTTP ", resp.status, detail.empty() ? "" : StrCat(" (", detail, ")"));
  switch (resp.status) {
    case 401:
      return absl::UnauthenticatedError(msg);
    case 403:
      return absl::PermissionDeniedError(msg);
    case 404:
      return absl::NotFoundError(msg);
    case 429:
      return absl::ResourceExhaustedError(msg);
    default:
      if (resp.status >= 500) return absl::UnavailableError(msg);
      return absl::UnknownError(msg);
  }
}

// ---------------------------------------------------------------------------------------------------
// RegistryClient: connection and auth

std::string RegistryClient::ApiHost(std::string_view registry) {
  return registry == kDefaultDomain ? std::string("registry-1.docker.io") : std::string(registry);
}

RegistryClient::RegistryClient(std::shared_ptr<HttpTransport> transport, std::shared_ptr<TokenCache> tokens,
                               std::string registry, bool insecure, std::optional<AuthConfig> credentials,
                               Options options)
    : transport_(std::move(transport)),
      tokens_(std::move(tokens)),
      registry_(std::move(registry)),
      host_(ApiHost(registry_)),
      insecure_(insecure),
      credentials_(std::move(credentials)),
      options_(std::move(options)) {
  if (credentials_) {
    (void)credentials_->DecodeAuth();
    if (credentials_->empty()) credentials_.reset();
  }
  fingerprint_ = credentials_ ? credentials_->Fingerprint() : "anonymous";
}

absl::Status RegistryClient::Backoff(int attempt, const CallContext& ctx) {
  int64_t delay = options_.initial_backoff_ms;
  for (int i = 1; i < attempt && delay < options_.max_backoff_ms; ++i) delay *= 2;
  delay = std::min(delay, options_.max_backoff_ms);
  static thread_local std::mt19937 rng(std::random_device{}());
  delay = delay * std::uniform_int_distribution<int64_t>(80, 120)(rng) / 100;
  int64_t until = MonotonicNow() + delay * 1'000'000;
  while (MonotonicNow() < until) {
    RETURN_IF_ERROR(ctx.Check());
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(20, delay)));
  }
  return ctx.Check();
}

absl::Status RegistryClient::Ping(const CallContext& ctx) { return BaseUrl(ctx).status(); }

absl::StatusOr<std::string> RegistryClient::BaseUrl(const CallContext& ctx) {
  {
    absl::MutexLock lock(&mu_);
    if (pinged_) return base_url_;
  }
  // Insecure registries: https without verification first, then plain http.
  std::vector<std::string> bases = {StrCat("https://", host_)};
  if (insecure_) bases.push_back(StrCat("http://", host_));
  absl::Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    for (const std::string& base : bases) {
      HttpRequest req;
      req.url = base + "/v2/";
      req.insecure = insecure_;
      auto resp = transport_->Do(req, ctx);
      if (!resp.ok()) {
        last = resp.status();
        if (absl::IsCancelled(last) || absl::IsDeadlineExceeded(last)) return last;
        continue;
      }
      if (IsRetryableStatus(resp->status)) {
        last = HttpError(StrCat("registry ", registry_), *resp);
        break;
      }
      absl::MutexLock lock(&mu_);
      base_url_ = base;
      pinged_ = true;
      if (resp->status == 401) challenge_ = PickChallenge(*resp);
      return base_url_;
    }
    if (!absl::IsUnavailable(last) || attempt == options_.max_attempts) break;
    log::Debug(kComponent, "registry not reachable, retrying", {{"registry", registry_}, {"error", last}});
    RETURN_IF_ERROR(Backoff(attempt, ctx));
  }
  return Annotate(last, StrCat("registry ", registry_, " is not reachable"));
}

absl::StatusOr<TokenResponse> RegistryClient::FetchToken(const AuthChallenge& ch,
                                                         const std::vector<std::string>& scopes,
                                                         const CallContext& ctx) {
  std::string realm = ch.param("realm");
  std::optional<UrlParts> url = ParseUrl(realm);
  if (!url || (url->scheme != "https" && !(url->scheme == "http" && insecure_))) {
    return absl::FailedPreconditionError(
        StrCat("registry ", registry_, " names the token realm \"", realm,
               "\", which is not an https URL (plain http is only allowed for insecure registries)"));
  }
  std::string service = ch.param("service");
  std::string what = StrCat("token request to ", url->host_port, " for registry ", registry_);

  auto exchange = [&](HttpRequest req) -> absl::StatusOr<HttpResponse> {
    req.insecure = insecure_;
    absl::StatusOr<HttpResponse> resp;
    for (int attempt = 1;; ++attempt) {
      resp = transport_->Do(req, ctx);
      bool retry = resp.ok() ? IsRetryableStatus(resp->status) : absl::IsUnavailable(resp.status());
      if (!retry || attempt >= options_.max_attempts) break;
      RETURN_IF_ERROR(Backoff(attempt, ctx));
    }
    if (!resp.ok()) return Annotate(resp.status(), what);
    return resp;
  };

  const AuthConfig* c = credentials_ ? &*credentials_ : nullptr;
  if (c != nullptr && !c->identity_token.empty()) {
    // OAuth2 refresh-token grant (docs/spec/auth/oauth.md); a realm without OAuth2 answers 404.
    HttpRequest post;
    post.method = "POST";
    post.url = realm;
    post.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    post.body = StrCat("grant_type=refresh_token&refresh_token=", UrlEncode(c->identity_token),
                       "&service=", UrlEncode(service), "&client_id=", UrlEncode(options_.client_id));
    for (const std::string& s : scopes) StrAppend(&post.body, "&scope=", UrlEncode(s));
    ASSIGN_OR_RETURN(HttpResponse resp, exchange(std::move(post)));
    if (resp.status == 200) return ParseTokenResponse(resp.body, RealtimeNow() / 1'000'000'000);
    if (resp.status != 404) return HttpError(what, resp);
  }
  HttpRequest get;
  get.url = StrCat(realm, realm.find('?') == std::string::npos ? "?" : "&", "service=", UrlEncode(service));
  for (const std::string& s : scopes) StrAppend(&get.url, "&scope=", UrlEncode(s));
  if (c != nullptr && !c->username.empty()) {
    AuthConfig basic = *c;
    if (!c->identity_token.empty() && c->password.empty()) basic.password = c->identity_token;
    get.headers.emplace_back("Authorization", BasicAuth(basic));
  }
  ASSIGN_OR_RETURN(HttpResponse resp, exchange(std::move(get)));
  if (resp.status != 200) return HttpError(what, resp);
  return ParseTokenResponse(resp.body, RealtimeNow() / 1'000'000'000);
}

absl::StatusOr<std::string> RegistryClient::AuthorizationFor(const std::string& scope,
                                                             const std::string& extra_scope,
                                                             const CallContext& ctx, bool refresh) {
  if (credentials_ && !credentials_->registry_token.empty()) {
    return StrCat("Bearer ", credentials_->registry_token);
  }
  std::optional<AuthChallenge> ch;
  {
    absl::MutexLock lock(&mu_);
    ch = challenge_;
  }
  if (!ch) return std::string();
  if (ch->scheme == "basic") {
    return credentials_ && !credentials_->username.empty() ? BasicAuth(*credentials_) : std::string();
  }
  if (ch->scheme != "bearer") return std::string();
  std::vector<std::string> scopes;
  if (!scope.empty()) scopes.push_back(scope);
  if (!extra_scope.empty() && extra_scope != scope) scopes.push_back(extra_scope);
  // The registry is part of the key: two registries may share a token realm and service (one issuer
  // for several registries) while "repository:x:pull" means different repositories on each.
  std::string key = StrCat(host_, "\n", ch->param("realm"), "\n", ch->param("service"), "\n",
                           Join(scopes, " "), "\n", fingerprint_);
  if (refresh) {
    tokens_->Erase(key);
  } else if (auto cached = tokens_->Get(key)) {
    return StrCat("Bearer ", *cached);
  }
  ASSIGN_OR_RETURN(TokenResponse t, FetchToken(*ch, scopes, ctx));
  tokens_->Put(key, t.token, t.lifetime_seconds);
  return StrCat("Bearer ", t.token);
}

absl::StatusOr<HttpResponse> RegistryClient::SendOnce(const Request& req, const CallContext& ctx,
                                                      BodyReceiver* receiver) {
  // The scope a 401 asks for, when it is more than ours (e.g. push needs pull,push).
  std::string extra_scope;
  for (int auth_try = 0;; ++auth_try) {
    ASSIGN_OR_RETURN(std::string auth, AuthorizationFor(req.scope, extra_scope, ctx, auth_try > 0));
    HttpRequest h;
    h.method = req.method;
    h.url = req.url;
    h.headers = req.headers;
    if (!auth.empty()) h.headers.emplace_back("Authorization", auth);
    h.body = req.body;
    h.insecure = insecure_;
    h.max_body = req.max_body;
    ASSIGN_OR_RETURN(HttpResponse resp, transport_->Do(h, ctx, receiver));
    if (resp.status != 401 || auth_try > 0) return resp;
    // A 401 from elsewhere (a redirect target) is not a challenge from this registry.
    std::optional<UrlParts> at = ParseUrl(resp.url);
    std::optional<UrlParts> asked = ParseUrl(req.url);
    if (!at || !asked || at->host_port != asked->host_port || at->scheme != asked->scheme) return resp;
    std::optional<AuthChallenge> ch = PickChallenge(resp);
    if (!ch) return resp;
    // The challenge's scope and error belong to this request; realm and service to the registry.
    extra_scope = ch->param("scope");
    ch->params.erase("scope");
    ch->params.erase("error");
    {
      absl::MutexLock lock(&mu_);
      challenge_ = ch;
    }
    bool can_answer = ch->scheme == "bearer"
                          ? !(credentials_ && !credentials_->registry_token.empty())
                          : ch->scheme == "basic" && credentials_ && !credentials_->username.empty();
    if (!can_answer) return resp;
  }
}

absl::StatusOr<HttpResponse> RegistryClient::Send(const Request& req, const CallContext& ctx) {
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<HttpResponse> resp = SendOnce(req, ctx, nullptr);
    bool retry = resp.ok() ? IsRetryableStatus(resp->status) : absl::IsUnavailable(resp.status());
    if (!retry || attempt >= options_.max_attempts) return resp;
    log::Debug(kComponent, "registry request failed, retrying",
               {{"url", std::string_view(req.url).substr(0, req.url.find('?'))},
                {"attempt", attempt},
                {"error", resp.ok() ? StrCat("HTTP ", resp->status) : resp.status().ToString()}});
    RETURN_IF_ERROR(Backoff(attempt, ctx));
  }
}

std::string RegistryClient::RepoUrl(const std::string& base, std::string_view repository,
                                    std::string_view kind, std::string_view ref) const {
  return StrCat(base, "/v2/", repository, "/", kind, "/", ref);
}

// ---------------------------------------------------------------------------------------------------
// Manifests and blobs

absl::StatusOr<RegistryClient::FetchedManifest> RegistryClient::GetManifest(std::string_view repository,
                                                                            std::string_view reference,
                                                                            const CallContext& ctx) {
  std::string what = StrCat("manifest ", registry_, "/", repository,
                            reference.find(':') == std::string_view::npos ? ":" : "@", reference);
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.url = RepoUrl(base, repository, "manifests", reference);
  req.headers.emplace_back("Accept", ManifestAcceptHeader());
  req.scope = StrCat("repository:", repository, ":pull");
  req.max_body = kMaxManifestSize;
  absl::StatusOr<HttpResponse> resp = Send(req, ctx);
  if (!resp.ok()) return Annotate(resp.status(), what);
  if (resp->status != 200) return HttpError(what, *resp);
  FetchedManifest out{std::move(resp->body), resp->Header("content-type"), Digest::Sha256Of("")};
  auto requested = Digest::Parse(reference);
  std::string header = resp->Header("docker-content-digest");
  if (requested.ok()) {
    ASSIGN_OR_RETURN(Digest got, HashAs(requested->algorithm(), out.bytes));
    if (got != *requested) {
      return absl::DataLossError(StrCat(what, ": digest mismatch: the content is ", got.ToString()));
    }
    out.digest = *requested;
  } else if (!header.empty()) {
    auto claimed = Digest::Parse(header);
    if (!claimed.ok())
      return absl::DataLossError(StrCat(what, ": invalid Docker-Content-Digest \"", header, "\""));
    ASSIGN_OR_RETURN(Digest got, HashAs(claimed->algorithm(), out.bytes));
    if (got != *claimed) {
      return absl::DataLossError(StrCat(what, ": digest mismatch: the registry says ", claimed->ToString(),
                                        ", the content is ", got.ToString()));
    }
    out.digest = *claimed;
  } else {
    out.digest = Digest::Sha256Of(out.bytes);
  }
  return out;
}

namespace {

// A blob's bytes across the attempts of one ReadBlob: what was delivered, and per attempt where the
// response starts relative to that.
class BlobTransfer {
 public:
  BlobTransfer(const Descriptor& blob, const ChunkSink& sink, std::string what)
      : blob_(blob), sink_(sink), what_(std::move(what)) {}

  int64_t delivered() const { return delivered_; }
  bool complete() const { return delivered_ == blob_.size; }
  // An error of the stream itself or of the consumer: never retried.
  const absl::Status& fatal() const { return fatal_; }

  BodyReceiver NextAttempt() {
    skip_ = 0;
    BodyReceiver r;
    r.accept = [this](const HttpResponse& head) { return Accept(head); };
    r.sink = [this](std::string_view chunk) { return Deliver(chunk); };
    return r;
  }

 private:
  absl::StatusOr<bool> Accept(const HttpResponse& head) {
    if (head.status == 206) {
      auto start = ContentRangeStart(head.Header("content-range"));
      if (!start || *start != delivered_) {
        fatal_ = absl::DataLossError(StrCat(what_, ": asked for bytes from ", delivered_,
                                            ", got Content-Range \"", head.Header("content-range"), "\""));
        return fatal_;
      }
      return true;
    }
    // A full body: no Range was sent, or the server ignored it. Skip what was delivered already; the
    // digest is computed over the bytes the consumer saw, so the prefix needs no second check.
    skip_ = delivered_;
    if (auto n = ParseInt64(head.Header("content-length")); n && *n != blob_.size) {
      fatal_ = absl::DataLossError(
          StrCat(what_, ": the registry sends ", *n, " bytes, the descriptor says ", blob_.size));
      return fatal_;
    }
    return true;
  }

  absl::Status Deliver(std::string_view chunk) {
    if (skip_ > 0) {
      size_t n = static_cast<size_t>(std::min<int64_t>(skip_, static_cast<int64_t>(chunk.size())));
      chunk.remove_prefix(n);
      skip_ -= static_cast<int64_t>(n);
      if (chunk.empty()) return absl::OkStatus();
    }
    if (delivered_ + static_cast<int64_t>(chunk.size()) > blob_.size) {
      fatal_ = absl::DataLossError(StrCat(what_, ": more than the expected ", blob_.size, " bytes received"));
      return fatal_;
    }
    absl::Status s = sink_(chunk);
    if (!s.ok()) {
      fatal_ = s;
      return s;
    }
    delivered_ += static_cast<int64_t>(chunk.size());
    return absl::OkStatus();
  }

  const Descriptor& blob_;
  const ChunkSink& sink_;
  std::string what_;
  int64_t delivered_ = 0;
  int64_t skip_ = 0;
  absl::Status fatal_;
};

}  // namespace

absl::Status RegistryClient::ReadBlob(std::string_view repository, const Descriptor& blob,
                                      const ChunkSink& sink, const CallContext& ctx) {
  std::string what = StrCat("blob ", blob.digest.ToString(), " of ", registry_, "/", repository);
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.url = RepoUrl(base, repository, "blobs", blob.digest.ToString());
  req.scope = StrCat("repository:", repository, ":pull");
  BlobTransfer transfer(blob, sink, what);
  int failures = 0;  // consecutive attempts without progress
  for (;;) {
    RETURN_IF_ERROR(ctx.Check());
    req.headers.clear();
    if (transfer.delivered() > 0)
      req.headers.emplace_back("Range", StrCat("bytes=", transfer.delivered(), "-"));
    BodyReceiver receiver = transfer.NextAttempt();
    int64_t before = transfer.delivered();
    absl::StatusOr<HttpResponse> resp = SendOnce(req, ctx, &receiver);
    if (!transfer.fatal().ok()) return transfer.fatal();
    absl::Status failure;
    if (!resp.ok()) {
      failure = resp.status();
    } else if (resp->status == 200 || resp->status == 206 || (resp->status == 416 && transfer.complete())) {
      if (transfer.complete()) return absl::OkStatus();
      failure = absl::UnavailableError(StrCat("connection closed after ", transfer.delivered(), " bytes"));
    } else {
      failure = HttpError(what, *resp);
      if (!IsRetryableStatus(resp->status)) return failure;
    }
    if (!absl::IsUnavailable(failure) && !absl::IsResourceExhausted(failure)) return Annotate(failure, what);
    if (transfer.delivered() > before) failures = 0;  // progress: keep resuming
    if (++failures >= options_.max_attempts) {
      return Annotate(failure, StrCat(what, ": giving up after ", failures, " attempts without progress"));
    }
    log::Debug(kComponent, "blob transfer interrupted, resuming",
               {{"blob", blob.digest.ToString()}, {"offset", transfer.delivered()}, {"error", failure}});
    RETURN_IF_ERROR(Backoff(failures, ctx));
  }
}

absl::Status RegistryClient::FetchBlob(std::string_view repository, const Descriptor& blob,
                                       const ChunkSink& sink, const CallContext& ctx) {
  BlobVerifier verifier(blob.digest, blob.size, StrCat("blob ", blob.digest.ToString()));
  RETURN_IF_ERROR(ReadBlob(
      repository, blob,
      [&](std::string_view chunk) -> absl::Status {
        RETURN_IF_ERROR(verifier.Update(chunk));
        return sink(chunk);
      },
      ctx));
  return verifier.Finish();
}

absl::StatusOr<std::string> RegistryClient::FetchBlobToString(std::string_view repository,
                                                              const Descriptor& blob, int64_t limit,
                                                              const CallContext& ctx) {
  if (blob.size > limit) {
    return absl::ResourceExhaustedError(
        StrCat("blob ", blob.digest.ToString(), " of ", blob.size, " bytes exceeds the limit of ", limit));
  }
  std::string out;
  out.reserve(static_cast<size_t>(blob.size));
  RETURN_IF_ERROR(FetchBlob(
      repository, blob,
      [&](std::string_view chunk) {
        out.append(chunk);
        return absl::OkStatus();
      },
      ctx));
  return out;
}

absl::StatusOr<LayerStreamResult> RegistryClient::FetchLayer(std::string_view repository,
                                                             const Descriptor& layer, const ChunkSink& sink,
                                                             const CallContext& ctx,
                                                             LayerDecoder::Options options) {
  ASSIGN_OR_RETURN(std::unique_ptr<LayerDecoder> decoder, LayerDecoder::Create(layer, sink, options));
  RETURN_IF_ERROR(ReadBlob(
      repository, layer, [&](std::string_view chunk) { return decoder->Write(chunk); }, ctx));
  return decoder->Finish();
}

// ---------------------------------------------------------------------------------------------------
// Push

absl::StatusOr<bool> RegistryClient::HasBlob(std::string_view repository, const Digest& digest,
                                             const CallContext& ctx) {
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.method = "HEAD";
  req.url = RepoUrl(base, repository, "blobs", digest.ToString());
  req.scope = StrCat("repository:", repository, ":pull,push");
  ASSIGN_OR_RETURN(HttpResponse resp, Send(req, ctx));
  if (resp.status == 200) return true;
  if (resp.status == 404) return false;
  return HttpError(StrCat("HEAD blob ", digest.ToString()), resp);
}

absl::StatusOr<Digest> RegistryClient::PushBlob(std::string_view repository, std::string_view data,
                                                const CallContext& ctx) {
  Digest digest = Digest::Sha256Of(data);
  ASSIGN_OR_RETURN(bool present, HasBlob(repository, digest, ctx));
  if (present) return digest;
  std::string what = StrCat("upload of blob ", digest.ToString(), " to ", registry_, "/", repository);
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request start;
  start.method = "POST";
  start.url = StrCat(base, "/v2/", repository, "/blobs/uploads/");
  start.scope = StrCat("repository:", repository, ":pull,push");
  ASSIGN_OR_RETURN(HttpResponse started, Send(start, ctx));
  if (started.status != 202) return HttpError(what, started);
  std::string location = started.Header("location");
  if (location.empty()) return absl::UnknownError(StrCat(what, ": no Location in the 202 answer"));
  if (location.starts_with("/")) location = base + location;
  Request put;
  put.method = "PUT";
  put.url = StrCat(location, location.find('?') == std::string::npos ? "?" : "&",
                   "digest=", UrlEncode(digest.ToString()));
  put.headers.emplace_back("Content-Type", "application/octet-stream");
  put.scope = start.scope;
  put.body = std::string(data);
  ASSIGN_OR_RETURN(HttpResponse done, SendOnce(put, ctx, nullptr));
  if (done.status != 201 && done.status != 204) return HttpError(what, done);
  return digest;
}

absl::StatusOr<Digest> RegistryClient::PushManifest(std::string_view repository, std::string_view reference,
                                                    std::string_view media_type, std::string_view bytes,
                                                    const CallContext& ctx) {
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.method = "PUT";
  req.url = RepoUrl(base, repository, "manifests", reference);
  req.headers.emplace_back("Content-Type", std::string(media_type));
  req.scope = StrCat("repository:", repository, ":pull,push");
  req.body = std::string(bytes);
  ASSIGN_OR_RETURN(HttpResponse resp, Send(req, ctx));
  if (resp.status != 201 && resp.status != 200) {
    return HttpError(StrCat("push of manifest ", registry_, "/", repository, ":", reference), resp);
  }
  return Digest::Sha256Of(bytes);
}

}  // namespace cricket::image

namespace cricket::image {

absl::StatusOr<std::vector<std::string>> RegistryClient::ListTags(std::string_view repository,
                                                                  const CallContext& ctx) {
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  std::vector<std::string> tags;
  std::string url = RepoUrl(base, repository, "tags", "list");
  for (int page = 0; page < 1000 && !url.empty(); ++page) {
    Request req;
    req.url = url;
    req.scope = StrCat("repository:", repository, ":pull");
    req.max_body = 16 << 20;
    ASSIGN_OR_RETURN(HttpResponse resp, Send(req, ctx));
    if (resp.status != 200) return HttpError(StrCat("tags of ", registry_, "/", repository), resp);
    ASSIGN_OR_RETURN(nlohmann::json j, ParseJson(resp.body, StrCat("tags of ", registry_, "/", repository)));
    if (!j.is_object() || !j.contains("tags")) {
      return absl::InvalidArgumentError(
          StrCat("tags of ", registry_, "/", repository, ": no \"tags\" member"));
    }
    if (j["tags"].is_array()) {
      for (const auto& t : j["tags"]) {
        if (t.is_string()) tags.push_back(t.get<std::string>());
      }
    }
    // Pagination (distribution-spec "Listing Tags"): Link: </v2/...?n=..&last=..>; rel="next".
    url.clear();
    std::string link = resp.Header("link");
    size_t lt = link.find('<'), gt = link.find('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt &&
        link.find("rel=\"next\"") != std::string::npos) {
      std::string next = link.substr(lt + 1, gt - lt - 1);
      url = next.starts_with("/") ? StrCat(base, next) : next;
    }
  }
  return tags;
}

absl::Status RegistryClient::DeleteManifest(std::string_view repository, const Digest& digest,
                                            const CallContext& ctx) {
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.method = "DELETE";
  req.url = RepoUrl(base, repository, "manifests", digest.ToString());
  req.scope = StrCat("repository:", repository, ":delete");
  ASSIGN_OR_RETURN(HttpResponse resp, Send(req, ctx));
  if (resp.status != 202 && resp.status != 200) {
    return HttpError(StrCat("delete of ", registry_, "/", repository, "@", digest.ToString()), resp);
  }
  return absl::OkStatus();
}

absl::Status RegistryClient::CheckCredentials(const CallContext& ctx) {
  ASSIGN_OR_RETURN(std::string base, BaseUrl(ctx));
  Request req;
  req.url = base + "/v2/";
  ASSIGN_OR_RETURN(HttpResponse resp, Send(req, ctx));
  if (resp.status == 401) {
    return absl::UnauthenticatedError(
        StrCat("registry ", registry_, " refused the credentials (HTTP 401): wrong username or password?"));
  }
  if (resp.status != 200) return HttpError(StrCat("login to ", registry_), resp);
  return absl::OkStatus();
}

}  // namespace cricket::image
