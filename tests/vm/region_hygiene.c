/* SPDX-License-Identifier: MIT */
/*
 * What a registration and an op must not take from, or leave to, the caller:
 *  - user memory pre-filled with 0xa5, 0xff or 0x01: the descriptor rings'
 *    headers and the network binding's counters read as the kernel defines
 *    them (zero), and the first batch runs;
 *  - a registration whose write-back faults (the struct or the region
 *    descriptor half in read-only memory) fails with -EFAULT, leaves the
 *    caller's bytes as they were, and the same structs then register;
 *  - IORING_OP_UNIFIED refuses junk in sqe->__pad2[0] and in the second half
 *    of a 128-byte SQE (-EINVAL), and the same op without it runs;
 *  - the region maps only from its start and no further than its end.
 */
#include <fcntl.h>
#include "net_test.h"

#define SIZE (64u << 10)
#define NVME "/dev/nvme0n1"

static size_t region_bytes(const struct io_uring_unified_region_reg *reg)
{
	return reg->offsets.size;
}

/* user memory full of @fill, big enough for any layout these tests ask for */
static uint8_t *filled_user_mem(size_t len, int fill)
{
	uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	memset(p, fill, len);
	return p;
}

static void check_zero(const void *p, size_t len, const char *what, int fill)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			t_fail("user memory of %#x: %s byte %zu is %#x after registration", fill,
			       what, i, b[i]);
}

static void test_user_memory_initialised(void)
{
	static const int fills[] = { 0xa5, 0xff, 0x01 };
	const size_t mem_len = 1u << 20;

	for (size_t i = 0; i < sizeof(fills) / sizeof(fills[0]); i++) {
		struct t_net_region r;
		struct io_uring ring;
		uint8_t *mem = filled_user_mem(mem_len, fills[i]);
		const struct io_unified_ring_hdr *sq, *cq;
		struct io_unified_desc *d;
		int ret;

		t_net_ring(&ring);
		t_net_region_defaults(&r, SIZE, 0, 64);
		r.rd.flags = IORING_MEM_REGION_TYPE_USER;
		r.rd.user_addr = (uint64_t)(uintptr_t)mem;
		r.rd.size = mem_len;
		if ((ret = t_region_register(&ring, &r.reg)))
			t_fail("register on user memory of %#x: %d", fills[i], ret);
		/* on user memory the application's mapping is the region */
		r.map = mem;
		r.rq_head = (uint32_t *)(r.map + r.reg.offsets.rq_ring + r.reg.rq_head);
		r.rq_tail = (uint32_t *)(r.map + r.reg.offsets.rq_ring + r.reg.rq_tail);
		r.stats = (struct io_unified_net_stats *)(r.map + r.reg.net_stats);
		sq = (const void *)(r.map + r.reg.offsets.sq_ring);
		cq = (const void *)(r.map + r.reg.offsets.cq_ring);
		if (sq->head || sq->tail || sq->flags || cq->head || cq->tail || cq->flags ||
		    sq->ring_entries != 64 || sq->ring_mask != 63 || cq->ring_entries != 64)
			t_fail("user memory of %#x: sq %u/%u/%#x, cq %u/%u/%#x, entries %u/%u",
			       fills[i], sq->head, sq->tail, sq->flags, cq->head, cq->tail,
			       cq->flags, sq->ring_entries, cq->ring_entries);
		check_zero(sq->__resv1, sizeof(sq->__resv1), "sq header reserved", fills[i]);
		check_zero(sq->__resv2, sizeof(sq->__resv2), "sq header reserved", fills[i]);
		check_zero(cq->__resv1, sizeof(cq->__resv1), "cq header reserved", fills[i]);
		check_zero(cq->__resv2, sizeof(cq->__resv2), "cq header reserved", fills[i]);
		check_zero(r.stats, sizeof(*r.stats), "net stats", fills[i]);
		if (*r.rq_head || *r.rq_tail)
			t_fail("user memory of %#x: refill ring %u/%u", fills[i], *r.rq_head,
			       *r.rq_tail);

		/* the first batch: one BPF-free, device-free descriptor is refused by itself */
		d = (struct io_unified_desc *)(r.map + r.reg.offsets.sq_descs);
		memset(d, 0, sizeof(*d));
		d->user_data = 42;
		d->op_flags = 0;	/* no stage: -EINVAL in the result, consumed */
		d->len = 4096;
		__atomic_store_n(&((struct io_unified_ring_hdr *)sq)->tail, 1, __ATOMIC_RELEASE);
		t_prep_unified(t_get_sqe(&ring), -1, IORING_UNIFIED_OP_BATCH, 0, 1, 0);
		if ((ret = t_submit_one(&ring)) != 1)
			t_fail("user memory of %#x: first batch consumed %d", fills[i], ret);
		io_uring_queue_exit(&ring);
		munmap(mem, mem_len);
	}
	printf("user memory pre-filled with 0xa5, 0xff, 0x01: ring headers, refill ring and "
	       "net counters read zero; the first batch ran\n");
}

/*
 * Two pages, the second read-only: @reg or @rd (whichever @which names) is
 * placed across the boundary, so reading it works and writing it back faults
 * half way.
 */
static void test_failed_writeback(int which)
{
	const char *what = which ? "region descriptor" : "registration struct";
	uint8_t *pages = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			      -1, 0);
	struct io_uring_unified_region_reg *reg, reg_store, before;
	struct io_uring_region_desc *rd, rd_store, rd_before;
	struct io_uring ring;
	int ret;

	if (pages == MAP_FAILED)
		t_fail("mmap: %s", strerror(errno));
	t_ring_init(&ring, 8, 0, 4);
	reg = &reg_store;
	rd = &rd_store;
	if (which)
		rd = (void *)(pages + 4096 - 16);	/* mmap_offset lies past the boundary */
	else
		reg = (void *)(pages + 4096 - 96);	/* offsets straddle it */
	t_region_defaults(reg, rd, SIZE, 0);
	before = *reg;
	rd_before = *rd;
	if (mprotect(pages + 4096, 4096, PROT_READ))
		t_fail("mprotect: %s", strerror(errno));
	ret = t_region_register(&ring, reg);
	if (ret != -EFAULT)
		t_fail("%s half read-only: %d, want -EFAULT", what, ret);
	if (memcmp(reg, &before, sizeof(before)) || memcmp(rd, &rd_before, sizeof(rd_before)))
		t_fail("a failed registration (%s half read-only) changed the caller's bytes", what);
	if (mprotect(pages + 4096, 4096, PROT_READ | PROT_WRITE))
		t_fail("mprotect: %s", strerror(errno));
	if ((ret = t_region_register(&ring, reg)))
		t_fail("the same structs after a failed registration: %d", ret);
	if (!reg->offsets.size || !rd->mmap_offset)
		t_fail("registered, but no layout written back");
	io_uring_queue_exit(&ring);
	munmap(pages, 8192);
	printf("write-back faults in the %s: -EFAULT, the caller's bytes unchanged, the same "
	       "structs register afterwards\n", what);
}

/* one storage read of the region's first block, with the SQE's junk set by @junk */
static int read_with_junk(struct io_uring *ring, int nvme, void (*junk)(struct io_uring_sqe *))
{
	struct io_uring_sqe *sqe = t_get_sqe(ring);

	t_prep_unified(sqe, nvme, IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	if (junk)
		junk(sqe);
	return t_submit_one(ring);
}

static void junk_pad2(struct io_uring_sqe *sqe)	{ sqe->__pad2[0] = 1; }
static void junk_high(struct io_uring_sqe *sqe)	{ ((uint8_t *)(sqe + 1))[37] = 0x5a; }
static void junk_none(struct io_uring_sqe *sqe)	{ memset(sqe + 1, 0, sizeof(*sqe)); }

static void test_unused_sqe_fields(int nvme)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring ring;
	int ret;

	/* a 64-byte SQE ring, then a 128-byte one */
	for (int big = 0; big < 2; big++) {
		t_ring_init(&ring, 8, big ? IORING_SETUP_SQE128 : 0, 1);
		t_region_defaults(&reg, &rd, SIZE, 0);
		if ((ret = t_region_register(&ring, &reg)))
			t_fail("register: %d", ret);
		if ((ret = read_with_junk(&ring, nvme, junk_pad2)) != -EINVAL)
			t_fail("junk in __pad2[0]: %d, want -EINVAL", ret);
		if (big && (ret = read_with_junk(&ring, nvme, junk_high)) != -EINVAL)
			t_fail("junk in the SQE's second half: %d, want -EINVAL", ret);
		if ((ret = read_with_junk(&ring, nvme, big ? junk_none : NULL)) != 4096)
			t_fail("the same read without junk: %d", ret);
		io_uring_queue_exit(&ring);
	}
	printf("unused SQE bytes: __pad2[0] and a 128-byte SQE's second half refused with "
	       "-EINVAL\n");
}

static void test_mmap_bounds(void)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring ring;
	void *p;
	int ret;

	t_ring_init(&ring, 8, 0, 1);
	t_region_defaults(&reg, &rd, SIZE, 0);
	if ((ret = t_region_register(&ring, &reg)))
		t_fail("register: %d", ret);
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ring.ring_fd, (off_t)rd.mmap_offset + 4096);
	if (p != MAP_FAILED || errno != EINVAL)
		t_fail("mmap one page into the region: %s, want EINVAL",
		       p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, region_bytes(&reg) + 4096, PROT_READ, MAP_SHARED, ring.ring_fd,
		 (off_t)rd.mmap_offset);
	if (p != MAP_FAILED || errno != EINVAL)
		t_fail("mmap one page past the region's end: %s, want EINVAL",
		       p == MAP_FAILED ? strerror(errno) : "mapped");
	p = mmap(NULL, region_bytes(&reg), PROT_READ, MAP_SHARED, ring.ring_fd,
		 (off_t)rd.mmap_offset);
	if (p == MAP_FAILED)
		t_fail("mmap of the whole region: %s", strerror(errno));
	munmap(p, region_bytes(&reg));
	/* a prefix, the data area alone, is a mapping of the region too */
	p = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, ring.ring_fd, (off_t)rd.mmap_offset);
	if (p == MAP_FAILED)
		t_fail("mmap of the data area: %s", strerror(errno));
	munmap(p, SIZE);
	io_uring_queue_exit(&ring);
	printf("mmap: at an offset into the region and past its end refused with EINVAL; the "
	       "whole region and a prefix map\n");
}

int main(void)
{
	int nvme = open(NVME, O_RDWR | O_DIRECT);

	if (nvme < 0)
		t_fail(NVME ": %s", strerror(errno));
	test_user_memory_initialised();
	test_failed_writeback(0);
	test_failed_writeback(1);
	test_unused_sqe_fields(nvme);
	test_mmap_bounds();
	close(nvme);
	return T_EXIT_PASS;
}
