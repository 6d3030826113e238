/* SPDX-License-Identifier: MIT */
/*
 * NVMe passthrough through the region: the region is bound to the namespace
 * (nvme_fd, as the block device and as the generic char device), and
 * IORING_OP_URING_CMD with IORING_URING_CMD_FIXED addresses the region's
 * buffer slot by region offset. Data written from one span is read back
 * into another and compared through the mapping. The bound block device is
 * the default device of storage ops: fd -1 in an SQE, a span list or a
 * descriptor names it, and fd 0 can be bound like any other.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include "uio_test.h"

#define SIZE (1u << 20)
static int passthru(struct io_uring *ring, int fd, int nsid, uint8_t opcode,
		    uint64_t region_off, uint32_t len, uint64_t slba, unsigned buf_index)
{
	/* cmd->addr is an offset into the region, not a pointer */
	t_prep_nvme_rw(t_get_sqe(ring), fd, nsid, opcode, region_off, len, slba, buf_index);
	return t_submit_one(ring);
}

static void run(const char *bind_path)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring ring;
	int ng, bind_fd, nsid, ret;
	uint8_t *map;

	ng = open("/dev/ng0n1", O_RDWR);
	bind_fd = open(bind_path, O_RDWR);
	if (ng < 0 || bind_fd < 0)
		t_fail("open: %s", strerror(errno));
	nsid = ioctl(ng, NVME_IOCTL_ID);

	t_ring_init(&ring, 8, IORING_SETUP_SQE128 | IORING_SETUP_CQE32, 2);
	t_region_defaults(&reg, &rd, SIZE, 1);
	reg.nvme_fd = bind_fd;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register bound to %s: %d", bind_path, ret);
	map = t_region_map(&ring, &reg, &rd);

	/* 64 KiB from offset 128 KiB to LBA 40, read back into the region's tail */
	t_fill(map + (128u << 10), 64u << 10, 5, 0);
	ret = passthru(&ring, ng, nsid, T_NVME_WRITE, 128u << 10, 64u << 10, 40, 1);
	if (ret)
		t_fail("passthrough write: %d", ret);
	ret = passthru(&ring, ng, nsid, T_NVME_READ, SIZE - (64u << 10), 64u << 10, 40, 1);
	if (ret)
		t_fail("passthrough read: %d", ret);
	if (t_verify(map + SIZE - (64u << 10), 64u << 10, 5, 0) >= 0)
		t_fail("data read back differs");
	/* past the data area */
	ret = passthru(&ring, ng, nsid, T_NVME_READ, SIZE - 4096, 8192, 40, 1);
	if (ret != -EFAULT)
		t_fail("passthrough past the data area: %d, want -EFAULT", ret);

	io_uring_queue_exit(&ring);
	munmap(map, reg.offsets.size);
	close(ng);
	close(bind_fd);
	printf("region bound to %s: 64 KiB passthrough write and read by region offset, identical\n",
	       bind_path);
}

static int unified(struct io_uring *ring, int fd, uint32_t stages, uint64_t addr,
		   uint32_t len, uint64_t dev_off)
{
	t_prep_unified(t_get_sqe(ring), fd, stages, addr, len, dev_off);
	return t_submit_one(ring);
}

/* the namespace bound at fd 0 is what fd -1 names in storage ops */
static void bound_namespace(void)
{
	const uint32_t W = IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE;
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_unified_span spans[2] = { { .addr = 12288, .len = 4096 }, { .addr = 0, .len = 4096 } };
	struct io_unified_ring_hdr *sq, *cq;
	struct io_unified_desc *sd, *cd;
	struct io_uring ring;
	uint8_t *map;
	int blk = open("/dev/nvme0n1", O_RDWR | O_DIRECT), ret;

	if (blk < 0)
		t_fail("open: %s", strerror(errno));
	t_ring_init(&ring, 8, 0, 0);
	t_region_defaults(&reg, &rd, SIZE, 0);
	reg.flags = 0;
	ret = unified(&ring, -1, W, 0, 4096, 0);
	if (ret != -ENXIO)
		t_fail("fd -1 before any region: %d, want -ENXIO", ret);
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register unbound: %d", ret);
	ret = unified(&ring, -1, W, 0, 4096, 0);
	if (ret != -EBADF)
		t_fail("fd -1 with no namespace bound: %d, want -EBADF", ret);
	io_uring_queue_exit(&ring);

	/* fd 0 is a file descriptor like any other */
	if (dup2(blk, 0) != 0)
		t_fail("dup2: %s", strerror(errno));
	close(blk);
	t_ring_init(&ring, 8, 0, 0);
	t_region_defaults(&reg, &rd, SIZE, 0);
	reg.flags = 0;
	reg.nvme_fd = 0;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register bound to fd 0: %d", ret);
	map = t_region_map(&ring, &reg, &rd);
	t_fill(map, 16384, 8, 0);

	/* a direct op and a span list write 4 pages at 1 MiB: pages 0 and 3, 1 and 2 */
	ret = unified(&ring, -1, W | IORING_UNIFIED_OP_VEC, (uintptr_t)spans, 2, 1u << 20);
	if (ret != 8192)
		t_fail("span list to the bound namespace: %d", ret);
	ret = unified(&ring, -1, W, 4096, 8192, (1u << 20) + 8192);
	if (ret != 8192)
		t_fail("direct write to the bound namespace: %d", ret);
	/* a descriptor with fd -1 reads the 4 pages back into the region */
	sq = (void *)(map + reg.offsets.sq_ring);
	cq = (void *)(map + reg.offsets.cq_ring);
	sd = (void *)(map + reg.offsets.sq_descs);
	cd = (void *)(map + reg.offsets.cq_descs);
	sd[0] = (struct io_unified_desc){ .user_data = 7, .addr = 65536, .dev_off = 1u << 20,
					  .len = 16384, .op_flags = IORING_UNIFIED_OP_NVME, .fd = -1 };
	__atomic_store_n(&sq->tail, 1, __ATOMIC_RELEASE);
	io_uring_prep_rw(IORING_OP_UNIFIED, t_get_sqe(&ring), -1, NULL, 1, IORING_UNIFIED_OP_BATCH);
	ret = t_submit_one(&ring);
	if (ret != 1 || __atomic_load_n(&cq->tail, __ATOMIC_ACQUIRE) != 1 || cd[0].res != 16384)
		t_fail("descriptor with fd -1: batch %d, result %d", ret, cd[0].res);
	/* device order: page 3, page 0, pages 1-2 */
	if (t_verify(map + 65536, 4096, 8, 12288) >= 0 || t_verify(map + 69632, 4096, 8, 0) >= 0 ||
	    t_verify(map + 73728, 8192, 8, 4096) >= 0)
		t_fail("bound namespace: data read back differs");
	io_uring_queue_exit(&ring);
	munmap(map, reg.offsets.size);
	close(0);
	printf("namespace bound at fd 0: span list, direct op and descriptor with fd -1 use it;"
	       " fd -1 unbound -EBADF\n");
}

int main(void)
{
	run("/dev/ng0n1");
	run("/dev/nvme0n1");
	bound_namespace();
	return T_EXIT_PASS;
}
