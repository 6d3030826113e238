#!/usr/bin/env bash
# uio-ingest's main job as a benchmark: ROUNDS VM boots, each running
# `ingest_vm main MIB 4` (tests/vm/ingest_vm.cpp: 4 streams over two linked
# netdevsim ports, the last over IPv6, the native hardware path then
# --baseline, every byte verified), and a Markdown table of the medians with
# the ratios against the targets of issue 17. Native and baseline run side by
# side in each boot; the machine is shared, so only ratios mean anything.
#
# usage: bench/ingest.sh BUILD_DIR [ROUNDS] [MIB]     (defaults: 3 rounds, 256 MiB)
#   UIO_KERNEL_BUILD   the patched kernel's build directory (default $UIO_CACHE/kbuild-bench:
#                      the kernel without the debug set, UIO_BENCH_KERNEL=1 scripts/kernel-build.sh;
#                      lockdep and kmemleak would be most of the CPU figures)
# Needs the initramfs built (cmake --build BUILD_DIR --target uio_initramfs), best in
# a build directory configured against that kernel (scripts/run-main.sh's build-main/).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: bench/ingest.sh BUILD_DIR [ROUNDS] [MIB]}
rounds=${2:-3}
mib=${3:-256}
kbuild=${UIO_KERNEL_BUILD:-${UIO_CACHE:-/var/cache/uio}/kbuild-bench}
if [[ ! -f $kbuild/arch/x86/boot/bzImage ]]; then
	echo "bench/ingest.sh: no kernel in $kbuild (UIO_BENCH_KERNEL=1 scripts/kernel-build.sh builds it)" >&2
	exit 1
fi
logs=$build/bench-logs
mkdir -p "$logs"
status=0
for ((i = 1; i <= rounds; i++)); do
	printf '[bench] ingest round %d of %d (%d MiB)\n' "$i" "$rounds" "$mib" >&2
	python3 "$root/scripts/vm-run.py" --kernel "$kbuild/arch/x86/boot/bzImage" \
		--initrd "$build/tests/vm/initramfs.cpio.gz" --test ingest_vm --disk-mb 1024 --timeout 1800 \
		--log "$logs/ingest-$i.log" -- main "$mib" 4 >"$logs/ingest-$i.out" 2>&1 || status=1
done
python3 - "$logs" "$rounds" "$mib" <<'PY' || status=1
import re, statistics, sys
logs, rounds, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
runs = []
for i in range(1, rounds + 1):
    try:
        text = open(f"{logs}/ingest-{i}.out").read()
    except OSError:
        continue
    m = re.search(r"^BENCH ingest (.*)$", text, re.M)
    if m and "UIO-TEST-EXIT ingest_vm 0" in text:
        runs.append({k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())})
if not runs:
    print(f"**uio-ingest: no round completed** (see `{logs}/ingest-*.out`).")
    sys.exit(1)
med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
def ratio(a, b):
    return f"{med[a] / med[b]:.2f}x" if med[b] else "-"
print(f"{len(runs)} of {rounds} rounds, {mib} MiB over 4 streams each (the last over IPv6), every byte verified; medians:")
print()
print("| | native (hardware mode) | baseline | native ÷ baseline | target |")
print("| --- | ---: | ---: | ---: | --- |")
print(f"| throughput (MB/s) | {med['native_mbs']:.1f} | {med['baseline_mbs']:.1f} | {ratio('native_mbs', 'baseline_mbs')} | ≥ 1.0x |")
print(f"| CPU, serve process (s/GB) | {med['native_cpu']:.2f} | {med['baseline_cpu']:.2f} | {ratio('native_cpu', 'baseline_cpu')} | ≤ 0.5x |")
print(f"| CPU, whole guest, /proc/stat (s/GB) | {med['native_machine_cpu']:.2f} | {med['baseline_machine_cpu']:.2f} | {ratio('native_machine_cpu', 'baseline_machine_cpu')} | ≤ 0.5x |")
print(f"| CPU copies per payload byte | {med['native_copies']:.4f} | {med['baseline_copies']:.4f} | | ≤ 0.05 (native), ≥ 1 (baseline) |")
print()
print("Per round (native ÷ baseline): " + "; ".join(
    f"throughput {r['native_mbs'] / r['baseline_mbs']:.2f}x, CPU {r['native_cpu'] / r['baseline_cpu']:.2f}x "
    f"(guest {r['native_machine_cpu'] / r['baseline_machine_cpu']:.2f}x)" for r in runs) + ".")
PY
last=$logs/ingest-$rounds.out
if [[ -f $last ]]; then
	echo
	echo "The last round's reports:"
	echo
	echo '```'
	grep -v -e '^\[ *[0-9]*\.[0-9]*\]' -e '^UIO-TEST-' -e '^send: [0-9.]* MiB sent' -e '^serve: [0-9]*/[0-9]* streams' \
		-e '^\[vm\]' -e '^$' "$last"
	echo '```'
fi
exit $status
