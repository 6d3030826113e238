/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: two threads on separate rings and regions sharing nothing,
 * then one ring and region fed by several threads under a mutex; 2,500 ops
 * per thread (UIO_SOAK=N multiplies: 4 gives the 10,000 of earlier runs), alternating writes and reads of each
 * thread's own spans and device areas, data verified at the end.
 */
#include <fcntl.h>
#include <pthread.h>
#include "uio_test.h"

#define SIZE (1u << 20)
#define SPAN 4096u
#define SLOTS 16u	/* spans per thread */

static unsigned nr_ops = 2500;	/* 8 s of TCG in all; 10,000 took 33 s */

struct shared {
	struct io_uring ring;
	uint8_t *map;
	pthread_mutex_t lock;
};

struct worker {
	pthread_t thread;
	unsigned id;
	struct shared *shared;	/* NULL: own ring and region */
	int fd;
	const char *error;
};

static uint8_t *setup_region(struct io_uring *ring)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;

	t_ring_init(ring, 8, 0, 0);
	t_region_defaults(&reg, &rd, SIZE, 0);
	reg.flags = 0;
	if (t_region_register(ring, &reg))
		t_fail("register");
	return t_region_map(ring, &reg, &rd);
}

static int one_op(struct io_uring *ring, int fd, uint32_t stages, uint64_t off, uint64_t dev_off)
{
	struct io_uring_sqe *sqe = t_get_sqe(ring);

	t_prep_unified(sqe, fd, stages, off, SPAN, dev_off);
	return t_submit_one(ring);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct io_uring own;
	struct io_uring *ring = w->shared ? &w->shared->ring : &own;
	uint8_t *map = w->shared ? w->shared->map : setup_region(&own);
	uint64_t base = (uint64_t)w->id * SLOTS * SPAN;		/* region and device */

	for (unsigned i = 0; i < nr_ops; i++) {
		unsigned slot = (i / 2) % SLOTS;
		uint64_t off = base + slot * SPAN, dev_off = (32u << 20) + off;
		bool write = !(i % 2);
		int ret;

		if (write)
			t_fill(map + off, SPAN, w->id * 1000003 + i, 0);
		else
			memset(map + off, 0, SPAN);
		if (w->shared)
			pthread_mutex_lock(&w->shared->lock);
		ret = one_op(ring, w->fd, IORING_UNIFIED_OP_NVME |
			     (write ? IORING_UNIFIED_OP_WRITE : 0), off, dev_off);
		if (w->shared)
			pthread_mutex_unlock(&w->shared->lock);
		if (ret != (int)SPAN) {
			w->error = "op failed";
			return NULL;
		}
		/* a read returns what this thread's previous op wrote */
		if (!write && t_verify(map + off, SPAN, w->id * 1000003 + i - 1, 0) >= 0) {
			w->error = "read back differs";
			return NULL;
		}
	}
	if (!w->shared)
		io_uring_queue_exit(&own);
	return NULL;
}

static void run(unsigned nr_threads, struct shared *shared, const char *what)
{
	struct worker w[4];

	for (unsigned i = 0; i < nr_threads; i++) {
		w[i] = (struct worker){ .id = i, .shared = shared,
					.fd = open("/dev/nvme0n1", O_RDWR | O_DIRECT) };
		if (w[i].fd < 0 || pthread_create(&w[i].thread, NULL, work, &w[i]))
			t_fail("thread %u", i);
	}
	for (unsigned i = 0; i < nr_threads; i++) {
		pthread_join(w[i].thread, NULL);
		if (w[i].error)
			t_fail("%s, thread %u: %s", what, i, w[i].error);
		close(w[i].fd);
	}
	printf("%s: %u threads x %u ops, every read verified\n", what, nr_threads, nr_ops);
}

int main(void)
{
	const char *soak = getenv("UIO_SOAK");
	struct io_uring_query_unified q = { 0 };
	struct shared shared;

	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) ||
	    !(q.op_flags & IORING_UNIFIED_OP_NVME))
		t_skip("no storage stage in this kernel");
	if (soak && atoi(soak) > 1)
		nr_ops *= (unsigned)atoi(soak);

	run(2, NULL, "separate rings");

	shared.map = setup_region(&shared.ring);
	pthread_mutex_init(&shared.lock, NULL);
	run(3, &shared, "one shared ring");
	io_uring_queue_exit(&shared.ring);
	return T_EXIT_PASS;
}
