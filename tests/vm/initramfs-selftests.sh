#!/usr/bin/env bash
# initramfs-selftests.sh OUT BASE KSRC RUNNER XDP_HELPER XDP_DUMMY_OBJ
# vm.nsim_selftests' initramfs: the test VM's image BASE (scripts/mkinitramfs.sh) with a
# second cpio archive appended (the kernel unpacks it over the first) holding what
# upstream's netdevsim selftests need in the guest:
#   - Debian's python3 with its standard library (less what no test imports: idle,
#     tkinter, lib2to3, distutils, the stdlib's own tests, the config/ directory) and
#     PyYAML; iproute2's ip, ethtool, bash, socat, coreutils' readlink (net/lib.sh
#     uses readlink -e, which busybox lacks); every shared library they load (ldd)
#   - from the patched kernel tree KSRC, in the tree's own layout under /ksrc (so the
#     selftests' lib finds YNL and the specs "in tree"): the chosen selftests, their
#     python and shell libs, tools/net/ynl/pyynl and Documentation/netlink/specs,
#     all byte-compiled here (compiling under TCG costs seconds per boot)
#   - net/lib's xdp_helper and xdp_dummy.bpf.o, built by CMake (queues.py, hds.py)
#   - RUNNER as /tests/nsim_selftests, and a `udevadm` that only settles (nothing to
#     wait for: the guest has no udev; NetdevSimDev and peer.sh call `udevadm settle`)
# The other VM tests boot BASE alone.
set -euo pipefail
out=$1 base=$2 ksrc=$3 runner=$4 xdp_helper=$5 xdp_dummy=$6
ksft=tools/testing/selftests
# the selftests vm.nsim_selftests runs, as paths under $ksft
tests=(drivers/net/queues.py drivers/net/hds.py net/nl_netdev.py drivers/net/netdevsim/peer.sh)

# Debian's own tools (packages python3 python3-yaml iproute2 ethtool bash socat
# coreutils), never a user's python3 from ~/.pyenv or the like that PATH may put first
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
tools=(python3 ip ethtool bash socat readlink)
for t in "${tools[@]}"; do
	command -v "$t" >/dev/null || {
		echo "initramfs-selftests.sh: no $t on this machine (scripts/bootstrap.sh installs it)" >&2
		exit 1
	}
done
for f in "${tests[@]}"; do
	[[ -f $ksrc/$ksft/$f ]] || { echo "initramfs-selftests.sh: no $ksft/$f in $ksrc" >&2; exit 1; }
done

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# Debian 12 is usrmerged: /lib and /lib64 point into /usr, in the image too
mkdir -p "$stage/usr/bin" "$stage/usr/sbin" "$stage/usr/lib" "$stage/usr/lib64" "$stage/run" \
	"$stage/var" "$stage/tests" "$stage/ksrc"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
ln -s ../run "$stage/var/run"
copy() {  # $1 as the loader names it: the real file, and its name as a symlink to it
	local real dir
	real=$(readlink -f "$1")
	dir=$(readlink -f "$(dirname "$1")")
	mkdir -p "$stage$(dirname "$real")" "$stage$dir"
	[[ -e $stage$real ]] || cp -p "$real" "$stage$real"
	if [[ $dir/$(basename "$1") != "$real" && ! -e $stage$dir/$(basename "$1") ]]; then
		ln -s "$real" "$stage$dir/$(basename "$1")"
	fi
}
libs_of() {  # the shared libraries ELF files $@ load
	ldd "$@" 2>/dev/null | awk '/=> \// { print $3 } /^[[:space:]]*\/lib/ { print $1 }' | sort -u
}

# the tools, where Debian's scripts look for them (peer.sh runs bash; PATH puts
# /usr/sbin and /usr/bin before busybox's /bin, so ip and readlink are the real ones)
py=$(readlink -f "$(command -v python3)")
pyver=$("$py" -c 'import sys; print("python%d.%d" % sys.version_info[:2])')
cp -p "$py" "$stage/usr/bin/$pyver"
ln -s "$pyver" "$stage/usr/bin/python3"
cp -p "$(readlink -f "$(command -v ip)")" "$stage/usr/sbin/ip"
cp -p "$(readlink -f "$(command -v ethtool)")" "$stage/usr/sbin/ethtool"
cp -p "$(readlink -f "$(command -v bash)")" "$stage/usr/bin/bash"
cp -p "$(readlink -f "$(command -v socat)")" "$stage/usr/bin/socat"
cp -p "$(readlink -f "$(command -v readlink)")" "$stage/usr/bin/readlink"
ln -s /bin/busybox "$stage/usr/bin/env"
printf '#!/bin/sh\n# the guest has no udev: nothing to settle\nexit 0\n' >"$stage/usr/bin/udevadm"
chmod 0755 "$stage/usr/bin/udevadm"

# the standard library, less packages and extensions no selftest imports (each MiB
# costs boot time: the kernel unpacks the image under TCG)
pylib=/usr/lib/$pyver
(cd "$pylib" && find . \( -name test -o -name tests -o -name idlelib -o -name tkinter \
	-o -name turtledemo -o -name lib2to3 -o -name distutils -o -name ensurepip \
	-o -name pydoc_data -o -name 'config-*' -o -name site-packages -o -name asyncio \
	-o -name email -o -name multiprocessing -o -name xml -o -name unittest -o -name http \
	-o -name sqlite3 -o -name curses -o -name dbm -o -name wsgiref -o -name xmlrpc \
	-o -name html -o -name 'pydoc.*' -o -name '_pydecimal.*' -o -name '_codecs_[chijkt]*' \
	-o -name '_sqlite3*' -o -name '_curses*' -o -name '_dbm*' -o -name '_gdbm*' -o -name 'readline*' \
	-o -name '_test*.so' -o -name '_ctypes_test*' -o -name 'xxlimited*' -o -name 'xxsubtype*' \
	-o -name 'audioop*' -o -name 'nis.*' -o -name 'ossaudiodev*' -o -name '_decimal*' \
	-o -name '*.opt-1.pyc' -o -name '*.opt-2.pyc' \) -prune -o -print0 |
	cpio --null -pdm --quiet "$stage$pylib")
# PyYAML (Debian's python3-yaml) with its libyaml extension
dist=/usr/lib/python3/dist-packages
yaml=$("$py" -c 'import os, yaml; print(os.path.dirname(yaml.__file__))')
mkdir -p "$stage$dist"
cp -a "$yaml" "$stage$dist/"
[[ -d $dist/_yaml ]] && cp -a "$dist/_yaml" "$stage$dist/"

mapfile -t elves < <(find "$stage/usr" -type f -name '*.so' -print; printf '%s\n' \
	"$stage/usr/bin/$pyver" "$stage/usr/sbin/ip" "$stage/usr/sbin/ethtool" \
	"$stage/usr/bin/bash" "$stage/usr/bin/socat" "$stage/usr/bin/readlink")
for lib in $(libs_of "${elves[@]}"); do
	copy "$lib"
done

# the kernel tree's selftests, YNL and specs, in the tree's layout
tree() {  # copy $1 (relative to KSRC) into /ksrc
	mkdir -p "$stage/ksrc/$(dirname "$1")"
	cp -a "$ksrc/$1" "$stage/ksrc/$1"
}
tree $ksft/net/lib/py
tree $ksft/net/lib/sh
tree $ksft/net/lib.sh
tree $ksft/drivers/net/lib/py
for f in "${tests[@]}"; do
	tree $ksft/$f
done
tree tools/net/ynl/pyynl/__init__.py
tree tools/net/ynl/pyynl/lib
tree Documentation/netlink/specs
install -m 0755 "$xdp_helper" "$stage/ksrc/$ksft/net/lib/xdp_helper"
install -m 0644 "$xdp_dummy" "$stage/ksrc/$ksft/net/lib/xdp_dummy.bpf.o"
find "$stage/ksrc" -name __pycache__ -prune -exec rm -rf {} +
"$py" -m compileall -q -s "$stage" -p / "$stage/ksrc" >/dev/null

install -m 0755 "$runner" "$stage/tests/nsim_selftests"

cp "$base" "$out.tmp"
(cd "$stage" && find . -mindepth 1 -print0 | cpio --null -o -H newc --quiet) | gzip -1 >>"$out.tmp"
mv "$out.tmp" "$out"
