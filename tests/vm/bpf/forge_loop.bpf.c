// SPDX-License-Identifier: GPL-2.0
/*
 * Must not load: a loop_step program that passes its stack as the ring of
 * bpf_io_uring_get_region() (upstream's kfuncs, struct iou_ctx).
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/loop_step")
int BPF_PROG(uio_forge_loop, struct iou_ctx *loop_ctx, struct iou_loop_params *lp)
{
	__u64 fake[32] = {};
	__u8 *p = bpf_io_uring_get_region((struct iou_ctx *)fake, IOU_REGION_SQ, 8);

	if (p)
		p[0] = 0;
	return IOU_LOOP_STOP;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_forge_loop_ops = {
	.loop_step = (void *)uio_forge_loop,
};
