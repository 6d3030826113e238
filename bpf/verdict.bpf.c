// SPDX-License-Identifier: GPL-2.0
/*
 * Returns a verdict set before load, whatever the span: for tests of how the
 * kernel takes a program's result (a value for the CQE, an errno to end the
 * op, or an errno userspace must never see).
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile int verdict;

SEC("struct_ops/unified_op")
int BPF_PROG(uio_verdict, struct iou_unified_ctx *uctx)
{
	return verdict;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_verdict_ops = {
	.unified_op = (void *)uio_verdict,
};
