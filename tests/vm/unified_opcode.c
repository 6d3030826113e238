/* SPDX-License-Identifier: MIT */
/*
 * IORING_OP_UNIFIED stays IORING_OP_UNIFIED whatever its stages:
 *  - an IORING_REGISTER_BPF_FILTER program on IORING_OP_UNIFIED sees the
 *    stages (io_uring_bpf_ctx.unified.stages) and can deny an outbound
 *    network stage (-EACCES, nothing sent) while storage ops and receives run;
 *  - cancellation by opcode (IORING_ASYNC_CANCEL_OP, IORING_OP_UNIFIED)
 *    finds an armed receive, which ends with -ECANCELED;
 *  - a ring restricted to IORING_OP_RECV_ZC and IORING_OP_SEND_ZC refuses
 *    the network stage of IORING_OP_UNIFIED (-EACCES), and one restricted to
 *    IORING_OP_UNIFIED runs it; a send still waits for room, not for input
 *    (a send larger than the socket buffer completes while the peer drains).
 */
#include <fcntl.h>
#include <sys/wait.h>
#include <linux/filter.h>
#include <linux/io_uring/bpf_filter.h>
#include "net_test.h"

/*
 * io_uring_bpf_ctx.unified.stages: the per-opcode union starts after
 * user_data and 8 bytes of opcode, flags and pdu_size. A number rather than
 * offsetof() so that the test also builds against headers from before the
 * field, to show what such kernels do.
 */
#define CTX_UNIFIED_STAGES 16

#define SIZE (1u << 20)
#define NVME "/dev/nvme0n1"

static void net_region(struct io_uring *ring, struct t_net_region *r)
{
	int ret;

	t_net_region_defaults(r, SIZE, SIZE / 2, 64);
	if ((ret = t_net_region_register(ring, r)))
		t_fail("register: %d", ret);
}

static int send_from_region(struct io_uring *ring, int fd, uint64_t off, uint32_t len)
{
	struct io_uring_cqe *cqe;
	int res, more;

	t_prep_unified(t_get_sqe(ring), fd, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE,
		       off, len, 0);
	if (io_uring_submit_and_wait(ring, 1) != 1 || io_uring_wait_cqe(ring, &cqe))
		t_fail("send: submit");
	res = cqe->res;
	more = cqe->flags & IORING_CQE_F_MORE;
	io_uring_cqe_seen(ring, cqe);
	if (more) {	/* the notification follows */
		if (io_uring_wait_cqe(ring, &cqe) || !(cqe->flags & IORING_CQE_F_NOTIF))
			t_fail("send: no notification after IORING_CQE_F_MORE");
		io_uring_cqe_seen(ring, cqe);
	}
	return res;
}

/* denies IORING_OP_UNIFIED with both NET and WRITE, allows the rest */
static int register_deny_send(struct io_uring *ring)
{
	struct sock_filter prog[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, CTX_UNIFIED_STAGES),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K,
			 IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
			 IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 1),
	};
	struct io_uring_bpf reg = {
		.cmd_type = IO_URING_BPF_CMD_FILTER,
		.filter = {
			.opcode = IORING_OP_UNIFIED,
			.filter_len = sizeof(prog) / sizeof(prog[0]),
			.pdu_size = 8,	/* sizeof(io_uring_bpf_ctx.unified) */
			.filter_ptr = (uint64_t)(uintptr_t)prog,
		},
	};

	return io_uring_register(ring->ring_fd, IORING_REGISTER_BPF_FILTER, &reg, 1);
}

static void test_bpf_filter(int nvme)
{
	struct t_net_region r;
	struct io_uring ring;
	char buf[64];
	int tx, rx, ret;

	t_net_ring(&ring);
	net_region(&ring, &r);
	if ((ret = register_deny_send(&ring)))
		t_fail("IORING_REGISTER_BPF_FILTER on IORING_OP_UNIFIED: %d", ret);
	t_tcp_pair(&tx, &rx);
	memset(r.map + SIZE / 2, 0x3c, 4096);
	if ((ret = send_from_region(&ring, tx, SIZE / 2, 4096)) != -EACCES)
		t_fail("filtered outbound network stage: %d, want -EACCES", ret);
	if (recv(rx, buf, sizeof(buf), MSG_DONTWAIT) != -1 || errno != EAGAIN)
		t_fail("a denied send reached the peer");
	/* storage is allowed */
	t_prep_unified(t_get_sqe(&ring), nvme, IORING_UNIFIED_OP_NVME, SIZE / 2, 4096, 0);
	if ((ret = t_submit_one(&ring)) != 4096)
		t_fail("storage op under the filter: %d", ret);
	/* and so is a receive, which the filter sees as NET alone */
	if (write(rx, "ping", 4) != 4)
		t_fail("write: %s", strerror(errno));
	t_prep_net_recv(&ring, tx, 7);
	{
		struct io_uring_cqe *cqe;

		io_uring_submit(&ring);
		if (io_uring_wait_cqe(&ring, &cqe))
			t_fail("receive under the filter: wait");
		if (cqe->res != 4 || cqe->user_data != 7)
			t_fail("receive under the filter: res %d, user_data %llu", cqe->res,
			       (unsigned long long)cqe->user_data);
		io_uring_cqe_seen(&ring, cqe);
	}
	close(tx);
	close(rx);
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);
	printf("BPF filter on IORING_OP_UNIFIED: saw the stages, denied NET|WRITE (-EACCES, "
	       "nothing sent), allowed NVME and a receive\n");
}

static void test_cancel_by_opcode(void)
{
	struct t_net_region r;
	struct io_uring ring;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int tx, rx, got_cancel = 0, got_recv = 0;

	t_net_ring(&ring);
	net_region(&ring, &r);
	t_tcp_pair(&tx, &rx);
	t_prep_net_recv(&ring, tx, 1);	/* nothing arrives: it stays armed */
	io_uring_submit(&ring);
	sqe = t_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_ASYNC_CANCEL, sqe, -1, NULL, IORING_OP_UNIFIED, 0);
	sqe->cancel_flags = IORING_ASYNC_CANCEL_OP | IORING_ASYNC_CANCEL_ALL;
	sqe->user_data = 2;
	io_uring_submit(&ring);
	while (got_cancel + got_recv < 2) {
		if (io_uring_wait_cqe(&ring, &cqe))
			t_fail("cancel: wait");
		if (cqe->user_data == 2) {
			if (cqe->res != 1)
				t_fail("cancel by IORING_OP_UNIFIED found %d requests, want 1",
				       cqe->res);
			got_cancel = 1;
		} else if (cqe->user_data == 1 && !(cqe->flags & IORING_CQE_F_MORE)) {
			if (cqe->res != -ECANCELED)
				t_fail("cancelled receive ended with %d", cqe->res);
			got_recv = 1;
		}
		io_uring_cqe_seen(&ring, cqe);
	}
	close(tx);
	close(rx);
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);
	printf("cancel by opcode IORING_OP_UNIFIED found the armed receive; it ended with "
	       "-ECANCELED\n");
}

/*
 * A ring created disabled and restricted to @ops; the caller registers what
 * it needs (register restrictions do not apply while it is disabled) and
 * enables it.
 */
static void restricted_ring(struct io_uring *ring, const uint8_t *ops, unsigned n)
{
	struct io_uring_restriction res[4] = { 0 };
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			 IORING_SETUP_CQE32 | IORING_SETUP_R_DISABLED,
	};
	int ret;

	if ((ret = io_uring_queue_init_params(16, ring, &p)))
		t_fail("init: %d", ret);
	if ((ret = io_uring_register_buffers_sparse(ring, 1)))
		t_fail("buffers: %d", ret);
	for (unsigned i = 0; i < n; i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = ops[i];
	}
	if ((ret = io_uring_register_restrictions(ring, res, n)))
		t_fail("restrictions: %d", ret);
}

static void enable(struct io_uring *ring)
{
	int ret = io_uring_enable_rings(ring);

	if (ret)
		t_fail("enable: %d", ret);
}

static void test_restrictions(void)
{
	static const uint8_t zc_only[] = { IORING_OP_RECV_ZC, IORING_OP_SEND_ZC };
	static const uint8_t unified_only[] = { IORING_OP_UNIFIED };
	const uint32_t big = 4u << 20;	/* more than the socket buffers hold */
	struct t_net_region r;
	struct io_uring ring;
	int tx, rx, ret;

	restricted_ring(&ring, zc_only, 2);
	net_region(&ring, &r);
	enable(&ring);
	t_tcp_pair(&tx, &rx);
	if ((ret = send_from_region(&ring, tx, SIZE / 2, 4096)) != -EACCES)
		t_fail("UNIFIED on a ring that allows only RECV_ZC and SEND_ZC: %d", ret);
	close(tx);
	close(rx);
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);

	restricted_ring(&ring, unified_only, 1);
	t_region_defaults(&r.reg, &r.rd, 8u << 20, 0);	/* a send of 4 MiB needs the room */
	if ((ret = t_region_register(&ring, &r.reg)))
		t_fail("register: %d", ret);
	r.map = t_region_map(&ring, &r.reg, &r.rd);
	enable(&ring);
	t_tcp_pair(&tx, &rx);
	{
		pid_t pid = fork();
		int status;

		if (pid == 0) {	/* the peer reads slowly, so the send must wait for room */
			char *buf = malloc(65536);
			uint64_t got = 0;

			usleep(200000);	/* let the sender fill the socket buffer first */
			while (got < big) {
				ssize_t n;

				usleep(2000);
				n = read(rx, buf, 65536);
				if (n <= 0)
					_exit(1);
				got += (uint64_t)n;
			}
			_exit(0);
		}
		/* sends return what fit; once the buffer is full one must wait for room */
		for (uint32_t sent = 0; sent < big; sent += (uint32_t)ret)
			if ((ret = send_from_region(&ring, tx, sent, big - sent)) <= 0)
				t_fail("send at %u of %u through a slow reader: %d", sent, big, ret);
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			t_fail("the reader did not get %u bytes", big);
	}
	close(tx);
	close(rx);
	munmap(r.map, r.reg.offsets.size);
	io_uring_queue_exit(&ring);
	printf("restrictions: RECV_ZC+SEND_ZC do not let IORING_OP_UNIFIED through (-EACCES); "
	       "UNIFIED alone runs a %u-byte send that waited for room\n", big);
}

int main(void)
{
	int nvme = open(NVME, O_RDWR | O_DIRECT);

	if (nvme < 0)
		t_fail(NVME ": %s", strerror(errno));
	test_bpf_filter(nvme);
	test_cancel_by_opcode();
	test_restrictions();
	close(nvme);
	return T_EXIT_PASS;
}
