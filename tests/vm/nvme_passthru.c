/* SPDX-License-Identifier: MIT */
/*
 * NVMe passthrough on the generic char device: IORING_OP_URING_CMD on an
 * SQE128/CQE32 ring with a registered (fixed) buffer writes a pattern and
 * reads it back identical, at several LBAs and sizes.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include "uio_test.h"

#define BUF_SIZE (256u << 10)

static int nvme_rw(struct io_uring *ring, int fd, unsigned nsid, uint8_t opcode,
		   void *buf, size_t len, uint64_t slba)
{
	t_prep_nvme_rw(t_get_sqe(ring), fd, nsid, opcode, (uint64_t)(uintptr_t)buf, len, slba, 0);
	return t_submit_one(ring);
}

int main(int argc, char **argv)
{
	const char *dev = argc > 1 ? argv[1] : "/dev/ng0n1";
	static const size_t sizes[] = { 4096, 8192, 65536, BUF_SIZE };
	struct io_uring ring;
	struct iovec iov;
	int fd, nsid, ret;
	uint8_t *buf;

	fd = open(dev, O_RDWR);
	if (fd < 0)
		t_fail("open %s: %s", dev, strerror(errno));
	nsid = ioctl(fd, NVME_IOCTL_ID);
	if (nsid <= 0)
		t_fail("NVME_IOCTL_ID: %d", nsid);

	ret = io_uring_queue_init(8, &ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (ret)
		t_fail("queue_init: %d", ret);
	if (posix_memalign((void **)&buf, 4096, BUF_SIZE))
		t_fail("alloc");
	iov = (struct iovec){ .iov_base = buf, .iov_len = BUF_SIZE };
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret)
		t_fail("register_buffers: %d", ret);

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint64_t slba = 16 * i + 3;
		long bad;

		t_fill(buf, len, i, 0);
		ret = nvme_rw(&ring, fd, nsid, T_NVME_WRITE, buf, len, slba);
		if (ret)
			t_fail("write %zu bytes at lba %llu: %d", len, (unsigned long long)slba, ret);
		memset(buf, 0, BUF_SIZE);
		ret = nvme_rw(&ring, fd, nsid, T_NVME_READ, buf, len, slba);
		if (ret)
			t_fail("read %zu bytes at lba %llu: %d", len, (unsigned long long)slba, ret);
		bad = t_verify(buf, len, i, 0);
		if (bad >= 0)
			t_fail("%zu bytes at lba %llu: mismatch at byte %ld", len,
			       (unsigned long long)slba, bad);
		printf("nvme passthrough: wrote and read back %zu bytes at lba %llu of nsid %d\n",
		       len, (unsigned long long)slba, nsid);
	}

	/* a fixed-buffer command outside the registered buffer is refused */
	ret = nvme_rw(&ring, fd, nsid, T_NVME_READ, buf + BUF_SIZE, 4096, 0);
	if (ret != -EFAULT)
		t_fail("read outside the fixed buffer: %d, want -EFAULT", ret);

	io_uring_queue_exit(&ring);
	close(fd);
	return T_EXIT_PASS;
}
