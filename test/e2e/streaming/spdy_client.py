"""A small, independent SPDY/3.1 client for testing cricket's streaming server.

Written from the protocol (SPDY/3 draft, Kubernetes remotecommand and port-forward conventions) with
Python's standard library only: socket/ssl for transport and zlib for header blocks. It shares no code
with the C++ server.
"""

import json
import socket
import ssl
import struct
import time
import urllib.parse
import zlib

# The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1).
SPDY3_DICTIONARY = bytes.fromhex(
    "000000076f7074696f6e73000000046865616400000004706f7374000000037075740000000664656c65746500000005"
    "7472616365000000066163636570740000000e6163636570742d636861727365740000000f6163636570742d656e636f"
    "64696e670000000f6163636570742d6c616e67756167650000000d6163636570742d72616e6765730000000361676500"
    "000005616c6c6f770000000d617574686f72697a6174696f6e0000000d63616368652d636f6e74726f6c0000000a636f"
    "6e6e656374696f6e0000000c636f6e74656e742d6261736500000010636f6e74656e742d656e636f64696e6700000010"
    "636f6e74656e742d6c616e67756167650000000e636f6e74656e742d6c656e67746800000010636f6e74656e742d6c6f"
    "636174696f6e0000000b636f6e74656e742d6d64350000000d636f6e74656e742d72616e67650000000c636f6e74656e"
    "742d74797065000000046461746500000004657461670000000665787065637400000007657870697265730000000466"
    "726f6d00000004686f73740000000869662d6d617463680000001169662d6d6f6469666965642d73696e63650000000d"
    "69662d6e6f6e652d6d617463680000000869662d72616e67650000001369662d756e6d6f6469666965642d73696e6365"
    "0000000d6c6173742d6d6f646966696564000000086c6f636174696f6e0000000c6d61782d666f727761726473000000"
    "06707261676d610000001270726f78792d61757468656e7469636174650000001370726f78792d617574686f72697a61"
    "74696f6e0000000572616e676500000007726566657265720000000b72657472792d6166746572000000067365727665"
    "7200000002746500000007747261696c6572000000117472616e736665722d656e636f64696e67000000077570677261"
    "64650000000a757365722d6167656e74000000047661727900000003766961000000077761726e696e67000000107777"
    "772d61757468656e746963617465000000066d6574686f64000000036765740000000673746174757300000006323030"
    "204f4b0000000776657273696f6e00000008485454502f312e310000000375726c000000067075626c69630000000a73"
    "65742d636f6f6b69650000000a6b6565702d616c697665000000066f726967696e313030313031323031323032323035"
    "323036333030333032333033333034333035333036333037343032343035343036343037343038343039343130343131"
    "343132343133343134343135343136343137353032353034353035323033204e6f6e2d417574686f7269746174697665"
    "20496e666f726d6174696f6e323034204e6f20436f6e74656e74333031204d6f766564205065726d616e656e746c7934"
    "303020426164205265717565737434303120556e617574686f72697a656434303320466f7262696464656e343034204e"
    "6f7420466f756e6435303020496e7465726e616c20536572766572204572726f72353031204e6f7420496d706c656d65"
    "6e746564353033205365727669636520556e617661696c61626c654a616e20466562204d617220417072204d6179204a"
    "756e204a756c204175672053657074204f6374204e6f76204465632030303a30303a3030204d6f6e2c205475652c2057"
    "65642c205468752c204672692c205361742c2053756e2c20474d546368756e6b65642c746578742f68746d6c2c696d61"
    "67652f706e672c696d6167652f6a70672c696d6167652f6769662c6170706c69636174696f6e2f786d6c2c6170706c69"
    "636174696f6e2f7868746d6c2b786d6c2c746578742f706c61696e2c746578742f6a6176617363726970742c7075626c"
    "6963707269766174656d61782d6167653d677a69702c6465666c6174652c73646368636861727365743d7574662d3863"
    "6861727365743d69736f2d383835392d312c7574662d2c2a2c656e713d302e"
)
assert len(SPDY3_DICTIONARY) == 1423 and zlib.adler32(SPDY3_DICTIONARY) == 0xE3C6A7C2

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01


class UpgradeError(Exception):
    def __init__(self, status, headers, body):
        super().__init__("HTTP %d: %r" % (status, body))
        self.status, self.headers, self.body = status, headers, body


def connect(url, tls_context=None, timeout=10):
    """Opens a TCP (or TLS) connection to the URL's host and port."""
    u = urllib.parse.urlsplit(url)
    sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
    if u.scheme == "https":
        ctx = tls_context or ssl._create_unverified_context()
        sock = ctx.wrap_socket(sock, server_hostname=u.hostname)
    return sock


def http_upgrade(url, headers, method="POST", tls_context=None, timeout=10):
    """Sends an upgrade request; returns (status, headers{lowercase: [values]}, sock, leftover_or_body)."""
    u = urllib.parse.urlsplit(url)
    sock = connect(url, tls_context, timeout)
    target = u.path + ("?" + u.query if u.query else "")
    lines = ["%s %s HTTP/1.1" % (method, target), "Host: %s:%d" % (u.hostname, u.port)]
    for name, value in headers:
        lines.append("%s: %s" % (name, value))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before the response head: %r" % buf)
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ")[1])
    resp_headers = {}
    for line in header_lines:
        name, value = line.split(":", 1)
        resp_headers.setdefault(name.strip().lower(), []).append(value.strip())
    if status != 101:
        length = int(resp_headers.get("content-length", ["0"])[0])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        sock.close()
    return status, resp_headers, sock, rest


def spdy_upgrade(url, protocols, method="POST", tls_context=None):
    """client-go's SPDY upgrade; returns (negotiated protocol, SpdyConnection). Raises UpgradeError."""
    headers = [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
    headers += [("X-Stream-Protocol-Version", p) for p in protocols]
    status, resp, sock, rest = http_upgrade(url, headers, method, tls_context)
    if status != 101:
        raise UpgradeError(status, resp, rest)
    assert "upgrade" in resp["connection"][0].lower(), resp
    assert "spdy/3.1" in resp["upgrade"][0].lower(), resp
    return resp["x-stream-protocol-version"][0], SpdyConnection(SocketTransport(sock), rest)


class SocketTransport:
    def __init__(self, sock):
        self.sock = sock

    def send(self, data):
        self.sock.sendall(data)

    def recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return None
        except (ConnectionResetError, ssl.SSLError):
            return b""
        return data

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class SpdyConnection:
    """Client side of a SPDY/3.1 session: odd stream ids, one zlib stream per direction."""

    def __init__(self, transport, leftover=b""):
        self.t = transport
        self.inbuf = bytearray(leftover)
        self.deflate = zlib.compressobj(zdict=SPDY3_DICTIONARY)
        self.inflate = zlib.decompressobj(zdict=SPDY3_DICTIONARY)
        self.next_id = 1
        self.data = {}
        self.fin = {}
        self.replied = {}
        self.reset_streams = set()
        self.pings = []
        self.goaway = False
        self.closed = False

    # -- encoding
    def _control(self, ftype, flags, payload):
        return struct.pack(">HHI", 0x8000 | 3, ftype, (flags << 24) | len(payload)) + payload

    def _header_block(self, headers):
        raw = struct.pack(">I", len(headers))
        for k, v in headers.items():
            k, v = k.lower().encode(), str(v).encode()
            raw += struct.pack(">I", len(k)) + k + struct.pack(">I", len(v)) + v
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    def open_stream(self, headers, fin=False, wait=True, timeout=10):
        sid = self.next_id
        self.next_id += 2
        payload = struct.pack(">IIBB", sid, 0, 0, 0) + self._header_block(headers)
        self.data[sid] = bytearray()
        self.fin[sid] = False
        self.t.send(self._control(SYN_STREAM, FLAG_FIN if fin else 0, payload))
        if wait:
            self.wait(lambda: sid in self.replied or sid in self.reset_streams, timeout)
            if sid in self.reset_streams:
                raise ConnectionError("stream %d was reset" % sid)
        return sid

    def send_data(self, sid, data, fin=False):
        for i in range(0, max(len(data), 1), 16384):
            chunk = data[i:i + 16384]
            last = i + 16384 >= len(data)
            self.t.send(struct.pack(">II", sid, ((FLAG_FIN if fin and last else 0) << 24) | len(chunk)) + chunk)

    def send_reset(self, sid, status=5):
        self.t.send(self._control(RST_STREAM, 0, struct.pack(">II", sid, status)))

    def send_ping(self, pid):
        self.t.send(self._control(PING, 0, struct.pack(">I", pid)))

    def send_goaway(self):
        self.t.send(self._control(GOAWAY, 0, struct.pack(">II", 0, 0)))

    # -- decoding
    def _parse(self):
        while len(self.inbuf) >= 8:
            first, flags_len = struct.unpack(">II", self.inbuf[:8])
            length = flags_len & 0xFFFFFF
            flags = flags_len >> 24
            if len(self.inbuf) < 8 + length:
                return
            payload = bytes(self.inbuf[8:8 + length])
            del self.inbuf[:8 + length]
            if first & 0x80000000:
                version, ftype = (first >> 16) & 0x7FFF, first & 0xFFFF
                assert version == 3, version
                self._on_control(ftype, flags, payload)
            else:
                sid = first & 0x7FFFFFFF
                assert self.replied.get(sid), "DATA on stream %d before SYN_REPLY" % sid
                self.data.setdefault(sid, bytearray()).extend(payload)
                if flags & FLAG_FIN:
                    self.fin[sid] = True

    def _on_control(self, ftype, flags, payload):
        if ftype == SYN_REPLY:
            sid = struct.unpack(">I", payload[:4])[0] & 0x7FFFFFFF
            block = self.inflate.decompress(payload[4:])
            assert struct.unpack(">I", block[:4])[0] == 0, "SYN_REPLY headers expected empty"
            self.replied[sid] = True
            if flags & FLAG_FIN:
                self.fin[sid] = True
        elif ftype == RST_STREAM:
            sid, _ = struct.unpack(">II", payload)
            self.reset_streams.add(sid & 0x7FFFFFFF)
        elif ftype == PING:
            self.pings.append(struct.unpack(">I", payload)[0])
        elif ftype == GOAWAY:
            self.goaway = True
        elif ftype in (HEADERS, SYN_STREAM):
            raise AssertionError("unexpected control frame %d from server" % ftype)

    def pump(self, timeout=0.2):
        if self.closed:
            time.sleep(min(timeout, 0.05))
            return
        data = self.t.recv(timeout)
        if data is None:
            return
        if data == b"":
            self.closed = True
            return
        self.inbuf.extend(data)
        self._parse()

    def wait(self, predicate, timeout=10):
        deadline = time.time() + timeout
        while not predicate():
            if time.time() > deadline:
                raise TimeoutError("condition not met within %ss" % timeout)
            if self.closed and not predicate():
                raise ConnectionError("server closed the connection")
            self.pump(min(0.2, max(0.01, deadline - time.time())))

    def close(self):
        self.t.close()


def run_command(url, protocol_list=("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                    "channel.k8s.io"),
                stdin=None, stdout=True, stderr=True, tty=False, resize=None, stdin_chunks=None, timeout=20):
    """Runs an exec/attach session like client-go's v2-v4 stream protocols.

    Returns dict(protocol, stdout, stderr, error, conn).
    """
    proto, conn = spdy_upgrade(url, list(protocol_list))
    streams = {"error": conn.open_stream({"streamType": "error"})}
    if stdin is not None or stdin_chunks is not None:
        streams["stdin"] = conn.open_stream({"streamType": "stdin"})
    if stdout:
        streams["stdout"] = conn.open_stream({"streamType": "stdout"})
    if stderr and not tty:
        streams["stderr"] = conn.open_stream({"streamType": "stderr"})
    if tty and proto not in ("channel.k8s.io", "v2.channel.k8s.io"):
        streams["resize"] = conn.open_stream({"streamType": "resize"})
        for w, h in resize or []:
            conn.send_data(streams["resize"], (json.dumps({"Width": w, "Height": h}) + "\n").encode())
    if stdin_chunks is not None:
        for chunk, pause in stdin_chunks:
            conn.send_data(streams["stdin"], chunk)
            time.sleep(pause)
        conn.send_data(streams["stdin"], b"", fin=True)
    elif stdin is not None:
        conn.send_data(streams["stdin"], stdin, fin=True)
    outs = [streams[k] for k in ("stdout", "stderr") if k in streams]
    conn.wait(lambda: all(conn.fin.get(s) or s in conn.reset_streams for s in outs + [streams["error"]]), timeout)
    result = {
        "protocol": proto,
        "stdout": bytes(conn.data.get(streams.get("stdout"), b"")),
        "stderr": bytes(conn.data.get(streams.get("stderr"), b"")),
        "error": bytes(conn.data[streams["error"]]),
        "conn": conn,
    }
    return result


# -- WebSocket (Debian's python3-websocket, imported only when used)

class WebSocketTransport:
    """A SpdyConnection transport over a WebSocket (client-go's SPDY/3.1+portforward.k8s.io tunnel)."""

    def __init__(self, ws):
        self.ws = ws

    def send(self, data):
        self.ws.send_binary(data)

    def recv(self, timeout):
        import websocket
        self.ws.settimeout(timeout)
        try:
            op, data = self.ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException:
            return b""
        return b"" if op == websocket.ABNF.OPCODE_CLOSE else data

    def close(self):
        self.ws.close()


def websocket_connect(url, protocols, timeout=10):
    """Opens a WebSocket to an http(s) streaming URL with the given subprotocols."""
    import websocket
    ws_url = "ws" + url[len("http"):] if url.startswith("http") else url
    return websocket.create_connection(ws_url, subprotocols=list(protocols), timeout=timeout,
                                       sslopt={"cert_reqs": ssl.CERT_NONE})


def run_command_websocket(url, protocol="v5.channel.k8s.io", stdin=None, resize=None, timeout=20):
    """Runs an exec/attach session over the channel-prefixed WebSocket protocol (v4/v5, binary frames).

    With v5, stdin is half-closed by the CLOSE message [0xFF, 0]. Returns dict(protocol, stdout, stderr,
    error).
    """
    import websocket
    ws = websocket_connect(url, [protocol], timeout)
    for w, h in resize or []:
        ws.send_binary(b"\x04" + json.dumps({"Width": w, "Height": h}).encode())
    if stdin is not None:
        if stdin:
            ws.send_binary(b"\x00" + stdin)
        if protocol.startswith("v5."):
            ws.send_binary(b"\xff\x00")
    got = {}
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            op, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if op == websocket.ABNF.OPCODE_CLOSE:
            break
        if op != websocket.ABNF.OPCODE_BINARY or not data:
            continue
        got.setdefault(data[0], bytearray()).extend(data[1:])
    else:
        raise TimeoutError("the server did not close the WebSocket within %ss" % timeout)
    ws.close()
    return {"protocol": ws.subprotocol, "stdout": bytes(got.get(1, b"")), "stderr": bytes(got.get(2, b"")),
            "error": bytes(got.get(3, b""))}


# -- port-forward

def forward_once(conn, port, request_id, payload, timeout=20):
    """One forwarded connection as client-go opens it: an error stream (closed by the client at once) and
    a data stream. Sends `payload`, half-closes, and waits for the server to end the data stream (or to
    report an error). Returns (data, error)."""
    err = conn.open_stream({"streamType": "error", "port": port, "requestID": request_id})
    conn.send_data(err, b"", fin=True)
    data = conn.open_stream({"streamType": "data", "port": port, "requestID": request_id})
    conn.send_data(data, payload, fin=True)
    conn.wait(lambda: conn.fin.get(data) or data in conn.reset_streams or conn.data[err], timeout)
    if conn.data[err]:
        conn.wait(lambda: conn.fin.get(err) or err in conn.reset_streams, timeout)
    return bytes(conn.data[data]), bytes(conn.data[err])


# -- command line: used by the C++ e2e tests (test/e2e/streaming_e2e_test.cc) against a real cricketd.
# Every subcommand prints one JSON object; byte strings are base64.

def _b64(data):
    import base64
    return base64.b64encode(data).decode()


def _unb64(text):
    import base64
    return base64.b64decode(text) if text is not None else None


def _size(text):
    w, h = text.split("x")
    return int(w), int(h)


def _cmd_run(args):
    """A whole exec/attach session: streams per the flags, stdin sent and half-closed, output until the end."""
    stdin = _unb64(args.stdin_b64)
    if args.stdin_file is not None:
        with open(args.stdin_file, "rb") as f:
            stdin = f.read()
    if args.transport == "websocket":
        r = run_command_websocket(args.url, args.protocol[0] if args.protocol else "v5.channel.k8s.io",
                                  stdin=stdin, resize=[_size(s) for s in args.resize], timeout=args.timeout)
    else:
        protocols = args.protocol or ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
                                      "channel.k8s.io"]
        r = run_command(args.url, protocols, stdin=stdin, stdout=not args.no_stdout, stderr=not args.no_stderr,
                        tty=args.tty, resize=[_size(s) for s in args.resize], timeout=args.timeout)
        r["conn"].close()
    return {"status": 101, "protocol": r["protocol"], "stdout": _b64(r["stdout"]), "stderr": _b64(r["stderr"]),
            "error": r["error"].decode("utf-8", "replace")}


def _cmd_sessions(args):
    """Several concurrent sessions (one per URL, e.g. attachers of one container). Once all are set up,
    sends --stdin-b64 on the first session's stdin (half-closed with --close-stdin); waits until every
    session's stdout contains --until, then drops every connection without a goodbye, as a client killed
    mid-session would."""
    sessions = []
    for i, url in enumerate(args.url):
        proto, conn = spdy_upgrade(url, ["v4.channel.k8s.io"])
        s = {"conn": conn, "error": conn.open_stream({"streamType": "error"})}
        if i == 0 and args.stdin_b64 is not None:
            s["stdin"] = conn.open_stream({"streamType": "stdin"})
        s["stdout"] = conn.open_stream({"streamType": "stdout"})
        if not args.tty:
            s["stderr"] = conn.open_stream({"streamType": "stderr"})
        else:
            s["resize"] = conn.open_stream({"streamType": "resize"})
            for w, h in [_size(x) for x in args.resize]:
                conn.send_data(s["resize"], (json.dumps({"Width": w, "Height": h}) + "\n").encode())
        sessions.append(s)
    first = sessions[0]
    last_send = time.time()
    if args.stdin_b64 is not None:
        first["conn"].send_data(first["stdin"], _unb64(args.stdin_b64), fin=args.close_stdin)
    until = args.until.encode()
    deadline = time.time() + args.timeout
    while not all(until in s["conn"].data[s["stdout"]] for s in sessions):
        if time.time() > deadline:
            break
        # The server joins a session to the container once all its streams are there, which the client
        # cannot see; attach output is not replayed, so a session that joined after the answer went by
        # is given another one (stdin still open only).
        if args.stdin_b64 is not None and not args.close_stdin and time.time() - last_send > 1.0:
            first["conn"].send_data(first["stdin"], _unb64(args.stdin_b64))
            last_send = time.time()
        for s in sessions:
            if not s["conn"].closed:
                s["conn"].pump(0.05)
            else:
                time.sleep(0.01)
    out = {"status": 101, "sessions": []}
    for s in sessions:
        c = s["conn"]
        out["sessions"].append({"stdout": _b64(bytes(c.data[s["stdout"]])),
                                "stderr": _b64(bytes(c.data.get(s.get("stderr"), b""))),
                                "error": bytes(c.data[s["error"]]).decode("utf-8", "replace"),
                                "found": until in c.data[s["stdout"]]})
        c.close()
    return out


def _cmd_portforward(args):
    """--connections forwarded connections to --port, each sending --send-b64; over SPDY or SPDY tunnelled
    in a WebSocket (subprotocol SPDY/3.1+portforward.k8s.io)."""
    if args.transport == "websocket":
        ws = websocket_connect(args.url, ["SPDY/3.1+portforward.k8s.io"])
        proto = ws.getheaders().get("sec-websocket-protocol")
        conn = SpdyConnection(WebSocketTransport(ws))
    else:
        proto, conn = spdy_upgrade(args.url, ["portforward.k8s.io"])
    results = []
    for i in range(args.connections):
        data, err = forward_once(conn, args.port, i, _unb64(args.send_b64), timeout=args.timeout)
        results.append({"data": _b64(data), "error": err.decode("utf-8", "replace")})
    conn.send_goaway()
    conn.close()
    return {"status": 101, "protocol": proto, "connections": results}


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="SPDY/WebSocket streaming client (prints JSON)")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="one exec or attach session to its end")
    run.add_argument("url")
    run.add_argument("--transport", choices=["spdy", "websocket"], default="spdy")
    run.add_argument("--protocol", action="append", default=[])
    run.add_argument("--tty", action="store_true")
    run.add_argument("--stdin-b64")
    run.add_argument("--stdin-file", help="stdin from a file (payloads too big for an argument)")
    run.add_argument("--no-stdout", action="store_true")
    run.add_argument("--no-stderr", action="store_true")
    run.add_argument("--resize", action="append", default=[], help="WxH")
    run.add_argument("--timeout", type=float, default=30)
    ses = sub.add_parser("sessions", help="concurrent sessions, dropped once --until is seen by all")
    ses.add_argument("url", nargs="+")
    ses.add_argument("--tty", action="store_true")
    ses.add_argument("--stdin-b64")
    ses.add_argument("--close-stdin", action="store_true")
    ses.add_argument("--resize", action="append", default=[], help="WxH")
    ses.add_argument("--until", required=True)
    ses.add_argument("--timeout", type=float, default=30)
    pf = sub.add_parser("portforward", help="forwarded connections to one port")
    pf.add_argument("url")
    pf.add_argument("--transport", choices=["spdy", "websocket"], default="spdy")
    pf.add_argument("--port", type=int, required=True)
    pf.add_argument("--send-b64", required=True)
    pf.add_argument("--connections", type=int, default=1)
    pf.add_argument("--timeout", type=float, default=20)
    args = p.parse_args(argv)
    handler = {"run": _cmd_run, "sessions": _cmd_sessions, "portforward": _cmd_portforward}[args.command]
    try:
        result = handler(args)
    except UpgradeError as e:
        result = {"status": e.status, "body": e.body.decode("utf-8", "replace")}
    except Exception as e:
        if getattr(e, "status_code", None) is None:  # websocket.WebSocketBadStatusException has it
            result = {"status": 0, "exception": "%s: %s" % (type(e).__name__, e)}
        else:
            result = {"status": e.status_code, "body": str(e)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
