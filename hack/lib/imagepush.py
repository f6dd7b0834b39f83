"""Registry client for imagebuild.py: pushes built images over the distribution API v2 (python3 standard
library only). HTTP or HTTPS (optional CA file and client certificate), basic auth or bearer tokens from
the registry's WWW-Authenticate challenge, blob HEAD checks and cross-repository mounts so nothing the
registry has is sent again, monolithic uploads (POST, then one PUT ?digest=), manifests by digest and by
tag. `built` is an imagebuild.Built: .blobs (.digest, .size, .open()), .children, .manifest,
.media_type, .digest, .size.
"""

import base64
import http.client
import json
import ssl
import threading
import time
import urllib.parse


class RegistryError(Exception):
    pass


class Registry:
    def __init__(self, host, tls=False, cafile=None, username=None, password=None, certfile=None,
                 keyfile=None):
        if "://" in host:
            u = urllib.parse.urlparse(host)
            tls, host = u.scheme == "https", u.netloc
        self.host, self.tls = host, tls or bool(cafile)
        self.auth = (username, password) if username is not None else None
        self.ctx = None
        if self.tls:
            self.ctx = ssl.create_default_context(cafile=cafile)
            if certfile:
                self.ctx.load_cert_chain(certfile, keyfile)
        self.tokens = {}  # scope -> bearer token
        self.local = threading.local()
        self.mounted_from = {}  # digest -> a repository that has it

    def _conn(self, netloc=None):
        netloc = netloc or self.host
        conns = self.local.__dict__.setdefault("conns", {})
        if netloc not in conns:
            if self.tls:
                conns[netloc] = http.client.HTTPSConnection(netloc, timeout=120, context=self.ctx,
                                                            blocksize=1 << 20)
            else:
                conns[netloc] = http.client.HTTPConnection(netloc, timeout=120, blocksize=1 << 20)
        return conns[netloc]

    def _drop(self, netloc=None):
        c = self.local.__dict__.get("conns", {}).pop(netloc or self.host, None)
        if c:
            c.close()

    def _basic(self):
        raw = f"{self.auth[0]}:{self.auth[1]}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _fetch_token(self, challenge, scope):
        params = dict(p.split("=", 1) for p in split_challenge(challenge[len("Bearer "):]))
        params = {k.strip(): v.strip().strip('"') for k, v in params.items()}
        realm = urllib.parse.urlparse(params.pop("realm"))
        query = {"service": params.get("service", "")}
        if scope:
            query["scope"] = scope
        path = realm.path + "?" + urllib.parse.urlencode(query)
        conn = (http.client.HTTPSConnection(realm.netloc, context=self.ctx or ssl.create_default_context())
                if realm.scheme == "https" else http.client.HTTPConnection(realm.netloc))
        headers = {"Authorization": self._basic()} if self.auth else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
        if resp.status != 200:
            raise RegistryError(f"token request to {realm.netloc}{realm.path} for {scope!r}: "
                                f"HTTP {resp.status}")
        j = json.loads(body)
        return j.get("token") or j.get("access_token")

    def request(self, method, url, body=None, headers=None, scope=None, ok=(200,), retry=True):
        """One request with auth handling; `url` is a path or an absolute URL (upload locations).
        Dropped connections and 5xx answers are retried with backoff when `retry` (docker-registry
        answers 500 while another client is still writing the same blob's link). Returns (status,
        response, body bytes); a status outside `ok` raises RegistryError."""
        u = urllib.parse.urlparse(url)
        netloc, path = (u.netloc or self.host), (u.path + ("?" + u.query if u.query else ""))
        fresh_token = False
        attempts = 6 if retry else 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(0.05 * 2 ** attempt)
            h = dict(headers or {})
            if scope in self.tokens:
                h["Authorization"] = "Bearer " + self.tokens[scope]
            elif self.auth:
                h["Authorization"] = self._basic()
            if hasattr(body, "seek"):
                body.seek(0)
            conn = self._conn(netloc)
            try:
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self._drop(netloc)
                if attempt == attempts - 1:
                    raise RegistryError(f"{method} {netloc}{path}: {e}")
                continue
            if resp.status == 401 and resp.getheader("WWW-Authenticate", "").startswith("Bearer ") \
                    and not fresh_token:
                # No token yet for this scope, or the cached one expired.
                self.tokens[scope] = self._fetch_token(resp.getheader("WWW-Authenticate"), scope)
                fresh_token = True
                continue
            if resp.status == 401:
                hint = "wrong --user?" if self.auth else "credentials needed: --user"
                raise RegistryError(f"{method} {netloc}{path}: HTTP 401 unauthorized ({hint})")
            if resp.status >= 500 and resp.status not in ok and attempt < attempts - 1:
                continue
            if resp.status not in ok:
                text = data[:300].decode(errors="replace")
                raise RegistryError(f"{method} {netloc}{path}: HTTP {resp.status}: {text}")
            return resp.status, resp, data
        raise RegistryError(f"{method} {netloc}{path}: authentication failed")

    def ping(self):
        self.request("GET", "/v2/", ok=(200,))

    def blob_exists(self, repo, digest):
        st, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scope=f"repository:{repo}:pull",
                                ok=(200, 404))
        return st == 200

    def push_blob(self, repo, blob, force=False):
        """Uploads `blob` unless the repository has it: a cross-repository mount when another repository
        of this run has it, else POST then one PUT ?digest= with the whole body. `force` uploads."""
        scope = f"repository:{repo}:pull,push"
        if not force and self.blob_exists(repo, blob.digest):
            return False
        src = None if force else self.mounted_from.get(blob.digest)
        for attempt in range(3):
            q = f"?mount={blob.digest}&from={src}" if src else ""
            st, resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/{q}", scope=scope,
                                       ok=(201, 202), headers={"Content-Length": "0"})
            if st == 201:
                break
            loc = resp.getheader("Location")
            if not loc:
                raise RegistryError(f"upload to {repo}: no Location in the registry's answer")
            sep = "&" if "?" in loc else "?"
            try:
                with blob.open() as f:
                    self.request("PUT", f"{loc}{sep}digest={blob.digest}", body=f, scope=scope, ok=(201,),
                                 headers={"Content-Type": "application/octet-stream",
                                          "Content-Length": str(blob.size)}, retry=False)
                break
            except RegistryError:
                if attempt == 2:  # else start a new upload session
                    raise
        self.mounted_from[blob.digest] = repo
        return True

    def manifest_digest(self, repo, ref, media_type):
        st, resp, _ = self.request("HEAD", f"/v2/{repo}/manifests/{ref}", scope=f"repository:{repo}:pull",
                                   headers={"Accept": media_type}, ok=(200, 404))
        return resp.getheader("Docker-Content-Digest") if st == 200 else None

    def push_manifest(self, repo, ref, built):
        if self.manifest_digest(repo, ref, built.media_type) == built.digest:
            return False
        _, resp, _ = self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=built.manifest,
                                  scope=f"repository:{repo}:pull,push", ok=(201,),
                                  headers={"Content-Type": built.media_type,
                                           "Content-Length": str(built.size)})
        got = resp.getheader("Docker-Content-Digest")
        if got and got != built.digest:
            raise RegistryError(f"{repo}:{ref}: registry stored digest {got}, expected {built.digest}")
        return True

    def push(self, repo, tags, built):
        """Pushes blobs, child manifests (by digest) and `built` under every tag. Returns the number of
        things uploaded (0 when the registry already had everything)."""
        n = sum(self.push_blob(repo, b) for b in _all_blobs(built))
        try:
            return n + self._push_manifests(repo, tags, built)
        except RegistryError as e:
            # docker-registry can lose a blob link when several clients upload the same blob at once
            # (the manifest PUT then says MANIFEST_BLOB_UNKNOWN): upload every blob again, once.
            if "BLOB_UNKNOWN" not in str(e):
                raise
            for b in _all_blobs(built):
                self.push_blob(repo, b, force=True)
            return n + 1 + self._push_manifests(repo, tags, built)

    def _push_manifests(self, repo, tags, built):
        n = 0
        for child in built.children:
            n += self.push_manifest(repo, child.digest, child)
        for tag in tags or [built.digest]:
            n += self.push_manifest(repo, tag, built)
        return n


def split_challenge(s):
    """Splits `k="v", k2="v2"` on commas outside quotes."""
    out, cur, quoted = [], "", False
    for ch in s:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur)
    return out



def _all_blobs(built):
    seen, out = set(), []
    for b in built.blobs + [x for c in built.children for x in c.blobs]:
        if b.digest not in seen:
            seen.add(b.digest)
            out.append(b)
    return out
