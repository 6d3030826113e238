// SPDX-License-Identifier: GPL-2.0
/*
 * Vetoes spans with a bad block: every 4 KiB block must start with the
 * 8-byte magic set before load. A bad block ends the op with -EBADMSG, and an
 * outbound op then writes nothing.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

const volatile __u64 magic = 0x4b434f4c424f4955ull;	/* "UIOBLOCK" */

struct walk {
	struct iou_unified_ctx *uctx;
	int err;
};

static long check_block(__u64 index, void *data)
{
	struct walk *w = data;
	__u64 *p = (__u64 *)bpf_io_uring_unified_ptr(w->uctx, index * 4096, sizeof(__u64));

	if (!p || *p != magic) {
		w->err = -EBADMSG;
		return 1;
	}
	return 0;
}

SEC("struct_ops/unified_op")
int BPF_PROG(uio_validate, struct iou_unified_ctx *uctx)
{
	struct walk w = { .uctx = uctx };

	bpf_loop((uctx->len + 4095) / 4096, check_block, &w, 0);
	return w.err;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_validate_ops = {
	.unified_op = (void *)uio_validate,
};
