// SPDX-License-Identifier: GPL-2.0
/*
 * Must not load: a sleepable unified_op. The BPF stage runs under the ring's
 * uring_lock, and per received fragment under the socket lock too.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops.s/unified_op")
int BPF_PROG(uio_sleepable_op, struct iou_unified_ctx *uctx)
{
	return 0;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_sleepable_op_ops = {
	.unified_op = (void *)uio_sleepable_op,
};
