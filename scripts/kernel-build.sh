#!/usr/bin/env bash
# Builds the patched kernel: applies kernel-patches/ (in `series` order, with git am)
# onto a pristine copy of the cached 7.3 source, configures tinyconfig + kernel/uio.config,
# and builds bzImage and the uAPI headers in a reusable build directory.
# Nothing is redone when neither the patches nor the configuration changed.
# While make runs, a progress line counts the objects built (see scripts/progress.sh).
#
# Output: $UIO_CACHE/kbuild/{arch/x86/boot/bzImage,vmlinux,usr-headers/include}
# (kbuild-kasan/ with UIO_KASAN=1, kbuild-bench/ with UIO_BENCH_KERNEL=1)
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$UIO_ROOT/scripts/progress.sh"

src=$UIO_CACHE/src/linux
tree=$UIO_CACHE/ktree
build=$UIO_KBUILD
patches=$UIO_ROOT/kernel-patches
fragments=("$UIO_ROOT/kernel/uio.config")
# UIO_KASAN=1: the same kernel with KASAN, in a build directory of its own;
# UIO_BENCH_KERNEL=1: without lockdep, kmemleak and the other checkers, for benchmarks
[[ ${UIO_KASAN:-0} == 1 ]] && fragments+=("$UIO_ROOT/kernel/kasan.config")
[[ ${UIO_BENCH_KERNEL:-0} == 1 ]] && fragments+=("$UIO_ROOT/kernel/bench.config")
jobs=${UIO_JOBS:-$(($(nproc) + 1))}

[[ -f $src/.uio-pristine ]] || die "no kernel source in $src: run scripts/bootstrap.sh"

series_files() {
	[[ -f $patches/series ]] || return 0
	grep -v -e '^#' -e '^[[:space:]]*$' "$patches/series"
}

# The patched tree is a git repository whose first commit is the pristine source;
# re-applying resets to it, so only files the series touches get new timestamps.
prepare_tree() {
	local want have p
	want=$(cd "$patches" && { cat series 2>/dev/null; series_files | xargs -r cat; } | sha256sum | cut -d' ' -f1)
	have=$(cat "$tree/.git/uio-series" 2>/dev/null || true)
	if [[ ! -d $tree/.git ]]; then
		log "kernel tree: creating $tree from $(cat "$src/.uio-pristine")"
		rm -rf "$tree"
		cp -a "$src" "$tree"
		git -C "$tree" init -q
		# Debian's tarball ignores everything through its own .gitignore
		git -C "$tree" add -A -f
		git -C "$tree" -c user.name=uio -c user.email=uio@localhost \
			commit -q -m "Linux $(cat "$src/.uio-pristine")"
		git -C "$tree" tag -f pristine >/dev/null
	fi
	[[ $want == "$have" ]] && return 0
	log "kernel tree: applying $(series_files | wc -l) patches"
	git -C "$tree" am --abort >/dev/null 2>&1 || true
	git -C "$tree" reset -q --hard pristine
	git -C "$tree" clean -q -fdx -e .uio-pristine
	while read -r p; do
		git -C "$tree" -c user.name=uio -c user.email=uio@localhost \
			am -q --keep-cr "$patches/$p" || die "patch $p does not apply"
	done < <(series_files)
	echo "$want" >"$tree/.git/uio-series"
}

configure() {
	local want have
	want=$(cat "${fragments[@]}" | sha256sum | cut -d' ' -f1)
	have=$(cat "$build/.uio-config" 2>/dev/null || true)
	[[ -f $build/.config && $want == "$have" ]] && return 0
	log "kernel config: tinyconfig + ${fragments[*]#"$UIO_ROOT"/}"
	mkdir -p "$build"
	make -s -C "$tree" O="$build" tinyconfig >/dev/null
	"$tree/scripts/kconfig/merge_config.sh" -m -O "$build" "$build/.config" "${fragments[@]}" >/dev/null
	make -s -C "$tree" O="$build" olddefconfig >/dev/null
	# every symbol we ask for must survive dependency resolution (a later
	# fragment's value of a symbol replaces an earlier one's, as in merge_config.sh)
	local line sym val missing=0
	local -A wanted=()
	while read -r line; do
		if [[ $line =~ ^(CONFIG_[A-Z0-9_]+)=(.*)$ ]]; then
			wanted[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
		elif [[ $line =~ ^#\ (CONFIG_[A-Z0-9_]+)\ is\ not\ set$ ]]; then
			wanted[${BASH_REMATCH[1]}]=n
		fi
	done < <(cat "${fragments[@]}")
	for sym in "${!wanted[@]}"; do
		val=${wanted[$sym]}
		if [[ $val == n ]]; then
			grep -q "^$sym=" "$build/.config" && { log "config: $sym still set"; missing=1; }
		else
			grep -qx "$sym=$val" "$build/.config" || { log "config: $sym=$val not satisfied"; missing=1; }
		fi
	done
	((missing == 0)) || die "the configuration fragments have unsatisfiable symbols"
	echo "$want" >"$build/.uio-config"
}

# Objects in the build directory (host tools in scripts/ and tools/ left out), with
# find's extra tests, e.g. -newer FILE
kbuild_objects() {
	find "$build" \( -path "$build/scripts" -o -path "$build/tools" \) -prune -o -name '*.o' "$@" -print |
		wc -l
}

# How many objects a full build makes: as many as the last full build here counted
# (its count is kept in $build.objects, with the series and configuration it was for),
# or, before any, an estimate from the configuration's Makefiles. "~N" when not counted
# for this very series and configuration; empty when unknown.
objects_total() {
	local n for
	if [[ -f $build.objects ]] && read -r n for <"$build.objects"; then
		if [[ $for == "$1" ]]; then echo "$n"; else echo "~$n"; fi
	elif n=$(python3 "$UIO_ROOT/scripts/kernel-objects.py" "$tree" "$build/.config" 2>/dev/null); then
		echo "~$n"
	fi
}

# The progress probe: FULL (1: no kernel was built in $build yet) TOTAL
build_progress() {
	local n pct
	if (($1)); then
		n=$(kbuild_objects)
		if [[ -z $2 ]]; then
			echo "$n objects"
			return
		fi
		pct=$((n * 100 / ${2#"~"}))
		((pct <= 99)) || pct=99
		echo "$n of $2 objects ($pct%)"
	else
		n=$(kbuild_objects -newer "$build/.uio-progress")
		echo "$n objects rebuilt${2:+ (a full build has $2)}"
	fi
}

build() {
	local stamp=$build/.uio-built want full=0 total
	want="$(cat "$tree/.git/uio-series") $(cat "$build/.uio-config")"
	if [[ -f $build/arch/x86/boot/bzImage && $(cat "$stamp" 2>/dev/null) == "$want" ]]; then
		log "kernel: up to date ($build/arch/x86/boot/bzImage)"
		return 0
	fi
	log "kernel: building with -j$jobs in $build (cold: ~15 min, incremental: ~1 min)"
	local t0=$SECONDS
	[[ -f $build/arch/x86/boot/bzImage ]] || full=1
	total=$(objects_total "$want")
	if ((full)) && [[ -n $total ]]; then
		if [[ $total != "~"* ]]; then
			log "kernel: $total objects to build (counted by the last full build here)"
		elif [[ -f $build.objects ]]; then
			log "kernel: about ${total#"~"} objects to build (counted by the last full build here, other patches or configuration)"
		else
			log "kernel: about ${total#"~"} objects to build (estimated from the configuration's Makefiles)"
		fi
	fi
	touch "$build/.uio-progress"
	progress_start kernel build_progress "$full" "$total"
	if ! make -s -C "$tree" O="$build" -j"$jobs" bzImage >"$build/build.log" 2>&1; then
		progress_stop
		tail -40 "$build/build.log" >&2
		die "kernel build failed (log: $build/build.log)"
	fi
	progress_stop
	make -s -C "$tree" O="$build" headers_install INSTALL_HDR_PATH="$build/usr-headers" >/dev/null
	echo "$want" >"$stamp"
	if ((full)); then echo "$(kbuild_objects) $want" >"$build.objects"; fi
	log "kernel: built in $((SECONDS - t0)) s ($(kbuild_objects -newer "$build/.uio-progress") objects)"
}

log "kernel source: $(cat "$src/.uio-pristine")"
prepare_tree
configure
build
