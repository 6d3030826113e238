#!/bin/sh
# vm.nsim_selftests (guest side, /tests/nsim_selftests): upstream's own netdevsim
# selftests from the patched kernel tree (tests/vm/initramfs-selftests.sh packs them
# under /ksrc, in the tree's layout), run on the patched kernel: that netdevsim's DMA
# mask and memory-provider receive path (kernel patch 21) leave the behaviour its
# existing queue, header-split, page-pool and peer tests check unchanged.
#   drivers/net/queues.py           queue-get vs sysfs, channel changes, queues when down
#   drivers/net/hds.py              tcp-data-split and hds-thresh get/set, HDS vs XDP
#   drivers/net/netdevsim/peer.sh   linking two ports across namespaces, TCP over them
#   net/nl_netdev.py                netdev family: NAPI, queue resets, page pools
#                                   (only with the argument `full`: time budget)
# Each test's KTAP output is printed as it runs, then a summary. A skip passes only
# where the case is listed in $expected_skips below (none is today) with the reason it
# cannot run here; any failure fails the test. The options upstream's selftest configs
# ask for and these tests use (CONFIG_XDP_SOCKETS for queues.check_xsk,
# CONFIG_PAGE_POOL_STATS for nl_netdev's page-pool stats) are in kernel/uio.config. Exit 77 only if the image lacks the tools (the plain test image,
# not initramfs-selftests.sh's).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/tests NO_COLOR=1
ksft=/ksrc/tools/testing/selftests

# skips that are no failure: "case<TAB>why it cannot run in this guest"
expected_skips=

# busybox's sh runs its own applets before PATH (its ip has no JSON, its readlink no
# -e): the tools are checked by path; the tests themselves exec through PATH
for tool in /usr/bin/python3 /usr/sbin/ip /usr/sbin/ethtool /usr/bin/bash /usr/bin/socat; do
	if [ ! -x $tool ]; then
		echo "nsim_selftests: no $tool in this image (it is vm.nsim_selftests' own: tests/vm/initramfs-selftests.sh)"
		exit 77
	fi
done
if [ ! -d $ksft ]; then
	echo "nsim_selftests: no selftests in this image (/ksrc: tests/vm/initramfs-selftests.sh)"
	exit 77
fi
if ! /usr/sbin/ip -V 2>&1 | grep -q iproute2; then
	echo "nsim_selftests: ip is not iproute2's: $(/usr/sbin/ip -V 2>&1)"
	exit 77
fi
if ! /usr/bin/python3 -c 'import yaml'; then
	echo "nsim_selftests: python3 cannot import PyYAML"
	exit 77
fi
mkdir -p /run/netns

pass=0 fail=0 skip=0 badskip=0
failed= skipped=

log=/tmp/nsim_selftests.out

# run_logged DIR TEST CMD...: CMD in the selftests' DIR, its output in $log and
# shown, with its time; sets rc
run_logged() {
	dir=$1 t=$2
	shift 2
	echo "=== $dir/$t"
	start=$(cut -d' ' -f1 /proc/uptime)
	(cd $ksft/$dir && "$@") >$log 2>&1
	rc=$?
	cat $log
	end=$(cut -d' ' -f1 /proc/uptime)
	echo "=== $dir/$t: exit $rc, $(awk -v a=$start -v b=$end 'BEGIN { printf "%.1f", b - a }') s"
}

# count_skip CASE FAILURE: a skipped case, expected where expected_skips gives
# its reason, else counted as FAILURE
count_skip() {
	why=$(printf '%s\n' "$expected_skips" | awk -F'\t' -v c="$1" '$1 == c { print $2 }')
	if [ -n "$why" ]; then
		skip=$((skip + 1))
		skipped="$skipped
  $1: $why"
	else
		badskip=$((badskip + 1))
		failed="$failed
  $1: $2"
	fi
}

# run_py DIR TEST.py: a python selftest, KTAP; every case counted
run_py() {
	dir=$1 t=$2 name=${2%.py}
	shift 2
	run_logged $dir $t /usr/bin/python3 $t "$@"
	while IFS= read -r line; do
		case $line in
		"ok "*"# SKIP"*|"ok "*"# skip"*)
			count_skip "$(echo "$line" | awk '{ print $3 }')" \
				"skipped, and no skip is expected here: ${line#*# }" ;;
		"ok "*)
			pass=$((pass + 1)) ;;
		"not ok "*)
			fail=$((fail + 1))
			failed="$failed
  $(echo "$line" | awk '{ print $4 }')" ;;
		esac
	done <$log
	if [ $rc -ne 0 ] && ! grep -q '^not ok' $log; then
		# no case failed, yet the test did (an import error, exit 4 of a missing
		# library, a crash in the setup)
		fail=$((fail + 1))
		failed="$failed
  $name: exit $rc"
	fi
}

# run_sh DIR TEST.sh: a shell selftest, one result (0 pass, 4 skip, else fail)
run_sh() {
	dir=$1 t=$2 name=${2%.sh}
	run_logged $dir $t /usr/bin/bash ./$t
	case $rc in
	0) pass=$((pass + 1)) ;;
	4) count_skip "$name" "skipped (exit 4), and no skip is expected here" ;;
	*)
		fail=$((fail + 1))
		failed="$failed
  $name: exit $rc" ;;
	esac
}

run_py drivers/net queues.py
run_py drivers/net hds.py
run_sh drivers/net/netdevsim peer.sh
# nl_netdev.py (11 cases, 13 s here; its netdevsim ones - queue resets, page pools -
# alone 9 s) runs only with `full`: the suite's time budget keeps the three above
[ "${1:-}" = full ] && run_py net nl_netdev.py

echo "nsim_selftests: $pass passed, $skip skipped as expected, $fail failed, $badskip skipped unexpectedly"
[ -n "$skipped" ] && echo "skipped (cannot run in this guest):$skipped"
[ -n "$failed" ] && echo "FAILED:$failed"
[ $((fail + badskip)) -eq 0 ]
