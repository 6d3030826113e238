#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds the patched kernel and
# the tests, then runs every host and VM test through CTest.
#
#   UIO_CTEST_ARGS   extra ctest arguments, e.g. "-L host" or "-R vm.query"
#   UIO_BUILD        CMake build directory (default: build/ in the checkout)
#   UIO_TEST_JOBS    tests run side by side (default 2)
set -euo pipefail

. "$(dirname "$0")/lib.sh"

build=${UIO_BUILD:-$UIO_ROOT/build}
t0=$SECONDS
"$UIO_ROOT/scripts/bootstrap.sh"
"$UIO_ROOT/scripts/kernel-build.sh"
log "configuring and building tests in $build"
cmake -S "$UIO_ROOT" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DUIO_KERNEL_BUILD="$UIO_KBUILD" >/dev/null
cmake --build "$build"
log "running tests (setup took $((SECONDS - t0)) s)"
# Two at a time: host tests beside VM tests, and a guest booting while the one
# before it waits out kmemleak's 5 s and scans. vm-run.py's locks keep any two
# guests' tests (and a test and a leak scan) from ever running at once.
# shellcheck disable=SC2086 # the user's extra arguments are meant to be split
ctest --test-dir "$build" --output-on-failure -j "${UIO_TEST_JOBS:-2}" ${UIO_CTEST_ARGS:-}
