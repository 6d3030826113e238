#!/usr/bin/env bash
# mkinitramfs.sh OUT INIT TEST_BINARY...
# Builds the test VM's initramfs: busybox-static, the init script and the
# guest test programs under /tests.
set -euo pipefail
out=$1 init=$2
shift 2
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,proc,sys,dev,tmp,tests,etc}
cp /bin/busybox "$stage/bin/busybox"
for applet in $("$stage/bin/busybox" --list); do
	[[ -e $stage/bin/$applet ]] || ln -s busybox "$stage/bin/$applet"
done
install -m 0755 "$init" "$stage/init"
for t in "$@"; do
	install -m 0755 "$t" "$stage/tests/"
done
(cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
