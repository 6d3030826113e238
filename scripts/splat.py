"""Finds kernel splats in a console log.

A splat is anything the kernel prints when it finds itself broken: WARN, BUG,
Oops, lockdep, KASAN, kmemleak, sleeping in atomic context, refcount
misuse, list corruption, a panic. The VM runner fails a test on any of them.
"""
import re

# Each pattern is matched against one line of the log with the timestamp
# ("[    1.234567] ") removed; the name says which kind of splat it is.
PATTERNS = [
    ("warning", re.compile(r"^WARNING: (CPU: \d+|at )")),
    ("bug", re.compile(r"^(kernel )?BUG: |^kernel BUG at ")),
    ("oops", re.compile(r"^Oops: |^general protection fault")),
    ("panic", re.compile(r"^Kernel panic - not syncing")),
    ("lockdep", re.compile(
        r"^WARNING: (possible (circular|recursive) locking|inconsistent lock state"
        r"|suspicious RCU usage|possible irq lock inversion|lock held when returning"
        r"|bad unlock balance|held lock freed|.*lock.* detected)"
        r"|^INFO: (possible (circular|recursive) locking|inconsistent lock state)")),
    ("kasan", re.compile(r"^BUG: KASAN: |^==+\s*$.*KASAN")),
    ("kmemleak", re.compile(r"^unreferenced object 0x[0-9a-f]+|^kmemleak: \d+ new suspected memory leaks")),
    ("sleep-in-atomic", re.compile(r"^BUG: (sleeping function called from invalid context|scheduling while atomic)")),
    ("refcount", re.compile(r"^refcount_t: ")),
    ("list-corruption", re.compile(r"^list_(add|del) corruption")),
    ("ubsan", re.compile(r"^UBSAN: ")),
    ("hung-task", re.compile(r"^INFO: task .* blocked for more than")),
    ("rcu-stall", re.compile(r"^rcu: INFO: rcu_\w+ (self-)?detected stall")),
]

_TIMESTAMP = re.compile(r"^\s*\[\s*\d+\.\d+\]\s?")

# Order matters: the more specific names win over the generic "warning"/"bug".
_PRIORITY = ["lockdep", "kasan", "sleep-in-atomic", "kmemleak", "refcount",
             "list-corruption", "ubsan", "hung-task", "rcu-stall", "panic",
             "oops", "bug", "warning"]


def classify(line):
    """Returns the kind of splat LINE starts, or None."""
    text = _TIMESTAMP.sub("", line.rstrip("\r\n"))
    kinds = {name for name, pat in PATTERNS if pat.search(text)}
    for name in _PRIORITY:
        if name in kinds:
            return name
    return None


def find_splats(log):
    """Returns [(kind, line)] for every splat in LOG (a string)."""
    found = []
    for line in log.splitlines():
        kind = classify(line)
        if kind:
            found.append((kind, line.strip()))
    return found
