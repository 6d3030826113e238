/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the guest-side tests. Exit codes follow liburing's tests:
 * 0 pass, 1 fail, 77 skip (only when the kernel lacks what the test needs).
 */
#ifndef UIO_TEST_H
#define UIO_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/io_uring.h>	/* the patched kernel's uAPI, before liburing's copy */
#include <linux/io_uring/query.h>
#include <liburing.h>

enum { T_EXIT_PASS = 0, T_EXIT_FAIL = 1, T_EXIT_SKIP = 77 };

static inline void __attribute__((noreturn, format(printf, 3, 4)))
t_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(T_EXIT_FAIL);
}

/* a macro only to capture the caller's file and line */
#define t_fail(...) t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

static inline void __attribute__((noreturn)) t_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(T_EXIT_SKIP);
}

/* deterministic byte pattern for offset @off of stream @seed */
static inline uint8_t t_pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL + (off / 8);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((off % 8) * 8));
}

/* seconds on the monotonic clock */
static inline double t_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = t_pattern(seed, off + i);
}

/* returns the index of the first mismatching byte, or -1 */
static inline long t_verify(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != t_pattern(seed, off + i))
			return (long)i;
	return -1;
}

/* an operation's result: fails the test with @what unless it is @want */
static inline void t_expect(const char *what, int got, int want)
{
	if (got != want)
		t_fail("%s: got %d (%s), want %d", what, got, got < 0 ? strerror(-got) : "", want);
}

/* runs one IORING_REGISTER_QUERY entry without a ring; returns hdr.result */
static inline int t_query(uint32_t op, void *data, uint32_t size)
{
	struct io_uring_query_hdr hdr = {
		.query_data = (uint64_t)(uintptr_t)data,
		.query_op = op,
		.size = size,
	};
	int ret = io_uring_register(-1, IORING_REGISTER_QUERY, &hdr, 0);

	if (ret < 0)
		return ret;
	return hdr.result;
}


#include <sys/mman.h>

/* a ring with a sparse fixed-buffer table of @nr_bufs slots */
static inline void t_ring_init(struct io_uring *ring, unsigned entries, unsigned flags,
			       unsigned nr_bufs)
{
	int ret = io_uring_queue_init(entries, ring, flags);

	if (ret)
		t_fail("io_uring_queue_init(%u, %#x): %d", entries, flags, ret);
	if (nr_bufs) {
		ret = io_uring_register_buffers_sparse(ring, nr_bufs);
		if (ret)
			t_fail("register_buffers_sparse(%u): %d", nr_bufs, ret);
	}
}

/* a valid registration: kernel memory, data area installed at buffer @buf_index */
static inline void t_region_defaults(struct io_uring_unified_region_reg *reg,
				     struct io_uring_region_desc *rd,
				     uint64_t region_size, unsigned buf_index)
{
	memset(reg, 0, sizeof(*reg));
	memset(rd, 0, sizeof(*rd));
	reg->sq_entries = 64;
	reg->cq_entries = 64;
	reg->region_size = region_size;
	reg->nvme_fd = -1;
	reg->flags = IORING_UNIFIED_REG_FIXED_BUF;
	reg->buf_index = buf_index;
	reg->region_ptr = (uint64_t)(uintptr_t)rd;
}

static inline int t_region_register(struct io_uring *ring,
				    struct io_uring_unified_region_reg *reg)
{
	return io_uring_register(ring->ring_fd, IORING_REGISTER_UNIFIED_REGION, reg, 1);
}

static inline int t_region_unregister(struct io_uring *ring)
{
	return io_uring_register(ring->ring_fd, IORING_UNREGISTER_UNIFIED_REGION, NULL, 0);
}

/* maps the whole registered region */
static inline uint8_t *t_region_map(struct io_uring *ring,
				    const struct io_uring_unified_region_reg *reg,
				    const struct io_uring_region_desc *rd)
{
	void *p = mmap(NULL, reg->offsets.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       ring->ring_fd, (off_t)rd->mmap_offset);

	if (p == MAP_FAILED)
		t_fail("mmap of %llu region bytes at %#llx: %s",
		       (unsigned long long)reg->offsets.size,
		       (unsigned long long)rd->mmap_offset, strerror(errno));
	return p;
}

static inline struct io_uring_sqe *t_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		t_fail("submission queue full");
	return sqe;
}

/* submits one SQE prepared by the caller and returns its CQE's res */
static inline int t_submit_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_submit_and_wait(ring, 1);

	if (ret != 1)
		t_fail("submit: %d", ret);
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		t_fail("wait_cqe: %d", ret);
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

#include <sys/syscall.h>
#include <linux/capability.h>

/* drops capability @cap from the effective and permitted sets, for good */
static inline void t_drop_cap(unsigned cap)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		t_fail("capget: %s", strerror(errno));
	data[cap / 32].effective &= ~(1u << (cap % 32));
	data[cap / 32].permitted &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &hdr, data))
		t_fail("capset: %s", strerror(errno));
}

/*
 * Pages io_uring can still charge to this user against RLIMIT_MEMLOCK (only
 * without CAP_IPC_LOCK): the largest fixed buffer of @scratch, up to
 * @max_pages, that registers on @ring.
 */
static inline unsigned t_memlock_headroom(struct io_uring *ring, uint8_t *scratch,
					  unsigned max_pages)
{
	unsigned lo = 0, hi = max_pages + 1;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		struct iovec iov = { scratch, (size_t)mid * 4096 };
		int ret = io_uring_register_buffers(ring, &iov, 1);

		if (ret == 0) {
			io_uring_unregister_buffers(ring);
			lo = mid;
		} else if (ret == -ENOMEM) {
			hi = mid;
		} else {
			t_fail("register_buffers(%u pages): %d", mid, ret);
		}
	}
	return lo;
}

/*
 * t_memlock_headroom() once the count stands still: a closed ring returns its
 * charges from a kernel worker, a little after io_uring_queue_exit().
 */
static inline unsigned t_memlock_settled(struct io_uring *ring, uint8_t *scratch,
					 unsigned max_pages)
{
	unsigned pages = t_memlock_headroom(ring, scratch, max_pages);

	for (int i = 0; i < 100; i++) {
		unsigned again;

		usleep(20000);
		again = t_memlock_headroom(ring, scratch, max_pages);
		if (again == pages)
			break;
		pages = again;
	}
	return pages;
}

/* sum of the pgalloc_* counters of /proc/vmstat: pages the kernel allocated */
static inline unsigned long long t_pages_allocated(void)
{
	char name[64];
	unsigned long long v, sum = 0;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		t_fail("/proc/vmstat: %s", strerror(errno));
	while (fscanf(f, "%63s %llu", name, &v) == 2)
		if (!strncmp(name, "pgalloc_", 8))
			sum += v;
	fclose(f);
	return sum;
}

/* prepares an IORING_OP_UNIFIED direct op */
static inline void t_prep_unified(struct io_uring_sqe *sqe, int fd, uint32_t stages,
				  uint64_t region_off, uint32_t len, uint64_t dev_off)
{
	io_uring_prep_rw(IORING_OP_UNIFIED, sqe, fd, NULL, len, stages);
	sqe->addr = region_off;
	sqe->addr3 = dev_off;
}

#include <linux/nvme_ioctl.h>

enum { T_NVME_WRITE = 0x01, T_NVME_READ = 0x02 };

/*
 * NVMe read or write passthrough on a generic char device with a fixed buffer:
 * @addr is the buffer address (a region offset for a unified region), @len a
 * multiple of the 4 KiB LBA size the test VM's namespace uses.
 */
static inline void t_prep_nvme_rw(struct io_uring_sqe *sqe, int fd, unsigned nsid,
				  uint8_t opcode, uint64_t addr, uint32_t len,
				  uint64_t slba, unsigned buf_index)
{
	struct nvme_uring_cmd *cmd = (struct nvme_uring_cmd *)sqe->cmd;

	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = NVME_URING_CMD_IO;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = buf_index;
	cmd->opcode = opcode;
	cmd->nsid = nsid;
	cmd->addr = addr;
	cmd->data_len = len;
	cmd->cdw10 = (uint32_t)slba;
	cmd->cdw11 = (uint32_t)(slba >> 32);
	cmd->cdw12 = len / 4096 - 1;	/* 0-based number of blocks */
}

#endif
