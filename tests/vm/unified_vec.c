/* SPDX-License-Identifier: MIT */
/*
 * IORING_OP_UNIFIED with a span list (IORING_UNIFIED_OP_VEC): spans scattered
 * over the region, in any order, reach /dev/nvme0n1 as one contiguous range
 * and come back into other scattered spans, byte for byte, with no bounce
 * buffer; the list is read at submission; every bad list or stage set fails
 * with its errno and leaves the device as it was.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include "uio_test.h"

#define SIZE (16u << 20)
#define PAGE 4096u
#define VEC_W (IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_VEC | IORING_UNIFIED_OP_WRITE)
#define VEC_R (IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_VEC)
#define MAX_SPANS 1024u

static struct io_uring ring;
static uint8_t *map;
static int blk;
static unsigned lbs;	/* the device's logical block size */
static struct io_uring_unified_region_reg reg;

static void prep_vec(struct io_uring_sqe *sqe, int fd, uint32_t stages,
		     const struct io_unified_span *spans, uint32_t nr, uint64_t dev_off)
{
	t_prep_unified(sqe, fd, stages, (uint64_t)(uintptr_t)spans, nr, dev_off);
}

/* one span-list op; the CQE32 fields come back through @big */
static int vec_op(uint32_t stages, const struct io_unified_span *spans, uint32_t nr,
		  uint64_t dev_off, uint64_t big[2])
{
	struct io_uring_cqe *cqe;
	int ret;

	prep_vec(t_get_sqe(&ring), blk, stages, spans, nr, dev_off);
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

/*
 * 256 one-page spans, every other page of the first 2 MiB in reverse order
 * (the way fragments of a stream land), written as one 1 MiB device range;
 * then read back into the odd pages in forward order.
 */
static void scatter_gather(void)
{
	static struct io_unified_span spans[256];
	uint64_t big[2];
	uint8_t *buf;
	unsigned long long before, allocated;

	if (posix_memalign((void **)&buf, PAGE, 1u << 20))
		t_fail("alloc");
	for (unsigned i = 0; i < 256; i++) {
		spans[i] = (struct io_unified_span){ .addr = (510 - 2 * i) * (uint64_t)PAGE,
						     .len = PAGE };
		t_fill(map + spans[i].addr, PAGE, 5, (uint64_t)i * PAGE);
	}
	before = t_pages_allocated();
	t_expect("write 256 spans", vec_op(VEC_W, spans, 256, 16u << 20, big), 1 << 20);
	allocated = t_pages_allocated() - before;
	if (big[0] != spans[0].addr || big[1] != VEC_W)
		t_fail("CQE32: offset %llu stages %#llx", (unsigned long long)big[0],
		       (unsigned long long)big[1]);
	device_read(16u << 20, buf, 1u << 20);
	if (t_verify(buf, 1u << 20, 5, 0) >= 0)
		t_fail("device range differs from the spans in list order");
	/* a bounce buffer for 1 MiB needs 256 pages */
	if (allocated >= 64)
		t_fail("%llu pages allocated during a 1 MiB span-list write: bounced?", allocated);

	for (unsigned i = 0; i < 256; i++) {
		spans[i] = (struct io_unified_span){ .addr = (2 * i + 1) * (uint64_t)PAGE,
						     .len = PAGE };
		memset(map + spans[i].addr, 0, PAGE);
	}
	t_expect("read 256 spans", vec_op(VEC_R, spans, 256, 16u << 20, NULL), 1 << 20);
	for (unsigned i = 0; i < 256; i++)
		if (t_verify(map + spans[i].addr, PAGE, 5, (uint64_t)i * PAGE) >= 0)
			t_fail("span %u of the read differs", i);
	printf("256 scattered pages -> one 1 MiB device range -> 256 other pages: identical;"
	       " %llu pages allocated during the write (no bounce)\n", allocated);
	free(buf);
}

/* the most spans, each one logical block long, with gaps between them */
static void max_spans(void)
{
	static struct io_unified_span spans[MAX_SPANS];
	uint8_t *buf;
	size_t total = (size_t)MAX_SPANS * lbs;

	if (posix_memalign((void **)&buf, PAGE, total))
		t_fail("alloc");
	for (unsigned i = 0; i < MAX_SPANS; i++) {
		/* block i goes to offset 3 * lbs * i: gaps between the spans */
		spans[i] = (struct io_unified_span){ .addr = 3ull * lbs * i, .len = lbs };
		t_fill(map + spans[i].addr, lbs, 6, (uint64_t)i * lbs);
	}
	t_expect("1024 spans", vec_op(VEC_W, spans, MAX_SPANS, 32u << 20, NULL), (int)total);
	device_read(32u << 20, buf, total);
	if (t_verify(buf, total, 6, 0) >= 0)
		t_fail("1024-span write differs");
	printf("%u spans of %u bytes with gaps: one %zu-byte device range, identical\n",
	       MAX_SPANS, lbs, total);
	free(buf);
}

/* the list is copied at submission: the caller may reuse it at once */
static void list_copied(void)
{
	struct io_unified_span spans[2] = { { .addr = 8 * PAGE, .len = PAGE }, { .addr = 0, .len = PAGE } };
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	uint8_t *buf;

	if (posix_memalign((void **)&buf, PAGE, 2 * PAGE))
		t_fail("alloc");
	t_fill(map + 8 * PAGE, PAGE, 7, 0);
	t_fill(map, PAGE, 7, PAGE);
	sqe = t_get_sqe(&ring);
	prep_vec(sqe, blk, VEC_W, spans, 2, 48u << 20);
	sqe->flags |= IOSQE_ASYNC;
	if (io_uring_submit(&ring) != 1)
		t_fail("submit");
	memset(spans, 0xff, sizeof(spans));
	if (io_uring_wait_cqe(&ring, &cqe))
		t_fail("wait");
	t_expect("write from io-wq, list overwritten after submit", cqe->res, 2 * PAGE);
	io_uring_cqe_seen(&ring, cqe);
	device_read(48u << 20, buf, 2 * PAGE);
	if (t_verify(buf, 2 * PAGE, 7, 0) >= 0)
		t_fail("write of a list overwritten after submission differs");
	printf("list overwritten right after submission (op in io-wq): data as submitted\n");
	free(buf);
}

/* a list of one span that must be refused with @want */
static void check_one(const char *what, int want, uint32_t stages, uint64_t addr, uint32_t len,
		      uint32_t resv, uint64_t dev_off)
{
	struct io_unified_span s = { .addr = addr, .len = len, .__resv = resv };

	t_expect(what, vec_op(stages, &s, 1, dev_off, NULL), want);
}

static void refusals(void)
{
	static struct io_unified_span many[MAX_SPANS + 1];
	struct io_unified_span s[2];
	struct io_uring_sqe *sqe;
	uint64_t devsize = 0;
	uint8_t *before, *after;
	int plain = open("/dev/nvme0n1", O_RDWR);
	int checked = 0;

	if (posix_memalign((void **)&before, PAGE, 1u << 16) ||
	    posix_memalign((void **)&after, PAGE, 1u << 16) || plain < 0)
		t_fail("setup");
	ioctl(blk, BLKGETSIZE64, &devsize);
	device_read(1u << 20, before, 1u << 16);
	t_fill(map, 1u << 16, 99, 0);

	check_one("span past the data area", -EFAULT, VEC_W, SIZE - PAGE, 2 * PAGE, 0, 1u << 20);
	check_one("span addr + len overflows", -EOVERFLOW, VEC_W, ~0ull - PAGE + 1, 2 * PAGE, 0, 1u << 20);
	check_one("zero-length span", -EINVAL, VEC_W, 0, 0, 0, 1u << 20);
	check_one("reserved field set", -EINVAL, VEC_W, 0, PAGE, 1, 1u << 20);
	check_one("span length not a block multiple", -EINVAL, VEC_W, 0, lbs + 100, 0, 1u << 20);
	check_one("span offset not block aligned", -EINVAL, VEC_W, 100, lbs, 0, 1u << 20);
	check_one("device offset not block aligned", -EINVAL, VEC_W, 0, PAGE, 0, (1u << 20) + 100);
	check_one("range past the device's end", -ERANGE, VEC_W, 0, 2 * PAGE, 0, devsize - PAGE);
	check_one("VEC without the storage stage", -EINVAL, IORING_UNIFIED_OP_VEC, 0, PAGE, 0, 1u << 20);
	check_one("VEC with the network stage", -EINVAL, VEC_W | IORING_UNIFIED_OP_NET, 0, PAGE, 0, 1u << 20);
	check_one("VEC with the BPF stage", -EINVAL, VEC_W | IORING_UNIFIED_OP_BPF, 0, PAGE, 0, 1u << 20);
	check_one("VEC with BATCH", -EINVAL, VEC_W | IORING_UNIFIED_OP_BATCH, 0, PAGE, 0, 1u << 20);
	check_one("VEC with an unknown stage", -EINVAL, VEC_W | (1u << 20), 0, PAGE, 0, 1u << 20);

	/* a second, valid span after a bad one, and lists that are bad as a whole */
	s[0] = (struct io_unified_span){ .addr = 0, .len = 2 * PAGE };
	s[1] = (struct io_unified_span){ .addr = PAGE, .len = PAGE };
	t_expect("overlapping spans", vec_op(VEC_W, s, 2, 1u << 20, NULL), -EINVAL);
	s[1] = s[0];
	t_expect("the same span twice", vec_op(VEC_W, s, 2, 1u << 20, NULL), -EINVAL);
	s[1] = (struct io_unified_span){ .addr = 4 * PAGE, .len = 100 };
	t_expect("second span not a block multiple", vec_op(VEC_W, s, 2, 1u << 20, NULL), -EINVAL);
	t_expect("reading spans that overlap", vec_op(VEC_R, (struct io_unified_span[]){
		{ .addr = 0, .len = 2 * PAGE }, { .addr = PAGE, .len = PAGE } }, 2, 1u << 20, NULL), -EINVAL);
	t_expect("no spans", vec_op(VEC_W, s, 0, 1u << 20, NULL), -EINVAL);
	for (unsigned i = 0; i <= MAX_SPANS; i++)
		many[i] = (struct io_unified_span){ .addr = (uint64_t)i * lbs, .len = lbs };
	t_expect("1025 spans", vec_op(VEC_W, many, MAX_SPANS + 1, 1u << 20, NULL), -EINVAL);
	t_expect("list at an unmapped address", vec_op(VEC_W, (void *)8, 1, 1u << 20, NULL), -EFAULT);
	checked += 13 + 7;

	/* the file rules of a direct op */
	s[0] = (struct io_unified_span){ .addr = 0, .len = PAGE };
	prep_vec(t_get_sqe(&ring), plain, VEC_W, s, 1, 1u << 20);
	t_expect("block device without O_DIRECT", t_submit_one(&ring), -EINVAL);
	checked++;

	/* a descriptor cannot carry a span list: it fails on its own */
	{
		struct io_unified_ring_hdr *sq = (void *)(map + reg.offsets.sq_ring);
		struct io_unified_ring_hdr *cq = (void *)(map + reg.offsets.cq_ring);
		struct io_unified_desc *sd = (void *)(map + reg.offsets.sq_descs);
		struct io_unified_desc *cd = (void *)(map + reg.offsets.cq_descs);
		uint32_t tail = __atomic_load_n(&sq->tail, __ATOMIC_RELAXED);
		uint32_t head = __atomic_load_n(&cq->head, __ATOMIC_RELAXED);

		sd[tail & sq->ring_mask] = (struct io_unified_desc){
			.user_data = 42, .addr = 0, .dev_off = 1u << 20, .len = PAGE,
			.op_flags = VEC_W, .fd = blk };
		__atomic_store_n(&sq->tail, tail + 1, __ATOMIC_RELEASE);
		sqe = t_get_sqe(&ring);
		io_uring_prep_rw(IORING_OP_UNIFIED, sqe, -1, NULL, 1, IORING_UNIFIED_OP_BATCH);
		t_expect("batch of one VEC descriptor", t_submit_one(&ring), 1);
		if (__atomic_load_n(&cq->tail, __ATOMIC_ACQUIRE) != head + 1)
			t_fail("no result descriptor");
		if (cd[head & cq->ring_mask].user_data != 42)
			t_fail("result of another descriptor");
		t_expect("VEC in a descriptor", cd[head & cq->ring_mask].res, -EINVAL);
		__atomic_store_n(&cq->head, head + 1, __ATOMIC_RELEASE);
		checked++;
	}
	device_read(1u << 20, after, 1u << 16);
	if (memcmp(before, after, 1u << 16))
		t_fail("a refused span list changed the device");
	printf("%d invalid span lists and stage sets refused with their errno, device unchanged\n",
	       checked);
	close(plain);
	free(before);
	free(after);
}

int main(void)
{
	struct io_uring_region_desc rd;
	struct io_uring_query_unified q = { 0 };
	struct io_unified_span s = { .addr = 0, .len = PAGE };
	int ret;

	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) < 0)
		t_fail("no IO_URING_QUERY_UNIFIED");
	if (!(q.op_flags & IORING_UNIFIED_OP_VEC))
		t_fail("IO_URING_QUERY_UNIFIED does not report IORING_UNIFIED_OP_VEC (%#llx)",
		       (unsigned long long)q.op_flags);
	blk = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	if (blk < 0 || ioctl(blk, BLKSSZGET, &lbs))
		t_fail("open /dev/nvme0n1: %s", strerror(errno));
	t_ring_init(&ring, 8, IORING_SETUP_CQE32, 0);

	t_expect("no region", vec_op(VEC_W, &s, 1, 0, NULL), -ENXIO);
	t_region_defaults(&reg, &rd, SIZE, 0);
	reg.flags = 0;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register: %d", ret);
	map = t_region_map(&ring, &reg, &rd);
	scatter_gather();
	max_spans();
	list_copied();
	refusals();
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
