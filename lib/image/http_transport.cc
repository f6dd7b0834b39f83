#include "lib/image/http_transport.h"

#include <curl/curl.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>

#include "absl/cleanup/cleanup.h"
#include "lib/common/file_util.h"
#include "lib/common/path_util.h"
#include "lib/common/status.h"
#include "lib/common/strings.h"
#include "lib/common/time_util.h"

namespace cricket::image {

namespace {

constexpr size_t kMaxIdleHandles = 16;
constexpr int64_t kTlsCacheNanos = 60'000'000'000;

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The URL without its query (which may hold upload state) for messages.
std::string_view UrlForMessages(std::string_view url) { return url.substr(0, url.find('?')); }

bool IsTlsError(CURLcode c) {
  switch (c) {
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CLIENTCERT:
      return true;
    default:
      return false;
  }
}

std::string Lower(std::string_view s) { return ToLower(s); }

}  // namespace

absl::Status CallContext::Check() const {
  if (cancelled != nullptr && cancelled->load(std::memory_order_relaxed)) {
    return absl::CancelledError("the operation was cancelled");
  }
  if (deadline != 0 && MonotonicNow() >= deadline) {
    return absl::DeadlineExceededError("the operation's deadline passed");
  }
  return absl::OkStatus();
}

CallContext CallContext::WithTimeout(int64_t timeout_ms, const std::atomic<bool>* cancelled) {
  CallContext ctx;
  ctx.cancelled = cancelled;
  ctx.deadline = MonotonicNow() + timeout_ms * 1'000'000;
  return ctx;
}

std::string HttpResponse::Header(std::string_view name) const {
  std::string want = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == want) return v;
  }
  return {};
}

std::vector<std::string> HttpResponse::Headers(std::string_view name) const {
  std::string want = Lower(name);
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == want) out.push_back(v);
  }
  return out;
}

std::optional<UrlParts> ParseUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos || sep == 0) return std::nullopt;
  UrlParts p;
  p.scheme = Lower(url.substr(0, sep));
  std::string_view rest = url.substr(sep + 3);
  size_t end = rest.find_first_of("/?#");
  p.host_port = std::string(rest.substr(0, end));
  if (p.host_port.empty() || p.host_port.find('@') != std::string::npos) return std::nullopt;
  p.path_and_query = end == std::string_view::npos ? "/" : std::string(rest.substr(end));
  return p;
}

std::string UrlEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct HttpTransport::Handle {
  CURL* curl = nullptr;
  ~Handle() {
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
};

// Per-exchange state reached from curl's callbacks.
struct HttpTransport::Exchange {
  HttpResponse* resp = nullptr;
  BodyReceiver* receiver = nullptr;
  const CallContext* ctx = nullptr;
  const HttpRequest* req = nullptr;
  bool head_seen = false;
  bool streaming = false;
  absl::Status error;     // set by a callback that stopped the transfer
  std::string_view body;  // the request body still to send (without a body_reader)

  static size_t OnHeader(char* data, size_t size, size_t n, void* self) {
    auto* x = static_cast<Exchange*>(self);
    std::string_view line(data, size * n);
    if (line.starts_with("HTTP/")) {
      // A new response (an interim 1xx, or the next one): start over.
      x->resp->headers.clear();
      x->resp->status = 0;
      std::vector<std::string_view> parts = Split(TrimSpace(line), ' ');
      if (parts.size() >= 2) {
        if (auto code = ParseInt64(parts[1])) x->resp->status = static_cast<int>(*code);
      }
      return size * n;
    }
    if (auto kv = SplitOnce(line, ':')) {
      x->resp->headers.emplace_back(Lower(TrimSpace(kv->first)), std::string(TrimSpace(kv->second)));
    }
    return size * n;
  }

  static size_t OnBody(char* data, size_t size, size_t n, void* self) {
    auto* x = static_cast<Exchange*>(self);
    std::string_view chunk(data, size * n);
    if (!x->head_seen) {
      x->head_seen = true;
      int s = x->resp->status;
      if (x->receiver != nullptr && s >= 200 && s < 300) {
        absl::StatusOr<bool> accept = x->receiver->accept(*x->resp);
        if (!accept.ok()) {
          x->error = accept.status();
          return 0;
        }
        x->streaming = *accept;
      }
    }
    if (x->streaming) {
      absl::Status s = x->receiver->sink(chunk);
      if (!s.ok()) {
        x->error = s;
        return 0;
      }
      return chunk.size();
    }
    if (static_cast<int64_t>(x->resp->body.size() + chunk.size()) > x->req->max_body) {
      x->error = absl::ResourceExhaustedError(
          StrCat("response body of ", UrlForMessages(x->req->url), " exceeds ", x->req->max_body, " bytes"));
      return 0;
    }
    x->resp->body.append(chunk);
    return chunk.size();
  }

  static size_t OnRead(char* buf, size_t size, size_t n, void* self) {
    auto* x = static_cast<Exchange*>(self);
    if (x->req->body_reader) return x->req->body_reader(buf, size * n);
    size_t len = std::min(size * n, x->body.size());
    std::copy_n(x->body.data(), len, buf);
    x->body.remove_prefix(len);
    return len;
  }

  static int OnProgress(void* self, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    auto* x = static_cast<Exchange*>(self);
    return x->ctx->Check().ok() ? 0 : 1;
  }
};

HttpTransport::HttpTransport() : HttpTransport(Options()) {}

HttpTransport::HttpTransport(Options options) : options_(std::move(options)) { GlobalInit(); }

HttpTransport::~HttpTransport() = default;

std::unique_ptr<HttpTransport::Handle> HttpTransport::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      auto h = std::move(idle_.back());
      idle_.pop_back();
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->curl = curl_easy_init();
  return h;
}

void HttpTransport::Release(std::unique_ptr<Handle> h) {
  absl::MutexLock lock(&mu_);
  if (idle_.size() < kMaxIdleHandles) idle_.push_back(std::move(h));
}

absl::StatusOr<HttpTransport::TlsFiles> HttpTransport::LoadTlsFiles(std::string_view host_port) const {
  TlsFiles files;
  for (const std::string& root : options_.certs_dirs) {
    std::string dir = JoinPath(root, host_port);
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
    for (const std::string& name : names) {
      std::string path = JoinPath(dir, name);
      if (name.ends_with(".crt")) {
        ASSIGN_OR_RETURN(std::string pem, ReadFile(path, 4 << 20));
        StrAppend(&files.ca_pem, pem, "\n");
      } else if (name.ends_with(".cert")) {
        std::string key = JoinPath(dir, name.substr(0, name.size() - 5) + ".key");
        if (!PathExists(key)) {
          return absl::FailedPreconditionError(StrCat("client certificate ", path, " has no key ", key));
        }
        if (!files.client_cert.empty()) {
          return absl::FailedPreconditionError(StrCat(dir, " holds more than one client certificate"));
        }
        ASSIGN_OR_RETURN(files.client_cert, ReadFile(path, 1 << 20));
        ASSIGN_OR_RETURN(files.client_key, ReadFile(key, 1 << 20));
      } else if (name.ends_with(".key")) {
        std::string cert = JoinPath(dir, name.substr(0, name.size() - 4) + ".cert");
        if (!PathExists(cert)) {
          return absl::FailedPreconditionError(StrCat("client key ", path, " has no certificate ", cert));
        }
      }
    }
    break;  // the first directory found is the one used
  }
  return files;
}

absl::StatusOr<std::shared_ptr<const HttpTransport::TlsFiles>> HttpTransport::TlsFor(
    const std::string& host_port) {
  int64_t now = MonotonicNow();
  {
    absl::MutexLock lock(&mu_);
    auto it = tls_cache_.find(host_port);
    if (it != tls_cache_.end() && now - it->second.loaded_at < kTlsCacheNanos) return it->second.files;
  }
  ASSIGN_OR_RETURN(TlsFiles files, LoadTlsFiles(host_port));
  if (!files.ca_pem.empty()) {
    // CAINFO_BLOB replaces the default bundle: prepend the system CAs so both are trusted.
    absl::MutexLock lock(&mu_);
    if (!system_ca_loaded_) {
      system_ca_loaded_ = true;
      const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
      if (info != nullptr && info->cainfo != nullptr)
        system_ca_pem_ = ReadFile(info->cainfo, 16 << 20).value_or("");
    }
    files.ca_pem = StrCat(system_ca_pem_, "\n", files.ca_pem);
  }
  auto shared = std::make_shared<const TlsFiles>(std::move(files));
  absl::MutexLock lock(&mu_);
  tls_cache_[host_port] = {shared, now};
  return shared;
}

void HttpTransport::SetTransferOptions(void* curl, void* exchange, const CallContext& ctx,
                                       char* errbuf) const {
  CURL* c = static_cast<CURL*>(curl);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Exchange::OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, exchange);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Exchange::OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, exchange);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, &Exchange::OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, exchange);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.low_speed_time_s));
  int64_t connect_ms = options_.connect_timeout_ms;
  if (ctx.deadline != 0) {
    int64_t remaining_ms = std::max<int64_t>(1, (ctx.deadline - MonotonicNow()) / 1'000'000);
    connect_ms = std::min(connect_ms, remaining_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(remaining_ms));
  }
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect_ms));
}

absl::StatusOr<std::shared_ptr<const HttpTransport::TlsFiles>> HttpTransport::SetTlsOptions(
    void* curl, const UrlParts& url, bool insecure) {
  CURL* c = static_cast<CURL*>(curl);
  // certs.d of the host being contacted; its client certificate goes only to that host.
  ASSIGN_OR_RETURN(std::shared_ptr<const TlsFiles> tls, TlsFor(url.host_port));
  if (!tls->ca_pem.empty()) {
    curl_blob blob{const_cast<char*>(tls->ca_pem.data()), tls->ca_pem.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
  }
  if (!tls->client_cert.empty()) {
    curl_blob cert{const_cast<char*>(tls->client_cert.data()), tls->client_cert.size(), CURL_BLOB_NOCOPY};
    curl_blob key{const_cast<char*>(tls->client_key.data()), tls->client_key.size(), CURL_BLOB_NOCOPY};
    curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
    curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
  }
  if (insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  return tls;
}

absl::Status HttpTransport::Perform(Handle& h, const HttpRequest& req, const std::string& url,
                                    bool same_origin, const CallContext& ctx, BodyReceiver* receiver,
                                    HttpResponse* resp) {
  std::optional<UrlParts> parts = ParseUrl(url);
  if (!parts || (parts->scheme != "https" && parts->scheme != "http")) {
    return absl::InvalidArgumentError(StrCat("invalid URL \"", UrlForMessages(url), "\""));
  }
  CURL* c = h.curl;
  curl_easy_reset(c);
  Exchange x;
  x.resp = resp;
  x.receiver = receiver;
  x.ctx = &ctx;
  x.req = &req;
  char errbuf[CURL_ERROR_SIZE] = {0};
  SetTransferOptions(c, &x, ctx, errbuf);
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  if (req.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.body_reader || !req.body.empty() || req.method == "PUT" || req.method == "POST") {
      x.body = req.body;
      int64_t size = req.body_reader ? req.body_size : static_cast<int64_t>(req.body.size());
      curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(c, CURLOPT_READFUNCTION, &Exchange::OnRead);
      curl_easy_setopt(c, CURLOPT_READDATA, &x);
      curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    }
  }
  struct curl_slist* headers = nullptr;
  absl::Cleanup free_headers = [&] { curl_slist_free_all(headers); };
  for (const auto& [k, v] : req.headers) {
    // Credentials stay with their origin: a redirect elsewhere (blob storage) gets none.
    if (!same_origin && Lower(k) == "authorization") continue;
    headers = curl_slist_append(headers, StrCat(k, ": ", v).c_str());
  }
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for uploads
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  std::shared_ptr<const TlsFiles> tls;  // must outlive the transfer (blobs are not copied)
  if (parts->scheme == "https") {
    ASSIGN_OR_RETURN(tls, SetTlsOptions(c, *parts, req.insecure));
  }

  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) return absl::OkStatus();
  if (!x.error.ok()) return x.error;
  std::string what = StrCat(req.method, " ", UrlForMessages(url), ": ", curl_easy_strerror(rc),
                            errbuf[0] != '\0' ? StrCat(" (", TrimSpace(errbuf), ")") : std::string());
  if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_OPERATION_TIMEDOUT) {
    if (absl::Status s = ctx.Check(); !s.ok())
      return Annotate(s, StrCat(req.method, " ", UrlForMessages(url)));
  }
  if (IsTlsError(rc)) return absl::FailedPreconditionError(what);
  if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL) return absl::InvalidArgumentError(what);
  return absl::UnavailableError(what);
}

absl::StatusOr<HttpResponse> HttpTransport::Do(const HttpRequest& request, const CallContext& ctx,
                                               BodyReceiver* receiver) {
  std::optional<UrlParts> origin = ParseUrl(request.url);
  if (!origin) return absl::InvalidArgumentError(StrCat("invalid URL \"", UrlForMessages(request.url), "\""));
  std::unique_ptr<Handle> h = Acquire();
  if (h->curl == nullptr) return absl::InternalError("curl_easy_init failed");
  // A 303 turns the request into a GET; only then is a modified copy needed.
  std::optional<HttpRequest> as_get;
  const HttpRequest* current = &request;
  std::string url = request.url;
  for (int redirects = 0;; ++redirects) {
    const HttpRequest& req = *current;
    RETURN_IF_ERROR(ctx.Check());
    std::optional<UrlParts> now = ParseUrl(url);
    bool same_origin =
        now && now->scheme == origin->scheme && Lower(now->host_port) == Lower(origin->host_port);
    HttpResponse resp;
    absl::Status s = Perform(*h, req, url, same_origin, ctx, receiver, &resp);
    if (!s.ok()) {
      // A handle whose transfer failed may hold a broken connection: do not pool it.
      return s;
    }
    resp.url = url;
    resp.redirects = redirects;
    char* location = nullptr;
    curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &location);
    if (!req.follow_redirects || !IsRedirect(resp.status) || location == nullptr) {
      Release(std::move(h));
      return resp;
    }
    if (redirects >= options_.max_redirects) {
      return absl::UnavailableError(StrCat(req.method, " ", UrlForMessages(request.url), ": more than ",
                                           options_.max_redirects, " redirects"));
    }
    std::string next = location;
    std::optional<UrlParts> target = ParseUrl(next);
    if (!target || (target->scheme != "https" && !(target->scheme == "http" && req.insecure))) {
      return absl::FailedPreconditionError(StrCat(req.method, " ", UrlForMessages(request.url),
                                                  ": refusing a redirect to \"", UrlForMessages(next),
                                                  "\" (plain http is only allowed for insecure registries)"));
    }
    if (resp.status == 303 && !as_get) {
      as_get = request;
      as_get->method = "GET";
      as_get->body.clear();
      as_get->body_reader = nullptr;
      current = &*as_get;
    }
    url = std::move(next);
  }
}

}  // namespace cricket::image
