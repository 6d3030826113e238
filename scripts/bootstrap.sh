#!/usr/bin/env bash
# Installs everything uio needs on Debian 12, by package name, from Debian's archive
# only, and unpacks the Linux 7.3 source into the cache. Skips what is already there.
#
# Newer packages (liburing 2.15, libbpf 1.4, Catch2 3, bpftool, linux-source-7.3) come
# from newer suites through a private sources list and a private package index, pinned
# so that nothing else is upgraded: the system's own apt configuration is never touched.
# The private list is the machine's own Debian archives (scripts/apt-sources.sh reads
# them from apt's configuration) plus the newer suites on the same archive.
# liburing 2.9 (trixie), the oldest uio builds against, is downloaded and unpacked into
# the cache, never installed: host.liburing_oldest builds the library tests against it.
#
# Environment:
#   UIO_CACHE         cache root (default /var/cache/uio)
#   UIO_KERNEL_SRC    an existing Linux 7.3 tree or tarball to use instead of linux-source-7.3
set -euo pipefail

. "$(dirname "$0")/lib.sh"
. "$UIO_ROOT/scripts/progress.sh"

system_pkgs=(
	build-essential cmake ninja-build pkg-config git python3 ca-certificates
	clang-19 llvm-19 lld-19 libfmt-dev
	qemu-system-x86 busybox-static cpio
	bc bison flex libelf-dev libssl-dev dwarves xz-utils lz4 kmod rsync
	zlib1g-dev libzstd-dev libcap-dev valgrind
	fio doxygen
	python3-yaml iproute2 bash socat coreutils
)
# package/suite pairs taken from newer suites; each depends only on what Debian 12 has.
newer_pkgs=(
	liburing2/sid liburing-dev/sid
	libbpf1/bookworm-backports libbpf-dev/bookworm-backports
	libcatch2-dev/bookworm-backports catch2/bookworm-backports
	bpftool/bookworm-backports
	ethtool/trixie
)

apt_private() {
	local dir="$UIO_CACHE/apt"
	[[ -z ${apt_opts+set} ]] || return 0
	mkdir -p "$dir/lists/partial" "$dir/archives/partial"
	# this machine's Debian archives (mirror, cache, ...) with bookworm-backports,
	# trixie, trixie-backports and sid added on the main one; says what is missing if none
	rm -rf "$dir/keys"
	"$UIO_ROOT/scripts/apt-sources.sh" --keydir "$dir/keys" >"$dir/sources.list.new" || exit 1
	mv "$dir/sources.list.new" "$dir/sources.list"
	log "packages: sources from this machine's apt configuration: $(grep -c '^deb ' "$dir/sources.list") suites in $dir/sources.list"
	# Newer suites never win by default: only packages named with /suite come from them.
	cat >"$dir/preferences" <<PREF
Package: *
Pin: release n=sid
Pin-Priority: 1

Package: *
Pin: release n=trixie-backports
Pin-Priority: 1

Package: *
Pin: release n=trixie
Pin-Priority: 1
PREF
	apt_opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
		  -o "Dir::Etc::Preferences=$dir/preferences" -o Dir::Etc::PreferencesParts=/dev/null
		  -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache::Archives=$dir/archives")
}

apt_updated=0
apt_update() {
	((apt_updated == 0)) || return 0
	apt-get "${apt_opts[@]}" update -qq ||
		die "apt-get update failed on $UIO_CACHE/apt/sources.list (made from this machine's apt sources by scripts/apt-sources.sh)"
	apt_updated=1
}

missing_pkgs() {
	local p name want have
	for p in "$@"; do
		name=${p%%/*}
		have=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null || true)
		case "$name" in
		liburing2|liburing-dev) want=2.9 ;;
		libbpf1|libbpf-dev) want=1:1.4 ;;
		libcatch2-dev|catch2) want=3 ;;
		# vm.nsim_selftests: hds.py runs `ethtool --disable-netlink` (6.1 has no such option)
		ethtool) want=1:6.14 ;;
		*) want= ;;
		esac
		if [[ $have != ii* ]]; then
			echo "$p"
		elif [[ -n $want ]] && dpkg --compare-versions "${have#ii }" lt "$want"; then
			echo "$p"
		fi
	done
}

install_packages() {
	local sys new
	mapfile -t sys < <(missing_pkgs "${system_pkgs[@]}")
	mapfile -t new < <(missing_pkgs "${newer_pkgs[@]}")
	if ((${#sys[@]} + ${#new[@]} == 0)); then
		log "packages: all present"
		return
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt_private
	log "packages: installing ${sys[*]} ${new[*]}"
	apt_update
	apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${sys[@]}" "${new[@]}" >/dev/null
	dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libc6)" lt 2.37 ||
		die "libc6 was upgraded; refusing to continue"
}

# Unpack linux-source-7.3 (or the user's tree/tarball) into $UIO_CACHE/src/linux.
fetch_kernel_source() {
	local src="$UIO_CACHE/src/linux" tmp debs deb
	if [[ -f $src/.uio-pristine ]]; then
		log "kernel source: $(cat "$src/.uio-pristine") (cached)"
		return
	fi
	rm -rf "$src" "$src.tmp"
	mkdir -p "$src.tmp"
	if [[ -n ${UIO_KERNEL_SRC:-} ]]; then
		if [[ -d $UIO_KERNEL_SRC ]]; then
			log "kernel source: copying $UIO_KERNEL_SRC"
			rsync -a --exclude=.git "$UIO_KERNEL_SRC/" "$src.tmp/"
		else
			log "kernel source: unpacking $UIO_KERNEL_SRC"
			progress_start "kernel source" progress_file_read "$(realpath "$UIO_KERNEL_SRC")" \
				"$(stat -L -c %s "$UIO_KERNEL_SRC")"
			tar -xf "$UIO_KERNEL_SRC" -C "$src.tmp" --strip-components=1
			progress_stop
		fi
	else
		apt_private
		tmp="$UIO_CACHE/src/deb"
		mkdir -p "$tmp"
		if ! compgen -G "$tmp/linux-source-7.3_*.deb" >/dev/null; then
			apt_update
			(cd "$tmp" && apt-get "${apt_opts[@]}" download linux-source-7.3/trixie-backports)
		fi
		debs=("$tmp"/linux-source-7.3_*.deb)
		deb=$(realpath "${debs[-1]}")
		log "kernel source: unpacking $(basename "$deb")"
		# progress: how much of the .deb the pipeline has read
		progress_start "kernel source" progress_file_read "$deb" "$(stat -c %s "$deb")"
		dpkg-deb --fsys-tarfile "$deb" |
			tar -xO --wildcards './usr/src/linux-source-7.3.tar.xz' |
			tar -xJ -C "$src.tmp" --strip-components=1
		progress_stop
	fi
	[[ -f $src.tmp/io_uring/io_uring.c ]] || die "not a kernel tree with io_uring"
	local ver
	ver=$(make -s -C "$src.tmp" kernelversion)
	[[ $ver == 7.3* ]] || die "kernel source is $ver, need 7.3.y"
	echo "$ver" >"$src.tmp/.uio-pristine"
	mv "$src.tmp" "$src"
	log "kernel source: $ver"
}

# liburing from trixie (2.9: the oldest uio supports), unpacked into the cache and
# never installed, for host.liburing_oldest (tests/CMakeLists.txt): the library's
# tests built and run against it beside the installed (newest) liburing.
fetch_liburing_oldest() {
	local dir="$UIO_CACHE/liburing-trixie" ver
	if [[ -f $dir/.uio-version ]]; then
		log "liburing for host.liburing_oldest: $(cat "$dir/.uio-version") (cached)"
		return
	fi
	apt_private
	apt_update
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp/debs"
	# apt downloads as _apt where it can write (else it warns and downloads as root)
	! id _apt >/dev/null 2>&1 || chown _apt "$dir.tmp/debs"
	(cd "$dir.tmp/debs" && apt-get "${apt_opts[@]}" download -qq liburing2/trixie liburing-dev/trixie) ||
		die "could not download liburing2/trixie and liburing-dev/trixie (for host.liburing_oldest)"
	local deb
	for deb in "$dir.tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$dir.tmp"
	done
	ver=$(dpkg-deb -f "$dir.tmp"/debs/liburing-dev_*.deb Version)
	echo "$ver" >"$dir.tmp/.uio-version"
	mv "$dir.tmp" "$dir"
	log "liburing for host.liburing_oldest: $ver, unpacked in $dir"
}

install_packages
fetch_liburing_oldest
fetch_kernel_source
