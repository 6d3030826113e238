#!/usr/bin/env python3
"""Runs one guest test in QEMU on the patched kernel and reports back.

The guest (tests/vm/init) runs /tests/NAME, lets kmemleak scan and prints
"UIO-TEST-EXIT NAME RC". This side fails when the test fails, when the guest
does not finish within the time bound, when it ends without reporting, or
when the kernel log shows a splat. Exit codes follow liburing's tests:
0 pass, 1 fail, 77 skip (only when the guest test itself says so).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import splat  # noqa: E402

EXIT_SKIP = 77


def qemu_command(opts, disk):
    append = ["console=ttyS0", "panic=-1", "oops=panic", "loglevel=6",
              "uio.test=" + opts.test, "kmemleak=on", "hugepages=16"]
    if os.environ.get("UIO_SOAK"):
        append.append("uio.soak=" + os.environ["UIO_SOAK"])
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
        "-kernel", opts.kernel, "-initrd", opts.initrd,
        "-append", " ".join(append),
        "-drive", f"file={disk},if=none,id=nvm,format=raw",
        "-device", "nvme,serial=uio0,drive=nvm,logical_block_size=4096,physical_block_size=4096",
        # a NIC with no way out: restrict=on cuts the guest off from the host and beyond
        "-netdev", "user,id=net0,restrict=on",
        "-device", "virtio-net-pci,netdev=net0",
        "-display", "none", "-serial", "stdio", "-monitor", "none",
        "-no-reboot",
    ]


def run(opts):
    workdir = tempfile.mkdtemp(prefix="uio-vm-")
    disk = os.path.join(workdir, "nvme.img")
    with open(disk, "wb") as f:
        f.truncate(opts.disk_mb << 20)
    cmd = qemu_command(opts, disk)
    start = time.monotonic()
    timed_out = False
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=opts.timeout)
        out = proc.stdout
    except subprocess.TimeoutExpired as e:
        timed_out = True
        out = e.stdout or b""
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.monotonic() - start
    log = out.decode("utf-8", "replace")
    if opts.log:
        with open(opts.log, "w") as f:
            f.write(log)
    return log, timed_out, elapsed


def verdict(opts, log, timed_out, elapsed):
    """Returns (exit code, reasons)."""
    reasons = []
    m = re.search(r"^UIO-TEST-EXIT (\S+) (\d+)\s*$", log, re.M)
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
    print(f"\n[vm] {opts.test}: {status} in {elapsed:.1f} s")
    for r in reasons:
        print(f"[vm] {opts.test}: {r}")
    if code == 1 and not log.count("UIO-TEST-BEGIN"):
        # nothing from the test at all: show the end of the boot log
        print("[vm] last console lines:\n" + "\n".join(log.splitlines()[-30:]))
    return code


if __name__ == "__main__":
    sys.exit(main())
