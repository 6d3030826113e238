/* SPDX-License-Identifier: MIT */
/*
 * The network stage on a device-less binding (the kernel copies from the
 * socket into the region's own pages; no second pin, no second charge):
 *  - a 64 MiB patterned TCP stream over IPv4 loopback, and a 32 MiB one over
 *    IPv6, into a 1 MiB network area, so every buffer goes round the refill
 *    ring many times; every byte checked in order, every offset inside the
 *    area, the copy counters equal to the bytes;
 *  - the same with a CQ of 8 entries: receives stop with -ENOSPC, nothing is
 *    lost, re-arming resumes the stream;
 *  - receive, then a zero-copy send of the same region offsets to a second
 *    socket, whose reader checks the bytes.
 * UIO_SOAK multiplies the stream lengths.
 */
#include "net_test.h"

static unsigned soak = 1;

static void setup(struct io_uring *ring, struct t_net_region *r, unsigned cq_entries)
{
	int ret = t_net_ring_init(ring, cq_entries ? cq_entries : 64, cq_entries);

	if (ret)
		t_fail("ring: %d", ret);
	ret = io_uring_register_buffers_sparse(ring, 1);
	if (ret)
		t_fail("register_buffers_sparse: %d", ret);
	t_net_region_defaults(r, 2u << 20, 1u << 20, 256);
	ret = t_net_region_register(ring, r);
	if (ret)
		t_fail("register a region with a device-less binding: %d", ret);
}

static void teardown(struct io_uring *ring, struct t_net_region *r)
{
	t_net_region_unmap(r);
	if (t_region_unregister(ring))
		t_fail("unregister");
	io_uring_queue_exit(ring);
}

/* a stream over loopback of @family: IPv4 64 MiB, IPv6 32 MiB (x UIO_SOAK) */
static void test_stream(int family)
{
	const uint64_t total = (family == AF_INET6 ? 32ull << 20 : 64ull << 20) * soak;
	struct t_net_region r;
	struct io_uring ring;
	struct t_recv_result res;
	struct t_sender tx;
	int wfd, rfd;
	double t0;

	setup(&ring, &r, 0);
	t_tcp_pair_family(family, &wfd, &rfd);
	t0 = t_now();
	t_sender_start(&tx, wfd, 7, total);
	res = t_recv_stream(&ring, &r, rfd, 7, NULL, NULL);
	t_sender_join(&tx);
	if (res.bytes != total)
		t_fail("received %llu of %llu bytes", (unsigned long long)res.bytes,
		       (unsigned long long)total);
	if (r.stats->copy_bytes != total)
		t_fail("copy counter %llu, expected %llu", (unsigned long long)r.stats->copy_bytes,
		       (unsigned long long)total);
	if (r.stats->refill_rejected)
		t_fail("%llu refill entries rejected", (unsigned long long)r.stats->refill_rejected);
	printf("stream over %s: %llu MiB through a 1 MiB area in %llu fragments (%.1f laps of "
	       "the area), every byte checked, %.1f s\n", family == AF_INET6 ? "IPv6" : "IPv4",
	       (unsigned long long)(total >> 20),
	       (unsigned long long)res.fragments, (double)total / (1 << 20), t_now() - t0);
	close(rfd);
	teardown(&ring, &r);
}

static void test_small_cq(void)
{
	const uint64_t total = (8ull << 20) * soak;
	struct t_net_region r;
	struct io_uring ring;
	struct t_recv_result res;
	struct t_sender tx;
	int wfd, rfd;

	setup(&ring, &r, 8);
	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 11, total);
	res = t_recv_stream(&ring, &r, rfd, 11, NULL, NULL);
	t_sender_join(&tx);
	if (res.bytes != total)
		t_fail("received %llu of %llu bytes", (unsigned long long)res.bytes,
		       (unsigned long long)total);
	if (!res.stops_nospc)
		t_fail("a CQ of 8 never filled up: the test proves nothing");
	printf("small CQ: %llu MiB in %llu fragments, %llu stops with -ENOSPC, each re-armed, "
	       "nothing lost\n", (unsigned long long)(total >> 20),
	       (unsigned long long)res.fragments, (unsigned long long)res.stops_nospc);
	close(rfd);
	teardown(&ring, &r);
}

/* reads the echoed stream and checks it */
struct peer {
	pthread_t thread;
	int fd;
	uint64_t seed, expect, got;
};

static void *peer_main(void *arg)
{
	struct peer *p = arg;
	uint8_t buf[65536];

	while (p->got < p->expect) {
		ssize_t n = read(p->fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		if (t_verify(buf, (size_t)n, p->seed, p->got) >= 0)
			t_fail("echoed byte near %llu is wrong", (unsigned long long)p->got);
		p->got += (uint64_t)n;
	}
	return NULL;
}

enum { UD_RECV = 1, UD_SEND = 2 };

/*
 * Each fragment is sent on from the region as it is, then handed back once
 * the send's notification says the stack is done with its pages.
 */
static void test_echo(void)
{
	const uint64_t total = (8ull << 20) * soak;
	struct t_net_region r;
	struct io_uring ring;
	struct t_sender tx;
	struct peer peer = { .seed = 13, .expect = total };
	uint64_t received = 0, sent = 0, notifs = 0, sends = 0;
	int wfd, rfd, efd, armed = 0, eof = 0;

	setup(&ring, &r, 0);
	t_tcp_pair(&wfd, &rfd);
	t_tcp_pair(&efd, &peer.fd);
	if (pthread_create(&peer.thread, NULL, peer_main, &peer))
		t_fail("pthread_create");
	t_sender_start(&tx, wfd, 13, total);

	while (!eof || notifs < sends) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (!armed && !eof) {
			t_prep_net_recv(&ring, rfd, UD_RECV);
			armed = 1;
		}
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			t_fail("submit_and_wait");
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			if (cqe->user_data >= UD_SEND << 24) {
				uint64_t off = (cqe->user_data & 0xffffff) * T_PAGE;

				if (cqe->flags & IORING_CQE_F_NOTIF) {
					/* the stack let go of the page: hand it back */
					t_refill(&r, off, T_PAGE);
					notifs++;
				} else if (cqe->res < 0) {
					t_fail("zero-copy send from region offset %llu: %d",
					       (unsigned long long)off, cqe->res);
				} else {
					sent += (uint64_t)cqe->res;
					if (!(cqe->flags & IORING_CQE_F_MORE))
						t_fail("a send without its notification");
					if (cqe->big_cqe[0] != off ||
					    cqe->big_cqe[1] != (IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE))
						t_fail("send CQE32 fields %llu %llu",
						       (unsigned long long)cqe->big_cqe[0],
						       (unsigned long long)cqe->big_cqe[1]);
				}
				continue;
			}
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = cqe->big_cqe[0];
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

				if (!sqe) {	/* the SQ is full: submit what is there */
					io_uring_submit(&ring);
					sqe = io_uring_get_sqe(&ring);
				}

				if (t_verify(r.map + off, (size_t)cqe->res, 13, received) >= 0)
					t_fail("received byte near %llu is wrong",
					       (unsigned long long)received);
				received += (uint64_t)cqe->res;
				if (!sqe)
					t_fail("SQ full");
				t_prep_unified(sqe, efd, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE,
					       off, (uint32_t)cqe->res, 0);
				/* copy mode: each fragment starts a page of its own */
				sqe->user_data = ((uint64_t)UD_SEND << 24) | (off / T_PAGE);
				sends++;
				continue;
			}
			/* -ENOSPC: CQ full; -ENOMEM: every page awaits its notification */
			armed = 0;
			if (cqe->res == 0)
				eof = 1;
			else if (cqe->res != -ENOSPC && cqe->res != -ENOMEM)
				t_fail("receive ended with %d", cqe->res);
		}
		io_uring_cq_advance(&ring, seen);
		io_uring_submit(&ring);
	}
	t_sender_join(&tx);
	close(efd);
	pthread_join(peer.thread, NULL);
	if (received != total || sent != total || peer.got != total)
		t_fail("received %llu, sent %llu, peer got %llu of %llu",
		       (unsigned long long)received, (unsigned long long)sent,
		       (unsigned long long)peer.got, (unsigned long long)total);
	printf("echo: %llu MiB received into the region and sent on from the same offsets "
	       "with zero-copy sends (%llu sends, %llu notifications); the peer checked every byte\n",
	       (unsigned long long)(total >> 20), (unsigned long long)sends,
	       (unsigned long long)notifs);
	close(rfd);
	close(peer.fd);
	teardown(&ring, &r);
}

int main(void)
{
	const char *s = getenv("UIO_SOAK");
	struct io_uring_query_unified q = { 0 };

	if (s && atoi(s) > 0)
		soak = (unsigned)atoi(s);
	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) < 0 ||
	    !(q.register_flags & IORING_UNIFIED_REG_NET_NODEV))
		t_fail("the patched kernel must offer device-less network binding");
	test_stream(AF_INET);
	test_stream(AF_INET6);
	test_small_cq();
	test_echo();
	return T_EXIT_PASS;
}
