#!/usr/bin/env python3
"""Turns bench/storage.c's "BENCH key=value ..." lines (a VM console log) into
the Markdown storage table with ratios and the issue's targets.

usage: storage_table.py LOG   (Markdown on stdout)

Ratios to fio: the block-device paths (fixed, direct, batchB) against fio's
io_uring engine, passthrough against fio's io_uring_cmd engine, same pattern,
same depth (a batch larger than the pattern's depth runs at its own depth and
has no fio row to compare with). Batch rows are also compared with plain
IORING_OP_UNIFIED SQEs ("direct") at the same depth.
"""
import re
import sys

TARGET_FIO_IOPS = 1.0
TARGET_FIO_CPU = 1.0
TARGET_BATCH_IOPS = 1.2
TARGET_BATCH_CPU = 0.8


def parse(text):
    rows = []
    for line in text.splitlines():
        m = re.search(r"BENCH (.*)$", line)
        if not m:
            continue
        kv = dict(f.split("=", 1) for f in m.group(1).split())
        for k in ("depth", "batch", "ops"):
            kv[k] = int(kv[k])
        for k in ("iops", "cpu_stat_s_per_mop", "cpu_proc_s_per_mop", "enters_per_op", "ctxt_per_op"):
            kv[k] = float(kv[k])
        rows.append(kv)
    return rows


def pattern_depth(pattern):
    return int(re.search(r"qd(\d+)$", pattern).group(1))


def fmt_ratio(x):
    return "—" if x is None else f"{x:.2f}x"


def evaluate(rows):
    """Adds ratios and verdicts to every row; returns the rows."""
    by = {(r["pattern"], r["path"], r["depth"]): r for r in rows}
    for r in rows:
        r["fio_iops"] = r["fio_cpu"] = r["fio_cpu_proc"] = None
        r["sqe_iops"] = r["sqe_cpu"] = None
        r["verdict"] = []
        if r["path"].startswith("fio"):
            continue
        fio = by.get((r["pattern"], "fio-cmd" if r["path"] == "passthru" else "fio-uring", r["depth"]))
        if fio:
            r["fio_iops"] = r["iops"] / fio["iops"]
            if fio["cpu_stat_s_per_mop"] > 0:
                r["fio_cpu"] = r["cpu_stat_s_per_mop"] / fio["cpu_stat_s_per_mop"]
            if fio["cpu_proc_s_per_mop"] > 0:
                r["fio_cpu_proc"] = r["cpu_proc_s_per_mop"] / fio["cpu_proc_s_per_mop"]
            ok = r["fio_iops"] >= TARGET_FIO_IOPS and r["fio_cpu"] is not None and \
                r["fio_cpu"] <= TARGET_FIO_CPU
            r["verdict"].append("fio: " + ("meets" if ok else "below"))
        if r["path"].startswith("batch"):
            sqe = by.get((r["pattern"], "direct", r["depth"]))
            if sqe:
                r["sqe_iops"] = r["iops"] / sqe["iops"]
                if sqe["cpu_stat_s_per_mop"] > 0:
                    r["sqe_cpu"] = r["cpu_stat_s_per_mop"] / sqe["cpu_stat_s_per_mop"]
                if r["batch"] >= 32:
                    ok = r["sqe_iops"] >= TARGET_BATCH_IOPS or \
                        (r["sqe_cpu"] is not None and r["sqe_cpu"] <= TARGET_BATCH_CPU)
                    r["verdict"].append("batch: " + ("meets" if ok else "below"))
    return rows


def table(rows):
    out = []
    out.append("| pattern | path | depth | IOPS | CPU s/Mop system | CPU s/Mop process | "
               "enters/op | ctxt/op | IOPS ÷ fio | CPU ÷ fio (system) | CPU ÷ fio (process) | "
               "IOPS ÷ SQEs | CPU ÷ SQEs | targets |")
    out.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in rows:
        enters = "—" if r["enters_per_op"] < 0 else f"{r['enters_per_op']:.3f}"
        depth = str(r["depth"])
        if r["depth"] != pattern_depth(r["pattern"]):
            depth += " *"
        out.append(
            f"| {r['pattern']} | {r['path']} | {depth} | {r['iops']:.0f} | "
            f"{r['cpu_stat_s_per_mop']:.1f} | {r['cpu_proc_s_per_mop']:.1f} | {enters} | "
            f"{r['ctxt_per_op']:.2f} | {fmt_ratio(r['fio_iops'])} | {fmt_ratio(r['fio_cpu'])} | "
            f"{fmt_ratio(r['fio_cpu_proc'])} | {fmt_ratio(r['sqe_iops'])} | {fmt_ratio(r['sqe_cpu'])} | "
            f"{'; '.join(r['verdict']) or '—'} |")
    return "\n".join(out)


def summary(rows):
    out = []
    fio_rows = [r for r in rows if r["fio_iops"] is not None]
    meets = [r for r in fio_rows if "fio: meets" in r["verdict"]]
    out.append(f"- uio paths against fio (IOPS >= {TARGET_FIO_IOPS}x and system CPU/op <= "
               f"{TARGET_FIO_CPU}x, same pattern and depth): {len(meets)} of {len(fio_rows)} rows meet.")
    for r in fio_rows:
        if r not in meets:
            out.append(f"  - below: {r['pattern']} {r['path']} (depth {r['depth']}): IOPS "
                       f"{fmt_ratio(r['fio_iops'])}, CPU {fmt_ratio(r['fio_cpu'])}")
    b_rows = [r for r in rows if r["path"].startswith("batch") and r["batch"] >= 32 and r["sqe_iops"] is not None]
    b_meets = [r for r in b_rows if "batch: meets" in r["verdict"]]
    out.append(f"- batch >= 32 against plain IORING_OP_UNIFIED SQEs at the same depth (IOPS >= "
               f"{TARGET_BATCH_IOPS}x or system CPU/op <= {TARGET_BATCH_CPU}x): {len(b_meets)} of "
               f"{len(b_rows)} rows meet.")
    for r in b_rows:
        out.append(f"  - {'meets' if r in b_meets else 'below'}: {r['pattern']} {r['path']} "
                   f"(depth {r['depth']}): IOPS {fmt_ratio(r['sqe_iops'])}, CPU "
                   f"{fmt_ratio(r['sqe_cpu'])}, ctxt/op {r['ctxt_per_op']:.2f}")
    return "\n".join(out)


def main():
    text = open(sys.argv[1], errors="replace").read()
    rows = evaluate(parse(text))
    if not rows:
        sys.exit("storage_table.py: no BENCH lines in " + sys.argv[1])
    head = [l for l in text.splitlines() if l.startswith("storage bench:") or l.startswith("check:")
            or l.startswith("fio:")]
    print("\n".join(f"    {l}" for l in head))
    print()
    print(table(rows))
    print()
    print("`*` a batch larger than the pattern's depth runs at its own depth (all its "
          "descriptors in flight); it is compared with plain SQEs at that depth, not with fio.")
    print()
    print(summary(rows))


if __name__ == "__main__":
    main()
