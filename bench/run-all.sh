#!/usr/bin/env bash
# Every benchmark table in one Markdown file: the host callgrind table (bench/run.sh),
# the VM storage table against plain SQEs and fio (bench/storage.c), the BPF checksum
# table (bench/bpf_checksum.c), the RLIMIT_MEMLOCK tables (tests/vm/net_memlock.c,
# tests/vm/region_memlock.c) and uio-ingest against the baseline (bench/ingest.sh), with
# the machine described. The README's performance
# section is regenerated from its output.
#
# usage: bench/run-all.sh [BUILD_DIR]        (default $UIO_BUILD, else build/)
#   UIO_BENCH_OUT           the Markdown file (default bench/results.md)
#   UIO_BENCH_QUICK=1       smoke counts everywhere: checks the command, the numbers mean nothing
#   UIO_BENCH_STORAGE_ARGS  bench_storage's arguments (default "full"; see bench/storage.c)
#   UIO_BENCH_INGEST_ROUNDS VM boots of bench/ingest.sh (default 3)
#   UIO_KERNEL_BUILD        the patched kernel's build directory (default $UIO_CACHE/kbuild)
#   UIO_JOBS                build parallelism (default cores + 1)
# Needs the patched kernel built (scripts/kernel-build.sh) and the packages of
# scripts/bootstrap.sh (fio, valgrind, qemu). Exits non-zero if a part failed; the file
# is written either way and says which.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${UIO_BUILD:-$root/build}}
out=${UIO_BENCH_OUT:-$root/bench/results.md}
kbuild=${UIO_KERNEL_BUILD:-${UIO_CACHE:-/var/cache/uio}/kbuild}
jobs=${UIO_JOBS:-$(($(nproc) + 1))}
quick=${UIO_BENCH_QUICK:-0}
if [[ $quick == 1 ]]; then
	storage_args=${UIO_BENCH_STORAGE_ARGS:-}
	export UIO_BENCH_ROUNDS=${UIO_BENCH_ROUNDS:-20}
else
	storage_args=${UIO_BENCH_STORAGE_ARGS:-full}
fi
kernel=$kbuild/arch/x86/boot/bzImage
logs=$build/bench-logs
status=0
say() { printf '[bench] %s\n' "$*" >&2; }

[[ -f $kernel ]] || { say "no patched kernel at $kernel: run scripts/kernel-build.sh"; exit 1; }
say "building in $build"
if [[ -f $build/CMakeCache.txt ]]; then
	cmake -S "$root" -B "$build" -DUIO_KERNEL_BUILD="$kbuild" >/dev/null || exit 1
else
	cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DUIO_KERNEL_BUILD="$kbuild" >/dev/null || exit 1
fi
cmake --build "$build" -j "$jobs" --target ops_bench uio_initramfs uio_bench_initramfs >/dev/null || exit 1
mkdir -p "$logs"

# vm NAME INITRD TIMEOUT ARGS...: the guest's own lines (no kernel lines) on stdout
vm() {
	local name=$1 initrd=$2 timeout=$3
	shift 3
	python3 "$root/scripts/vm-run.py" --kernel "$kernel" --initrd "$initrd" --timeout "$timeout" \
		--log "$logs/$name.log" --test "$name" -- "$@" >"$logs/$name.out" 2>&1
	local rc=$?
	grep -v -e '^\[ *[0-9]*\.[0-9]*\]' -e '^UIO-TEST-' -e '^\[vm\]' -e '^$' "$logs/$name.out" |
		grep -v '^BENCH '
	if ((rc)); then
		say "$name failed (exit $rc): $logs/$name.out"
		echo "**$name failed (exit $rc)**; see \`$logs/$name.out\`."
	fi
	return $rc
}

say "host: callgrind table (bench/run.sh)"
callgrind=$("$root/bench/run.sh" "$build" 2>&1) || { status=1; callgrind+=$'\n(above the 1.02 gate: failed)'; }

say "VM: storage table (bench_storage $storage_args)"
storage_out=$(vm bench_storage "$build/tests/vm/initramfs-bench.cpio.gz" 3600 $storage_args)
storage_rc=$?
((storage_rc == 0)) || status=1
if ((storage_rc == 0)); then
	storage_table=$(python3 "$root/bench/storage_table.py" "$logs/bench_storage.out") || status=1
else
	storage_table=$storage_out
fi

say "VM: BPF checksum table (bench_bpf_checksum)"
bpf_out=$(vm bench_bpf_checksum "$build/tests/vm/initramfs.cpio.gz" 600) || status=1
say "VM: memlock tables (net_memlock, region_memlock)"
net_memlock_out=$(vm net_memlock "$build/tests/vm/initramfs.cpio.gz" 600) || status=1
region_memlock_out=$(vm region_memlock "$build/tests/vm/initramfs.cpio.gz" 600) || status=1
say "VM: uio-ingest, native hardware path against the baseline (bench/ingest.sh)"
if [[ $quick == 1 ]]; then
	ingest_out=$("$root/bench/ingest.sh" "$build" 1 32) || status=1
else
	ingest_out=$("$root/bench/ingest.sh" "$build" "${UIO_BENCH_INGEST_ROUNDS:-3}" 256) || status=1
fi

guest_kernel=$(grep -m1 -o 'Linux version [^ ]*' "$logs/bench_storage.log" 2>/dev/null | cut -d' ' -f3)
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
qemu=$(qemu-system-x86_64 --version | head -1)
fio_version=$(fio --version 2>/dev/null || echo "not installed")

{
	echo "# uio benchmarks"
	echo
	echo "Produced by \`bench/run-all.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')$([[ $quick == 1 ]] && echo ' with UIO_BENCH_QUICK=1 (smoke counts: the numbers mean nothing)')."
	echo
	echo "| machine | |"
	echo "| --- | --- |"
	echo "| host | $(nproc) cores, ${cpu_model:-unknown CPU}, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME"), kernel $(uname -r) |"
	echo "| VM | $qemu, TCG (no KVM), \`-smp 2\` (vCPUs the guest brought up: $(grep -m1 -o '[0-9]* vCPUs' "$logs/bench_storage.out" 2>/dev/null || echo '?')), 1 GiB, emulated NVMe (4 KiB blocks, raw sparse file on the host) |"
	echo "| guest kernel | ${guest_kernel:-?} (the patched series, tinyconfig + kernel/uio.config: lockdep, kmemleak, DEBUG_LIST on) |"
	echo "| fio | $fio_version (Debian) |"
	echo
	echo "**Under TCG only ratios mean anything.** Every instruction of the guest, its kernel and"
	echo "the emulated NVMe runs through QEMU's translator on a shared machine, with a debug kernel"
	echo "(the guest's clocksource is in the storage header below: tsc, or refined-jiffies when TSC"
	echo "calibration fails, 4 ms): absolute IOPS and CPU times are far from real hardware; rows"
	echo "measured side by side in one run compare, and on a busy host even those move between runs."
	echo
	echo "## Storage: the region's paths against plain SQEs and fio (VM)"
	echo
	echo "\`bench/storage.c\`, one VM boot: each row a fixed number of operations, every path's data"
	echo "written and read back byte for byte before it is timed, fio's data checked by a separate"
	echo "\`--verify=crc32c\` pass. CPU is guest CPU seconds per million operations: *system* is"
	echo "user+nice+system+irq+softirq of \`/proc/stat\` over the run (fio: between its job's"
	echo "\`exec_prerun\` and \`exec_postrun\`, which adds one \`sh\`+\`cat\`), *process* is getrusage of the"
	echo "submitting process, io-wq workers included (fio: its job's usr_cpu+sys_cpu). \`enters/op\` is"
	echo "counted in the submit loop (fio does not report it), \`ctxt/op\` is the guest's context"
	echo "switches per op. fio runs with \`gtod_reduce=1\` (no per-I/O clock reads; its leanest"
	echo "accounting), \`fixedbufs\`, \`norandommap\`, \`number_ios\`. \`direct-async\` is a diagnostic:"
	echo "plain IORING_OP_UNIFIED SQEs with IOSQE_ASYNC, i.e. through the io-wq hand-off every"
	echo "batch SQE takes."
	echo
	echo "$storage_table"
	echo
	echo "## Library overhead: instructions per op (host, callgrind)"
	echo
	echo "\`bench/run.sh\`: uio against the same loop written against liburing, in the hot loops only."
	echo "Instruction counts are repeatable; the ratios are parity (the small differences come from how"
	echo "the compiler treats liburing's inline helpers)."
	echo
	echo '```'
	echo "$callgrind"
	echo '```'
	echo
	echo "## The BPF stage against userspace (VM)"
	echo
	echo '```'
	echo "$bpf_out"
	echo '```'
	echo
	echo "## RLIMIT_MEMLOCK: one charge (VM)"
	echo
	echo '```'
	echo "$net_memlock_out"
	echo "$region_memlock_out"
	echo '```'
	echo
	echo "## uio-ingest: network to NVMe, native against the baseline (VM)"
	echo
	echo "\`bench/ingest.sh\`: the README's main job (\`scripts/run-main.sh\`) in rounds. The native"
	echo "path receives on a netdevsim queue into the region (header split, 4096 payload bytes per"
	echo "segment), checksums each fragment in the BPF stage and writes records from the region"
	echo "offsets with the vectored storage stage; the baseline receives into a buffer, computes CRC32C"
	echo "in userspace (SSE4.2) and writes it with O_DIRECT. netdevsim's \"DMA\" is a CPU copy in the"
	echo "guest kernel, so the whole-guest CPU row charges the native path with a copy real hardware"
	echo "does not make; the serve process row does not include it."
	echo
	echo "$ingest_out"
} >"$out"
say "wrote $out"
exit $status
