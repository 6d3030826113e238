#!/usr/bin/env python3
"""Runs one guest test in QEMU on the patched kernel and reports back.

The guest (tests/vm/init) boots, says "UIO-READY NAME" and waits for a line on
its console; then it runs /tests/NAME, lets kmemleak scan and prints
"UIO-TEST-EXIT NAME RC". This side fails when the test fails, when the guest
does not finish within the time bound, when it ends without reporting, or
when the kernel log shows a splat. Exit codes follow liburing's tests:
0 pass, 1 fail, 77 skip (only when the guest test itself says so).

Guests share the machine's cores through one lock (a file in UIO_VM_LOCK_DIR,
default /tmp): no two guests ever run their tests at the same time, so a
test's timing never competes with another test. Everything else overlaps:
a guest boots while the one before it runs its test, and waits idle at
"UIO-READY" until that test has ended; a guest's leak check (kmemleak's 5 s
of waiting, then two scans of about a second) runs beside the next test.
How many guests exist at once is CTest's -j (two under -j2; a guest has two
vCPUs, busy mostly during its test). Time spent waiting for the lock does
not count against --timeout.
"""
import argparse
import fcntl
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import splat  # noqa: E402

EXIT_SKIP = 77


def qemu_command(opts, disk, initrd):
    # pty.legacy_count=0: no BSD pty pairs (256 by default; their registration
    # took 2 s of every boot under TCG, and no test uses them)
    append = ["console=ttyS0", "panic=-1", "oops=panic", "loglevel=6",
              "uio.test=" + opts.test, "kmemleak=on", "hugepages=16", "pty.legacy_count=0"]
    if os.environ.get("UIO_SOAK"):
        append.append("uio.soak=" + os.environ["UIO_SOAK"])
    # KASAN on 5-level paging (QEMU's -cpu max has LA57) can report a wild
    # access from an interrupt taken while identify_cpu() has cleared the
    # boot CPU's feature bits (LA57 among them), at 0.08 s of boot, before
    # any io_uring code runs: seen once in a 31-test KASAN run. 4-level
    # paging keeps that upstream race out of our reports.
    if os.environ.get("UIO_KASAN") == "1":
        append.append("no5lvl")
    # the fuzzer's replay settings (tests/vm/uio_fuzz.c), exported by the guest's init
    fuzz = [f"{k}={os.environ[k]}" for k in ("UIO_FUZZ_SEED", "UIO_FUZZ_ITERS", "UIO_FUZZ_ROUND")
            if os.environ.get(k)]
    if fuzz:
        append.append("uio.env=" + ",".join(fuzz))
    if opts.args:
        append.append("uio.args=" + ",".join(opts.args))
    return [
        opts.qemu, "-machine", "q35", "-cpu", "max", "-accel", "tcg",
        "-smp", str(opts.smp), "-m", opts.mem,
        "-kernel", opts.kernel, "-initrd", initrd,
        "-append", " ".join(append),
        "-drive", f"file={disk},if=none,id=nvm,format=raw",
        "-device", "nvme,serial=uio0,drive=nvm,logical_block_size=4096,physical_block_size=4096",
        # a NIC with no way out: restrict=on cuts the guest off from the host and beyond
        "-netdev", "user,id=net0,restrict=on",
        "-device", "virtio-net-pci,netdev=net0",
        "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-no-reboot",
    ]


def _cpio_entries(data):
    """(start, end, name, body) of each member of DATA, a newc cpio archive or
    several concatenated (the kernel unpacks each in turn)."""
    pos = 0
    while pos + 110 <= len(data):
        if data[pos:pos + 6] != b"070701":
            if data[pos:pos + 4] == b"\0\0\0\0":  # padding between archives
                pos += 4
                continue
            raise ValueError(f"initrd: no cpio header at byte {pos}")
        namesize = int(data[pos + 94:pos + 102], 16)
        filesize = int(data[pos + 54:pos + 62], 16)
        name_end = pos + 110 + namesize
        body = (name_end + 3) & ~3
        end = (body + filesize + 3) & ~3
        yield pos, end, data[pos + 110:name_end - 1].decode(), data[body:body + filesize]
        pos = end


def _is_program(body):
    """An ELF executable (a test program), not a BPF object (ET_REL) or script."""
    return body[:4] == b"\x7fELF" and int.from_bytes(body[16:18], "little") in (2, 3)


def test_image(data, test):
    """DATA, a cpio image of every guest program, cut down to what TEST runs:
    busybox, the init, every file that is not an ELF program, /tests/TEST, and
    each program of /tests whose path TEST (a program or a script) names in
    its bytes (ingest_vm runs /tests/uio-ingest), and so on. Under TCG the
    kernel unpacked the whole image's 56 MB in 2-3 s of every boot; one
    test's programs are a tenth of that."""
    def under_tests(name):  # "tests/X" or "./tests/X" -> "X", else None
        name = name.removeprefix("./")
        return name[len("tests/"):] if name.startswith("tests/") else None

    entries = list(_cpio_entries(data))
    files = {under_tests(name): body for _, _, name, body in entries if under_tests(name)}
    programs = {name for name, body in files.items() if _is_program(body)}
    keep, named = set(), [test]
    while named:
        name = named.pop()
        keep.add(name)
        named += [p for p in programs - keep if f"/tests/{p}".encode() in files.get(name, b"")]
    dropped = programs - keep
    return b"".join(data[start:end] for start, end, name, _ in entries if under_tests(name) not in dropped)


def plain_initrd(initrd, workdir, test):
    """The image for TEST (test_image()), decompressed here, in WORKDIR: the
    kernel's gunzip under TCG took 2-3 s of each boot, the host's takes a
    tenth of a second. The kernel unpacks the plain cpio archives
    (concatenated ones too) as it unpacked the compressed ones."""
    with open(initrd, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    plain = os.path.join(workdir, "initrd.cpio")
    with open(plain, "wb") as f:
        f.write(test_image(data, test))
    return plain


class Slot:
    """An exclusive lock shared by every vm-run.py on this machine (flock)."""

    def __init__(self, name):
        lock_dir = os.environ.get("UIO_VM_LOCK_DIR", tempfile.gettempdir())
        self.path = os.path.join(lock_dir, f"uio-vm-{name}.lock")
        self.fd = None

    def acquire(self):
        """Waits until the lock is held."""
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def release(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Console:
    """QEMU's serial console: collects what the guest prints and notes when it
    is ready for its test, when its test has ended and when it is gone."""

    def __init__(self, proc, test):
        self.proc = proc
        self.chunks = []
        self.ready = threading.Event()
        self.done = threading.Event()
        self.gone = threading.Event()
        self.marks = {
            self.ready: re.compile(rb"^UIO-(READY|TEST-BEGIN) "),
            self.done: re.compile(rb"uio: " + re.escape(test.encode()) + rb" exited |^UIO-TEST-EXIT "),
        }
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.chunks.append(line)
            for event, mark in self.marks.items():
                if not event.is_set() and mark.search(line.strip(b"\r\n")):
                    event.set()
        self.ready.set()
        self.done.set()
        self.gone.set()

    def wait(self, event, deadline):
        return event.wait(max(0.0, deadline - time.monotonic()))

    def answer(self):
        """Lets the guest start its test (it waits for a line on the console)."""
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass

    def text(self):
        return b"".join(self.chunks).decode("utf-8", "replace")


def run(opts):
    workdir = tempfile.mkdtemp(prefix="uio-vm-")
    disk = os.path.join(workdir, "nvme.img")
    with open(disk, "wb") as f:
        f.truncate(opts.disk_mb << 20)
    test = Slot("test")
    try:
        initrd = plain_initrd(opts.initrd, workdir, opts.test)
        cmd = qemu_command(opts, disk, initrd)
        start = time.monotonic()
        deadline = start + opts.timeout
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        console = Console(proc, opts.test)
        timed_out = False
        if console.wait(console.ready, deadline):
            # the test starts once no other guest runs one
            waiting = time.monotonic()
            test.acquire()
            deadline += time.monotonic() - waiting
            console.answer()
            # the next guest's test runs while this one waits out kmemleak's
            # age and scans
            console.wait(console.done, deadline)
            test.release()
        if not console.wait(console.gone, deadline):
            timed_out = True
            proc.kill()
            console.gone.wait(10)
        proc.wait()
        proc.stdin.close()
        elapsed = time.monotonic() - start
        log = console.text()
    finally:
        test.release()
        shutil.rmtree(workdir, ignore_errors=True)
    if opts.log:
        with open(opts.log, "w") as f:
            f.write(log)
    return log, timed_out, elapsed


def verdict(opts, log, timed_out, elapsed):
    """Returns (exit code, reasons)."""
    reasons = []
    # the kernel's console may append its next line to the guest's, with no
    # line break between: "UIO-TEST-EXIT ingest_vm 0[   23.725399] uio: ..."
    m = re.search(r"^UIO-TEST-EXIT (\S+) (\d+)(?!\d)", log, re.M)
    rc = int(m.group(2)) if m else None
    if timed_out:
        reasons.append(f"guest did not finish within {opts.timeout} s")
    elif rc is None:
        reasons.append("guest ended without reporting a result (crash or panic?)")
    elif rc not in (0, EXIT_SKIP):
        reasons.append(f"guest test exited {rc}")
    for kind, line in splat.find_splats(log):
        reasons.append(f"kernel splat ({kind}): {line}")
    if reasons:
        return 1, reasons
    return (EXIT_SKIP if rc == EXIT_SKIP else 0), reasons


# the kernel's timestamp and the guest's mark, anywhere in a line (the console
# interleaves the kernel's lines with the guest's)
_MARK = re.compile(r"\[\s*(\d+\.\d+)\]\s?(uio: .*|reboot: .*)$")


def phases(log):
    """Where a boot's time went, from the kernel's timestamps: (boot, wait, test,
    after) in seconds - kernel start to the guest's "ready", waiting for the
    previous guest to leave, the test, its end to the restart (the leak check) -
    or None when the log lacks the marks."""
    ready = run = done = last = None
    for line in log.splitlines():
        m = _MARK.search(line)
        if not m:
            continue
        t, text = float(m.group(1)), m.group(2)
        if text.startswith("reboot: "):
            last = t
        elif ready is None and text.startswith("uio: ready"):
            ready = t
        elif run is None and text.startswith("uio: running "):
            run = t
        elif " exited " in text:
            done = t
    if run is None or done is None or last is None:
        return None
    if ready is None:
        ready = run
    return ready, run - ready, done - run, last - done


def guest_output(log):
    """The part of the console log the test printed (with interleaved kernel lines)."""
    begin = log.find("UIO-TEST-BEGIN")
    return log[begin:] if begin >= 0 else log


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--timeout", type=int, default=int(os.environ.get("UIO_VM_TIMEOUT", 600)))
    p.add_argument("--smp", type=int, default=2)
    p.add_argument("--mem", default="1G")
    p.add_argument("--disk-mb", type=int, default=256)
    p.add_argument("--qemu", default="qemu-system-x86_64")
    p.add_argument("--log", help="write the whole console log here")
    p.add_argument("args", nargs="*", help="arguments for the guest test")
    opts = p.parse_args()

    log, timed_out, elapsed = run(opts)
    code, reasons = verdict(opts, log, timed_out, elapsed)
    sys.stdout.write(guest_output(log))
    status = {0: "PASS", 1: "FAIL", EXIT_SKIP: "SKIP"}[code]
    times = phases(log)
    times = (f" (boot {times[0]:.1f} s, waiting {times[1]:.1f} s, test {times[2]:.1f} s,"
             f" leak check {times[3]:.1f} s)") if times else ""
    print(f"\n[vm] {opts.test}: {status} in {elapsed:.1f} s{times}")
    for r in reasons:
        print(f"[vm] {opts.test}: {r}")
    if code == 1 and not log.count("UIO-TEST-BEGIN"):
        # nothing from the test at all: show the end of the boot log
        print("[vm] last console lines:\n" + "\n".join(log.splitlines()[-30:]))
    return code


if __name__ == "__main__":
    sys.exit(main())
