// SPDX-License-Identifier: GPL-2.0
/*
 * XORs an op's span in place with a key byte set before load. As the BPF
 * stage of an outbound storage op, the device gets the transformed bytes.
 * Spans are walked in 64-byte windows.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u8 key = 0x5a;

struct walk {
	struct iou_unified_ctx *uctx;
	int err;
};

static long xor_window(__u64 index, void *data)
{
	struct walk *w = data;
	__u8 *p = bpf_io_uring_unified_ptr(w->uctx, index * UIO_WINDOW, UIO_WINDOW);
	int i;

	if (!p) {
		w->err = -EBADMSG;
		return 1;
	}
	for (i = 0; i < UIO_WINDOW; i++)
		p[i] ^= key;
	return 0;
}

SEC("struct_ops/unified_op")
int BPF_PROG(uio_xor, struct iou_unified_ctx *uctx)
{
	struct walk w = { .uctx = uctx };

	bpf_loop(uctx->len / UIO_WINDOW, xor_window, &w, 0);
	return w.err;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_xor_ops = {
	.unified_op = (void *)uio_xor,
};
