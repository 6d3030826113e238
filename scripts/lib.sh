# Shared settings for uio's scripts; sourced, not run.
UIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UIO_CACHE=${UIO_CACHE:-/var/cache/uio}
# the patched kernel's build directory; UIO_KASAN=1 selects the KASAN build,
# UIO_BENCH_KERNEL=1 the benchmarks' build without the debug set
if [[ ${UIO_BENCH_KERNEL:-0} == 1 ]]; then
	UIO_KBUILD=$UIO_CACHE/kbuild-bench
elif [[ ${UIO_KASAN:-0} == 1 ]]; then
	UIO_KBUILD=$UIO_CACHE/kbuild-kasan
	# KASAN slows a guest ~3x: bpf_stage's 1000 program loads alone took 444 s
	export UIO_VM_TIMEOUT=${UIO_VM_TIMEOUT:-1800}
else
	UIO_KBUILD=$UIO_CACHE/kbuild
fi
export UIO_ROOT UIO_CACHE UIO_KBUILD

log() { printf '[uio] %s\n' "$*" >&2; }
die() { printf '[uio] error: %s\n' "$*" >&2; exit 1; }
