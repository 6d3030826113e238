/* SPDX-License-Identifier: MIT */
/*
 * Lifetime of the network binding:
 *  - unregister, or exit the ring, while userspace holds received fragments
 *    and a receive is armed: 250 times (x UIO_SOAK), alternating;
 *  - a receive armed when the region is unregistered ends with -ECANCELED;
 *  - the receiving socket shut down mid-stream ends the receive cleanly;
 *  - upstream interop: IORING_REGISTER_ZCRX_IFQ with its area taken from the
 *    region (IORING_ZCRX_AREA_UNIFIED), received with IORING_OP_RECV_ZC.
 * The VM runner fails the test on any splat or kmemleak report.
 */
#include "net_test.h"

#define SIZE (1u << 20)

static unsigned soak = 1;

/* waits for @n fragments of the armed receive, holding them */
static unsigned wait_fragments(struct io_uring *ring, unsigned n)
{
	unsigned got = 0;

	while (got < n) {
		struct io_uring_cqe *cqe;

		if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_peek_cqe(ring, &cqe))
			t_fail("wait");
		if (!(cqe->flags & IORING_CQE_F_MORE))
			t_fail("receive ended with %d", cqe->res);
		got++;
		io_uring_cqe_seen(ring, cqe);
	}
	return got;
}

static void teardown_with_fragments_held(void)
{
	const unsigned rounds = 250 * soak;	/* 19 s for 1,000 under TCG; UIO_SOAK=4 for those */
	static uint8_t buf[64 * 1024];
	unsigned i;

	for (i = 0; i < rounds; i++) {
		struct t_net_region r;
		struct io_uring ring;
		int wfd, rfd;

		t_net_ring(&ring);
		t_net_region_defaults(&r, SIZE, 0, 64);
		if (t_net_region_register(&ring, &r))
			t_fail("round %u: binding", i);
		t_tcp_pair(&wfd, &rfd);
		if (write(wfd, buf, sizeof(buf)) != sizeof(buf))
			t_fail("write");
		t_prep_net_recv(&ring, rfd, 1);
		wait_fragments(&ring, 2);	/* held: never handed back */
		if (i % 2 == 0 && t_region_unregister(&ring))
			t_fail("round %u: unregister", i);
		io_uring_queue_exit(&ring);	/* with or without the region */
		/* the mapping outlives both */
		if (r.map[0] != buf[0])
			t_fail("round %u: the mapping lost its content", i);
		t_net_region_unmap(&r);
		close(wfd);
		close(rfd);
	}
	printf("teardown: %u rounds of unregister or ring exit with fragments held and a receive "
	       "armed\n", rounds);
}

static void unregister_while_armed(void)
{
	struct t_net_region r;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char byte = 1;
	int wfd, rfd;

	t_net_ring(&ring);
	t_net_region_defaults(&r, SIZE, 0, 64);
	if (t_net_region_register(&ring, &r))
		t_fail("binding");
	t_tcp_pair(&wfd, &rfd);
	t_prep_net_recv(&ring, rfd, 1);
	if (io_uring_submit(&ring) != 1)
		t_fail("submit");
	/* armed, no data yet */
	if (t_region_unregister(&ring))
		t_fail("unregister");
	if (write(wfd, &byte, 1) != 1)
		t_fail("write");
	if (io_uring_wait_cqe(&ring, &cqe))
		t_fail("wait");
	if (cqe->res != -ECANCELED || (cqe->flags & IORING_CQE_F_MORE))
		t_fail("an armed receive after unregistration: res %d flags %#x", cqe->res,
		       cqe->flags);
	io_uring_cqe_seen(&ring, cqe);
	printf("unregister: an armed receive ends with -ECANCELED when data arrives\n");
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);
	close(wfd);
	close(rfd);
}

static void shutdown_mid_stream(void)
{
	static uint8_t buf[256 * 1024];
	struct t_net_region r;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int wfd, rfd, res = 1;

	t_net_ring(&ring);
	t_net_region_defaults(&r, SIZE, 0, 64);
	if (t_net_region_register(&ring, &r))
		t_fail("binding");
	t_tcp_pair(&wfd, &rfd);
	if (write(wfd, buf, sizeof(buf)) != sizeof(buf))
		t_fail("write");
	t_prep_net_recv(&ring, rfd, 1);
	wait_fragments(&ring, 1);
	shutdown(rfd, SHUT_RDWR);
	close(wfd);
	/* the rest of what was queued may still arrive; then the end */
	for (;;) {
		if (io_uring_submit_and_wait(&ring, 1) < 0 || io_uring_peek_cqe(&ring, &cqe))
			t_fail("wait");
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			res = cqe->res;
			io_uring_cqe_seen(&ring, cqe);
			break;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	if (res > 0)
		t_fail("final CQE res %d", res);
	printf("shutdown mid-stream: the receive ended with %d\n", res);
	t_net_region_unmap(&r);
	if (t_region_unregister(&ring))
		t_fail("unregister");
	io_uring_queue_exit(&ring);
	close(rfd);
}

/* the upstream registration, its area being the region's first 512 KiB */
static void upstream_interop(void)
{
	const uint64_t total = 8u << 20;
	struct io_uring_region_desc rq_rd = { 0 };
	struct io_uring_zcrx_area_reg area = {
		.addr = 0, .len = 512 * 1024, .flags = IORING_ZCRX_AREA_UNIFIED,
	};
	struct io_uring_zcrx_ifq_reg zreg = {
		.rq_entries = 128, .flags = ZCRX_REG_NODEV,
		.area_ptr = (uint64_t)(uintptr_t)&area,
		.region_ptr = (uint64_t)(uintptr_t)&rq_rd,
	};
	struct t_net_region r;
	struct io_uring ring;
	struct t_sender tx;
	uint64_t got = 0;
	uint8_t *rq;
	uint32_t *tail;
	struct io_uring_zcrx_rqe *rqes;
	int wfd, rfd, armed = 0, done = 0, ret;

	t_net_ring(&ring);
	t_region_defaults(&r.reg, &r.rd, SIZE, 0);	/* no binding of its own */
	if (t_region_register(&ring, &r.reg))
		t_fail("region");
	r.map = t_region_map(&ring, &r.reg, &r.rd);
	rq_rd.size = 4096 + 128 * sizeof(struct io_uring_zcrx_rqe);
	rq_rd.size = (rq_rd.size + 4095) & ~4095ull;
	ret = io_uring_register(ring.ring_fd, IORING_REGISTER_ZCRX_IFQ, &zreg, 1);
	if (ret)
		t_fail("IORING_REGISTER_ZCRX_IFQ with a unified area: %d", ret);
	rq = mmap(NULL, rq_rd.size, PROT_READ | PROT_WRITE, MAP_SHARED, ring.ring_fd,
		  (off_t)rq_rd.mmap_offset);
	if (rq == MAP_FAILED)
		t_fail("mmap refill ring");
	tail = (uint32_t *)(rq + zreg.offsets.tail);
	rqes = (struct io_uring_zcrx_rqe *)(rq + zreg.offsets.rqes);

	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 21, total);
	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (!armed) {
			struct io_uring_sqe *sqe = t_get_sqe(&ring);

			io_uring_prep_rw(IORING_OP_RECV_ZC, sqe, rfd, NULL, 0, 0);
			sqe->ioprio = IORING_RECV_MULTISHOT;
			sqe->zcrx_ifq_idx = zreg.zcrx_id;
			armed = 1;
		}
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			t_fail("submit_and_wait");
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct io_uring_zcrx_cqe *zc = (struct io_uring_zcrx_cqe *)(cqe + 1);

			seen++;
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = zc->off & ~IORING_ZCRX_AREA_MASK;
				uint32_t t = *tail;

				if (off + (uint64_t)cqe->res > area.len)
					t_fail("RECV_ZC offset %llu outside the area",
					       (unsigned long long)off);
				/* the area starts at region offset 0: offsets are region offsets */
				if (t_verify(r.map + off, (size_t)cqe->res, 21, got) >= 0)
					t_fail("RECV_ZC byte near %llu is wrong", (unsigned long long)got);
				got += (uint64_t)cqe->res;
				rqes[t & (zreg.rq_entries - 1)].off = zc->off;
				rqes[t & (zreg.rq_entries - 1)].len = (uint32_t)cqe->res;
				__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
				continue;
			}
			armed = 0;
			if (cqe->res == 0)
				done = 1;
			else if (cqe->res != -ENOMEM && cqe->res != -ENOSPC)
				t_fail("RECV_ZC ended with %d", cqe->res);
		}
		io_uring_cq_advance(&ring, seen);
	}
	t_sender_join(&tx);
	if (got != total)
		t_fail("RECV_ZC: %llu of %llu bytes", (unsigned long long)got,
		       (unsigned long long)total);
	printf("interop: IORING_OP_RECV_ZC on a zcrx instance whose area is the region received "
	       "%llu MiB intact\n", (unsigned long long)(total >> 20));
	close(rfd);
	munmap(rq, rq_rd.size);
	t_net_region_unmap(&r);
	/* the zcrx instance keeps the region's pages until the ring is gone */
	if (t_region_unregister(&ring))
		t_fail("unregister");
	io_uring_queue_exit(&ring);
}

int main(void)
{
	const char *s = getenv("UIO_SOAK");

	if (s && atoi(s) > 0)
		soak = (unsigned)atoi(s);
	unregister_while_armed();
	shutdown_mid_stream();
	upstream_interop();
	teardown_with_fragments_held();
	return T_EXIT_PASS;
}
