"""End-to-end tests of cricket's streaming server (SPDY/3.1 and WebSocket) with independent clients.

The server runs as server/streaming's streaming_test_server over LocalProcessRuntime: exec and attach run
real local processes (pipes or a pty), port-forward dials 127.0.0.1. Run by ctest (label e2e) with
STREAMING_TEST_SERVER set to the binary.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import websocket  # Debian's python3-websocket

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spdy_client  # noqa: E402

SERVER = os.environ.get("STREAMING_TEST_SERVER", "")


class TestServer:
    def __init__(self, *flags):
        self.proc = subprocess.Popen([SERVER, "--sandbox=pod1", *flags], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, bufsize=1)
        hello = json.loads(self.proc.stdout.readline())
        self.base_url, self.port = hello["base_url"], hello["port"]

    def ask(self, **req):
        self.proc.stdin.write(json.dumps(req) + "\n")
        return json.loads(self.proc.stdout.readline())

    def url(self, **req):
        answer = self.ask(**req)
        assert "url" in answer, answer
        return answer["url"]

    def exec_url(self, cmd, tty=False, stdin=False, stdout=True, stderr=True):
        return self.url(op="exec", container="c1", cmd=cmd, tty=tty, stdin=stdin, stdout=stdout, stderr=stderr)

    def stop(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def wait_gone(pid, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(")")[-1].split()[0] == "Z":  # a zombie is dead; PID 1 reaps late here
                    return True
        except (FileNotFoundError, ProcessLookupError):
            return True
        time.sleep(0.1)
    return False


class EchoServer:
    """A TCP echo server on 127.0.0.1 (the 'pod' side of port-forward)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)

    def close(self):
        self.sock.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class SpdyExecTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = TestServer("--container=c1=echo attached; cat")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_url_names_a_concrete_host(self):
        url = self.server.exec_url(["true"])
        self.assertRegex(url, r"^http://127\.0\.0\.1:%d/exec/[A-Za-z0-9_-]{8}$" % self.server.port)

    def test_exit_code_and_separate_streams(self):
        r = spdy_client.run_command(self.server.exec_url(["sh", "-c", "echo out; echo err >&2; exit 3"]))
        self.assertEqual(r["protocol"], "v4.channel.k8s.io")
        self.assertEqual(r["stdout"], b"out\n")
        self.assertEqual(r["stderr"], b"err\n")
        status = json.loads(r["error"])
        self.assertEqual(status["status"], "Failure")
        self.assertEqual(status["reason"], "NonZeroExitCode")
        self.assertEqual(status["details"]["causes"], [{"reason": "ExitCode", "message": "3"}])
        r["conn"].wait(lambda: r["conn"].goaway or r["conn"].closed)
        r["conn"].close()

    def test_success_status(self):
        r = spdy_client.run_command(self.server.exec_url(["true"]))
        self.assertEqual(json.loads(r["error"]), {"metadata": {}, "status": "Success"})

    def test_internal_error_for_missing_command(self):
        r = spdy_client.run_command(self.server.exec_url(["/nonexistent/binary"]))
        status = json.loads(r["error"])
        self.assertEqual(status["reason"], "InternalError")
        self.assertEqual(status["code"], 500)
        self.assertIn("/nonexistent/binary", status["message"])

    def test_stdin_piping_with_half_close(self):
        payload = os.urandom(300000)
        r = spdy_client.run_command(self.server.exec_url(["sh", "-c", "sha256sum; echo done >&2"], stdin=True),
                                    stdin=payload)
        import hashlib
        self.assertEqual(r["stdout"].split()[0].decode(), hashlib.sha256(payload).hexdigest())
        self.assertEqual(r["stderr"], b"done\n")
        self.assertEqual(json.loads(r["error"])["status"], "Success")

    def test_large_output(self):
        r = spdy_client.run_command(self.server.exec_url(["sh", "-c", "head -c 5000000 /dev/zero"], stderr=False),
                                    stderr=False)
        self.assertEqual(len(r["stdout"]), 5000000)

    def test_tty_resize_and_exit_code(self):
        url = self.server.exec_url(["sh"], tty=True, stdin=True, stderr=False)
        r = spdy_client.run_command(url, stdin=b"stty size; exit 7\n", tty=True, stderr=False, resize=[(123, 45)])
        self.assertIn(b"45 123", r["stdout"])
        self.assertEqual(json.loads(r["error"])["details"]["causes"][0]["message"], "7")

    def test_tty_resize_while_running(self):
        proto, conn = spdy_client.spdy_upgrade(self.server.exec_url(["sh"], tty=True, stdin=True, stderr=False),
                                               ["v4.channel.k8s.io"])
        err = conn.open_stream({"streamType": "error"})
        sin = conn.open_stream({"streamType": "stdin"})
        out = conn.open_stream({"streamType": "stdout"})
        rsz = conn.open_stream({"streamType": "resize"})
        conn.send_data(rsz, b'{"Width":80,"Height":24}\n')
        conn.send_data(sin, b"stty size\n")
        conn.wait(lambda: b"24 80" in conn.data[out])
        conn.send_data(rsz, b'{"Width":100,"Height":30}\n')
        time.sleep(0.2)
        conn.send_data(sin, b"stty size; exit\n", fin=True)
        conn.wait(lambda: conn.fin[out] and conn.fin[err])
        self.assertIn(b"30 100", conn.data[out])
        self.assertEqual(json.loads(conn.data[err])["status"], "Success")
        conn.close()

    def test_pings_are_echoed(self):
        proto, conn = spdy_client.spdy_upgrade(self.server.exec_url(["sleep", "1"]), ["v4.channel.k8s.io"])
        conn.send_ping(1)
        conn.send_ping(3)
        conn.wait(lambda: conn.pings == [1, 3])
        conn.close()

    def test_older_protocols_send_text_errors(self):
        for proto in ("v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"):
            r = spdy_client.run_command(self.server.exec_url(["sh", "-c", "echo hi; exit 2"]), protocol_list=[proto])
            self.assertEqual(r["protocol"], proto)
            self.assertEqual(r["stdout"], b"hi\n")
            self.assertIn(b"exit code 2", r["error"])
            self.assertFalse(r["error"].startswith(b"{"))
            ok = spdy_client.run_command(self.server.exec_url(["true"]), protocol_list=[proto])
            self.assertEqual(ok["error"], b"")

    def test_client_go_offer_picks_v4(self):
        r = spdy_client.run_command(self.server.exec_url(["true"]),
                                    protocol_list=["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io",
                                                   "v2.channel.k8s.io", "channel.k8s.io"])
        self.assertEqual(r["protocol"], "v4.channel.k8s.io")

    def test_used_and_unknown_tokens_get_404(self):
        url = self.server.exec_url(["true"])
        spdy_client.run_command(url)
        with self.assertRaises(spdy_client.UpgradeError) as e:
            spdy_client.spdy_upgrade(url, ["v4.channel.k8s.io"])
        self.assertEqual(e.exception.status, 404)
        with self.assertRaises(spdy_client.UpgradeError) as e:
            spdy_client.spdy_upgrade(self.server.base_url + "/exec/AAAAAAAA", ["v4.channel.k8s.io"])
        self.assertEqual(e.exception.status, 404)
        # An exec token is not an attach token.
        with self.assertRaises(spdy_client.UpgradeError) as e:
            spdy_client.spdy_upgrade(self.server.exec_url(["true"]).replace("/exec/", "/attach/"),
                                     ["v4.channel.k8s.io"])
        self.assertEqual(e.exception.status, 404)

    def test_handshake_errors(self):
        status, _, _, body = spdy_client.http_upgrade(self.server.exec_url(["true"]),
                                                      [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")])
        self.assertEqual(status, 400)
        self.assertIn(b"X-Stream-Protocol-Version", body)
        with self.assertRaises(spdy_client.UpgradeError) as e:
            spdy_client.spdy_upgrade(self.server.exec_url(["true"]), ["v9.channel.k8s.io"])
        self.assertEqual(e.exception.status, 403)
        self.assertEqual(e.exception.headers["x-accepted-stream-protocol-versions"],
                         ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"])
        status, _, _, _ = spdy_client.http_upgrade(self.server.exec_url(["true"]),
                                                   [("X-Stream-Protocol-Version", "v4.channel.k8s.io")])
        self.assertEqual(status, 400)  # no upgrade headers
        status, _, _, _ = spdy_client.http_upgrade(self.server.base_url + "/metrics", [], method="GET")
        self.assertEqual(status, 404)
        status, _, _, _ = spdy_client.http_upgrade(self.server.exec_url(["true"]), [], method="PUT")
        self.assertEqual(status, 405)

    def test_get_is_routed_like_post(self):
        proto, conn = spdy_client.spdy_upgrade(self.server.exec_url(["true"]), ["v4.channel.k8s.io"], method="GET")
        self.assertEqual(proto, "v4.channel.k8s.io")
        conn.close()

    def test_validation_errors(self):
        self.assertIn("tty and stderr", self.server.ask(op="exec", container="c", cmd=["x"], tty=True,
                                                        stderr=True)["error"])
        self.assertIn("one of stdin", self.server.ask(op="exec", container="c", cmd=["x"])["error"])
        self.assertIn("pod_sandbox_id", self.server.ask(op="portforward")["error"])

    def test_client_disconnect_kills_the_process(self):
        proto, conn = spdy_client.spdy_upgrade(
            self.server.exec_url(["sh", "-c", "echo $$; exec sleep 1000"], stderr=False), ["v4.channel.k8s.io"])
        conn.open_stream({"streamType": "error"})
        out = conn.open_stream({"streamType": "stdout"})
        conn.wait(lambda: conn.data[out].endswith(b"\n"))
        pid = int(conn.data[out])
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        conn.close()
        self.assertTrue(wait_gone(pid), "exec'd process %d survived the client" % pid)

    def test_attach(self):
        r = spdy_client.run_command(self.server.url(op="attach", container="c1", stdin=True, stdout=True,
                                                    stderr=True), stdin=b"hello\n")
        self.assertEqual(r["stdout"], b"attached\nhello\n")
        self.assertEqual(json.loads(r["error"])["status"], "Success")

    def test_stream_of_unknown_type_is_refused(self):
        proto, conn = spdy_client.spdy_upgrade(self.server.exec_url(["true"]), ["v4.channel.k8s.io"])
        with self.assertRaises(ConnectionError):
            conn.open_stream({"streamType": "bogus"})
        conn.close()


class TimeoutsTest(unittest.TestCase):
    def test_idle_stream_times_out_and_process_dies(self):
        server = TestServer("--idle-timeout-ms=1500")
        try:
            proto, conn = spdy_client.spdy_upgrade(
                server.exec_url(["sh", "-c", "echo $$; exec sleep 1000"], stderr=False), ["v4.channel.k8s.io"])
            conn.open_stream({"streamType": "error"})
            out = conn.open_stream({"streamType": "stdout"})
            conn.wait(lambda: conn.data[out].endswith(b"\n"))
            pid = int(conn.data[out])
            start = time.time()
            conn.wait(lambda: conn.closed, timeout=10)
            self.assertLess(time.time() - start, 8)
            self.assertTrue(wait_gone(pid))
        finally:
            server.stop()

    def test_stream_creation_times_out(self):
        server = TestServer("--creation-timeout-ms=1000")
        try:
            proto, conn = spdy_client.spdy_upgrade(server.exec_url(["true"]), ["v4.channel.k8s.io"])
            conn.open_stream({"streamType": "error"})  # stdout and stderr never come
            start = time.time()
            conn.wait(lambda: conn.closed, timeout=10)
            self.assertLess(time.time() - start, 6)
        finally:
            server.stop()

    def test_token_limit(self):
        server = TestServer("--max-tokens=3")
        try:
            for _ in range(3):
                server.exec_url(["true"])
            self.assertEqual(server.ask(op="exec", container="c", cmd=["true"], stdout=True)["code"],
                             "RESOURCE_EXHAUSTED")
        finally:
            server.stop()


class PortForwardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = TestServer()
        cls.echo = EchoServer()

    @classmethod
    def tearDownClass(cls):
        cls.echo.close()
        cls.server.stop()

    def pf_url(self, ports=()):
        return self.server.url(op="portforward", sandbox="pod1", ports=list(ports))

    def open_pair(self, conn, port, request_id):
        err = conn.open_stream({"streamType": "error", "port": port, "requestID": request_id})
        conn.send_data(err, b"", fin=True)  # client-go closes its side of the error stream at once
        data = conn.open_stream({"streamType": "data", "port": port, "requestID": request_id})
        return err, data

    def test_forward_several_connections(self):
        proto, conn = spdy_client.spdy_upgrade(self.pf_url(), ["portforward.k8s.io"])
        self.assertEqual(proto, "portforward.k8s.io")
        pairs = [self.open_pair(conn, self.echo.port, i) for i in range(3)]
        for i, (err, data) in enumerate(pairs):
            conn.send_data(data, b"hello %d" % i)
        for i, (err, data) in enumerate(pairs):
            conn.wait(lambda: conn.data[data] == b"hello %d" % i)
        big = os.urandom(1 << 20)
        conn.send_data(pairs[0][1], big, fin=True)
        conn.wait(lambda: conn.fin[pairs[0][1]], timeout=20)
        self.assertEqual(bytes(conn.data[pairs[0][1]]), b"hello 0" + big)
        conn.wait(lambda: conn.fin[pairs[0][0]])
        self.assertEqual(conn.data[pairs[0][0]], b"")
        # client-go resets the data stream when done; the error stream then ends too.
        conn.send_reset(pairs[1][1])
        conn.wait(lambda: conn.fin[pairs[1][0]])
        conn.send_goaway()
        conn.close()

    def test_connection_refused_reported_on_error_stream(self):
        port = free_port()
        proto, conn = spdy_client.spdy_upgrade(self.pf_url(), ["portforward.k8s.io"])
        err, data = self.open_pair(conn, port, 0)
        conn.wait(lambda: conn.fin[err])
        self.assertIn(b"error forwarding port %d to pod pod1" % port, conn.data[err])
        conn.close()

    def test_missing_request_id_is_derived(self):
        proto, conn = spdy_client.spdy_upgrade(self.pf_url(), ["portforward.k8s.io"])
        err = conn.open_stream({"streamType": "error", "port": self.echo.port})
        data = conn.open_stream({"streamType": "data", "port": self.echo.port})
        conn.send_data(data, b"old client")
        conn.wait(lambda: conn.data[data] == b"old client")
        conn.close()

    def test_invalid_headers_are_refused(self):
        proto, conn = spdy_client.spdy_upgrade(self.pf_url(), ["portforward.k8s.io"])
        for headers in ({"streamType": "data"}, {"streamType": "data", "port": "0"},
                        {"streamType": "data", "port": "http"}, {"streamType": "stdin", "port": "80"}):
            with self.assertRaises(ConnectionError):
                conn.open_stream(headers)
        conn.close()

    def test_exec_protocols_are_forbidden_for_port_forward(self):
        with self.assertRaises(spdy_client.UpgradeError) as e:
            spdy_client.spdy_upgrade(self.pf_url(), ["v4.channel.k8s.io"])
        self.assertEqual(e.exception.status, 403)


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


class LimitsTest(unittest.TestCase):
    """What one client may make the server hold (issue 16); the gate's own limits are unit-tested in
    server_test.cc, the attacks against cricketd in streaming_abuse_e2e_test.cc."""

    @classmethod
    def setUpClass(cls):
        cls.server = TestServer("--max-port-pairs=3", "--max-pairs-per-port=2", "--connection-buffer-bytes=262144")
        cls.echo = EchoServer()
        cls.other = EchoServer()

    @classmethod
    def tearDownClass(cls):
        cls.echo.close()
        cls.other.close()
        cls.server.stop()

    def pf(self):
        return spdy_client.spdy_upgrade(self.server.url(op="portforward", sandbox="pod1"), ["portforward.k8s.io"])[1]

    def open_pair(self, conn, port, request_id):
        err = conn.open_stream({"streamType": "error", "port": port, "requestID": request_id})
        data = conn.open_stream({"streamType": "data", "port": port, "requestID": request_id})
        return err, data

    def test_port_forward_pairs_per_connection_and_per_port(self):
        conn = self.pf()
        a = self.open_pair(conn, self.echo.port, "a")
        b = self.open_pair(conn, self.echo.port, "b")
        with self.assertRaises(ConnectionError):  # a third to the same port
            conn.open_stream({"streamType": "error", "port": self.echo.port, "requestID": "c"})
        c = self.open_pair(conn, self.other.port, "c")
        with self.assertRaises(ConnectionError):  # a fourth in all
            conn.open_stream({"streamType": "error", "port": self.other.port, "requestID": "d"})
        for name, (err, data) in (("a", a), ("b", b), ("c", c)):
            conn.send_data(data, name.encode())
            conn.wait(lambda: conn.data[data] == name.encode())
        conn.send_reset(a[1])  # one ends: room for another
        conn.wait(lambda: conn.fin[a[0]])
        d = self.open_pair(conn, self.echo.port, "d")
        conn.send_data(d[1], b"d")
        conn.wait(lambda: conn.data[d[1]] == b"d")
        conn.close()

    def test_websocket_port_forward_port_limits(self):
        for ports in ([self.echo.port] * 3, [1, 2, 3, 4]):
            with self.assertRaises(websocket.WebSocketBadStatusException) as e:
                websocket.create_connection(
                    self.server.url(op="portforward", sandbox="pod1", ports=ports).replace("http", "ws"),
                    subprotocols=["portforward.k8s.io"], timeout=10)
            self.assertEqual(e.exception.status_code, 400)

    def test_exec_stdin_is_not_read_beyond_the_budget(self):
        """A process that does not read its stdin stops the client: what the server holds stays within the
        connection's budget, and the session still ends normally once the process reads and exits."""
        url = self.server.exec_url(["sh", "-c", "sleep 2; wc -c"], stdin=True, stderr=False)
        proto, conn = spdy_client.spdy_upgrade(url, ["v4.channel.k8s.io"])
        err = conn.open_stream({"streamType": "error"})
        stdin = conn.open_stream({"streamType": "stdin"})
        out = conn.open_stream({"streamType": "stdout"})
        sock = conn.t.sock
        sock.setblocking(False)
        rss_before = vm_rss_kib(self.server.proc.pid)
        frame = struct.pack(">II", stdin, 65536) + b"z" * 65536
        sent, deadline = 0, time.time() + 1.5
        while time.time() < deadline:  # the process sleeps: the server must stop taking bytes
            try:
                sent += sock.send(frame[sent % len(frame):])
            except BlockingIOError:
                time.sleep(0.01)
        rss_during = vm_rss_kib(self.server.proc.pid)
        # 256 KiB of budget plus the kernel's socket buffers, not everything the client wanted to send.
        self.assertLess(sent, 32 << 20)
        self.assertLess(rss_during - rss_before, 16 << 10)
        sock.setblocking(True)
        rest = len(frame) - sent % len(frame)
        sock.sendall(frame[sent % len(frame):])
        sent += rest
        conn.send_data(stdin, b"", fin=True)
        conn.wait(lambda: conn.fin.get(out) and conn.fin.get(err), timeout=60)
        self.assertEqual(int(bytes(conn.data[out]).strip()), sent - (sent // len(frame)) * 8)
        self.assertEqual(json.loads(bytes(conn.data[err]))["status"], "Success")
        conn.close()

    def test_large_websocket_messages_are_taken_in_pieces(self):
        """One message larger than the connection's budget still arrives whole at the process (it is passed
        on in pieces), in the binary and the base64 protocols."""
        import base64
        payload = os.urandom(3 << 20)
        for protocol in ("v4.channel.k8s.io", "v4.base64.channel.k8s.io"):
            url = self.server.exec_url(["sh", "-c", "head -c %d | sha256sum" % len(payload)], stdin=True,
                                       stderr=False)
            ws = websocket.create_connection(url.replace("http", "ws"), subprotocols=[protocol], timeout=30)
            if protocol.startswith("v4.base64"):
                ws.send("0" + base64.b64encode(payload).decode())
            else:
                ws.send_binary(b"\x00" + payload)
            out = b""
            while True:
                op, data = ws.recv_data()
                if op == websocket.ABNF.OPCODE_CLOSE:
                    break
                if protocol.startswith("v4.base64") and data[:1] == b"1":
                    out += base64.b64decode(data[1:])
                elif data[:1] == b"\x01":
                    out += data[1:]
            import hashlib
            self.assertEqual(out.split()[0].decode(), hashlib.sha256(payload).hexdigest(), protocol)


class WebSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = TestServer()
        cls.echo = EchoServer()

    @classmethod
    def tearDownClass(cls):
        cls.echo.close()
        cls.server.stop()

    def ws(self, url, protocols):
        return websocket.create_connection(url.replace("http://", "ws://"), subprotocols=protocols, timeout=10)

    def read_channels(self, ws):
        got = {}
        while True:
            try:
                op, data = ws.recv_data()
            except websocket.WebSocketConnectionClosedException:
                break
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            self.assertEqual(op, websocket.ABNF.OPCODE_BINARY)
            got.setdefault(data[0], bytearray()).extend(data[1:])
        return got

    def test_v5_exec_with_stdin_close(self):
        ws = self.ws(self.server.exec_url(["sh", "-c", "cat; echo err >&2; exit 4"], stdin=True), ["v5.channel.k8s.io"])
        self.assertEqual(ws.subprotocol, "v5.channel.k8s.io")
        ws.send_binary(b"\x00hello websocket\n")
        ws.send_binary(b"\xff\x00")  # v5 CLOSE of stdin
        got = self.read_channels(ws)
        self.assertEqual(bytes(got[1]), b"hello websocket\n")
        self.assertEqual(bytes(got[2]), b"err\n")
        status = json.loads(bytes(got[3]))
        self.assertEqual(status["details"]["causes"][0], {"reason": "ExitCode", "message": "4"})

    def test_v5_tty_resize(self):
        ws = self.ws(self.server.exec_url(["sh"], tty=True, stdin=True, stderr=False), ["v5.channel.k8s.io"])
        ws.send_binary(b'\x04{"Width":91,"Height":17}')
        ws.send_binary(b"\x00stty size; exit\n")
        got = self.read_channels(ws)
        self.assertIn(b"17 91", bytes(got[1]))
        self.assertEqual(json.loads(bytes(got[3]))["status"], "Success")

    def test_v4_base64_exec(self):
        ws = websocket.create_connection(self.server.exec_url(["echo", "b64"], stderr=False).replace("http", "ws"),
                                         subprotocols=["v4.base64.channel.k8s.io"], timeout=10)
        msgs = []
        while True:
            op, data = ws.recv_data()
            if op == websocket.ABNF.OPCODE_CLOSE:
                break
            self.assertEqual(op, websocket.ABNF.OPCODE_TEXT)
            msgs.append(data.decode())
        import base64
        out = b"".join(base64.b64decode(m[1:]) for m in msgs if m[0] == "1")
        self.assertEqual(out, b"b64\n")

    def test_unsupported_subprotocol_is_rejected(self):
        with self.assertRaises(websocket.WebSocketBadStatusException):
            self.ws(self.server.exec_url(["true"]), ["v9.channel.k8s.io"])

    def test_spdy_over_websocket_port_forward(self):
        ws = self.ws(self.server.url(op="portforward", sandbox="pod1"), ["SPDY/3.1+portforward.k8s.io"])
        # client-go (gorilla/websocket) compares the echoed subprotocol case-sensitively.
        self.assertEqual(ws.getheaders()["sec-websocket-protocol"], "SPDY/3.1+portforward.k8s.io")

        class WsTransport:
            def send(self, data):
                ws.send_binary(data)

            def recv(self, timeout):
                ws.settimeout(timeout)
                try:
                    op, data = ws.recv_data()
                except websocket.WebSocketTimeoutException:
                    return None
                except websocket.WebSocketConnectionClosedException:
                    return b""
                return b"" if op == websocket.ABNF.OPCODE_CLOSE else data

            def close(self):
                ws.close()

        conn = spdy_client.SpdyConnection(WsTransport())
        err = conn.open_stream({"streamType": "error", "port": self.echo.port, "requestID": 0})
        data = conn.open_stream({"streamType": "data", "port": self.echo.port, "requestID": 0})
        conn.send_data(data, b"tunnelled")
        conn.wait(lambda: conn.data[data] == b"tunnelled")
        conn.send_data(data, b"", fin=True)
        conn.wait(lambda: conn.fin[err])
        conn.close()

    def test_plain_websocket_port_forward(self):
        ws = self.ws(self.server.url(op="portforward", sandbox="pod1", ports=[self.echo.port]), ["portforward.k8s.io"])
        port_le = struct.pack("<H", self.echo.port)
        first = [ws.recv_data()[1], ws.recv_data()[1]]
        self.assertEqual(sorted(first), [b"\x00" + port_le, b"\x01" + port_le])
        ws.send_binary(b"\x00plain channels")
        got = bytearray()
        while got != b"plain channels":
            op, d = ws.recv_data()
            self.assertEqual(d[0], 0)
            got.extend(d[1:])
        ws.close()


class TlsTest(unittest.TestCase):
    def test_exec_over_tls_with_client_certificates(self):
        import ssl
        with tempfile.TemporaryDirectory() as d:
            def run(*args):
                subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)
            run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=test-ca",
                "-keyout", "ca.key", "-out", "ca.crt")
            for name, cn in (("server", "127.0.0.1"), ("client", "kubelet")):
                run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + cn, "-keyout", name + ".key",
                    "-out", name + ".csr")
                ext = os.path.join(d, name + ".ext")
                with open(ext, "w") as f:
                    f.write("subjectAltName=IP:127.0.0.1\n")
                run("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                    "-days", "1", "-extfile", ext, "-out", name + ".crt")
            server = TestServer("--tls-cert=%s/server.crt" % d, "--tls-key=%s/server.key" % d,
                                "--tls-ca=%s/ca.crt" % d)
            try:
                self.assertTrue(server.base_url.startswith("https://127.0.0.1:"))
                ctx = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
                ctx.load_cert_chain(os.path.join(d, "client.crt"), os.path.join(d, "client.key"))
                url = server.exec_url(["echo", "secure"], stderr=False)
                proto, conn = spdy_client.spdy_upgrade(url, ["v4.channel.k8s.io"], tls_context=ctx)
                err = conn.open_stream({"streamType": "error"})
                out = conn.open_stream({"streamType": "stdout"})
                conn.wait(lambda: conn.fin[out] and conn.fin[err])
                self.assertEqual(conn.data[out], b"secure\n")
                conn.close()
                # Without a client certificate the handshake fails.
                bare = ssl.create_default_context(cafile=os.path.join(d, "ca.crt"))
                with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
                    s, _, _, _ = spdy_client.http_upgrade(server.exec_url(["true"]),
                                                          [("X-Stream-Protocol-Version", "v4.channel.k8s.io")],
                                                          tls_context=bare)
            finally:
                server.stop()


if __name__ == "__main__":
    if not SERVER or not os.access(SERVER, os.X_OK):
        print("STREAMING_TEST_SERVER is not set to an executable; nothing to test")
        sys.exit(1)
    unittest.main(verbosity=2)
