"""Host unit tests of the VM runner: its splat detector and verdict, over sample console
text, and the per-test cut of the initramfs."""
import argparse
import unittest

import splat
import importlib.util
import os

_spec = importlib.util.spec_from_file_location(
    "vm_run", os.path.join(os.path.dirname(splat.__file__), "vm-run.py"))
vm_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vm_run)

# One real-looking sample per kind of splat, as the kernel prints it.
SAMPLES = {
    "warning": "[   12.345678] WARNING: CPU: 0 PID: 81 at io_uring/unified.c:120 io_unified_free+0x4c/0x60",
    "bug": "[    3.100000] kernel BUG at mm/slub.c:4567!",
    "oops": "[    5.000000] Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
    "panic": "[    9.000000] Kernel panic - not syncing: Fatal exception",
    "lockdep": "[    7.000000] WARNING: possible circular locking dependency detected",
    "kasan": "[    4.000000] BUG: KASAN: slab-use-after-free in io_unified_put+0x20/0x40",
    "kmemleak": "unreferenced object 0xffff888003e4c000 (size 4096):",
    "sleep-in-atomic": "[    6.000000] BUG: sleeping function called from invalid context at mm/slab.h:768",
    "refcount": "[    8.000000] refcount_t: underflow; use-after-free.",
    "list-corruption": "[    2.000000] list_del corruption, ffff888003e4c000->next is LIST_POISON1",
    "ubsan": "[    2.500000] UBSAN: shift-out-of-bounds in io_uring/unified.c:88:20",
    "hung-task": "[  130.000000] INFO: task uio_test:77 blocked for more than 120 seconds.",
    "rcu-stall": "[   60.000000] rcu: INFO: rcu_preempt self-detected stall on CPU",
}

CLEAN_LOG = """\
[    0.000000] Linux version 7.3.4 (root@uio) #1 SMP PREEMPT_DYNAMIC
[    0.512345] kmemleak: Kernel memory leak detector initialized (mem pool available: 15890)
[    0.612345] io_uring: unified region: 4096 pages
[    1.234567] nvme nvme0: 1/0/0 default/read/poll queues
UIO-TEST-BEGIN query
unified query: register_flags 0 op_flags 0
[    2.000000] uio: query exited 0
UIO-TEST-EXIT query 0
[    9.000000] reboot: Restarting system
"""


class ClassifyTest(unittest.TestCase):
    def test_each_kind_is_recognised(self):
        for kind, line in SAMPLES.items():
            with self.subTest(kind=kind):
                self.assertEqual(splat.classify(line), kind)

    def test_clean_boot_has_no_splat(self):
        self.assertEqual(splat.find_splats(CLEAN_LOG), [])

    def test_benign_lines_that_look_alike(self):
        for line in ["[ 1.0] kmemleak: Kernel memory leak detector initialized",
                     "[ 1.0] Run /init as init process",
                     "[ 1.0] io_uring: WARNING_COUNT is a symbol, not a splat",
                     "test output: no BUG here"]:
            with self.subTest(line=line):
                self.assertIsNone(splat.classify(line))

    def test_splat_in_the_middle_of_a_log(self):
        log = CLEAN_LOG.replace("UIO-TEST-EXIT", SAMPLES["lockdep"] + "\nUIO-TEST-EXIT")
        self.assertEqual([k for k, _ in splat.find_splats(log)], ["lockdep"])


class VerdictTest(unittest.TestCase):
    opts = argparse.Namespace(timeout=60, test="query")

    def verdict(self, log, timed_out=False):
        return vm_run.verdict(self.opts, log, timed_out, 1.0)

    def test_pass(self):
        self.assertEqual(self.verdict(CLEAN_LOG), (0, []))

    def test_failing_guest_test(self):
        code, reasons = self.verdict(CLEAN_LOG.replace("query 0", "query 1"))
        self.assertEqual(code, 1)
        self.assertIn("guest test exited 1", reasons)

    def test_result_line_with_a_kernel_line_appended(self):
        # seen on the benchmark kernel, whose init reports without kmemleak's wait
        log = CLEAN_LOG.replace("UIO-TEST-EXIT query 0\n", "UIO-TEST-EXIT query 0[    2.000100] uio: done\n")
        self.assertEqual(self.verdict(log), (0, []))
        log = CLEAN_LOG.replace("UIO-TEST-EXIT query 0\n", "UIO-TEST-EXIT query 1[    2.000100] uio: done\n")
        self.assertEqual(self.verdict(log)[0], 1)

    def test_skip_is_reported_as_skip(self):
        self.assertEqual(self.verdict(CLEAN_LOG.replace("query 0", "query 77"))[0], 77)

    def test_skip_with_a_splat_fails(self):
        log = CLEAN_LOG.replace("query 0", "query 77") + SAMPLES["warning"]
        self.assertEqual(self.verdict(log)[0], 1)

    def test_hang(self):
        code, reasons = self.verdict("UIO-TEST-BEGIN query\n", timed_out=True)
        self.assertEqual(code, 1)
        self.assertIn("guest did not finish within 60 s", reasons)

    def test_crash_without_result(self):
        code, reasons = self.verdict("UIO-TEST-BEGIN query\n" + SAMPLES["panic"])
        self.assertEqual(code, 1)
        self.assertTrue(any("without reporting" in r for r in reasons))
        self.assertTrue(any("panic" in r for r in reasons))

    def test_every_splat_fails_a_passing_test(self):
        for kind, line in SAMPLES.items():
            with self.subTest(kind=kind):
                code, reasons = self.verdict(CLEAN_LOG + line + "\n")
                self.assertEqual(code, 1)
                self.assertTrue(any(f"({kind})" in r for r in reasons))



def _cpio(members, trailer=True):
    """A newc cpio archive of (name, body) members, as cpio -H newc writes it."""
    out = bytearray()
    for i, (name, body) in enumerate(list(members) + ([("TRAILER!!!", b"")] if trailer else [])):
        raw = name.encode() + b"\0"
        fields = [i + 1, 0o100755, 0, 0, 1, 0, len(body), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += b"\0" * (-len(out) % 4) + body
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def _elf(kind, text=b""):
    """Enough of an ELF header for the image cut: e_type KIND (2 executable, 1 relocatable)."""
    return b"\x7fELF" + b"\x02\x01\x01" + b"\0" * 9 + kind.to_bytes(2, "little") + text


class TestImageTest(unittest.TestCase):
    def image(self):
        return _cpio([
            (".", b""), ("bin/busybox", _elf(2)), ("init", b"#!/bin/sh\n"),
            ("tests", b""),
            ("tests/query", _elf(2)),
            ("tests/ingest_vm", _elf(2, b"runs /tests/uio-ingest serve")),
            ("tests/uio-ingest", _elf(2)),
            ("tests/checksum.bpf.o", _elf(1)),
            ("tests/helper.sh", b"#!/bin/sh\n"),
            ("tests/wrapper", b"#!/bin/sh\nexec /tests/ingest_vm main 64\n"),
        ])

    def names(self, data):
        return [name for _, _, name, _ in vm_run._cpio_entries(data)]

    def test_keeps_the_test_and_everything_but_other_programs(self):
        self.assertEqual(self.names(vm_run.test_image(self.image(), "query")),
                         [".", "bin/busybox", "init", "tests", "tests/query",
                          "tests/checksum.bpf.o", "tests/helper.sh", "tests/wrapper",
                          "TRAILER!!!"])

    def test_keeps_a_program_the_test_names(self):
        names = self.names(vm_run.test_image(self.image(), "ingest_vm"))
        self.assertIn("tests/ingest_vm", names)
        self.assertIn("tests/uio-ingest", names)
        self.assertNotIn("tests/query", names)

    def test_keeps_what_a_script_names_and_what_that_names(self):
        names = self.names(vm_run.test_image(self.image(), "wrapper"))
        self.assertIn("tests/ingest_vm", names)
        self.assertIn("tests/uio-ingest", names)  # named by ingest_vm
        self.assertNotIn("tests/query", names)

    def test_the_cut_is_a_valid_archive_with_bodies_intact(self):
        cut = vm_run.test_image(self.image(), "ingest_vm")
        bodies = {name: body for _, _, name, body in vm_run._cpio_entries(cut)}
        self.assertEqual(bodies["tests/ingest_vm"], _elf(2, b"runs /tests/uio-ingest serve"))
        self.assertEqual(bodies["init"], b"#!/bin/sh\n")

    def test_concatenated_archives(self):
        # a second image appended (the selftests' and the benchmark's images are)
        data = self.image() + b"\0" * 8 + _cpio([("usr/bin/fio", _elf(3)), ("tests/extra", _elf(2))])
        names = self.names(vm_run.test_image(data, "query"))
        self.assertIn("usr/bin/fio", names)
        self.assertNotIn("tests/extra", names)
        self.assertEqual(names.count("TRAILER!!!"), 2)

    def test_not_a_cpio_archive(self):
        with self.assertRaises(ValueError):
            vm_run.test_image(b"garbage that is not an archive at all" * 4, "query")

if __name__ == "__main__":
    unittest.main()
