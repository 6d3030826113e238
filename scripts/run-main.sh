#!/usr/bin/env bash
# The main job: installs what is missing, builds the patched kernel and the guest
# programs, boots the kernel in QEMU with an emulated NVMe disk and runs
# uio-ingest inside it (tests/vm/ingest_vm.cpp): two linked netdevsim ports in
# two namespaces, `uio-ingest serve` on /dev/nvme0n1 on the native hardware path
# (the region's network binding on the receiving port's queue, the BPF stage's
# CRC32C per fragment, vectored writes from the region), `uio-ingest send` of
# 256 MiB over 4 streams (the last over IPv6), `uio-ingest verify`; then the
# same through --baseline (recv into a buffer, userspace CRC32C, O_DIRECT
# writes), and both reports side by side with the ratios.
#
#   UIO_MAIN_MIB      MiB to send (default 256)
#   UIO_MAIN_STREAMS  streams (default 4)
#   UIO_BENCH_KERNEL  1 (default): the kernel without the test kernel's debug
#                     set (kernel/bench.config), whose lockdep and kmemleak
#                     would be most of the CPU figures; 0: the test kernel
#   UIO_BUILD         CMake build directory (default: build-main/ in the checkout,
#                     as its BPF programs are built against that kernel)
set -euo pipefail

export UIO_BENCH_KERNEL=${UIO_BENCH_KERNEL:-1}
. "$(dirname "$0")/lib.sh"

build=${UIO_BUILD:-$UIO_ROOT/build-main}
mib=${UIO_MAIN_MIB:-256}
streams=${UIO_MAIN_STREAMS:-4}
"$UIO_ROOT/scripts/bootstrap.sh"
"$UIO_ROOT/scripts/kernel-build.sh"
cmake -S "$UIO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DUIO_KERNEL_BUILD="$UIO_KBUILD" >/dev/null
cmake --build "$build" --target uio_initramfs >/dev/null
log "booting $(cat "$UIO_CACHE/src/linux/.uio-pristine") + kernel-patches/ and running uio-ingest:" \
	"$mib MiB over $streams streams, native then baseline"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
# the log of each path needs the payload plus a block per record: a 1 GiB disk
python3 "$UIO_ROOT/scripts/vm-run.py" --kernel "$UIO_KBUILD/arch/x86/boot/bzImage" \
	--initrd "$build/tests/vm/initramfs.cpio.gz" --test ingest_vm --disk-mb 1024 \
	--timeout "${UIO_VM_TIMEOUT:-1800}" --log "$build/tests/vm/logs/main.log" \
	-- main "$mib" "$streams" >"$out" || status=1
# the guest's own lines: no kernel messages, no progress lines
grep -v -e '^\[ *[0-9]*\.[0-9]*\]' -e '^UIO-TEST-' -e '^send: [0-9.]* MiB sent' -e '^serve: [0-9]*/[0-9]* streams' \
	"$out" || true
((status == 0)) || log "the main job failed: the whole console log is in $build/tests/vm/logs/main.log"
exit $status
