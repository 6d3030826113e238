/* SPDX-License-Identifier: MIT */
/*
 * The region's hardware binding on netdevsim loses its device while a stream
 * is running and userspace holds received buffers, in turn:
 *  - the device is deleted: the binding says IORING_UNIFIED_NET_F_DEV_GONE, the
 *    held fragments keep their bytes, a receive ends with -ENODEV, the region
 *    unregisters;
 *  - the receiving namespace is dismantled (netdevsim's port goes with it):
 *    the same flag, then ring exit with the buffers still held;
 *  - the ring exits with the binding up and buffers held, then the devices
 *    go.
 * 30 rounds, 10 of each (UIO_SOAK multiplies them); afterwards every
 * RLIMIT_MEMLOCK page is back, and the VM runner fails on any splat or
 * kmemleak report.
 */
#include <sys/resource.h>
#include "net_test.h"
#include "nsim_pair.h"

#define AREA (1u << 20)
#define HOLD 32u
#define LIMIT (16u << 20)
#define NSIM_ID 20
#define UD_RECV 1
#define UD_RECV_AGAIN 2
#define UD_CANCEL 3

/* a sender that stops quietly when the wire goes away under it */
struct feeder {
	pthread_t thread;
	int fd;
	uint64_t seed, sent;
};

static void *feeder_main(void *arg)
{
	struct feeder *f = arg;
	static uint8_t buf[64 * 1024];
	ssize_t n;

	for (;;) {
		t_fill(buf, sizeof(buf), f->seed, f->sent);
		n = send(f->fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (n <= 0)
			return NULL;
		f->sent += (uint64_t)n;
	}
}

/* fragments userspace holds: region offset, length, stream position */
struct held {
	uint64_t off[HOLD], pos[HOLD];
	uint32_t len[HOLD];
	unsigned n, first;
};

struct round {
	struct io_uring ring;
	struct t_net_region r;
	struct t_nsim_pair pair;
	struct feeder feeder;
	struct held held;
	uint64_t got;
	int wfd, rfd;
};

static int region_register_once(void *arg)
{
	struct round *rd = arg;

	t_net_region_defaults(&rd->r, 2 * AREA, AREA, 256);
	rd->r.reg.flags &= ~IORING_UNIFIED_REG_NET_NODEV;
	rd->r.reg.net_ifindex = rd->pair.if_b;
	return t_net_region_register(&rd->ring, &rd->r);
}

/* keeps the fragment; once HOLD are kept, the oldest goes back */
static void hold(struct round *rd, uint64_t off, uint32_t len)
{
	struct held *h = &rd->held;
	unsigned slot;

	if (h->n == HOLD) {
		t_refill(&rd->r, h->off[h->first], h->len[h->first]);
		h->first = (h->first + 1) % HOLD;
		h->n--;
	}
	slot = (h->first + h->n++) % HOLD;
	h->off[slot] = off;
	h->len[slot] = len;
	h->pos[slot] = rd->got;
}

static void check_held(struct round *rd, unsigned i, const char *when)
{
	struct held *h = &rd->held;

	for (unsigned k = 0; k < h->n; k++) {
		unsigned s = (h->first + k) % HOLD;

		if (t_verify(rd->r.map + h->off[s], h->len[s], rd->feeder.seed, h->pos[s]) >= 0)
			t_fail("round %u: a held fragment changed %s", i, when);
	}
}

/*
 * Handles the CQEs there are (waiting for at least @wait); returns the res of
 * the final CQE of receive @ud, 1 while it is still armed.
 */
static int reap(struct round *rd, unsigned i, unsigned wait, uint64_t ud)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int end = 1;

	if (io_uring_submit_and_wait(&rd->ring, wait) < 0)
		t_fail("round %u: submit_and_wait", i);
	io_uring_for_each_cqe(&rd->ring, head, cqe) {
		seen++;
		if (cqe->user_data == UD_CANCEL)
			continue;
		if (cqe->flags & IORING_CQE_F_MORE) {
			uint64_t off = cqe->big_cqe[0];
			uint32_t len = (uint32_t)cqe->res;

			if (off + len > AREA ||
			    t_verify(rd->r.map + off, len, rd->feeder.seed, rd->got) >= 0)
				t_fail("round %u: byte near %llu of the stream is wrong", i,
				       (unsigned long long)rd->got);
			hold(rd, off, len);
			rd->got += len;
		} else if (cqe->user_data == ud) {
			end = cqe->res;
		}
	}
	io_uring_cq_advance(&rd->ring, seen);
	return end;
}

/* receives until @min bytes have come, the receive left armed */
static void receive_some(struct round *rd, unsigned i, uint64_t min)
{
	t_prep_net_recv(&rd->ring, rd->rfd, UD_RECV);
	while (rd->got < min) {
		int res = reap(rd, i, 1, UD_RECV);

		if (res == -ENOSPC || res == -ENOMEM)
			t_prep_net_recv(&rd->ring, rd->rfd, UD_RECV);
		else if (res != 1)
			t_fail("round %u: receive ended with %d", i, res);
	}
}

/* cancels the armed receive and waits for its end */
static void cancel_receive(struct round *rd, unsigned i)
{
	struct io_uring_sqe *sqe = t_get_sqe(&rd->ring);
	int res;

	io_uring_prep_cancel64(sqe, UD_RECV, 0);
	sqe->user_data = UD_CANCEL;
	do
		res = reap(rd, i, 1, UD_RECV);
	while (res == 1);
	/* it may have stopped on its own first (CQ full, buffers held) */
	if (res != -ECANCELED && res != -ENODEV && res != -ENOSPC && res != -ENOMEM)
		t_fail("round %u: the cancelled receive ended with %d", i, res);
}

static void stop_feeder(struct round *rd)
{
	shutdown(rd->wfd, SHUT_RDWR);
	pthread_join(rd->feeder.thread, NULL);
	close(rd->wfd);
}

/*
 * Closes the receiving socket with a reset. A plain close() can leave an
 * orphan waiting on its peer, whose out-of-order queue keeps device buffers,
 * and so the region's pages and charge, until TCP gives up on it.
 */
static void close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

static void wait_dev_gone(struct round *rd, unsigned i, const char *what)
{
	double until = t_now() + 30;

	while (!(__atomic_load_n(&rd->r.stats->flags, __ATOMIC_ACQUIRE) &
		 IORING_UNIFIED_NET_F_DEV_GONE)) {
		if (t_now() > until)
			t_fail("round %u: %s, but the binding does not say the device is gone", i,
			       what);
		usleep(10000);
	}
}

static void device_deleted(struct round *rd, unsigned i)
{
	int ret = t_nsim_del(rd->pair.id_b);

	if (ret)
		t_fail("round %u: deleting the receiving device: %s", i, strerror(-ret));
	wait_dev_gone(rd, i, "the device was deleted");
	check_held(rd, i, "when the device went");
	stop_feeder(rd);
	cancel_receive(rd, i);
	/* a new receive gets what the socket still holds, then -ENODEV */
	t_prep_net_recv(&rd->ring, rd->rfd, UD_RECV_AGAIN);
	for (;;) {
		int res = reap(rd, i, 1, UD_RECV_AGAIN);

		if (res == -ENODEV)
			break;
		if (res == -ENOSPC)	/* the CQ filled up with what was queued */
			t_prep_net_recv(&rd->ring, rd->rfd, UD_RECV_AGAIN);
		else if (res != 1)
			t_fail("round %u: a receive after the device went ended with %d", i, res);
	}
	/* held buffers still go back, and the region unregisters */
	while (rd->held.n) {
		t_refill(&rd->r, rd->held.off[rd->held.first], rd->held.len[rd->held.first]);
		rd->held.first = (rd->held.first + 1) % HOLD;
		rd->held.n--;
	}
	if (t_region_unregister(&rd->ring))
		t_fail("round %u: unregister after the device went", i);
	close_reset(rd->rfd);
	io_uring_queue_exit(&rd->ring);
}

static void namespace_removed(struct round *rd, unsigned i)
{
	stop_feeder(rd);
	cancel_receive(rd, i);
	close_reset(rd->rfd);
	/* the last reference to B's namespace: it is dismantled, its port too */
	t_netns_enter(rd->pair.ns_init);
	close(rd->pair.ns_b);
	rd->pair.ns_b = -1;
	wait_dev_gone(rd, i, "the namespace was removed");
	check_held(rd, i, "when the namespace went");
	io_uring_queue_exit(&rd->ring);		/* buffers held, region registered */
}

static void ring_exit(struct round *rd, unsigned i)
{
	(void)i;
	io_uring_queue_exit(&rd->ring);		/* receive armed, buffers held */
	stop_feeder(rd);
	close_reset(rd->rfd);
}

static void one_round(unsigned i)
{
	static void (*const teardown[])(struct round *, unsigned) = {
		device_deleted, namespace_removed, ring_exit,
	};
	struct round rd;
	const char *err;
	int ret;

	memset(&rd, 0, sizeof(rd));
	ret = t_nsim_pair_create(&rd.pair, NSIM_ID, 1, &err);
	if (ret)
		t_fail("round %u: %s: %s", i, err, strerror(-ret));
	t_net_ring(&rd.ring);
	ret = t_register_queue(region_register_once, &rd);
	if (ret)
		t_fail("round %u: hardware binding: %d", i, ret);
	ret = t_nsim_pair_connect(&rd.pair, &rd.wfd, &rd.rfd, &err);
	if (ret)
		t_fail("round %u: %s: %s", i, err, strerror(-ret));
	rd.feeder.fd = rd.wfd;
	rd.feeder.seed = 100 + i;
	if (pthread_create(&rd.feeder.thread, NULL, feeder_main, &rd.feeder))
		t_fail("pthread_create");
	receive_some(&rd, i, 2 * AREA);
	teardown[i % 3](&rd, i);
	/* the mapping outlives the binding, the region and the ring */
	t_net_region_unmap(&rd.r);
	t_nsim_pair_destroy(&rd.pair);
}

int main(void)
{
	struct rlimit rl = { LIMIT, LIMIT };
	const char *s = getenv("UIO_SOAK");
	unsigned rounds = 30, before, after, i;	/* 100 took 58 s under TCG */
	struct io_uring probe;
	uint8_t *scratch;
	double t0, t1;

	if (s && atoi(s) > 0)
		rounds *= (unsigned)atoi(s);
	scratch = mmap(NULL, LIMIT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	if (scratch == MAP_FAILED || setrlimit(RLIMIT_MEMLOCK, &rl))
		t_fail("setup: %s", strerror(errno));
	/* charges count against RLIMIT_MEMLOCK only without CAP_IPC_LOCK */
	t_drop_cap(CAP_IPC_LOCK);
	t_ring_init(&probe, 8, 0, 0);
	before = t_memlock_headroom(&probe, scratch, LIMIT / T_PAGE);

	t0 = t_now();
	for (i = 0; i < rounds; i++)
		one_round(i);
	/* a page pool that still had buffers in flight lets the region go
	 * from its once-a-second release retry: wait for the charge up to 30 s */
	t1 = t_now();
	while ((after = t_memlock_headroom(&probe, scratch, LIMIT / T_PAGE)) != before &&
	       t_now() < t1 + 30)
		usleep(100000);
	if (after != before)
		t_fail("%d RLIMIT_MEMLOCK pages not returned 30 s after %u rounds",
		       (int)(before - after), rounds);
	printf("%u rounds of device deletion, namespace removal and ring exit under a running "
	       "stream with %u buffers held, in %.1f s; every charged page back %.1f s later\n",
	       rounds, HOLD, t1 - t0, t_now() - t1);
	return T_EXIT_PASS;
}
