#!/usr/bin/env bash
# For kernel developers: turns the commits on branch `uio` of the development
# worktree ($UIO_CACHE/kdev, created by `scripts/kernel-export.sh --init`) into
# kernel-patches/ (format-patch with a cover letter, plus `series`) and runs
# checkpatch --strict on every patch.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

kdev=${UIO_KDEV:-$UIO_CACHE/kdev}
out=$UIO_ROOT/kernel-patches

if [[ ${1:-} == --init ]]; then
	[[ -d $kdev ]] && die "$kdev exists"
	git -C "$UIO_CACHE/ktree" worktree add -q -b uio "$kdev" pristine
	while read -r p; do
		git -C "$kdev" am -q "$out/$p"
	done < <(grep -v -e '^#' -e '^$' "$out/series")
	log "development tree at $kdev (branch uio)"
	exit 0
fi

# Debian's tarball ships a .gitignore that ignores everything: new files need
# `git add -f`, and one left behind would silently be missing from the series.
stray=$(git -C "$kdev" ls-files --others --exclude-standard --ignored --directory)
[[ -z $stray ]] || die "files in $kdev not in any commit (git add -f them): $stray"
[[ -z $(git -C "$kdev" status --porcelain) ]] || die "uncommitted changes in $kdev"

cover=$UIO_ROOT/kernel/cover-letter.txt
git -C "$kdev" config branch.uio.description "$(cat "$cover")"
rm -f "$out"/*.patch
git -C "$kdev" format-patch -q --cover-letter --cover-from-description=subject \
	--base=pristine --zero-commit -o "$out" pristine..uio
(cd "$out" && ls [0-9]*.patch | grep -v '^0000-' >series)

status=0
for p in "$out"/[0-9]*.patch; do
	[[ $p == */0000-cover-letter.patch ]] && continue
	if ! "$kdev/scripts/checkpatch.pl" --strict --quiet --no-tree "$p"; then
		status=1
	fi
done
log "exported $(wc -l <"$out/series") patches to ${out#"$UIO_ROOT"/}"
exit $status
