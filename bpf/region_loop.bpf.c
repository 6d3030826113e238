// SPDX-License-Identifier: GPL-2.0
/*
 * A loop program that sees the unified region: each io_uring_enter() runs
 * it once; it sums the data area's first 64 bytes and stores the sum, a
 * __u64, right after them. Shows bpf_io_uring_get_region(IOU_REGION_UNIFIED).
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/loop_step")
int BPF_PROG(uio_region_loop, struct iou_ctx *loop_ctx, struct iou_loop_params *lp)
{
	__u8 *p = bpf_io_uring_get_region(loop_ctx, IOU_REGION_UNIFIED, 4096);
	__u64 sum = 0;
	int i;

	if (!p)
		return IOU_LOOP_STOP;
	for (i = 0; i < 64; i++)
		sum += p[i];
	*(__u64 *)(p + 64) = sum;
	return IOU_LOOP_STOP;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_region_loop_ops = {
	.loop_step = (void *)uio_region_loop,
};
