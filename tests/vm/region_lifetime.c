/* SPDX-License-Identifier: MIT */
/*
 * Lifetime: unregistering while fixed-buffer I/O on the region is in flight
 * (delayed completions of the io_uring mock file) is safe, every I/O
 * completes in full and the slot is gone afterwards; ring exit with a region
 * still registered and still mapped frees everything. The exit loop runs
 * 1,000 times (UIO_SOAK=N multiplies it); the VM runner ends with a
 * kmemleak scan.
 */
#include <fcntl.h>
#include <linux/io_uring/mock_file.h>
#include "uio_test.h"

#define SIZE (256u << 10)
#define NR_IOS 16

static int mock_file(unsigned long long delay_ns)
{
	struct io_uring_mock_create mc = { .file_size = SIZE, .rw_delay_ns = delay_ns };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	int mgr, ret;

	mgr = open("/dev/io_uring_mock", O_RDWR);
	if (mgr < 0)
		t_fail("open /dev/io_uring_mock: %s", strerror(errno));
	t_ring_init(&ring, 4, IORING_SETUP_SQE128, 0);
	sqe = t_get_sqe(&ring);
	io_uring_prep_rw(IORING_OP_URING_CMD, sqe, mgr, &mc, sizeof(mc), 0);
	sqe->cmd_op = IORING_MOCK_MGR_CMD_CREATE;
	ret = t_submit_one(&ring);
	if (ret)
		t_fail("mock create: %d", ret);
	io_uring_queue_exit(&ring);
	close(mgr);
	return mc.out_fd;
}

static void unregister_in_flight(void)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	int fd = mock_file(300 * 1000 * 1000ull);
	uint8_t *map;
	int ret;

	t_ring_init(&ring, 32, 0, 1);
	t_region_defaults(&reg, &rd, SIZE, 0);
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register: %d", ret);
	map = t_region_map(&ring, &reg, &rd);
	t_fill(map, SIZE, 1, 0);

	for (unsigned i = 0; i < NR_IOS; i++) {
		struct io_uring_sqe *sqe = t_get_sqe(&ring);
		uint64_t off = i * (SIZE / NR_IOS);

		if (i % 2)
			io_uring_prep_read_fixed(sqe, fd, (void *)(uintptr_t)off,
						 SIZE / NR_IOS, off, 0);
		else
			io_uring_prep_write_fixed(sqe, fd, (void *)(uintptr_t)off,
						  SIZE / NR_IOS, off, 0);
		sqe->user_data = i;
	}
	ret = io_uring_submit(&ring);
	if (ret != NR_IOS)
		t_fail("submit: %d", ret);

	/* all of them are waiting on their timers: pull the region away */
	ret = t_region_unregister(&ring);
	if (ret)
		t_fail("unregister with I/O in flight: %d", ret);
	munmap(map, reg.offsets.size);

	for (unsigned i = 0; i < NR_IOS; i++) {
		ret = io_uring_wait_cqe(&ring, &cqe);
		if (ret)
			t_fail("wait: %d", ret);
		if (cqe->res != (int)(SIZE / NR_IOS))
			t_fail("I/O %llu completed with %d", (unsigned long long)cqe->user_data,
			       cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_prep_read_fixed(t_get_sqe(&ring), fd, 0, 4096, 0, 0);
	ret = t_submit_one(&ring);
	if (ret != -EFAULT)
		t_fail("fixed read after unregister: %d, want -EFAULT", ret);
	io_uring_queue_exit(&ring);
	close(fd);
	printf("unregister with %d delayed fixed-buffer I/Os in flight: all completed in full\n",
	       NR_IOS);
}

static void exit_with_region(unsigned iterations)
{
	for (unsigned i = 0; i < iterations; i++) {
		struct io_uring_unified_region_reg reg;
		struct io_uring_region_desc rd;
		struct io_uring ring;
		uint8_t *map;
		int ret;

		t_ring_init(&ring, 4, 0, 1);
		t_region_defaults(&reg, &rd, 64u << 10, 0);
		reg.flags = i % 2 ? IORING_UNIFIED_REG_FIXED_BUF : 0;
		ret = t_region_register(&ring, &reg);
		if (ret)
			t_fail("iteration %u: register: %d", i, ret);
		map = t_region_map(&ring, &reg, &rd);
		t_fill(map, 4096, i, 0);
		io_uring_queue_exit(&ring);
		/* the mapping keeps its pages after the ring is gone */
		if (t_verify(map, 4096, i, 0) >= 0)
			t_fail("iteration %u: mapping changed after ring exit", i);
		munmap(map, reg.offsets.size);
	}
	printf("ring exit with a registered, mapped region: %u times\n", iterations);
}

int main(void)
{
	const char *soak = getenv("UIO_SOAK");
	unsigned factor = soak ? (unsigned)atoi(soak) : 1;

	unregister_in_flight();
	exit_with_region(1000 * (factor ? factor : 1));
	return T_EXIT_PASS;
}
