#!/usr/bin/python3
"""Writes seed inputs for the fuzz targets: real client frames made with the independent Python client."""
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../test/e2e/streaming"))
import spdy_client  # noqa: E402

out = sys.argv[1]
os.makedirs(os.path.join(out, "spdy"), exist_ok=True)
os.makedirs(os.path.join(out, "wshttp"), exist_ok=True)
os.makedirs(os.path.join(out, "session"), exist_ok=True)


class Capture:
    def __init__(self):
        self.bytes = b""

    def send(self, data):
        self.bytes += data


t = Capture()
c = spdy_client.SpdyConnection(t)
for st in ("error", "stdin", "stdout", "resize"):
    c.open_stream({"streamType": st}, wait=False)
c.send_data(3, b"echo hi\n", fin=True)
c.send_data(7, b'{"Width":80,"Height":24}\n')
c.send_ping(1)
c.send_reset(5)
c.send_goaway()
open(os.path.join(out, "spdy", "exec"), "wb").write(t.bytes)
t2 = Capture()
c2 = spdy_client.SpdyConnection(t2)
c2.open_stream({"streamType": "error", "port": 80, "requestID": 0}, wait=False)
c2.open_stream({"streamType": "data", "port": 80, "requestID": 0}, wait=False)
c2.send_data(3, b"GET / HTTP/1.0\r\n\r\n", fin=True)
open(os.path.join(out, "spdy", "portforward"), "wb").write(t2.bytes)
open(os.path.join(out, "wshttp", "upgrade"), "wb").write(
    b"POST /exec/abcdefgh?port=80 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
    b"X-Stream-Protocol-Version: v4.channel.k8s.io, v3.channel.k8s.io\r\n\r\n")
mask = b"\x01\x02\x03\x04"
payload = b"\x00hello"
frame = bytes([0x82, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
open(os.path.join(out, "wshttp", "wsframe"), "wb").write(frame)


# session_fuzz: [request byte, head byte] + what the client sends after the head (session_fuzz.cc).
EXEC, ATTACH, PF = 0, 1, 2
TTY, STDIN, STDOUT, STDERR, PORTS = 0x04, 0x08, 0x10, 0x20, 0x40


def masked(opcode, payload, fin=True, key=b"\x0a\x0b\x0c\x0d"):
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def session(name, request, head, body):
    open(os.path.join(out, "session", name), "wb").write(bytes([request, head]) + body)


def spdy_exec(streams, stdin=b"", resize=None, early=False):
    t = Capture()
    c = spdy_client.SpdyConnection(t)
    ids = {}
    for st in streams:
        ids[st] = c.open_stream({"streamType": st}, wait=False)
        if early and st == "stdin":
            c.send_data(ids[st], stdin)  # before the other streams exist
    if resize and "resize" in ids:
        c.send_data(ids["resize"], resize)
    if "stdin" in ids:
        c.send_data(ids["stdin"], b"" if early else stdin, fin=True)
    c.send_ping(3)
    return t.bytes


session("spdy-exec", EXEC | STDIN | STDOUT | STDERR, 0,
        spdy_exec(["error", "stdin", "stdout", "stderr"], b"hello\n"))
session("spdy-exec-tty", EXEC | TTY | STDIN | STDOUT, 0,
        spdy_exec(["error", "stdin", "stdout", "resize"], b"ls\n", b'{"Width":80,"Height":24}\n'))
session("spdy-exec-early-stdin", EXEC | STDIN | STDOUT, 0,
        spdy_exec(["stdin", "error", "stdout"], b"x" * 70000, early=True))
session("spdy-attach-v1", ATTACH | STDIN | STDOUT, 3, spdy_exec(["error", "stdin", "stdout"], b"q\n"))
session("spdy-exec-v2", EXEC | STDOUT | STDERR, 2, spdy_exec(["error", "stdout", "stderr"]))

t = Capture()
c = spdy_client.SpdyConnection(t)
for rid, port in enumerate((82, 80, 81, 82)):
    e = c.open_stream({"streamType": "error", "port": port, "requestID": rid}, wait=False)
    c.send_data(e, b"", fin=True)
    d = c.open_stream({"streamType": "data", "port": port, "requestID": rid}, wait=False)
    c.send_data(d, b"GET / HTTP/1.0\r\n\r\n" * 3, fin=rid % 2 == 0)
c.send_reset(3)
c.send_goaway()
session("spdy-portforward", PF, 4, t.bytes)
session("ws-tunnel-portforward", PF, 9, b"".join(masked(0x2, t.bytes[i:i + 100]) for i in range(0, len(t.bytes), 100)))
session("ws-portforward", PF | PORTS, 8,
        masked(0x2, b"\x00GET / HTTP/1.0\r\n\r\n") + masked(0x2, b"\x02abc", fin=False) + masked(0x9, b"p") +
        masked(0x0, b"def") + masked(0x8, b"\x03\xe8"))
session("ws-exec-v5", EXEC | STDIN | STDOUT | STDERR, 5,
        masked(0x2, b"\x00hello ", fin=False) + masked(0x0, b"world\n") + masked(0x2, b"\xff\x00") +
        masked(0x2, b'\x04{"Width":100,"Height":30}'))
session("ws-exec-base64", EXEC | STDIN | STDOUT, 7,
        masked(0x1, b"0aGVsbG8", fin=False) + masked(0x0, b"gd29ybGQK") + masked(0x8, b""))
session("ws-attach-v4", ATTACH | TTY | STDIN | STDOUT, 6, masked(0x2, b"\x00" + b"y" * 200000))
session("own-head", EXEC | STDOUT, 0,
        b"POST /exec/abcdefgh HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n" + spdy_exec(["error", "stdout"]))
