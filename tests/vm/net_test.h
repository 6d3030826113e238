/* SPDX-License-Identifier: MIT */
/*
 * Helpers for the network-stage tests: a TCP pair over loopback, a ring as
 * zcrx requires it, a region with a network binding, the refill ring, and a
 * receive loop that checks every byte of a patterned stream.
 */
#ifndef UIO_NET_TEST_H
#define UIO_NET_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <linux/io_uring/zcrx.h>
#include "uio_test.h"

#define T_PAGE 4096u

/* a connected TCP pair on loopback of @family (127.0.0.1 or ::1): @tx writes, @rx reads */
static inline void t_tcp_pair_family(int family, int *tx, int *rx)
{
	struct sockaddr_storage addr = { .ss_family = (sa_family_t)family };
	socklen_t len = family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
	int lfd = socket(family, SOCK_STREAM, 0);

	if (family == AF_INET6)
		((struct sockaddr_in6 *)&addr)->sin6_addr = in6addr_loopback;
	else
		((struct sockaddr_in *)&addr)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, len) ||
	    listen(lfd, 1) || getsockname(lfd, (struct sockaddr *)&addr, &len))
		t_fail("listen on loopback (%s): %s", family == AF_INET6 ? "IPv6" : "IPv4",
		       strerror(errno));
	*tx = socket(family, SOCK_STREAM, 0);
	if (*tx < 0 || connect(*tx, (struct sockaddr *)&addr, len))
		t_fail("connect: %s", strerror(errno));
	*rx = accept(lfd, NULL, NULL);
	if (*rx < 0)
		t_fail("accept: %s", strerror(errno));
	close(lfd);
}

static inline void t_tcp_pair(int *tx, int *rx)
{
	t_tcp_pair_family(AF_INET, tx, rx);
}

/* what zcrx asks of a ring: completions by the task, 32-byte CQEs */
static inline int t_net_ring_init(struct io_uring *ring, unsigned entries, unsigned cq_entries)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_CQE32,
	};

	if (cq_entries) {
		p.flags |= IORING_SETUP_CQSIZE;
		p.cq_entries = cq_entries;
	}
	return io_uring_queue_init_params(entries, ring, &p);
}

/* a zcrx-ready ring with the one-slot buffer table the region's data area goes in */
static inline void t_net_ring(struct io_uring *ring)
{
	if (t_net_ring_init(ring, 64, 0) || io_uring_register_buffers_sparse(ring, 1))
		t_fail("a ring with DEFER_TASKRUN, CQE32 and a buffer table");
}

struct t_net_region {
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	uint8_t *map;
	uint32_t *rq_head, *rq_tail;
	struct io_uring_zcrx_rqe *rqes;
	uint32_t rq_mask;
	struct io_unified_net_stats *stats;
};

/* a region of @data_size bytes whose first @net_len bytes receive (device-less) */
static inline void t_net_region_defaults(struct t_net_region *r, uint64_t data_size,
					 uint64_t net_len, unsigned rq_entries)
{
	t_region_defaults(&r->reg, &r->rd, data_size, 0);
	r->reg.flags |= IORING_UNIFIED_REG_NET_NODEV;
	r->reg.net_area_len = net_len;
	r->reg.rq_entries = rq_entries;
}

static inline int t_net_region_register(struct io_uring *ring, struct t_net_region *r)
{
	int ret = t_region_register(ring, &r->reg);

	if (ret)
		return ret;
	r->map = t_region_map(ring, &r->reg, &r->rd);
	r->rq_head = (uint32_t *)(r->map + r->reg.offsets.rq_ring + r->reg.rq_head);
	r->rq_tail = (uint32_t *)(r->map + r->reg.offsets.rq_ring + r->reg.rq_tail);
	r->rqes = (struct io_uring_zcrx_rqe *)(r->map + r->reg.offsets.rqes);
	r->rq_mask = r->reg.rq_entries - 1;
	r->stats = (struct io_unified_net_stats *)(r->map + r->reg.net_stats);
	return 0;
}

static inline void t_net_region_unmap(struct t_net_region *r)
{
	munmap(r->map, r->reg.offsets.size);
	r->map = NULL;
}

/* hands the buffer at region offset @off back to the kernel */
static inline void t_refill(struct t_net_region *r, uint64_t off, uint32_t len)
{
	uint32_t tail = *r->rq_tail;
	struct io_uring_zcrx_rqe *rqe = &r->rqes[tail & r->rq_mask];

	rqe->off = off;
	rqe->len = len;
	rqe->__pad = 0;
	/* the entry is written before the kernel can see it */
	__atomic_store_n(r->rq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* arms a multishot network receive of IORING_OP_UNIFIED on @fd */
static inline void t_prep_net_recv(struct io_uring *ring, int fd, uint64_t user_data)
{
	struct io_uring_sqe *sqe = t_get_sqe(ring);

	t_prep_unified(sqe, fd, IORING_UNIFIED_OP_NET, 0, 0, 0);
	sqe->user_data = user_data;
}

/*
 * Ring exit lets a hardware queue go from a workqueue, a moment after
 * close(): the next registration on that queue can still find it bound
 * (-EEXIST). Retries @reg(@arg) on -EEXIST for up to 10 s.
 */
static inline int t_register_queue(int (*reg)(void *arg), void *arg)
{
	double until = t_now() + 10;
	int ret;

	while ((ret = reg(arg)) == -EEXIST && t_now() < until)
		usleep(10000);
	return ret;
}

/* a writer thread: @len bytes of pattern @seed into @fd, then close it */
struct t_sender {
	pthread_t thread;
	int fd;
	uint64_t seed, len;
	size_t chunk;
};

static void *t_sender_main(void *arg)
{
	struct t_sender *s = arg;
	uint8_t *buf = malloc(s->chunk);
	uint64_t off = 0;

	while (off < s->len) {
		size_t n = s->len - off < s->chunk ? s->len - off : s->chunk;
		ssize_t w;

		t_fill(buf, n, s->seed, off);
		w = write(s->fd, buf, n);
		if (w <= 0)
			t_fail("sender: write: %s", strerror(errno));
		off += (uint64_t)w;
	}
	free(buf);
	close(s->fd);
	return NULL;
}

static inline void t_sender_start(struct t_sender *s, int fd, uint64_t seed, uint64_t len)
{
	s->fd = fd;
	s->seed = seed;
	s->len = len;
	s->chunk = 256 * 1024;
	if (pthread_create(&s->thread, NULL, t_sender_main, s))
		t_fail("pthread_create");
}

static inline void t_sender_join(struct t_sender *s)
{
	pthread_join(s->thread, NULL);
}

/* the counters of one receive loop */
struct t_recv_result {
	uint64_t bytes, fragments, rearms, stops_nospc;
};

/*
 * Receives a stream of pattern @seed until EOF on @fd, checking every byte in
 * order and that every fragment lies in the network area; buffers go back
 * through the refill ring once checked. A receive that stops for a full CQ
 * (-ENOSPC) or for want of buffers (-ENOMEM) is re-armed. @on_fragment, if given, sees each fragment first.
 */
static inline struct t_recv_result
t_recv_stream(struct io_uring *ring, struct t_net_region *r, int fd, uint64_t seed,
	      void (*on_fragment)(void *, uint64_t off, uint32_t len), void *arg)
{
	struct t_recv_result res = { 0 };
	uint64_t area = r->reg.net_area_len ? r->reg.net_area_len : r->reg.region_size;
	int armed = 0;

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int done = 0, ret;

		if (!armed) {
			t_prep_net_recv(ring, fd, 1);
			armed = 1;
		}
		ret = io_uring_submit_and_wait(ring, 1);
		if (ret < 0)
			t_fail("submit_and_wait: %d", ret);
		io_uring_for_each_cqe(ring, head, cqe) {
			seen++;
			if (cqe->user_data != 1)
				t_fail("unexpected CQE user_data %llu res %d",
				       (unsigned long long)cqe->user_data, cqe->res);
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = cqe->big_cqe[0];
				uint32_t len = (uint32_t)cqe->res;
				long bad;

				if (cqe->res <= 0 || off >= area || len > area - off)
					t_fail("fragment %llu+%d outside the %llu-byte net area",
					       (unsigned long long)off, cqe->res,
					       (unsigned long long)area);
				bad = t_verify(r->map + off, len, seed, res.bytes);
				if (bad >= 0)
					t_fail("byte %llu of the stream (region offset %llu) is wrong",
					       (unsigned long long)(res.bytes + bad),
					       (unsigned long long)(off + bad));
				if (on_fragment)
					on_fragment(arg, off, len);
				t_refill(r, off, len);
				res.bytes += len;
				res.fragments++;
				continue;
			}
			/* -ENOSPC: the CQ was full; -ENOMEM: every buffer was in flight */
			armed = 0;
			if (cqe->res == -ENOSPC) {
				res.stops_nospc++;
				res.rearms++;
			} else if (cqe->res == -ENOMEM) {
				res.rearms++;
			} else if (cqe->res == 0) {
				done = 1;
			} else {
				t_fail("receive ended with %d after %llu bytes", cqe->res,
				       (unsigned long long)res.bytes);
			}
		}
		io_uring_cq_advance(ring, seen);
		if (done)
			return res;
	}
}

#endif
