/* SPDX-License-Identifier: MIT */
/*
 * The BPF stage of IORING_OP_UNIFIED, with the programs of bpf/ loaded by
 * libbpf and attached as the ring's io_uring_bpf_ops:
 *  - NVME|BPF: CRC32C over 1 MiB read from the NVMe disk equals userspace's
 *    over the same bytes; BPF alone over spans of odd lengths and at the last
 *    byte of the region;
 *  - BPF|NVME|WRITE: an in-place XOR, then the write; the device holds the
 *    transformed bytes (read back by pread); a vetoing program leaves the
 *    device unchanged;
 *  - NET|BPF: per-fragment CRC32C over a loopback stream into a device-less
 *    binding equals userspace's over the fragment; a veto ends the receive;
 *  - a loop program reaches the data area with bpf_io_uring_get_region();
 *  - the verifier refuses a program that reads past its window, and says why;
 *  - no program can forge what the kfuncs trust: a context built on the stack
 *    (unified_op's and loop_step's), the BPF stage's kfunc from a TCP
 *    congestion control, and a sleepable unified_op are refused, each with
 *    the verifier's reason;
 *  - no program attached: -ENOENT; detach with 1,000 ops in flight (100
 *    rounds of 10, x UIO_SOAK, a program of their own in 20 of them:
 *    test_lifetime()); ring exit with a program attached and used,
 *    1,000 times (x UIO_SOAK), one verified program attached to each ring
 *    anew (test_ring_exit() says why that keeps the point).
 */
#include <fcntl.h>
#include "net_test.h"
#include "bpf_test.h"
#include <bpf/btf.h>

#define SIZE (2u << 20)
#define ERESTARTSYS_ 512	/* the kernel's, not in userspace headers */
#define NVME "/dev/nvme0n1"

static unsigned soak = 1;

static uint8_t *region;
static size_t region_map_len;	/* the whole mapping: the data area and the rings */

static void ring_setup(struct io_uring *ring)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32,
	};
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	int ret = io_uring_queue_init_params(64, ring, &p);

	if (ret)
		t_fail("ring: %d", ret);
	if (io_uring_register_buffers_sparse(ring, 1))
		t_fail("buffer table");
	t_region_defaults(&reg, &rd, SIZE, 0);
	ret = t_region_register(ring, &reg);
	if (ret)
		t_fail("region: %d", ret);
	region = t_region_map(ring, &reg, &rd);
	region_map_len = reg.offsets.size;
}

/* all of it: a mapping left behind would keep the ring's file, and so the ring, alive */
static void region_unmap(void)
{
	munmap(region, region_map_len);
}

/* one op on @ring; returns res, the CQE's big fields in @big */
static int run(struct io_uring *ring, int fd, uint32_t stages, uint64_t off, uint32_t len,
	       uint64_t dev_off, uint64_t big[2])
{
	struct io_uring_sqe *sqe = t_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int ret;

	t_prep_unified(sqe, fd, stages, off, len, dev_off);
	sqe->user_data = 42;
	if (io_uring_submit_and_wait(ring, 1) != 1 || io_uring_wait_cqe(ring, &cqe))
		t_fail("submit");
	ret = cqe->res;
	if (big) {
		big[0] = cqe->big_cqe[0];
		big[1] = cqe->big_cqe[1];
	}
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static void test_checksum(struct io_uring *ring, int nvme)
{
	static const struct { uint64_t off; uint32_t len; } spans[] = {
		{ 0, 1 }, { 4095, 2 }, { 12345, 777 }, { 64, 64 }, { SIZE - 1, 1 }, { SIZE - 4096, 4096 },
	};
	static uint8_t buf[1u << 20] __attribute__((aligned(4096)));
	struct t_bpf_ops ops;
	uint64_t big[2];
	int ret;

	ret = t_bpf_load("checksum", ring, t_bpf_setup_crc, &ops);
	if (ret)
		t_fail("load checksum: %d\n%s", ret, t_bpf_log);

	/* the disk gets a pattern by O_DIRECT write, the op reads it and sums it */
	t_fill(buf, sizeof(buf), 3, 0);
	if (pwrite(nvme, buf, sizeof(buf), 8u << 20) != sizeof(buf))
		t_fail("pwrite");
	memset(region, 0, sizeof(buf));
	ret = run(ring, nvme, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_BPF, 0, sizeof(buf), 8u << 20, big);
	if (ret != sizeof(buf))
		t_fail("NVME|BPF: %d", ret);
	if (big[0] != 0 || (uint32_t)big[1] != (IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_BPF))
		t_fail("CQE32: offset %llu stages %#llx", (unsigned long long)big[0],
		       (unsigned long long)(uint32_t)big[1]);
	if ((big[1] >> 32) != t_crc31(buf, sizeof(buf)) || (big[1] >> 32) != t_crc31(region, sizeof(buf)))
		t_fail("NVME|BPF: BPF says %#llx, userspace %#x",
		       (unsigned long long)(big[1] >> 32), t_crc31(buf, sizeof(buf)));
	printf("NVME|BPF: 1 MiB read from the disk, CRC32C in the kernel %#llx = userspace %#x\n",
	       (unsigned long long)(big[1] >> 32), t_crc31(buf, sizeof(buf)));

	/* BPF alone, odd lengths, the last byte of the region */
	t_fill(region, SIZE, 5, 0);
	for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		ret = run(ring, -1, IORING_UNIFIED_OP_BPF, spans[i].off, spans[i].len, 0, big);
		if (ret != (int)spans[i].len || (big[1] >> 32) != t_crc31(region + spans[i].off, spans[i].len))
			t_fail("BPF over %llu+%u: res %d, %#llx != %#x", (unsigned long long)spans[i].off,
			       spans[i].len, ret, (unsigned long long)(big[1] >> 32),
			       t_crc31(region + spans[i].off, spans[i].len));
	}
	printf("BPF alone: %zu spans of odd lengths and at the region's last byte, checksums equal\n",
	       sizeof(spans) / sizeof(spans[0]));

	/* inputs the stage refuses */
	if ((ret = run(ring, 3, IORING_UNIFIED_OP_BPF, 0, 64, 0, NULL)) != -EINVAL)
		t_fail("BPF alone with a file: %d", ret);
	if ((ret = run(ring, -1, IORING_UNIFIED_OP_BPF, SIZE - 1, 2, 0, NULL)) != -EFAULT)
		t_fail("BPF past the region: %d", ret);
	if ((ret = run(ring, -1, IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_NET, 0, 0, 0, NULL)) != -ENOLINK)
		t_fail("NET|BPF without a network binding: %d", ret);
	if ((ret = run(ring, -1, IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE,
		       0, 64, 0, NULL)) != -EOPNOTSUPP)
		t_fail("BPF|NET|WRITE: %d", ret);
	t_bpf_unload(&ops);
	if ((ret = run(ring, -1, IORING_UNIFIED_OP_BPF, 0, 64, 0, NULL)) != -ENOENT)
		t_fail("BPF with no program attached: %d", ret);
}

static void setup_magic(void *rodata, size_t size)
{
	(void)rodata;
	(void)size;	/* the default magic, "UIOBLOCK" */
}

static void test_write(struct io_uring *ring, int nvme)
{
	static uint8_t back[65536] __attribute__((aligned(4096)));
	const uint64_t dev_off = 16u << 20;
	struct t_bpf_ops ops;
	int ret;

	/* XOR in place, then write: the disk holds the transformed bytes */
	if ((ret = t_bpf_load("xor", ring, NULL, &ops)))
		t_fail("load xor: %d\n%s", ret, t_bpf_log);
	t_fill(region, sizeof(back), 7, 0);
	ret = run(ring, nvme, IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE, 0,
		  sizeof(back), dev_off, NULL);
	if (ret != sizeof(back))
		t_fail("BPF|NVME|WRITE: %d", ret);
	if (pread(nvme, back, sizeof(back), dev_off) != sizeof(back))
		t_fail("pread");
	for (size_t i = 0; i < sizeof(back); i++)
		if (back[i] != (uint8_t)(t_pattern(7, i) ^ 0x5a))
			t_fail("byte %zu on the disk is not the transformed one", i);
	t_bpf_unload(&ops);
	printf("BPF|NVME|WRITE: 64 KiB transformed in place, then written; the disk holds the XORed bytes\n");

	/* a veto: nothing is written */
	if ((ret = t_bpf_load("validate", ring, setup_magic, &ops)))
		t_fail("load validate: %d\n%s", ret, t_bpf_log);
	t_fill(region, sizeof(back), 9, 0);	/* no magic at the block starts */
	ret = run(ring, nvme, IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE, 0,
		  sizeof(back), dev_off, NULL);
	if (ret != -EBADMSG)
		t_fail("a vetoed write: %d, want -EBADMSG", ret);
	if (pread(nvme, back, sizeof(back), dev_off) != sizeof(back))
		t_fail("pread");
	for (size_t i = 0; i < sizeof(back); i++)
		if (back[i] != (uint8_t)(t_pattern(7, i) ^ 0x5a))
			t_fail("a vetoed write changed byte %zu of the disk", i);
	/* with the magic in every block it goes through */
	for (size_t b = 0; b < sizeof(back); b += 4096)
		memcpy(region + b, "UIOBLOCK", 8);
	ret = run(ring, nvme, IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_WRITE, 0,
		  sizeof(back), dev_off, NULL);
	if (ret != sizeof(back))
		t_fail("a valid write: %d", ret);
	t_bpf_unload(&ops);
	printf("veto: blocks without their magic refused with -EBADMSG, the disk unchanged; valid ones written\n");
}

/* one receive of NET|BPF until it ends; returns the final res */
static int net_bpf_receive(struct io_uring *ring, struct t_net_region *r, int fd, uint64_t seed,
			   uint32_t cap, uint64_t *got, unsigned *fragments, int *vetoed_result)
{
	const uint32_t stages = IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_BPF;
	struct io_uring_sqe *sqe = t_get_sqe(ring);

	t_prep_unified(sqe, fd, stages, 0, cap, 0);
	sqe->user_data = 1;
	for (;;) {
		struct io_uring_cqe *cqe;

		if (io_uring_submit_and_wait(ring, 1) < 0 || io_uring_peek_cqe(ring, &cqe))
			t_fail("wait");
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			int res = cqe->res;

			io_uring_cqe_seen(ring, cqe);
			return res;
		}
		uint64_t off = cqe->big_cqe[0];
		uint32_t len = (uint32_t)cqe->res;
		int32_t result = (int32_t)(cqe->big_cqe[1] >> 32);

		if ((uint32_t)cqe->big_cqe[1] != stages)
			t_fail("fragment CQE stages %#x", (uint32_t)cqe->big_cqe[1]);
		if (t_verify(r->map + off, len, seed, *got) >= 0)
			t_fail("fragment at %llu: wrong bytes", (unsigned long long)off);
		if (result < 0)
			*vetoed_result = result;
		else if ((uint32_t)result != t_crc31(r->map + off, len))
			t_fail("fragment %u: BPF %#x, userspace %#x", *fragments, result,
			       t_crc31(r->map + off, len));
		*got += len;
		++*fragments;
		t_refill(r, off, len);
		io_uring_cqe_seen(ring, cqe);
	}
}

static void test_net(void)
{
	const uint64_t total = 4u << 20;
	struct t_net_region r;
	struct io_uring ring;
	struct t_sender tx;
	struct t_bpf_ops ops;
	uint64_t got = 0;
	unsigned fragments = 0, rearms = 0;
	int wfd, rfd, res, vetoed = 0;

	t_net_ring(&ring);
	t_net_region_defaults(&r, SIZE, 1u << 20, 256);
	if (t_net_region_register(&ring, &r))
		t_fail("region with a device-less binding");
	if ((res = t_bpf_load("checksum", &ring, t_bpf_setup_crc, &ops)))
		t_fail("load checksum: %d\n%s", res, t_bpf_log);

	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 23, total);
	while ((res = net_bpf_receive(&ring, &r, rfd, 23, 0, &got, &fragments, &vetoed)) != 0) {
		if (res != -ENOSPC && res != -ENOMEM)
			t_fail("NET|BPF receive ended with %d", res);
		rearms++;
	}
	t_sender_join(&tx);
	if (got != total || vetoed)
		t_fail("NET|BPF: %llu of %llu bytes, veto %d", (unsigned long long)got,
		       (unsigned long long)total, vetoed);
	t_bpf_unload(&ops);
	printf("NET|BPF: %u fragments of a 4 MiB stream, each one's CRC32C in its CQE equal to "
	       "userspace's (%u re-arms)\n", fragments, rearms);
	close(rfd);

	/* the validating filter vetoes the first fragment: the receive ends there */
	if ((res = t_bpf_load("validate", &ring, setup_magic, &ops)))
		t_fail("load validate: %d\n%s", res, t_bpf_log);
	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 29, 256 * 1024);
	got = 0;
	fragments = 0;
	res = net_bpf_receive(&ring, &r, rfd, 29, 0, &got, &fragments, &vetoed);
	/* the first fragment has no magic: it is the only one posted */
	if (res != -EBADMSG || vetoed != -EBADMSG || fragments != 1)
		t_fail("a vetoed receive: res %d, fragment result %d, %u fragments", res, vetoed,
		       fragments);
	close(rfd);
	t_sender_join(&tx);

	/*
	 * A capped receive whose vetoed fragment fills the cap still ends with
	 * the veto, not with the 0 of a cap reached (found by uio_fuzz).
	 */
	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 31, 64 * 1024);
	got = 0;
	fragments = 0;
	vetoed = 0;
	res = net_bpf_receive(&ring, &r, rfd, 31, 1, &got, &fragments, &vetoed);
	if (res != -EBADMSG || vetoed != -EBADMSG || fragments != 1 || got != 1)
		t_fail("a capped receive vetoed at its cap: res %d, fragment result %d, "
		       "%u fragments, %llu bytes", res, vetoed, fragments, (unsigned long long)got);
	t_bpf_unload(&ops);
	close(rfd);
	t_sender_join(&tx);
	printf("NET|BPF veto: the receive ended with -EBADMSG right after the vetoed fragment, "
	       "whose CQE carries the errno, also when that fragment fills the cap\n");
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);
}

/* what the kernel makes of a program's return value */
static int verdict_value;

static void setup_verdict(void *rodata, size_t size)
{
	if (size < sizeof(verdict_value))
		t_fail("verdict program's rodata is %zu bytes", size);
	memcpy(rodata, &verdict_value, sizeof(verdict_value));
}

static void test_verdicts(struct io_uring *ring)
{
	static const struct { int returned, res, result; } cases[] = {
		{ 0, 64, 0 },				/* go on */
		{ 12345, 64, 12345 },			/* a result for the CQE */
		{ -EBADMSG, -EBADMSG, 0 },		/* an errno ends the op */
		{ -ERESTARTSYS_, -EINVAL, 0 },		/* the kernel's own: never to userspace */
		{ -100000, -EINVAL, 0 },		/* not an errno at all */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t_bpf_ops ops;
		uint64_t big[2];
		int ret;

		verdict_value = cases[i].returned;
		if ((ret = t_bpf_load("verdict", ring, setup_verdict, &ops)))
			t_fail("load verdict: %d\n%s", ret, t_bpf_log);
		ret = run(ring, -1, IORING_UNIFIED_OP_BPF, 0, 64, 0, big);
		if (ret != cases[i].res || (ret >= 0 && (int32_t)(big[1] >> 32) != cases[i].result))
			t_fail("program returning %d: res %d, result %d", cases[i].returned, ret,
			       (int32_t)(big[1] >> 32));
		t_bpf_unload(&ops);
	}
	printf("verdicts: results reach the CQE, errnos end the op, the kernel's own errnos and "
	       "non-errnos become -EINVAL\n");
}

/* a loop program reaches the data area through bpf_io_uring_get_region() */
static void test_loop(void)
{
	struct io_uring ring;
	struct t_bpf_ops ops;
	uint64_t sum = 0, got;
	int ret;

	ring_setup(&ring);
	for (int i = 0; i < 64; i++) {
		region[i] = (uint8_t)(i * 7 + 3);
		sum += region[i];
	}
	memset(region + 64, 0, 8);
	if ((ret = t_bpf_load("region_loop", &ring, NULL, &ops)))
		t_fail("load region_loop: %d\n%s", ret, t_bpf_log);
	/* with loop ops attached, an enter runs the loop */
	ret = io_uring_enter(ring.ring_fd, 0, 0, 0, NULL);
	memcpy(&got, region + 64, 8);
	if (ret < 0 || got != sum)
		t_fail("loop program: enter %d, sum %llu, want %llu", ret, (unsigned long long)got,
		       (unsigned long long)sum);
	t_bpf_unload(&ops);
	region_unmap();
	io_uring_queue_exit(&ring);
	printf("loop program: bpf_io_uring_get_region(IOU_REGION_UNIFIED) read the data area and "
	       "wrote the sum back\n");
}

static void test_verifier(struct io_uring *ring)
{
	struct t_bpf_ops ops;
	int ret = t_bpf_load("overread", ring, NULL, &ops);

	if (!ret)
		t_fail("a program reading past its window loaded");
	if (!strstr(t_bpf_log, "invalid access to memory"))
		t_fail("the verifier's message did not reach the loader:\n%s", t_bpf_log);
	printf("verifier: a read one byte past the window refused (%d): \"invalid access to memory\"\n", ret);
}

/* programs of tests/vm/bpf/ that must not load, and the words that say why */
static const struct {
	const char *name;
	const char *what;
	const char *reason;
} refused[] = {
	{ "forge_ctx", "unified_op passing a context built on its stack",
	  "expected STRUCT iou_unified_ctx" },
	{ "forge_loop", "loop_step passing its stack as the ring", "expected STRUCT iou_ctx" },
	{ "foreign_tcp", "a tcp_congestion_ops program calling bpf_io_uring_unified_ptr()",
	  "calling kernel function bpf_io_uring_unified_ptr is not allowed" },
	{ "sleepable_op", "a sleepable unified_op", "attach to unsupported member unified_op" },
};

static void test_unforgeable(void)
{
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		int ret = t_bpf_try_load(refused[i].name);

		if (!ret)
			t_fail("%s: loaded", refused[i].what);
		if (!strstr(t_bpf_log, refused[i].reason))
			t_fail("%s: refused (%d) without \"%s\":\n%s", refused[i].what, ret,
			       refused[i].reason, t_bpf_log);
		printf("refused (%d): %s: \"%s\"\n", ret, refused[i].what, refused[i].reason);
	}
}

/* attaches @sp's program to @ring through a new map and link: their fds */
static void shared_prog_attach(const struct t_shared_prog *sp, struct io_uring *ring, int *map_fd,
			       int *link_fd)
{
	*map_fd = t_shared_prog_map(sp, ring->ring_fd);
	*link_fd = bpf_link_create(*map_fd, 0, BPF_STRUCT_OPS, NULL);
	if (*link_fd < 0)
		t_fail("struct_ops link: %s", strerror(errno));
}

/* lets go of a round's attachment: its own program (@own), or a link and map to the shared one */
static void lifetime_detach(int own, struct t_bpf_ops *ops, int map_fd, int link_fd)
{
	if (own) {
		t_bpf_unload(ops);
	} else {
		close(link_fd);
		close(map_fd);
	}
}

/*
 * Attach, then detach while storage ops with a BPF stage run in io-wq; ring
 * exit with a program attached. Every round has its own ring, struct_ops map
 * and link; two rounds in ten also a program of their own, loaded and
 * verified for it (one detached with ops queued, so the program's last
 * reference goes with them in flight; one left attached at ring exit), the
 * others share one program: verifying the checksum program took most of
 * this test's time under TCG and is not what the rounds test.
 */
static void test_lifetime(int nvme)
{
	const unsigned rounds = 100 * soak;
	unsigned enoent = 0, done = 0, fresh = 0;
	double t0 = t_now();
	struct t_shared_prog sp;
	struct t_bpf_ops shared = { 0 };
	struct io_uring first;

	/* the shared program, loaded (and attached) once on a ring of its own */
	ring_setup(&first);
	if (t_bpf_load("checksum", &first, t_bpf_setup_crc, &shared))
		t_fail("load");
	t_shared_prog_init(&sp, shared.obj);
	bpf_link__destroy(shared.link);
	region_unmap();
	io_uring_queue_exit(&first);

	for (unsigned i = 0; i < rounds; i++) {
		const int own = i % 10 < 2;
		struct io_uring ring;
		struct t_bpf_ops ops = { 0 };
		int map_fd = -1, link_fd = -1;

		ring_setup(&ring);
		if (own) {
			if (t_bpf_load("checksum", &ring, t_bpf_setup_crc, &ops))
				t_fail("round %u: load", i);
			fresh++;
		} else {
			shared_prog_attach(&sp, &ring, &map_fd, &link_fd);
		}
		for (int k = 0; k < 10; k++) {
			struct io_uring_sqe *sqe = t_get_sqe(&ring);

			t_prep_unified(sqe, nvme, IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_BPF,
				       (uint64_t)k * 4096, 4096, (uint64_t)k * 4096);
		}
		io_uring_submit(&ring);
		if (i % 2)	/* detach with ops queued */
			lifetime_detach(own, &ops, map_fd, link_fd);
		for (int k = 0; k < 10; k++) {
			struct io_uring_cqe *cqe;

			if (io_uring_wait_cqe(&ring, &cqe))
				t_fail("wait");
			if (cqe->res == -ENOENT)
				enoent++;
			else if (cqe->res == 4096)
				done++;
			else
				t_fail("op in flight across a detach: %d", cqe->res);
			io_uring_cqe_seen(&ring, cqe);
		}
		region_unmap();
		io_uring_queue_exit(&ring);	/* with the program still attached half the time */
		if (!(i % 2))
			lifetime_detach(own, &ops, map_fd, link_fd);
	}
	bpf_object__close(shared.obj);
	printf("lifetime: %u rounds (%u with a program of their own, the others sharing one); %u ops "
	       "completed, %u found no program after a detach; ring exit with a program attached %u "
	       "times; %.1f s\n", rounds, fresh, done, enoent, rounds / 2, t_now() - t0);
}

/*
 * Ring exit with a program attached and used, then the program let go.
 *
 * What is under test is the ring's side: a ring that exits while
 * ctx->bpf_ops points at an attachment, that attachment's link released
 * after (or while) the ring's exit work ejects it, and the map and its
 * trampoline freed. Every round has all of it: a new ring, a new struct_ops
 * map and link naming it, an op through the program, the exit, the release.
 * Loading and verifying the program again each round adds nothing to that
 * (and took 3-4.5 of this test's minutes under TCG for 1,000 rounds), so the
 * rounds share one verified program, except every 100th, which loads a fresh
 * one with libbpf and frees it after its ring's exit, as the program's own
 * release is part of "let go". test_lifetime() loads and frees one per round.
 */
static void test_ring_exit(void)
{
	const unsigned rounds = 1000 * soak;
	double t0 = t_now();
	struct t_shared_prog sp;
	struct t_bpf_ops shared = { 0 };
	unsigned fresh = 0;

	for (unsigned i = 0; i < rounds; i++) {
		struct io_uring ring;
		struct t_bpf_ops ops = { 0 };
		int ret, map_fd = -1, link_fd = -1;

		ring_setup(&ring);
		if (i == 0) {
			/* the shared program, attached by libbpf to the first ring */
			if (t_bpf_load("xor", &ring, NULL, &shared))
				t_fail("round %u: load", i);
			t_shared_prog_init(&sp, shared.obj);
		} else if (i % 100 == 0) {
			if (t_bpf_load("xor", &ring, NULL, &ops))
				t_fail("round %u: load", i);
			fresh++;
		} else {
			shared_prog_attach(&sp, &ring, &map_fd, &link_fd);
		}
		if ((ret = run(&ring, -1, IORING_UNIFIED_OP_BPF, 0, 64, 0, NULL)) != 64)
			t_fail("round %u: %d", i, ret);
		region_unmap();
		io_uring_queue_exit(&ring);
		if (i == 0) {
			bpf_link__destroy(shared.link);
		} else if (i % 100 == 0) {
			t_bpf_unload(&ops);
		} else {
			close(link_fd);
			close(map_fd);
		}
	}
	bpf_object__close(shared.obj);
	printf("ring exit with a program attached: %u rounds (%u with a program of their own, the "
	       "others sharing one), %.1f s\n", rounds, fresh + 1, t_now() - t0);
}

int main(void)
{
	const char *s = getenv("UIO_SOAK");
	struct io_uring ring;
	int nvme;

	if (s && atoi(s) > 0)
		soak = (unsigned)atoi(s);
	t_bpf_init();
	nvme = open(NVME, O_RDWR | O_DIRECT);
	if (nvme < 0)
		t_fail(NVME ": %s", strerror(errno));
	ring_setup(&ring);
	test_checksum(&ring, nvme);
	test_write(&ring, nvme);
	test_verifier(&ring);
	test_unforgeable();
	test_verdicts(&ring);
	test_net();
	test_loop();
	region_unmap();
	io_uring_queue_exit(&ring);
	test_lifetime(nvme);
	test_ring_exit();
	close(nvme);
	return T_EXIT_PASS;
}
