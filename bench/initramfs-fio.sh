#!/usr/bin/env bash
# initramfs-fio.sh OUT BASE [FIO]
# The storage benchmark's initramfs: the test VM's image BASE (scripts/mkinitramfs.sh)
# with Debian's fio and every shared library it loads (ldd) appended as a second
# cpio archive, which the kernel unpacks over the first. fio is linked dynamically
# against ~70 libraries (ceph, gluster, rdma...: about 80 MiB), so it stays out of
# the image every other VM test boots. Without fio on this machine, OUT is BASE.
set -euo pipefail
out=$1 base=$2 fio=${3:-$(command -v fio || true)}
if [[ -z $fio || ! -x $fio ]]; then
	echo "initramfs-fio.sh: no fio on this machine; the image has none (scripts/bootstrap.sh installs it)" >&2
	cp "$base" "$out.tmp"
	mv "$out.tmp" "$out"
	exit 0
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
# Debian 12 is usrmerged: /lib and /lib64 point into /usr, in the image too
mkdir -p "$stage/usr/bin" "$stage/usr/lib" "$stage/usr/lib64"
ln -s usr/lib "$stage/lib"
ln -s usr/lib64 "$stage/lib64"
copy() {  # $1 as the loader names it: the real file, and its name as a symlink to it
	local real dir
	real=$(readlink -f "$1")
	dir=$(readlink -f "$(dirname "$1")")
	mkdir -p "$stage$(dirname "$real")" "$stage$dir"
	[[ -e $stage$real ]] || cp "$real" "$stage$real"
	if [[ $dir/$(basename "$1") != "$real" && ! -e $stage$dir/$(basename "$1") ]]; then
		ln -s "$real" "$stage$dir/$(basename "$1")"
	fi
}
cp "$fio" "$stage/usr/bin/fio"
for lib in $(ldd "$fio" | awk '/=> \// { print $3 } /^[[:space:]]*\/lib/ { print $1 }'); do
	copy "$lib"
done
cp "$base" "$out.tmp"
(cd "$stage" && find . -mindepth 1 -print0 | cpio --null -o -H newc --quiet) | gzip -1 >>"$out.tmp"
mv "$out.tmp" "$out"
