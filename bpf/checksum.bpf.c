// SPDX-License-Identifier: GPL-2.0
/*
 * CRC32C (Castagnoli) of an op's span, reported as the op's BPF result. The
 * result must be >= 0, so it is the CRC's low 31 bits. The span is walked in
 * 64-byte windows, then byte by byte for a tail shorter than a window.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* the reflected CRC32C table, built by userspace before load */
const volatile __u32 crc32c_table[256];

struct walk {
	struct iou_unified_ctx *uctx;
	__u32 crc;
	__u32 tail;	/* where the byte-by-byte tail starts */
	int err;
};

static long crc_byte(__u64 index, void *data)
{
	struct walk *w = data;
	__u8 *p = bpf_io_uring_unified_ptr(w->uctx, w->tail + index, 1);

	if (!p) {
		w->err = -EBADMSG;
		return 1;
	}
	w->crc = crc32c_table[(w->crc ^ *p) & 0xff] ^ (w->crc >> 8);
	return 0;
}

static long crc_window(__u64 index, void *data)
{
	struct walk *w = data;
	__u8 *p = bpf_io_uring_unified_ptr(w->uctx, index * UIO_WINDOW, UIO_WINDOW);
	__u32 crc = w->crc;
	int i;

	if (!p) {
		w->err = -EBADMSG;
		return 1;
	}
	for (i = 0; i < UIO_WINDOW; i++)
		crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	w->crc = crc;
	return 0;
}

SEC("struct_ops/unified_op")
int BPF_PROG(uio_checksum, struct iou_unified_ctx *uctx)
{
	__u32 windows = uctx->len / UIO_WINDOW;
	struct walk w = { .uctx = uctx, .crc = ~0u, .tail = windows * UIO_WINDOW };

	bpf_loop(windows, crc_window, &w, 0);
	if (!w.err)
		bpf_loop(uctx->len - w.tail, crc_byte, &w, 0);
	if (w.err)
		return w.err;
	return (~w.crc) & 0x7fffffff;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops uio_checksum_ops = {
	.unified_op = (void *)uio_checksum,
};
