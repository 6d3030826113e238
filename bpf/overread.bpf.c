// SPDX-License-Identifier: GPL-2.0
/*
 * Must not load: it reads one byte past the window the kfunc bounded. The
 * VM tests check that the verifier refuses it and that its message reaches
 * the loader.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/unified_op")
int BPF_PROG(uio_overread, struct iou_unified_ctx *uctx)
{
	__u8 *p = bpf_io_uring_unified_ptr(uctx, 0, UIO_WINDOW);

	if (!p)
		return 0;
	return p[UIO_WINDOW];
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_overread_ops = {
	.unified_op = (void *)uio_overread,
};
