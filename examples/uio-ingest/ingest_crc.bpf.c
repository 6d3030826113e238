// SPDX-License-Identifier: GPL-2.0
/*
 * uio-ingest's BPF stage: CRC32C of each received fragment (NET|BPF), the
 * walk of bpf/checksum.bpf.c in 4096- and 64-byte windows, sliced by 8. A
 * program's result must be >= 0, so a result holds 31 bits and a CRC has 32:
 * the full CRC goes into a table in the program's .bss, which userspace
 * maps, and the result is the number of
 * the table entry. Userspace checks the entry's region offset, length and
 * number against the fragment's CQE before it takes the CRC. Calls are
 * serialised by the ring's uring_lock, so the counter needs no atomics.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * The reflected CRC32C tables for slicing by 8, filled by userspace before
 * load: [0] is the byte table, [k] advances a byte k more positions. A
 * window is eight 64-bit words, each folded in with eight lookups instead of
 * eight rounds of one.
 */
const volatile __u32 crc32c_tables[8][256];

#define INGEST_CRC_SLOTS 8192	/* a power of two; keep in step with serve.cpp */

struct ingest_crc_slot {
	__u64 region_off;
	__u32 len;
	__u32 crc;	/* the finished CRC32C: all 32 bits */
	__u32 seq;
	__u32 resv;
};

struct {
	__u32 seq;
	__u32 resv;
	struct ingest_crc_slot slot[INGEST_CRC_SLOTS];
} ingest_crc;

struct walk {
	struct iou_unified_ctx *uctx;
	__u32 crc;
	__u32 small;	/* where the small windows start */
	__u32 tail;	/* where the bytes start */
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
	w->crc = crc32c_tables[0][(w->crc ^ *p) & 0xff] ^ (w->crc >> 8);
	return 0;
}

/*
 * CRC32C of @size bytes at @off of the span, eight at a time. Always inlined
 * with a constant @size, so the verifier bounds the window's pointer.
 */
static __always_inline int crc_words(struct walk *w, __u32 off, const __u32 size)
{
	__u8 *p = bpf_io_uring_unified_ptr(w->uctx, off, size);
	__u32 crc = w->crc;
	__u32 i;

	if (!p) {
		w->err = -EBADMSG;
		return 1;
	}
	for (i = 0; i < size; i += 8) {
		__u64 v = *(__u64 *)(p + i) ^ crc;

		crc = crc32c_tables[7][v & 0xff] ^ crc32c_tables[6][(v >> 8) & 0xff] ^
		      crc32c_tables[5][(v >> 16) & 0xff] ^ crc32c_tables[4][(v >> 24) & 0xff] ^
		      crc32c_tables[3][(v >> 32) & 0xff] ^ crc32c_tables[2][(v >> 40) & 0xff] ^
		      crc32c_tables[1][(v >> 48) & 0xff] ^ crc32c_tables[0][v >> 56];
	}
	w->crc = crc;
	return 0;
}

/*
 * A span is walked in large windows, then small ones, then bytes: each
 * window costs a bpf_loop() callback and a kfunc call, which dominate at
 * small windows, and a large window alone would leave up to its size minus
 * one byte for the byte loop. A large window is a page: the hardware path's
 * fragments (a page of payload per segment) take one callback each.
 */
#define LARGE_WINDOW 4096

static long crc_large(__u64 index, void *data)
{
	return crc_words(data, index * LARGE_WINDOW, LARGE_WINDOW);
}

static long crc_small(__u64 index, void *data)
{
	struct walk *w = data;

	return crc_words(w, w->small + index * UIO_WINDOW, UIO_WINDOW);
}

SEC("struct_ops/unified_op")
int BPF_PROG(ingest_crc_op, struct iou_unified_ctx *uctx)
{
	__u32 large = uctx->len / LARGE_WINDOW;
	__u32 small = (uctx->len % LARGE_WINDOW) / UIO_WINDOW;
	struct walk w = { .uctx = uctx, .crc = ~0u, .small = large * LARGE_WINDOW };
	struct ingest_crc_slot *s;
	__u32 seq;

	w.tail = w.small + small * UIO_WINDOW;
	bpf_loop(large, crc_large, &w, 0);
	if (!w.err)
		bpf_loop(small, crc_small, &w, 0);
	if (!w.err)
		bpf_loop(uctx->len - w.tail, crc_byte, &w, 0);
	if (w.err)
		return w.err;
	seq = ingest_crc.seq;
	ingest_crc.seq = seq + 1;
	s = &ingest_crc.slot[seq & (INGEST_CRC_SLOTS - 1)];
	s->region_off = uctx->region_off;
	s->len = uctx->len;
	s->crc = ~w.crc;
	s->seq = seq;
	return seq & 0x7fffffff;
}

SEC(".struct_ops.link")
struct io_uring_bpf_ops ingest_crc_ops = {
	.unified_op = (void *)ingest_crc_op,
};
