#!/usr/bin/env bash
# The main job: installs what is missing, builds the patched kernel and the guest
# programs, boots the kernel in QEMU with an emulated NVMe disk and runs the
# series' sample program (samples/unified_io/io_uring_unified_test.c) inside it,
# printing what it did.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

build=${UIO_BUILD:-$UIO_ROOT/build}
"$UIO_ROOT/scripts/bootstrap.sh"
"$UIO_ROOT/scripts/kernel-build.sh"
cmake -S "$UIO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DUIO_KERNEL_BUILD="$UIO_KBUILD" >/dev/null
cmake --build "$build" --target uio_initramfs >/dev/null
status=0
for demo in io_uring_unified_test; do
	log "booting $(cat "$UIO_CACHE/src/linux/.uio-pristine") + kernel-patches/ and running $demo"
	python3 "$UIO_ROOT/scripts/vm-run.py" --kernel "$UIO_KBUILD/arch/x86/boot/bzImage" \
		--initrd "$build/tests/vm/initramfs.cpio.gz" --test "$demo" \
		-- /dev/nvme0n1 /tests/checksum.bpf.o || status=1
done
exit $status
