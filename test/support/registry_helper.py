#!/usr/bin/env python3
"""Small HTTP servers for registry tests, each on 127.0.0.1 with a free port.

Every server prints "PORT <n>" on stdout once it listens, then logs one JSON object per request to
--log (method, path, what auth was presented -- never the secret itself).

  token-issuer  a bearer-token issuer for docker-registry's `auth: token` (distribution token spec):
                GET /token?service=..&scope=.. (Basic credentials checked against --user), and the OAuth2
                POST refresh-token grant when --refresh-token is given (404 otherwise). Tokens are RS256
                JWTs with the signing certificate in the x5c header.
  proxy         forwards to --upstream; --drop-blob-after N cuts the first --drop-count blob bodies after N
                bytes (a dropped connection), or with --stall stops sending and holds the connection open
                (a stalled transfer); --ignore-range strips Range headers (the upstream then answers 200 to
                a resume); --error-first N answers the first N requests with 503.
  static        serves files under --dir (the target of a registry's storage redirect).
"""
import argparse
import base64
import http.client
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse
import uuid

LOG_LOCK = threading.Lock()


def log(log_file, **fields):
    if not log_file:
        return
    with LOG_LOCK, open(log_file, "a") as f:
        f.write(json.dumps(fields) + "\n")


def auth_kind(headers):
    value = headers.get("Authorization", "")
    return value.split(" ", 1)[0].lower() if value else ""


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenIssuer:
    def __init__(self, args):
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.issuer = args.issuer
        self.users = dict(u.split(":", 1) for u in args.user)
        self.refresh_tokens = dict(t.split(":", 1) for t in args.refresh_token)
        self.anonymous_pull = args.anonymous_pull
        self.expires_in = args.expires_in

    def sign(self, service, access, subject):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": self.x5c}
        claims = {"iss": self.issuer, "sub": subject, "aud": service, "exp": now + self.expires_in,
                  "nbf": now - 30, "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def access_for(self, user, scopes):
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) < 3 or parts[0] != "repository":
                continue
            name, actions = ":".join(parts[1:-1]), parts[-1].split(",")
            if user is None:
                actions = [a for a in actions if a == "pull"] if self.anonymous_pull else []
            if actions:
                access.append({"type": "repository", "name": name, "actions": actions})
        return access

    def response(self, service, scopes, user):
        token = self.sign(service, self.access_for(user, scopes), user or "")
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        return {"token": token, "access_token": token, "expires_in": self.expires_in, "issued_at": issued}


def make_token_handler(issuer, log_path):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            user = None
            status = 200
            header = self.headers.get("Authorization", "")
            if header.lower().startswith("basic "):
                try:
                    name, password = base64.b64decode(header[6:]).decode().split(":", 1)
                except Exception:
                    name, password = "", None
                if issuer.users.get(name) != password:
                    status = 401
                user = name
            log(log_path, method="GET", path=url.path, auth=auth_kind(self.headers), user=user or "",
                service=q.get("service", [""])[0], scope=q.get("scope", []), status=status)
            if status != 200:
                return self.reply(401, {"details": "bad credentials"})
            self.reply(200, issuer.response(q.get("service", [""])[0], q.get("scope", []), user))

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            form = urllib.parse.parse_qs(self.rfile.read(length).decode())
            grant = form.get("grant_type", [""])[0]
            refresh = form.get("refresh_token", [""])[0]
            user = issuer.refresh_tokens.get(refresh)
            status = 404 if not issuer.refresh_tokens else (200 if grant == "refresh_token" and user else 401)
            log(log_path, method="POST", path=self.path, auth=auth_kind(self.headers), grant_type=grant,
                client_id=form.get("client_id", [""])[0], scope=form.get("scope", []),
                refresh_token_valid=user is not None, status=status)
            if status != 200:
                return self.reply(status, {"error": "unsupported" if status == 404 else "invalid_grant"})
            body = issuer.response(form.get("service", [""])[0], form.get("scope", []), user)
            body["refresh_token"] = refresh
            self.reply(200, body)
    return Handler


def make_proxy_handler(args):
    upstream = urllib.parse.urlparse(args.upstream)
    state = {"drops_left": args.drop_count, "errors_left": args.error_first}
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def forward(self, method):
            with lock:
                fail = state["errors_left"] > 0
                if fail:
                    state["errors_left"] -= 1
            if fail:
                log(args.log, method=method, path=self.path, range=self.headers.get("Range", ""),
                    auth=auth_kind(self.headers), status=503, dropped=False)
                body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected failure"}]}'
                self.send_response(503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            headers = {k: v for k, v in self.headers.items()
                       if k.lower() not in ("host", "connection", "keep-alive", "proxy-connection")}
            if args.ignore_range:
                headers.pop("Range", None)
            body = None
            if "Content-Length" in self.headers:
                body = self.rfile.read(int(self.headers["Content-Length"]))
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=30)
            conn.request(method, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            is_blob = "/blobs/sha256:" in self.path and method == "GET" and resp.status in (200, 206)
            drop = False
            if is_blob and args.drop_blob_after >= 0:
                with lock:
                    if state["drops_left"] > 0:
                        state["drops_left"] -= 1
                        drop = True
            log(args.log, method=method, path=self.path, range=self.headers.get("Range", ""),
                auth=auth_kind(self.headers), status=resp.status, dropped=drop)
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "keep-alive", "transfer-encoding"):
                    self.send_header(k, v)
            self.end_headers()
            sent = 0
            while True:
                chunk = resp.read(16384)
                if not chunk:
                    break
                if drop and sent + len(chunk) > args.drop_blob_after:
                    self.wfile.write(chunk[:args.drop_blob_after - sent])
                    self.wfile.flush()
                    if args.stall:
                        time.sleep(args.stall)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    conn.close()
                    return
                self.wfile.write(chunk)
                sent += len(chunk)
            conn.close()

        def do_GET(self):
            self.forward("GET")

        def do_HEAD(self):
            self.forward("HEAD")
    return Handler


def make_static_handler(args):
    root = os.path.realpath(args.dir)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            path = os.path.realpath(os.path.join(root, urllib.parse.urlparse(self.path).path.lstrip("/")))
            ok = path.startswith(root + "/") and os.path.isfile(path)
            log(args.log, method="GET", path=self.path, auth=auth_kind(self.headers),
                range=self.headers.get("Range", ""), status=200 if ok else 404)
            if not ok:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            with open(path, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
    return Handler


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("token-issuer")
    t.add_argument("--key", required=True)
    t.add_argument("--cert", required=True)
    t.add_argument("--issuer", required=True)
    t.add_argument("--user", action="append", default=[], help="name:password")
    t.add_argument("--refresh-token", action="append", default=[], help="token:user")
    t.add_argument("--anonymous-pull", action="store_true")
    t.add_argument("--expires-in", type=int, default=300)
    x = sub.add_parser("proxy")
    x.add_argument("--upstream", required=True)
    x.add_argument("--drop-blob-after", type=int, default=-1)
    x.add_argument("--drop-count", type=int, default=1)
    x.add_argument("--ignore-range", action="store_true")
    x.add_argument("--stall", type=float, default=0, help="seconds to hold a cut connection open")
    x.add_argument("--error-first", type=int, default=0)
    s = sub.add_parser("static")
    s.add_argument("--dir", required=True)
    for q in (t, x, s):
        q.add_argument("--log", default="")
    args = p.parse_args()
    if args.cmd == "token-issuer":
        handler = make_token_handler(TokenIssuer(args), args.log)
    elif args.cmd == "proxy":
        handler = make_proxy_handler(args)
    else:
        handler = make_static_handler(args)
    server = Server(("127.0.0.1", 0), handler)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
