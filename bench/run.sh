#!/usr/bin/env bash
# Instructions per operation of uio against hand-written liburing, counted by
# callgrind in the two hot-path functions only, side by side in one run.
# Prints a table of ratios; exits non-zero if any ratio exceeds the target.
#
# usage: bench/run.sh BUILD_DIR [target ratio, default 1.02]
set -euo pipefail
bin=$1/bench/ops_bench
target=${2:-1.02}
rounds=${UIO_BENCH_ROUNDS:-200}
file=$(mktemp /var/tmp/uio-bench.XXXXXX)
trap 'rm -f "$file" callgrind.out.uio-bench.*' EXIT
head -c $((128 * 4096)) /dev/zero >"$file"

count() {  # impl op batch -> instructions in run_<impl>
	local out=callgrind.out.uio-bench.$$
	valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="*run_$1*" \
		"$bin" "$1" "$2" "$3" "$rounds" "$file" >/dev/null 2>&1
	awk '/^summary:/ { print $2 }' "$out"
	rm -f "$out"
}

status=0
printf '%-11s %6s %14s %14s %7s\n' op batch liburing/op uio/op ratio
for op in nop read_fixed; do
	for batch in 1 8 32 128; do
		raw=$(count raw "$op" "$batch")
		uio=$(count uio "$op" "$batch")
		ops=$((rounds * batch))
		ratio=$(awk -v a="$uio" -v b="$raw" 'BEGIN { printf "%.3f", a / b }')
		printf '%-11s %6d %14.1f %14.1f %7s\n' "$op" "$batch" \
			"$(awk -v a="$raw" -v n="$ops" 'BEGIN { print a / n }')" \
			"$(awk -v a="$uio" -v n="$ops" 'BEGIN { print a / n }')" "$ratio"
		awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r > t) }' && status=1
	done
done
exit $status
