#!/usr/bin/env bash
# For kernel developers: proves that every prefix of kernel-patches/ builds, and that
# the directories it touches build without new W=1 warnings after each patch. Reuses the build
# directory of scripts/kernel-build.sh; the next kernel-build.sh re-applies the series.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

tree=$UIO_CACHE/ktree
build=$UIO_KBUILD
patches=$UIO_ROOT/kernel-patches
jobs=${UIO_JOBS:-$(($(nproc) + 1))}
# the directories the series changes code in
w1_dirs=(io_uring/ drivers/net/netdevsim/)

"$UIO_ROOT/scripts/kernel-build.sh" >/dev/null
# W=1 warnings of w1_dirs as "file: message", without line numbers that patches shift
w1_warnings() {
	make -C "$tree" O="$build" -j"$jobs" W=1 "${w1_dirs[@]}" 2>&1 |
		sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: \(warning\|error\): /\1: \2: /p' | sort -u
}

mapfile -t series < <(grep -v -e '^#' -e '^[[:space:]]*$' "$patches/series")
rm -f "$tree/.git/uio-series" "$build/.uio-built"
git -C "$tree" reset -q --hard pristine
make -s -C "$tree" O="$build" -j"$jobs" bzImage >/dev/null 2>&1 || die "pristine tree does not build"
baseline=$(w1_warnings)
log "pristine ${w1_dirs[*]} at W=1: $(grep -c . <<<"$baseline") warnings"
status=0
for p in "${series[@]}"; do
	git -C "$tree" -c user.name=uio -c user.email=uio@localhost am -q "$patches/$p"
	log "building with $p applied"
	if ! make -s -C "$tree" O="$build" -j"$jobs" bzImage >"$build/check.log" 2>&1; then
		tail -20 "$build/check.log" >&2
		log "FAIL: $p does not build"
		status=1
		break
	fi
	# W=1 over what the series touches: nothing beyond the pristine baseline
	added=$(comm -13 <(echo "$baseline") <(w1_warnings))
	if [[ -n $added ]]; then
		printf '%s\n' "$added" >&2
		log "FAIL: $p adds W=1 warnings in ${w1_dirs[*]}"
		status=1
	fi
done
((status == 0)) && log "every patch of ${#series[@]} builds on its own, W=1 clean in ${w1_dirs[*]}"
exit $status
