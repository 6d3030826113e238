# Shared settings for uio's scripts; sourced, not run.
UIO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
UIO_CACHE=${UIO_CACHE:-/var/cache/uio}
export UIO_ROOT UIO_CACHE

log() { printf '[uio] %s\n' "$*" >&2; }
die() { printf '[uio] error: %s\n' "$*" >&2; exit 1; }
