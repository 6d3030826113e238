// SPDX-License-Identifier: GPL-2.0
/*
 * Must not load: a unified_op program that hands the kfunc a context it
 * built on its stack, with the kernel address it wants to reach where the
 * kernel keeps the data pointer. Before the context became unforgeable the
 * verifier took the stack for a struct iou_unified_ctx and typed the result
 * as writable memory.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/unified_op")
int BPF_PROG(uio_forge_ctx, struct iou_unified_ctx *uctx)
{
	/* region_off, len | stages, user_data, then "data": kernel text */
	__u64 fake[8] = { 0, 4096, 0, 0xffffffff81000000ull };
	__u8 *p = bpf_io_uring_unified_ptr((struct iou_unified_ctx *)fake, 0, 8);

	if (!p)
		return 0;
	p[0] = 0;
	return p[1];
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_forge_ctx_ops = {
	.unified_op = (void *)uio_forge_ctx,
};
