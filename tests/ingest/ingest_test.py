#!/usr/bin/env python3
"""uio-ingest end to end on this machine: serve, send and verify over loopback
with a file as the device, on the compat backend and the baseline, and every
bad input the program must refuse with a clear message and its exit code.

usage: ingest_test.py UIO_INGEST_BINARY [MIB_PER_STREAM]
"""
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BIN = None
MIB = 16
TIMEOUT = 300

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL, EXIT_LOG_FULL = 0, 1, 2, 3, 4


def free_port():
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.bind(("::", 0))
        return s.getsockname()[1]


def report(out):
    """The serve report's REPORT line as a dict."""
    m = re.search(r"^REPORT (.*)$", out, re.M)
    if not m:
        return None
    return {k: v for k, v in (kv.split("=", 1) for kv in m.group(1).split())}


class Server:
    """`uio-ingest serve` in the background, ready when it says it listens."""

    def __init__(self, device, *args, listen=None):
        self.port = free_port()
        self.listen = listen or f"[::]:{self.port}"
        self.proc = subprocess.Popen([BIN, "serve", "--device", device, "--listen", self.listen, *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            out, err = self.proc.communicate(timeout=TIMEOUT)
            raise AssertionError(f"serve did not start: {line}{out}{err}")
        self.first = line

    def wait(self):
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, self.first + out, err


def run(*args):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=TIMEOUT)
    return p.returncode, p.stdout, p.stderr


class IngestTest(unittest.TestCase):
    def setUp(self):
        # a file on a block device (O_DIRECT), not tmpfs
        self.dir = tempfile.TemporaryDirectory(dir="/var/tmp", prefix="uio-ingest-")
        self.dev = os.path.join(self.dir.name, "log.img")
        with open(self.dev, "wb") as f:
            f.truncate(max(64, 4 * MIB) << 20)

    def tearDown(self):
        self.dir.cleanup()

    def round_trip(self, path, *extra):
        srv = Server(self.dev, path, "--streams", "2", *extra)
        # stream 0 over IPv4, stream 1 over IPv6
        rc, out, err = run("send", "--to", f"127.0.0.1:{srv.port}", "--to", f"[::1]:{srv.port}",
                           "--streams", "2", "--bytes", f"{MIB}M", "--pattern", "11")
        self.assertEqual(rc, EXIT_OK, out + err)
        self.assertIn(f"{2 * MIB << 20} acknowledged durable", out)
        src, sout, serr = srv.wait()
        self.assertEqual(src, EXIT_OK, sout + serr)
        rep = report(sout)
        self.assertIsNotNone(rep, sout)
        self.assertEqual(int(rep["bytes"]), 2 * MIB << 20)
        # records of at most 256 KiB; the region paths end one early after a short fragment
        records = int(rep["records"])
        if path == "--baseline":
            self.assertEqual(records, 2 * MIB * 4)
        else:
            self.assertGreaterEqual(records, 2 * MIB * 4)
        for field in ("copies=", "CPU", "io_uring_enter", "p99"):
            self.assertIn(field.rstrip("="), sout)
        rc, vout, verr = run("verify", "--device", self.dev, "--pattern", "11", "--complete")
        self.assertEqual(rc, EXIT_OK, vout + verr)
        self.assertIn(f"{records} records, {2 * MIB << 20} payload bytes in 2 streams", vout)
        return rep, sout

    def test_compat_round_trip(self):
        rep, out = self.round_trip("--compat")
        self.assertEqual(rep["path"], "compat")
        self.assertEqual(int(rep["pins"]), 1)
        self.assertEqual(int(rep["charges"]), 1)
        # provided buffers: the kernel copies every received byte once; staging adds the unaligned ones
        self.assertGreaterEqual(float(rep["copies"]), 1.0)
        self.assertLess(float(rep["copies"]), 2.01)
        self.assertIn("WRITEV_FIXED", out)

    def test_baseline_round_trip_durable(self):
        rep, out = self.round_trip("--baseline", "--durable")
        self.assertEqual(rep["path"], "baseline")
        self.assertEqual(int(rep["pins"]), 0)
        self.assertEqual(int(rep["staged"]), 0)
        self.assertAlmostEqual(float(rep["copies"]), 1.0, delta=0.01)
        self.assertIn("durable (flush)", out)

    def test_verify_finds_a_flipped_byte(self):
        self.round_trip("--compat")
        with open(self.dev, "r+b") as f:
            f.seek(4096 + 4096 + 1000)  # the first record's payload
            b = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([b[0] ^ 0x40]))
        rc, out, err = run("verify", "--device", self.dev, "--pattern", "11")
        self.assertEqual(rc, EXIT_FAILED, out + err)
        self.assertIn("CRC32C mismatch", err)
        self.assertIn("differs from the pattern", err)
        # the wrong pattern is named too
        with open(self.dev, "r+b") as f:
            f.seek(4096 + 4096 + 1000)
            f.write(b)
        rc, out, err = run("verify", "--device", self.dev, "--pattern", "12")
        self.assertEqual(rc, EXIT_FAILED)
        self.assertIn("written with pattern 11, not 12", err)

    def test_unknown_device(self):
        rc, out, err = run("serve", "--device", "/nonexistent/nvme9n9", "--listen", f"[::]:{free_port()}")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("/nonexistent/nvme9n9: No such file or directory", err)
        rc, out, err = run("verify", "--device", "/nonexistent/nvme9n9")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("No such file or directory", err)

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            rc, out, err = run("serve", "--device", self.dev, "--listen", f"127.0.0.1:{port}")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn(f"cannot listen on 127.0.0.1:{port}: the port is in use", err)

    def test_device_too_small(self):
        with open(self.dev, "wb") as f:
            f.truncate(100 << 10)
        rc, out, err = run("serve", "--device", self.dev, "--listen", f"[::]:{free_port()}")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("too small", err)

    def test_bad_arguments(self):
        for args, msg in ((["serve"], "needs --device"), (["send", "--bytes", "1M"], "needs --to"),
                          (["send", "--to", "nohost:1", "--bytes", "1M"], "not ADDR:PORT"),
                          (["serve", "--device", self.dev, "--listen", "1.2.3.4.5:9"], "not ADDR:PORT"),
                          (["send", "--to", "127.0.0.1:1", "--bytes", "12Q"], "not a size"),
                          (["frobnicate"], "unknown command")):
            rc, out, err = run(*args)
            self.assertEqual(rc, EXIT_USAGE, args)
            self.assertIn(msg, err, args)

    def test_peer_disconnects_mid_record(self):
        for path in ("--compat", "--baseline"):
            with self.subTest(path=path):
                srv = Server(self.dev, path, "--streams", "2")
                cut = (MIB << 20) // 2 + 12345  # inside a 256 KiB record
                whole = subprocess.Popen([BIN, "send", "--to", f"127.0.0.1:{srv.port}", "--bytes", f"{MIB}M",
                                          "--pattern", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                         text=True)
                rc, out, err = run("send", "--to", f"[::1]:{srv.port}", "--bytes", f"{MIB}M", "--pattern", "4",
                                   "--disconnect-after", str(cut))
                self.assertEqual(rc, EXIT_OK, out + err)
                self.assertIn(f"disconnected after {cut} of", out)
                self.assertIn(f"({cut} acknowledged durable)", out)  # the partial record too
                wout, werr = whole.communicate(timeout=TIMEOUT)
                self.assertEqual(whole.returncode, EXIT_OK, wout + werr)  # the other stream is unaffected
                src, sout, serr = srv.wait()
                self.assertEqual(src, EXIT_PARTIAL, sout + serr)
                self.assertIn(f"disconnected after {cut} of {MIB << 20} bytes, mid-record", serr)
                self.assertIn("marked partial", serr)
                rc, vout, verr = run("verify", "--device", self.dev)
                self.assertEqual(rc, EXIT_OK, vout + verr)
                self.assertRegex(vout, rf"partial: the peer disconnected after {cut} of {MIB << 20} bytes")
                self.assertIn(f"{(MIB << 20) + cut} payload bytes in 2 streams", vout)
                rc, vout, verr = run("verify", "--device", self.dev, "--complete")
                self.assertEqual(rc, EXIT_FAILED, vout + verr)

    def test_log_full(self):
        with open(self.dev, "wb") as f:
            f.truncate(6 << 20)  # room for 22 records of 256 KiB
        for path in ("--compat", "--baseline"):
            with self.subTest(path=path):
                srv = Server(self.dev, path, "--streams", "2")
                rc, out, err = run("send", "--to", f"127.0.0.1:{srv.port}", "--streams", "2", "--bytes",
                                   f"{MIB}M", "--pattern", "5")
                self.assertEqual(rc, EXIT_LOG_FULL, out + err)
                self.assertIn("the server's log is full", err)
                durable = int(re.search(r"(\d+) acknowledged durable", out).group(1))
                src, sout, serr = srv.wait()
                self.assertEqual(src, EXIT_LOG_FULL, sout + serr)
                self.assertIn("is full", serr)
                self.assertIn("clients are told", serr)
                rep = report(sout)
                self.assertEqual(int(rep["bytes"]), durable)  # what the clients were told is what is stored
                rc, vout, verr = run("verify", "--device", self.dev, "--pattern", "5")
                self.assertEqual(rc, EXIT_OK, vout + verr)
                self.assertIn("the device was full", vout)
                self.assertIn(f"{durable} payload bytes", vout)

    def test_interrupted(self):
        srv = Server(self.dev, "--compat", "--streams", "3")
        rc, out, err = run("send", "--to", f"127.0.0.1:{srv.port}", "--bytes", "4M", "--pattern", "8")
        self.assertEqual(rc, EXIT_OK, out + err)
        srv.proc.send_signal(15)  # a stream short of --streams: SIGTERM
        src, sout, serr = srv.wait()
        self.assertEqual(src, EXIT_FAILED, sout + serr)
        self.assertIn("interrupted", serr)
        self.assertIn("1 of 3 streams accepted", serr)
        self.assertEqual(int(report(sout)["bytes"]), 4 << 20)
        rc, vout, verr = run("verify", "--device", self.dev, "--pattern", "8")
        self.assertEqual(rc, EXIT_OK, vout + verr)
        self.assertIn("interrupted", vout)

    def test_not_a_client(self):
        srv = Server(self.dev, "--compat")
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(b"GET / HTTP/1.0\r\n" + b"x" * 5000)
            s.settimeout(TIMEOUT)
            ack = s.recv(16)
            self.assertEqual(len(ack), 16)
            self.assertEqual(int.from_bytes(ack[8:12], "little"), 4)  # rejected
        src, sout, serr = srv.wait()
        self.assertEqual(src, EXIT_FAILED)
        self.assertIn("not a uio-ingest client", serr)


if __name__ == "__main__":
    BIN = sys.argv[1]
    if len(sys.argv) > 2:
        MIB = int(sys.argv[2])
    unittest.main(argv=[sys.argv[0], "-v"])
