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
