/* SPDX-License-Identifier: MIT */
/*
 * Every invalid field of IORING_REGISTER_UNIFIED_REGION gets its specific
 * errno and leaves nothing behind: each case starts from a valid
 * registration, corrupts one field, and afterwards a valid registration
 * still succeeds on the same ring.
 */
#include <fcntl.h>
#include <pthread.h>
#include "uio_test.h"

#define SIZE (64u << 10)
#define NR_BUFS 4

struct ctx {
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	void *guard;		/* a PROT_NONE page */
	int file_fd, null_fd;
	uint8_t *user_mem;
};

struct error_case {
	const char *what;
	void (*corrupt)(struct ctx *c);
	int want;
};

static void resv(struct ctx *c)		{ c->reg.__resv[1] = 1; }
static void resv1(struct ctx *c)	{ c->reg.__resv1[1] = 1; }
static void out_stats(struct ctx *c)	{ c->reg.net_stats = 64; }
static void out_rq(struct ctx *c)	{ c->reg.rq_tail = 64; }
static void out_offs(struct ctx *c)	{ c->reg.offsets.size = 4096; }
static void unknown_flag(struct ctx *c)	{ c->reg.flags |= 1u << 31; }
static void nodev_flag(struct ctx *c)	{ c->reg.flags |= IORING_UNIFIED_REG_NET_NODEV; }
static void index_no_flag(struct ctx *c) { c->reg.flags = 0; c->reg.buf_index = 1; }
static void index_range(struct ctx *c)	{ c->reg.buf_index = NR_BUFS; }
static void index_huge(struct ctx *c)	{ c->reg.buf_index = ~0u; }
static void index_used(struct ctx *c)	{ c->reg.buf_index = 1; }	/* slot 1 holds a buffer */
static void sq_zero(struct ctx *c)	{ c->reg.sq_entries = 0; }
static void sq_npot(struct ctx *c)	{ c->reg.sq_entries = 3; }
static void cq_npot(struct ctx *c)	{ c->reg.cq_entries = 100; }
static void sq_big(struct ctx *c)	{ c->reg.sq_entries = 1u << 16; }
static void cq_big(struct ctx *c)	{ c->reg.cq_entries = 1u << 31; }
static void size_zero(struct ctx *c)	{ c->reg.region_size = 0; }
static void size_small(struct ctx *c)	{ c->reg.region_size = 4095; }
static void size_odd(struct ctx *c)	{ c->reg.region_size = SIZE + 1; }
static void size_huge(struct ctx *c)	{ c->reg.region_size = 1ull << 62; }
static void size_wrap(struct ctx *c)	{ c->reg.region_size = ~4095ull; }
static void rd_null(struct ctx *c)	{ c->reg.region_ptr = 0; }
static void rd_guard(struct ctx *c)	{ c->reg.region_ptr = (uintptr_t)c->guard; }
static void rd_size(struct ctx *c)	{ c->rd.size = 4096; }
static void rd_id(struct ctx *c)	{ c->rd.id = 1; }
static void rd_mmap_off(struct ctx *c)	{ c->rd.mmap_offset = 4096; }
static void rd_resv(struct ctx *c)	{ c->rd.__resv[0] = 1; }
static void rd_flags(struct ctx *c)	{ c->rd.flags = 2; }
static void rd_user_null(struct ctx *c)	{ c->rd.flags = IORING_MEM_REGION_TYPE_USER; c->rd.size = 1u << 20; }
static void rd_addr_no_user(struct ctx *c) { c->rd.user_addr = (uintptr_t)c->user_mem; }
static void rd_user_unaligned(struct ctx *c)
{
	c->rd.flags = IORING_MEM_REGION_TYPE_USER;
	c->rd.user_addr = (uintptr_t)c->user_mem + 8;
	c->rd.size = 1u << 20;
}
static void rd_user_guard(struct ctx *c)
{
	c->rd.flags = IORING_MEM_REGION_TYPE_USER;
	c->rd.user_addr = (uintptr_t)c->guard;
	c->rd.size = 1u << 20;
}
static void nvme_neg(struct ctx *c)	{ c->reg.nvme_fd = -5; }
static void nvme_closed(struct ctx *c)	{ c->reg.nvme_fd = 999; }
static void nvme_file(struct ctx *c)	{ c->reg.nvme_fd = c->file_fd; }
static void nvme_chr(struct ctx *c)	{ c->reg.nvme_fd = c->null_fd; }
static void net_if(struct ctx *c)	{ c->reg.net_ifindex = 1; }
static void net_rxq(struct ctx *c)	{ c->reg.net_rxq = 1; }
static void net_len(struct ctx *c)	{ c->reg.net_area_len = 4096; }
static void rq_entries(struct ctx *c)	{ c->reg.rq_entries = 64; }

static const struct error_case cases[] = {
	{ "__resv not zero", resv, -EINVAL },
	{ "__resv1 not zero", resv1, -EINVAL },
	{ "output net_stats set on input", out_stats, -EINVAL },
	{ "output rq_tail set on input", out_rq, -EINVAL },
	{ "output offsets set on input", out_offs, -EINVAL },
	{ "unknown flag", unknown_flag, -EINVAL },
	{ "NET_NODEV without rq_entries", nodev_flag, -EINVAL },
	{ "buf_index without FIXED_BUF", index_no_flag, -EINVAL },
	{ "buf_index == table size", index_range, -EINVAL },
	{ "buf_index ~0", index_huge, -EINVAL },
	{ "buf_index already in use", index_used, -EBUSY },
	{ "sq_entries 0", sq_zero, -EINVAL },
	{ "sq_entries 3", sq_npot, -EINVAL },
	{ "cq_entries 100", cq_npot, -EINVAL },
	{ "sq_entries 65536", sq_big, -EINVAL },
	{ "cq_entries 2^31", cq_big, -EINVAL },
	{ "region_size 0", size_zero, -EINVAL },
	{ "region_size 4095", size_small, -EINVAL },
	{ "region_size not a page multiple", size_odd, -EINVAL },
	{ "region_size 2^62", size_huge, -E2BIG },
	{ "region_size wraps", size_wrap, -E2BIG },
	{ "region_ptr NULL", rd_null, -EFAULT },
	{ "region_ptr unmapped", rd_guard, -EFAULT },
	{ "kernel memory with a size", rd_size, -EINVAL },
	{ "region desc id", rd_id, -EINVAL },
	{ "region desc mmap_offset on input", rd_mmap_off, -EINVAL },
	{ "region desc __resv", rd_resv, -EINVAL },
	{ "region desc unknown flag", rd_flags, -EINVAL },
	{ "user memory at NULL", rd_user_null, -EFAULT },
	{ "user_addr without TYPE_USER", rd_addr_no_user, -EFAULT },
	{ "user memory not page aligned", rd_user_unaligned, -EINVAL },
	{ "user memory unmapped", rd_user_guard, -EFAULT },
	{ "nvme_fd negative", nvme_neg, -EBADF },
	{ "nvme_fd not open", nvme_closed, -EBADF },
	{ "nvme_fd a regular file", nvme_file, -EINVAL },
	{ "nvme_fd /dev/null", nvme_chr, -EINVAL },
	{ "net_ifindex without rq_entries", net_if, -EINVAL },
	{ "net_rxq without a network binding", net_rxq, -EINVAL },
	{ "net_area_len without a network binding", net_len, -EINVAL },
	{ "rq_entries without network", rq_entries, -EINVAL },
};

static void reset(struct ctx *c)
{
	t_region_defaults(&c->reg, &c->rd, SIZE, 0);
}

static void *other_task(void *arg)
{
	struct io_uring *ring = arg;
	struct ctx c;

	t_region_defaults(&c.reg, &c.rd, SIZE, 0);
	return (void *)(intptr_t)t_region_register(ring, &c.reg);
}

int main(void)
{
	struct io_uring ring;
	struct ctx c = { 0 };
	struct iovec iov;
	pthread_t thr;
	void *res;
	int ret;

	c.guard = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.user_mem = mmap(NULL, 2u << 20, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	c.file_fd = open("/tmp/region_errors", O_RDWR | O_CREAT, 0600);
	c.null_fd = open("/dev/null", O_RDWR);
	if (c.guard == MAP_FAILED || c.user_mem == MAP_FAILED || c.file_fd < 0 || c.null_fd < 0)
		t_fail("setup: %s", strerror(errno));

	t_ring_init(&ring, 8, 0, NR_BUFS);
	iov = (struct iovec){ .iov_base = c.user_mem, .iov_len = 4096 };
	ret = io_uring_register_buffers_update_tag(&ring, 1, &iov, NULL, 1);
	if (ret != 1)
		t_fail("installing a buffer in slot 1: %d", ret);

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		reset(&c);
		cases[i].corrupt(&c);
		ret = t_region_register(&ring, &c.reg);
		if (ret != cases[i].want)
			t_fail("%s: got %d (%s), want %d (%s)", cases[i].what, ret,
			       strerror(-ret), cases[i].want, strerror(-cases[i].want));
		/* nothing half-registered: a valid registration works right after */
		reset(&c);
		ret = t_region_register(&ring, &c.reg);
		if (ret)
			t_fail("valid registration after '%s': %d", cases[i].what, ret);
		ret = t_region_unregister(&ring);
		if (ret)
			t_fail("unregister after '%s': %d", cases[i].what, ret);
		printf("ok  %-40s %s\n", cases[i].what, strerror(-cases[i].want));
	}

	/* the registration struct itself unreadable, and the syscall's own arguments */
	ret = io_uring_register(ring.ring_fd, IORING_REGISTER_UNIFIED_REGION, c.guard, 1);
	if (ret != -EFAULT)
		t_fail("unreadable registration: %d", ret);
	reset(&c);
	ret = io_uring_register(ring.ring_fd, IORING_REGISTER_UNIFIED_REGION, &c.reg, 2);
	if (ret != -EINVAL)
		t_fail("nr_args 2: %d", ret);
	ret = io_uring_register(ring.ring_fd, IORING_REGISTER_UNIFIED_REGION, NULL, 1);
	if (ret != -EINVAL)
		t_fail("NULL arg: %d", ret);
	ret = io_uring_register(ring.ring_fd, IORING_UNREGISTER_UNIFIED_REGION, &c.reg, 0);
	if (ret != -EINVAL)
		t_fail("unregister with an argument: %d", ret);
	ret = t_region_unregister(&ring);
	if (ret != -ENXIO)
		t_fail("unregister with nothing registered: %d", ret);
	io_uring_queue_exit(&ring);

	/* a single-issuer ring refuses registration from another task */
	t_ring_init(&ring, 8, IORING_SETUP_SINGLE_ISSUER, 0);
	reset(&c);
	c.reg.flags = 0;
	if (pthread_create(&thr, NULL, other_task, &ring) || pthread_join(thr, &res))
		t_fail("thread");
	if ((intptr_t)res != -EEXIST)
		t_fail("registration from another task: %d, want -EEXIST", (int)(intptr_t)res);
	ret = t_region_register(&ring, &c.reg);
	if (ret)
		t_fail("registration from the issuer: %d", ret);
	io_uring_queue_exit(&ring);
	printf("ok  %zu invalid registrations refused, nothing left behind\n",
	       sizeof(cases) / sizeof(cases[0]));
	return T_EXIT_PASS;
}
