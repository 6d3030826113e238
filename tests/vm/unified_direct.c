/* SPDX-License-Identifier: MIT */
/*
 * IORING_OP_UNIFIED direct ops, storage stage: a pattern written from the
 * region to /dev/nvme0n1 reads back identical three ways (a unified read into
 * another span, NVMe passthrough on /dev/ng0n1, pread with O_DIRECT); no bounce
 * buffer is allocated on the way; CQE32 carries the region offset and stages;
 * boundaries and bad inputs fail with their errno and write nothing; links,
 * registered files and io-wq work.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include "uio_test.h"

#define SIZE (4u << 20)
#define NVME_W IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE
#define NVME_R IORING_UNIFIED_OP_NVME

static struct io_uring ring;
static uint8_t *map;
static int blk;

/* one op; the CQE32 extra fields come back through @big */
static int op(int fd, uint32_t stages, uint64_t off, uint32_t len, uint64_t dev_off,
	      uint8_t sqe_flags, uint64_t big[2])
{
	struct io_uring_sqe *sqe = t_get_sqe(&ring);
	struct io_uring_cqe *cqe;
	int ret;

	t_prep_unified(sqe, fd, stages, off, len, dev_off);
	sqe->flags |= sqe_flags;
	ret = io_uring_submit_and_wait(&ring, 1);
	if (ret != 1)
		t_fail("submit: %d", ret);
	if (io_uring_wait_cqe(&ring, &cqe))
		t_fail("wait");
	ret = cqe->res;
	if (big) {
		big[0] = cqe->big_cqe[0];
		big[1] = cqe->big_cqe[1];
	}
	io_uring_cqe_seen(&ring, cqe);
	return ret;
}

static void device_read(uint64_t dev_off, void *buf, size_t len)
{
	if (pread(blk, buf, len, dev_off) != (ssize_t)len)
		t_fail("pread O_DIRECT: %s", strerror(errno));
}

static void three_ways(void)
{
	uint64_t big[2];
	uint8_t *buf;
	int ng = open("/dev/ng0n1", O_RDWR);
	struct nvme_passthru_cmd64 cmd = { 0 };
	unsigned long long before, allocated;

	if (ng < 0 || posix_memalign((void **)&buf, 4096, 1u << 20))
		t_fail("setup");
	t_fill(map, 1u << 20, 1, 0);
	t_expect("write 1 MiB", op(blk, NVME_W, 0, 1u << 20, 8u << 20, 0, big), 1 << 20);
	if (big[0] != 0 || big[1] != (NVME_W))
		t_fail("CQE32: offset %llu stages %#llx", (unsigned long long)big[0],
		       (unsigned long long)big[1]);

	/* 1: a unified read into another span; count pages the kernel allocates */
	memset(map + (2u << 20), 0, 1u << 20);
	before = t_pages_allocated();
	t_expect("read 1 MiB", op(blk, NVME_R, 2u << 20, 1u << 20, 8u << 20, 0, big), 1 << 20);
	allocated = t_pages_allocated() - before;
	if (big[0] != (2u << 20) || big[1] != NVME_R)
		t_fail("CQE32 of the read: offset %llu stages %#llx",
		       (unsigned long long)big[0], (unsigned long long)big[1]);
	if (t_verify(map + (2u << 20), 1u << 20, 1, 0) >= 0)
		t_fail("unified read differs");
	/* a bounce buffer for 1 MiB needs 256 pages */
	if (allocated >= 64)
		t_fail("%llu pages allocated during a 1 MiB read: bounced?", allocated);

	/* 2: NVMe passthrough on the generic char device, in 256 KiB commands (MDTS) */
	memset(buf, 0, 1u << 20);
	for (unsigned i = 0; i < 4; i++) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.opcode = 0x02;
		cmd.nsid = ioctl(ng, NVME_IOCTL_ID);
		cmd.addr = (uintptr_t)buf + i * (256u << 10);
		cmd.data_len = 256u << 10;
		cmd.cdw10 = ((8u << 20) + i * (256u << 10)) / 4096;
		cmd.cdw12 = (256u << 10) / 4096 - 1;
		if (ioctl(ng, NVME_IOCTL_IO64_CMD, &cmd))
			t_fail("passthrough read: %s", strerror(errno));
	}
	if (t_verify(buf, 1u << 20, 1, 0) >= 0)
		t_fail("passthrough read differs");

	/* 3: pread with O_DIRECT */
	memset(buf, 0, 1u << 20);
	device_read(8u << 20, buf, 1u << 20);
	if (t_verify(buf, 1u << 20, 1, 0) >= 0)
		t_fail("pread differs");
	printf("1 MiB region -> nvme0n1 read back identical by unified read, passthrough and pread;"
	       " %llu pages allocated during the unified read (no bounce)\n", allocated);
	free(buf);
	close(ng);
}

static void boundaries(void)
{
	uint8_t *before, *after;
	int plain = open("/dev/nvme0n1", O_RDWR);
	int file = open("/tmp/unified_direct", O_RDWR | O_CREAT, 0600);
	uint64_t devsize = 0;

	if (posix_memalign((void **)&before, 4096, 1u << 16) ||
	    posix_memalign((void **)&after, 4096, 1u << 16) || plain < 0 || file < 0)
		t_fail("setup");
	ioctl(blk, BLKGETSIZE64, &devsize);

	/* the last page of the region, both ways */
	t_fill(map + SIZE - 4096, 4096, 9, 0);
	t_expect("write last page", op(blk, NVME_W, SIZE - 4096, 4096, 0, 0, NULL), 4096);
	memset(map + SIZE - 4096, 0, 4096);
	t_expect("read last page", op(blk, NVME_R, SIZE - 4096, 4096, 0, 0, NULL), 4096);
	if (t_verify(map + SIZE - 4096, 4096, 9, 0) >= 0)
		t_fail("last page differs");

	/* invalid spans and device offsets write nothing: device content unchanged */
	device_read(1u << 20, before, 1u << 16);
	t_fill(map, 1u << 16, 77, 0);
	t_expect("span past the data area", op(blk, NVME_W, SIZE - 4096, 8192, 1u << 20, 0, NULL), -EFAULT);
	t_expect("addr + len overflows", op(blk, NVME_W, ~0ull - 4095, 8192, 1u << 20, 0, NULL), -EOVERFLOW);
	t_expect("zero length", op(blk, NVME_W, 0, 0, 1u << 20, 0, NULL), -EINVAL);
	t_expect("unaligned offset", op(blk, NVME_W, 512, 4096, 1u << 20, 0, NULL), -EINVAL);
	t_expect("unaligned length", op(blk, NVME_W, 0, 4096 + 512, 1u << 20, 0, NULL), -EINVAL);
	t_expect("unaligned device offset", op(blk, NVME_W, 0, 4096, (1u << 20) + 512, 0, NULL), -EINVAL);
	t_expect("device offset past the end", op(blk, NVME_W, 0, 4096, devsize, 0, NULL), -ERANGE);
	t_expect("span ending past the device", op(blk, NVME_W, 0, 8192, devsize - 4096, 0, NULL), -ERANGE);
	t_expect("block device without O_DIRECT", op(plain, NVME_W, 0, 4096, 1u << 20, 0, NULL), -EINVAL);
	t_expect("file on tmpfs", op(file, NVME_W, 0, 4096, 0, 0, NULL), -EINVAL);
	t_expect("bad fd", op(999, NVME_W, 0, 4096, 0, 0, NULL), -EBADF);
	t_expect("no stage", op(blk, 0, 0, 4096, 0, 0, NULL), -EINVAL);
	t_expect("WRITE alone", op(blk, IORING_UNIFIED_OP_WRITE, 0, 4096, 0, 0, NULL), -EINVAL);
	t_expect("unknown stage", op(blk, NVME_R | (1u << 20), 0, 4096, 0, 0, NULL), -EINVAL);
	t_expect("NET and NVME in one op", op(blk, NVME_R | IORING_UNIFIED_OP_NET, 0, 4096, 0, 0, NULL), -EINVAL);
	t_expect("BPF stage without a program attached", op(blk, NVME_R | IORING_UNIFIED_OP_BPF, 0, 4096, 0, 0, NULL), -ENOENT);
	device_read(1u << 20, after, 1u << 16);
	if (memcmp(before, after, 1u << 16))
		t_fail("a refused op changed the device");
	printf("boundaries: last page ok; 16 invalid ops refused with their errno, device unchanged\n");
	close(plain);
	close(file);
	free(before);
	free(after);
}

static void paths(void)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int ret;

	/* registered file */
	if (io_uring_register_files(&ring, &blk, 1))
		t_fail("register_files");
	t_fill(map, 8192, 3, 0);
	t_expect("write, registered file", op(0, NVME_W, 0, 8192, 64u << 10, IOSQE_FIXED_FILE, NULL), 8192);
	memset(map + 8192, 0, 8192);
	/* io-wq */
	t_expect("read from io-wq", op(blk, NVME_R, 8192, 8192, 64u << 10, IOSQE_ASYNC, NULL), 8192);
	if (t_verify(map + 8192, 8192, 3, 0) >= 0)
		t_fail("registered-file/io-wq data differs");

	/* a link: write, then read back what was written */
	t_fill(map, 4096, 4, 0);
	memset(map + 4096, 0, 4096);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, blk, NVME_W, 0, 4096, 128u << 10);
	sqe->flags |= IOSQE_IO_LINK;
	t_prep_unified(t_get_sqe(&ring), blk, NVME_R, 4096, 4096, 128u << 10);
	ret = io_uring_submit_and_wait(&ring, 2);
	if (ret != 2)
		t_fail("link submit: %d", ret);
	for (int i = 0; i < 2; i++) {
		if (io_uring_wait_cqe(&ring, &cqe) || cqe->res != 4096)
			t_fail("linked op %d: %d", i, cqe->res);
		io_uring_cqe_seen(&ring, cqe);
	}
	if (t_verify(map + 4096, 4096, 4, 0) >= 0)
		t_fail("linked read differs");
	printf("registered file, io-wq and a write->read link: data identical\n");
}

int main(void)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring_query_unified q = { 0 };
	int ret;

	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) ||
	    !(q.op_flags & IORING_UNIFIED_OP_NVME))
		t_skip("no storage stage in this kernel");
	blk = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	if (blk < 0)
		t_fail("open: %s", strerror(errno));
	t_ring_init(&ring, 8, IORING_SETUP_CQE32, 0);

	/* without a region */
	t_expect("no region", op(blk, NVME_R, 0, 4096, 0, 0, NULL), -ENXIO);

	t_region_defaults(&reg, &rd, SIZE, 0);
	reg.flags = 0;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register: %d", ret);
	map = t_region_map(&ring, &reg, &rd);
	three_ways();
	boundaries();
	paths();
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
