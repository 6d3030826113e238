# shellcheck shell=bash
# Progress of long steps (the kernel build, the kernel source unpack); sourced by
# scripts/bootstrap.sh and scripts/kernel-build.sh after lib.sh, not run.
#
#   progress_start LABEL PROBE [ARGS...]   watch in the background until progress_stop
#   progress_stop                          stop watching (also done on exit)
#
# PROBE ARGS prints the step's state, e.g. "812 of ~1300 objects (62%)", and the line
# shows it with the elapsed time: rewritten in place every second when stderr is a
# terminal, else printed as a plain line every UIO_PROGRESS_INTERVAL seconds
# (default 30), for CI logs.

progress_pid=

progress_start() {
	local label=$1
	shift
	progress_watch "$label" "$@" &
	progress_pid=$!
	trap progress_stop EXIT
}

progress_stop() {
	[[ -n $progress_pid ]] || return 0
	kill "$progress_pid" 2>/dev/null || true
	wait "$progress_pid" 2>/dev/null || true
	progress_pid=
	trap - EXIT
	if [[ -t 2 ]]; then printf '\r\033[K' >&2; fi
	return 0
}

progress_watch() {
	local label=$1 t0=$SECONDS last=$SECONDS every=${UIO_PROGRESS_INTERVAL:-30} tty=0 state t
	shift
	if [[ -t 2 ]]; then tty=1 every=1; fi
	# $$ is the script: stop by itself if the script is gone
	while sleep 1 && kill -0 $$ 2>/dev/null; do
		((SECONDS - last >= every)) || continue
		last=$SECONDS
		state=$("$@" 2>/dev/null) || continue
		t=$((SECONDS - t0))
		printf -v t '%d:%02d' $((t / 60)) $((t % 60))
		if ((tty)); then
			printf '\r[uio] %s: %s, %s elapsed\033[K' "$label" "$state" "$t" >&2
		else
			printf '[uio] %s: %s, %s elapsed\n' "$label" "$state" "$t" >&2
		fi
	done
}

# A probe: how far the processes reading FILE (SIZE bytes) have got, from the file
# offsets of their descriptors (/proc/PID/fdinfo), so any reader can be watched.
progress_file_read() {
	local file=$1 size=$2 fd pos max=0
	while read -r fd; do
		pos=$(sed -n 's/^pos:[[:space:]]*//p' "${fd/\/fd\//\/fdinfo\/}" 2>/dev/null)
		((${pos:-0} > max)) && max=$pos
	done < <(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -lname "$file" 2>/dev/null)
	echo "$((max >> 20)) of $((size >> 20)) MiB read ($((max * 100 / size))%)"
}
