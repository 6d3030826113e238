/* SPDX-License-Identifier: MIT */
/*
 * IOSQE_IO_DRAIN with zero-copy sends, which allocate their notification at
 * prep: a drained SEND_ZC, a SEND_ZC queued behind a drained NOP, and the
 * unified region's outbound NET stage drained the same way each complete,
 * with their notifications. Found by uio_fuzz (seed 512307263, round 4): the
 * drain waited for every allocated request to be freed, the notification of
 * the very request it was holding back included, and never ran.
 */
#include <poll.h>
#include "uio_test.h"
#include "net_test.h"

static struct io_uring ring;

/* waits for @nr CQEs (a send's result and notification count apart), 5 s at most */
static void expect_cqes(const char *what, unsigned nr, int want_res)
{
	struct __kernel_timespec ts = { .tv_sec = 5 };
	struct io_uring_cqe *cqe;

	for (unsigned i = 0; i < nr; i++) {
		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts))
			t_fail("%s: CQE %u of %u never came", what, i + 1, nr);
		if (!(cqe->flags & IORING_CQE_F_NOTIF) && cqe->res != want_res && cqe->user_data != 99)
			t_fail("%s: ud %llu res %d, want %d", what, (unsigned long long)cqe->user_data,
			       cqe->res, want_res);
		io_uring_cqe_seen(&ring, cqe);
	}
}

int main(void)
{
	static char buf[4096];
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring_sqe *sqe;
	char rx_buf[64];
	int tx, rx, ret;

	t_tcp_pair(&tx, &rx);
	t_ring_init(&ring, 16, IORING_SETUP_CQE32, 0);
	memset(buf, 'z', sizeof(buf));

	/* 1: upstream SEND_ZC with IOSQE_IO_DRAIN */
	sqe = t_get_sqe(&ring);
	io_uring_prep_send_zc(sqe, tx, buf, 16, 0, 0);
	sqe->flags |= IOSQE_IO_DRAIN;
	sqe->user_data = 1;
	if (io_uring_submit(&ring) != 1)
		t_fail("submit");
	expect_cqes("drained SEND_ZC", 2, 16);

	/* 2: a SEND_ZC deferred behind a drained NOP */
	sqe = t_get_sqe(&ring);
	io_uring_prep_nop(sqe);
	sqe->flags |= IOSQE_IO_DRAIN;
	sqe->user_data = 99;
	sqe = t_get_sqe(&ring);
	io_uring_prep_send_zc(sqe, tx, buf, 16, 0, 0);
	sqe->user_data = 2;
	if (io_uring_submit(&ring) != 2)
		t_fail("submit");
	expect_cqes("SEND_ZC behind a drain", 3, 16);

	/* 3: the unified region's outbound NET stage, drained */
	t_region_defaults(&reg, &rd, 1u << 20, 0);
	reg.flags = 0;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register: %d", ret);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, tx, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE, 0, 16, 0);
	sqe->flags |= IOSQE_IO_DRAIN;
	sqe->user_data = 3;
	if (io_uring_submit(&ring) != 1)
		t_fail("submit");
	expect_cqes("drained unified send", 2, 16);

	/* the peer got all three sends */
	for (int got = 0; got < 48;) {
		ret = recv(rx, rx_buf, sizeof(rx_buf), 0);
		if (ret <= 0)
			t_fail("peer recv: %d", ret);
		got += ret;
	}
	printf("drained SEND_ZC, SEND_ZC behind a drain, drained unified send: all complete\n");
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
