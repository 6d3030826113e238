/* SPDX-License-Identifier: MIT */
/*
 * IORING_OP_UNIFIED batch mode: one SQE consumes descriptors from the
 * region's submission ring and posts one result per descriptor into its
 * completion ring. 256 descriptors mixing writes and reads, checked per
 * user_data, the reads after IORING_UNIFIED_DESC_DRAIN; a completion ring
 * smaller than the batch stops consumption and nothing is lost; garbage
 * descriptors in the middle fail one by one; a corrupt tail consumes
 * nothing. Descriptors run concurrently and no lock is held across their
 * I/O: a batch of 16 finishes while one of 16,384 is still running, and ring
 * exit and unregistration with a full ring of I/O in flight return within
 * the bounds below.
 */
#include <fcntl.h>
#include <sys/wait.h>
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
	/* 128 writes, concurrent; then, after all of them (drain), 128 reads */
	for (unsigned i = 0; i < 128; i++)
		push(&r, 2 * i, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE,
		     i * CHUNK, CHUNK, (16u << 20) + i * CHUNK);
	for (unsigned i = 0; i < 128; i++) {
		struct io_unified_desc *d = push(&r, 2 * i + 1, IORING_UNIFIED_OP_NVME,
						 (2u << 20) + i * CHUNK, CHUNK,
						 (16u << 20) + i * CHUNK);

		if (!i)
			d->flags = IORING_UNIFIED_DESC_DRAIN;
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
	printf("batch: 256 descriptors (128 writes, then 128 reads after a drain) in one SQE, "
	       "every result and byte checked\n");
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

#define BIG 16384u		/* descriptors of a full ring of slow I/O */
#define BIG_LEN (256u << 10)	/* each a 256 KiB read of the disk */

/* a region whose submission ring holds BIG reads of BIG_LEN into its start */
static void setup_big(struct region *r)
{
	setup(r, BIG, BIG);
	for (unsigned i = 0; i < BIG; i++)
		push(r, i, IORING_UNIFIED_OP_NVME, 0, BIG_LEN, (uint64_t)(i % 64) * BIG_LEN);
}

static void submit_batch_async(struct region *r, uint64_t user_data, unsigned max)
{
	struct io_uring_sqe *sqe = t_get_sqe(&r->ring);

	t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BATCH, 0, max, 0);
	sqe->user_data = user_data;
	if (io_uring_submit(&r->ring) != 1)
		t_fail("submit");
}

/*
 * Two batches at once: one of BIG descriptors, then one of 16 on the same
 * region. The small one completes first: nothing serialises batches.
 */
static void concurrent(void)
{
	struct region r;
	struct io_uring_cqe *cqe;
	double t0 = t_now(), t_small = 0, t_big = 0;

	setup_big(&r);
	submit_batch_async(&r, 1, BIG - 16);
	usleep(20000);
	submit_batch_async(&r, 2, 16);
	for (int n = 0; n < 2; n++) {
		if (io_uring_wait_cqe(&r.ring, &cqe))
			t_fail("wait");
		if (cqe->user_data == 2) {
			if (t_big)
				t_fail("the batch of 16 completed after the batch of %u", BIG - 16);
			if (cqe->res != 16)
				t_fail("batch of 16 consumed %d", cqe->res);
			t_small = t_now() - t0;
		} else {
			if (cqe->res <= 0)
				t_fail("big batch: %d", cqe->res);
			t_big = t_now() - t0;
		}
		io_uring_cqe_seen(&r.ring, cqe);
	}
	teardown(&r);
	printf("batch: a batch of 16 done after %.2f s while one of %u ran (done after %.2f s)\n",
	       t_small, BIG - 16, t_big);
}

/*
 * Unregistration, and then the exit of the task (which waits for its
 * requests), with a full ring of slow I/O in flight return within their
 * bounds: a batch stops between chunks when io-wq cancels it, and no lock
 * waits for its I/O. The task is a child, so its exit can be timed.
 */
static void exit_in_flight(void)
{
	const double exit_bound = 5.0, unregister_bound = 0.5;
	double t0, t_exit;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd))
		t_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (pid == 0) {
		struct region r;
		double t_unreg;
		int ret;

		setup_big(&r);
		submit_batch_async(&r, 1, BIG);
		usleep(50000);
		t0 = t_now();
		ret = t_region_unregister(&r.ring);
		t_unreg = t_now() - t0;
		if (ret || t_unreg > unregister_bound)
			t_fail("unregister with a batch in flight: %d after %.2f s (bound %.1f s)",
			       ret, t_unreg, unregister_bound);
		printf("batch: with %u reads of %u KiB queued, unregister returned in %.3f s "
		       "(bound %.1f s)\n", BIG, BIG_LEN >> 10, t_unreg, unregister_bound);
		fflush(stdout);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		_exit(0);	/* with the ring and its batch still running */
	}
	if (read(pfd[0], &status, 1) != 1)
		t_fail("the child failed before its exit");
	t0 = t_now();
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		t_fail("child: status %#x", status);
	t_exit = t_now() - t0;
	if (t_exit > exit_bound)
		t_fail("task exit with %u descriptors of I/O queued took %.2f s (bound %.1f s)",
		       BIG, t_exit, exit_bound);
	close(pfd[0]);
	close(pfd[1]);
	printf("batch: the task exited with them in flight in %.2f s (bound %.1f s)\n", t_exit,
	       exit_bound);
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
	concurrent();
	exit_in_flight();

	/* bad batch SQEs */
	t_ring_init(&ring, 4, 0, 0);
	t_prep_unified(t_get_sqe(&ring), -1, IORING_UNIFIED_OP_BATCH, 0, 8, 0);
	ret = t_submit_one(&ring);
	if (ret != -ENXIO)
		t_fail("batch without a region: %d", ret);
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
