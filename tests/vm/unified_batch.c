/* SPDX-License-Identifier: MIT */
/*
 * IORING_OP_UNIFIED batch mode: one SQE consumes descriptors from the
 * region's submission ring and posts one result per descriptor into its
 * completion ring. 256 descriptors mixing writes and reads, checked per
 * user_data; a completion ring smaller than the batch stops consumption and
 * nothing is lost; garbage descriptors in the middle fail one by one; a
 * corrupt tail consumes nothing.
 */
#include <fcntl.h>
#include "uio_test.h"

#define SIZE (4u << 20)
#define CHUNK 8192u

struct region {
	struct io_uring ring;
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	uint8_t *map;
	struct io_unified_ring_hdr *sq, *cq;
	struct io_unified_desc *sqd, *cqd;
};

static int blk;

static void setup(struct region *r, unsigned sq_entries, unsigned cq_entries)
{
	int ret;

	t_ring_init(&r->ring, 8, 0, 0);
	t_region_defaults(&r->reg, &r->rd, SIZE, 0);
	r->reg.flags = 0;
	r->reg.sq_entries = sq_entries;
	r->reg.cq_entries = cq_entries;
	ret = t_region_register(&r->ring, &r->reg);
	if (ret)
		t_fail("register: %d", ret);
	r->map = t_region_map(&r->ring, &r->reg, &r->rd);
	r->sq = (void *)(r->map + r->reg.offsets.sq_ring);
	r->cq = (void *)(r->map + r->reg.offsets.cq_ring);
	r->sqd = (void *)(r->map + r->reg.offsets.sq_descs);
	r->cqd = (void *)(r->map + r->reg.offsets.cq_descs);
}

static void teardown(struct region *r)
{
	io_uring_queue_exit(&r->ring);
	munmap(r->map, r->reg.offsets.size);
}

static struct io_unified_desc *push(struct region *r, uint64_t user_data, uint32_t stages,
				    uint64_t addr, uint32_t len, uint64_t dev_off)
{
	uint32_t tail = r->sq->tail;
	struct io_unified_desc *d = &r->sqd[tail & r->sq->ring_mask];

	memset(d, 0, sizeof(*d));
	d->user_data = user_data;
	d->op_flags = stages;
	d->addr = addr;
	d->len = len;
	d->dev_off = dev_off;
	d->fd = blk;
	__atomic_store_n(&r->sq->tail, tail + 1, __ATOMIC_RELEASE);
	return d;
}

static int submit_batch(struct region *r, unsigned max)
{
	struct io_uring_sqe *sqe = t_get_sqe(&r->ring);

	t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BATCH, 0, max, 0);
	return t_submit_one(&r->ring);
}

/* pops every result; results[user_data] = res */
static unsigned reap(struct region *r, int *results, unsigned nr_results)
{
	uint32_t head = r->cq->head, tail = __atomic_load_n(&r->cq->tail, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	for (; head != tail; head++, n++) {
		struct io_unified_desc *d = &r->cqd[head & r->cq->ring_mask];

		if (d->user_data >= nr_results)
			t_fail("result with user_data %llu", (unsigned long long)d->user_data);
		if (results[d->user_data] != INT32_MIN)
			t_fail("two results for user_data %llu", (unsigned long long)d->user_data);
		results[d->user_data] = d->res;
	}
	__atomic_store_n(&r->cq->head, head, __ATOMIC_RELEASE);
	return n;
}

/* 128 writes of patterned chunks, then 128 reads of them into another area */
static void mixed_256(void)
{
	struct region r;
	int results[256];
	int ret;

	setup(&r, 256, 256);
	for (int i = 0; i < 256; i++)
		results[i] = INT32_MIN;
	for (unsigned i = 0; i < 128; i++) {
		t_fill(r.map + i * CHUNK, CHUNK, i, 0);
		memset(r.map + (2u << 20) + i * CHUNK, 0, CHUNK);
	}
	/* interleaved: write i, then (for i >= 1) read i - 1 back */
	for (unsigned i = 0; i < 128; i++) {
		push(&r, 2 * i, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE,
		     i * CHUNK, CHUNK, (16u << 20) + i * CHUNK);
		push(&r, 2 * i + 1, IORING_UNIFIED_OP_NVME,
		     (2u << 20) + i * CHUNK, CHUNK, (16u << 20) + i * CHUNK);
	}
	ret = submit_batch(&r, 256);
	if (ret != 256)
		t_fail("batch of 256 consumed %d", ret);
	if (r.sq->head != 256)
		t_fail("sq head %u after the batch", r.sq->head);
	if (reap(&r, results, 256) != 256)
		t_fail("not 256 results");
	for (unsigned i = 0; i < 256; i++)
		if (results[i] != (int)CHUNK)
			t_fail("descriptor %u: %d", i, results[i]);
	for (unsigned i = 0; i < 128; i++)
		if (t_verify(r.map + (2u << 20) + i * CHUNK, CHUNK, i, 0) >= 0)
			t_fail("chunk %u read back differs", i);
	teardown(&r);
	printf("batch: 256 descriptors (128 writes, 128 reads) in one SQE, every result and byte checked\n");
}

/* a completion ring of 16 against 64 descriptors: consumption stops, resumes */
static void small_cq(void)
{
	struct region r;
	int results[64];
	unsigned total = 0, rounds = 0;
	int ret;

	setup(&r, 64, 16);
	for (int i = 0; i < 64; i++) {
		results[i] = INT32_MIN;
		push(&r, i, IORING_UNIFIED_OP_NVME, i * 4096, 4096, i * 4096);
	}
	while (total < 64) {
		ret = submit_batch(&r, 64);
		if (ret != (total + 16 <= 64 ? 16 : 64 - (int)total))
			t_fail("round %u consumed %d", rounds, ret);
		/* full completion ring: another batch consumes nothing */
		ret = submit_batch(&r, 64);
		if (ret != 0)
			t_fail("batch on a full completion ring consumed %d", ret);
		total += reap(&r, results, 64);
		rounds++;
	}
	for (int i = 0; i < 64; i++)
		if (results[i] != 4096)
			t_fail("descriptor %d: %d", i, results[i]);
	teardown(&r);
	printf("batch: 64 descriptors through a 16-entry completion ring in %u rounds, none lost\n",
	       rounds);
}

static void garbage(void)
{
	struct region r;
	int results[12];
	struct io_unified_desc *d;
	int ret;

	setup(&r, 16, 16);
	for (int i = 0; i < 12; i++)
		results[i] = INT32_MIN;
	push(&r, 0, IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	push(&r, 1, IORING_UNIFIED_OP_NVME, SIZE, 4096, 0);			/* out of the area */
	push(&r, 2, IORING_UNIFIED_OP_NVME, ~0ull, 4096, 0);			/* overflows */
	push(&r, 3, IORING_UNIFIED_OP_NVME, 100, 4096, 0);			/* unaligned */
	push(&r, 4, 0xdead0000, 0, 4096, 0);					/* unknown stages */
	d = push(&r, 5, IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	d->fd = 12345;								/* bad fd */
	d = push(&r, 6, IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	d->__resv2 = 1;								/* reserved */
	push(&r, 7, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_BATCH, 0, 4096, 0); /* nested batch */
	push(&r, 8, IORING_UNIFIED_OP_NET, 0, 4096, 0);				/* network: not in descriptors */
	d = push(&r, 9, IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	d->flags = IORING_UNIFIED_DESC_FIXED_FILE;				/* no file table */
	push(&r, 10, IORING_UNIFIED_OP_NVME, 0, 0, 0);				/* zero length */
	push(&r, 11, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE, 4096, 4096, 4096);
	ret = submit_batch(&r, 16);
	if (ret != 12)
		t_fail("garbage batch consumed %d", ret);
	reap(&r, results, 12);
	static const int want[12] = { 4096, -EFAULT, -EOVERFLOW, -EINVAL, -EINVAL, -EBADF,
				      -EINVAL, -EINVAL, -EINVAL, -EBADF, -EINVAL, 4096 };
	for (int i = 0; i < 12; i++)
		if (results[i] != want[i])
			t_fail("descriptor %d: %d, want %d", i, results[i], want[i]);

	/* a tail more than a ring ahead of the head: nothing consumed */
	__atomic_store_n(&r.sq->tail, r.sq->head + 17, __ATOMIC_RELEASE);
	ret = submit_batch(&r, 16);
	if (ret != -EINVAL || r.sq->head != 12)
		t_fail("corrupt tail: %d, head %u", ret, r.sq->head);
	teardown(&r);
	printf("batch: 10 garbage descriptors failed one by one, the good ones around them ran\n");
}

int main(void)
{
	struct io_uring ring;
	struct io_uring_query_unified q = { 0 };
	int ret;

	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) ||
	    !(q.op_flags & IORING_UNIFIED_OP_BATCH))
		t_skip("no batch mode in this kernel");
	blk = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	if (blk < 0)
		t_fail("open: %s", strerror(errno));
	mixed_256();
	small_cq();
	garbage();

	/* bad batch SQEs */
	t_ring_init(&ring, 4, 0, 0);
	t_prep_unified(t_get_sqe(&ring), -1, IORING_UNIFIED_OP_BATCH, 0, 8, 0);
	ret = t_submit_one(&ring);
	if (ret != -ENXIO)
		t_fail("batch without a region: %d", ret);
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
