/* SPDX-License-Identifier: MIT */
/*
 * NVMe passthrough through the region: the region is bound to the namespace
 * (nvme_fd, as the block device and as the generic char device), and
 * IORING_OP_URING_CMD with IORING_URING_CMD_FIXED addresses the region's
 * buffer slot by region offset. Data written from one span is read back
 * into another and compared through the mapping.
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

int main(void)
{
	run("/dev/ng0n1");
	run("/dev/nvme0n1");
	return T_EXIT_PASS;
}
