/* SPDX-License-Identifier: MIT */
/*
 * A seeded, reproducible fuzzer of the unified region's uAPI (issue 16).
 *
 * Every run prints its seed. UIO_FUZZ_SEED, UIO_FUZZ_ITERS (operations, times
 * UIO_SOAK) and UIO_FUZZ_ROUND (start at that round) replay it; the VM runner
 * passes them from the host's environment. The run is a sequence of rounds,
 * each seeded from (seed, round), of these kinds:
 *
 *  - reg:   IORING_REGISTER_UNIFIED_REGION with one or more fields of the
 *           struct and its region descriptor made bad (random and boundary
 *           values; read-only, unmapped, memfd, hugetlbfs and user memory),
 *           on rings of every relevant setup flag: the errno must be one the
 *           docs give for one of the bad fields, a failure changes nothing
 *           (the caller's bytes, no region left), a success has a sane
 *           layout, zeroed rings and a zeroed kernel data area; mmap of the
 *           region at random offsets and lengths;
 *  - ops:   IORING_OP_UNIFIED SQEs (storage, send, receive, BPF without a
 *           program, batch) with random stages, spans at and across the data
 *           area's end, every SQE field, IOSQE_* flags, links and drains,
 *           and batches over the descriptor ring; the completions, the
 *           region and the scratch range of /dev/nvme0n1 are checked against
 *           a shadow copy; at the end one of unregister, ring exit, fork,
 *           munmap or mremap races with operations in flight;
 *  - race:  a second thread rewrites the descriptor rings and their headers
 *           while batches consume them;
 *  - net:   a device-less network binding receiving a loopback TCP stream,
 *           every byte checked, fragments handed back through the refill
 *           ring with garbage and double entries mixed in (or rewritten by
 *           a racing thread), ended by EOF, unregistration or ring exit;
 *  - bpf:   (one round in ten, drawn apart from the round's own stream) the
 *           checksum and xor programs of bpf/ attached to the ring while a
 *           second thread detaches and re-attaches them at random moments;
 *           BPF alone, NVME|BPF, BPF|NVME|WRITE, descriptors and NET|BPF
 *           receives each ran a program of the round or found none
 *           (-ENOENT), and exactly the attached one when nothing changed
 *           from submission to completion (round_bpf()).
 *
 * At the end every RLIMIT_MEMLOCK page must be back (the test runs without
 * CAP_IPC_LOCK) and the disk outside the scratch range unchanged. A failure
 * prints the last operations with their parameters and how to replay.
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <linux/fs.h>
#include "net_test.h"
#include "bpf_test.h"
#include <bpf/btf.h>

#define PAGE		4096u
#define MB		(1ull << 20)
#define SCRATCH_LEN	(64 * MB)	/* the disk's last 64 MiB: the only bytes written */
#define WINDOW_LEN	(2 * MB)	/* a round writes inside one window of the scratch range */
#define MEMLOCK_LIMIT	(32 * MB)
#define MAX_OPS		64		/* in flight per submission */

/* ---- seed, log, failure ---------------------------------------------- */

static uint64_t g_seed, g_iters, g_round, g_start_round;
static uint64_t g_ops;			/* operations the kernel was asked to do */
/*
 * Receives that ended -ENOMEM before their first fragment: every buffer was
 * held. They are asked of the kernel and counted in g_ops, but a run's
 * operation target does not count them, or a dry area would fill it.
 */
static uint64_t g_idle_rearms;
static uint64_t g_rng;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOG_N 96
static char oplog[LOG_N][224];
static uint64_t oplog_n;

static void __attribute__((format(printf, 1, 2))) logop(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	pthread_mutex_lock(&log_lock);
	s = oplog[oplog_n % LOG_N];
	n = snprintf(s, sizeof(oplog[0]), "r%llu #%llu ", (unsigned long long)g_round,
		     (unsigned long long)oplog_n);
	va_start(ap, fmt);
	vsnprintf(s + n, sizeof(oplog[0]) - n, fmt, ap);
	va_end(ap);
	oplog_n++;
	pthread_mutex_unlock(&log_lock);
}

static void __attribute__((noreturn, format(printf, 3, 4)))
fuzz_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	uint64_t first = oplog_n > LOG_N ? oplog_n - LOG_N : 0;

	fprintf(stderr, "\nFAIL %s:%d round %llu: ", file, line, (unsigned long long)g_round);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n--- the last %llu operations, oldest first ---\n",
		(unsigned long long)(oplog_n - first));
	for (uint64_t i = first; i < oplog_n; i++)
		fprintf(stderr, "  %s\n", oplog[i % LOG_N]);
	fprintf(stderr, "--- replay: UIO_FUZZ_SEED=%llu UIO_FUZZ_ITERS=%llu UIO_FUZZ_ROUND=%llu "
		"(this round first; UIO_FUZZ_ROUND=0 for the whole run) ---\n",
		(unsigned long long)g_seed, (unsigned long long)g_iters,
		(unsigned long long)g_round);
	fflush(stderr);
	exit(T_EXIT_FAIL);
}
#define FAIL(...) fuzz_fail(__FILE__, __LINE__, __VA_ARGS__)

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t rnd(void)
{
	g_rng += 0x9e3779b97f4a7c15ULL;
	return mix64(g_rng);
}

static uint64_t below(uint64_t n)	{ return n ? rnd() % n : 0; }
static int chance(unsigned pct)		{ return below(100) < pct; }
static uint64_t pick(const uint64_t *v, unsigned n) { return v[below(n)]; }
#define PICK(...) pick((const uint64_t[]){ __VA_ARGS__ }, \
		       sizeof((const uint64_t[]){ __VA_ARGS__ }) / sizeof(uint64_t))

/* ---- the machine --------------------------------------------------------- */

static int nvme_rw, nvme_ro, nvme_wo, nvme_buffered, nvme_chr, tmp_file, dev_null;
static int closed_fd;			/* a number no file has */
static uint64_t disk_bytes, scratch_off, win_off;
static uint8_t *disk_shadow;		/* SCRATCH_LEN bytes: the scratch range as written */
static uint8_t *iobuf;			/* O_DIRECT bounce for checks, 4 MiB */
static uint32_t max_entries;
static uint8_t *pin_scratch;		/* for RLIMIT_MEMLOCK headroom probes */
static unsigned eth_ifindex;
static struct io_uring memlock_probe;	/* open all along: its own pages are charged once */
static unsigned memlock_free;		/* pages it could pin with no other ring open */
static void memlock_wait(const char *when);

static void disk_pread(uint64_t off, uint8_t *buf, size_t len)
{
	while (len) {
		size_t n = len > 4 * MB ? 4 * MB : len;
		ssize_t r = pread(nvme_rw, iobuf, n, (off_t)off);

		if (r != (ssize_t)n)
			FAIL("pread of %zu disk bytes at %#llx: %zd (%s)", n,
			     (unsigned long long)off, r, strerror(errno));
		memcpy(buf, iobuf, n);
		buf += n;
		off += n;
		len -= n;
	}
}

/* what the shadow says the disk holds at @off: 0 outside the scratch range (never written) */
static void disk_expect(uint64_t off, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t o = off + i;

		out[i] = (o >= scratch_off && o < scratch_off + SCRATCH_LEN) ?
			 disk_shadow[o - scratch_off] : 0;
	}
}

static uint64_t hash_bytes(const uint8_t *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < len / 8; i++)
		h = (h ^ q[i]) * 0x100000001b3ULL;
	return h;
}

/* the disk outside the scratch range, hashed per MiB */
static uint64_t *outside_hash;
static void hash_outside(uint64_t *out)
{
	uint8_t *buf = malloc(MB);

	for (uint64_t off = 0, i = 0; off < scratch_off; off += MB, i++) {
		disk_pread(off, buf, MB);
		out[i] = hash_bytes(buf, MB);
	}
	free(buf);
}

/* the disk's bytes in the scratch range against the shadow */
static void verify_disk(uint64_t off, uint64_t len, const char *when)
{
	uint8_t *buf = malloc(len);

	disk_pread(off, buf, len);
	for (uint64_t i = 0; i < len; i++)
		if (buf[i] != disk_shadow[off + i - scratch_off])
			FAIL("%s: disk byte %#llx is %#x, the shadow says %#x (no successful "
			     "write put it there)", when, (unsigned long long)(off + i), buf[i],
			     disk_shadow[off + i - scratch_off]);
	free(buf);
}

static void resync_disk(uint64_t off, uint64_t len)
{
	disk_pread(off, disk_shadow + (off - scratch_off), len);
}

/* ---- rings ------------------------------------------------------------- */

struct fring {
	struct io_uring ring;
	unsigned flags;
	int live;
	int nbufs;			/* sparse buffer table slots, 0 for none */
	int nfiles;			/* registered files (fixed file table) */
	int skip_used;			/* IOSQE_CQE_SKIP_SUCCESS seen: drains fail from now on */
};

static const char *flag_names(unsigned f, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s%s%s%s", f & IORING_SETUP_SQPOLL ? "SQPOLL|" : "",
		 f & IORING_SETUP_SINGLE_ISSUER ? "SINGLE|" : "",
		 f & IORING_SETUP_DEFER_TASKRUN ? "DEFER|" : "",
		 f & IORING_SETUP_SQE128 ? "SQE128|" : "",
		 f & IORING_SETUP_CQE32 ? "CQE32|" : "",
		 f & IORING_SETUP_CQE_MIXED ? "MIXED|" : "",
		 f & IORING_SETUP_COOP_TASKRUN ? "COOP|" : "",
		 f & IORING_SETUP_SUBMIT_ALL ? "ALL|" : "");
	return buf;
}

/* the submission-queue setup flags (SQE size, SUBMIT_ALL) any round's ring may take */
static unsigned random_sq_flags(void)
{
	unsigned f = 0;

	if (chance(30))
		f |= IORING_SETUP_SQE128;
	/* without SUBMIT_ALL a submission stops at the first SQE refused at prep */
	if (chance(50))
		f |= IORING_SETUP_SUBMIT_ALL;
	return f;
}

static unsigned random_ring_flags(int want_net)
{
	unsigned f = 0;

	if (want_net) {
		f = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
		f |= chance(50) ? IORING_SETUP_CQE32 : IORING_SETUP_CQE_MIXED;
	} else {
		switch (below(5)) {
		case 0: break;
		case 1: f = IORING_SETUP_SQPOLL; break;
		case 2: f = IORING_SETUP_SINGLE_ISSUER; break;
		case 3: f = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN; break;
		case 4: f = IORING_SETUP_COOP_TASKRUN; break;
		}
		switch (below(3)) {
		case 1: f |= IORING_SETUP_CQE32; break;
		case 2: f |= IORING_SETUP_CQE_MIXED; break;
		}
	}
	return f | random_sq_flags();
}

static void fring_init(struct fring *r, unsigned flags, int nbufs, int files)
{
	struct io_uring_params p = { .flags = flags };
	char fb[96];
	int ret;

	memset(&r->ring, 0, sizeof(r->ring));
	if (flags & IORING_SETUP_SQPOLL)
		p.sq_thread_idle = 20;	/* ms: a spinning poller costs half the VM */
	ret = io_uring_queue_init_params(MAX_OPS * 2, &r->ring, &p);
	if (ret)
		FAIL("io_uring_queue_init(%s): %d", flag_names(flags, fb, sizeof(fb)), ret);
	r->flags = flags;
	r->live = 1;
	r->nbufs = nbufs;
	r->nfiles = 0;
	r->skip_used = 0;
	if (nbufs && (ret = io_uring_register_buffers_sparse(&r->ring, nbufs)))
		FAIL("register_buffers_sparse(%d): %d", nbufs, ret);
	if (files) {
		/* 0: the disk, 1: read-only, 2: without O_DIRECT, 3: a tmpfs file, 4: sparse */
		int fds[5] = { nvme_rw, nvme_ro, nvme_buffered, tmp_file, -1 };

		if ((ret = io_uring_register_files(&r->ring, fds, 5)))
			FAIL("register_files: %d", ret);
		r->nfiles = 5;
	}
	logop("ring init %s bufs %d files %d fd %d", flag_names(flags, fb, sizeof(fb)), nbufs,
	      r->nfiles, r->ring.ring_fd);
}

static void fring_exit(struct fring *r)
{
	if (!r->live)
		return;
	logop("ring exit fd %d", r->ring.ring_fd);
	io_uring_queue_exit(&r->ring);
	r->live = 0;
}

static int reg_call(struct fring *r, void *arg, unsigned nr)
{
	g_ops++;
	return io_uring_register(r->ring.ring_fd, IORING_REGISTER_UNIFIED_REGION, arg, nr);
}

static int unreg_call(struct fring *r)
{
	g_ops++;
	return io_uring_register(r->ring.ring_fd, IORING_UNREGISTER_UNIFIED_REGION, NULL, 0);
}

/* a zeroed SQE, both halves on SQE128 rings (liburing's prep leaves the second half) */
static struct io_uring_sqe *get_sqe(struct fring *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

	if (!sqe) {
		io_uring_submit(&r->ring);
		sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			FAIL("no SQE");
	}
	memset(sqe, 0, (r->flags & IORING_SETUP_SQE128) ? 128 : 64);
	return sqe;
}

/*
 * Submits what is queued and returns the result of the SQE with user_data
 * 1, the only one expected. (An SQPOLL thread may still hold SQEs it has
 * not taken yet, so the count submitted is not checked.)
 */
static int submit_one(struct fring *r)
{
	struct io_uring_cqe *cqe;
	double until = t_now() + 60;
	int ret;

	for (;;) {
		struct __kernel_timespec ts = { .tv_nsec = 5000000 };

		cqe = NULL;
		ret = io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL);
		if (ret < 0 && ret != -ETIME && ret != -EINTR)
			FAIL("submit_and_wait: %d", ret);
		if (cqe)
			break;
		if (t_now() > until)
			FAIL("no completion after 60 s");
	}
	if (cqe->user_data != 1)
		FAIL("a CQE for user_data %llu (res %d) where only 1 was expected",
		     (unsigned long long)cqe->user_data, cqe->res);
	ret = cqe->res;
	io_uring_cqe_seen(&r->ring, cqe);
	return ret;
}

/* ---- memory kinds for regions -------------------------------------------- */

enum mem_kind { MEM_KERNEL, MEM_ANON, MEM_MEMFD, MEM_HUGE_ANON, MEM_HUGE_FILE, MEM_KINDS };
static const char *const mem_names[] = { "kernel", "anon", "memfd", "huge-anon", "huge-file" };

struct umem {
	uint8_t *p;
	size_t len;
	int kind;
};

static int umem_get(struct umem *m, int kind, size_t want, int fill)
{
	size_t len = (want + PAGE - 1) & ~(size_t)(PAGE - 1);
	int fd;

	m->kind = kind;
	m->p = MAP_FAILED;
	switch (kind) {
	case MEM_ANON:
		m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case MEM_MEMFD:
		fd = memfd_create("uio_fuzz", 0);
		if (fd < 0 || ftruncate(fd, (off_t)len))
			FAIL("memfd: %s", strerror(errno));
		m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		break;
	case MEM_HUGE_ANON:
		len = (len + 2 * MB - 1) & ~(2 * MB - 1);
		m->p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		break;
	case MEM_HUGE_FILE:
		len = (len + 2 * MB - 1) & ~(2 * MB - 1);
		fd = open("/dev/hugepages/uio_fuzz", O_RDWR | O_CREAT, 0600);
		if (fd < 0)
			return -1;
		unlink("/dev/hugepages/uio_fuzz");
		if (ftruncate(fd, (off_t)len) == 0)
			m->p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		break;
	}
	if (m->p == MAP_FAILED) {
		if (kind == MEM_HUGE_ANON || kind == MEM_HUGE_FILE)
			return -1;	/* the 16 huge pages are in use: another kind then */
		FAIL("user memory (%s, %zu): %s", mem_names[kind], len, strerror(errno));
	}
	m->len = len;
	memset(m->p, fill, len);
	return 0;
}

static void umem_put(struct umem *m)
{
	if (m->p && m->p != MAP_FAILED)
		munmap(m->p, m->len);
	m->p = NULL;
}

/* ---- a region under test ------------------------------------------------ */

struct region {
	int live;
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct umem um;			/* user memory, kind MEM_KERNEL for none */
	uint8_t *map;			/* the data area as this process sees it */
	size_t map_len;
	uint64_t size;			/* data area bytes */
	uint8_t *shadow;		/* what the data area must hold */
	int net;
	uint64_t net_area;
	struct io_unified_ring_hdr *sq, *cq;
	struct io_unified_desc *sqd, *cqd;
	uint32_t sq_tail, cq_head;	/* userspace's indexes */
	uint32_t ksq_head, kcq_tail;	/* the kernel's, as the model has them */
};

static void check_layout(struct region *g)
{
	const struct io_unified_region_offsets *o = &g->reg.offsets;
	const struct io_uring_unified_region_reg *reg = &g->reg;
	uint64_t d = sizeof(struct io_unified_desc);

	if (o->data != 0 || o->sq_ring != reg->region_size ||
	    o->cq_ring < o->sq_ring + sizeof(struct io_unified_ring_hdr) ||
	    o->sq_descs < o->cq_ring + sizeof(struct io_unified_ring_hdr) ||
	    o->sq_descs % PAGE || o->cq_descs % PAGE ||
	    o->cq_descs < o->sq_descs + reg->sq_entries * d ||
	    o->size < o->cq_descs + reg->cq_entries * d || o->size % PAGE)
		FAIL("layout: data %llu sq %llu cq %llu sqd %llu cqd %llu size %llu for %u/%u "
		     "entries and %llu bytes", (unsigned long long)o->data,
		     (unsigned long long)o->sq_ring, (unsigned long long)o->cq_ring,
		     (unsigned long long)o->sq_descs, (unsigned long long)o->cq_descs,
		     (unsigned long long)o->size, reg->sq_entries, reg->cq_entries,
		     (unsigned long long)reg->region_size);
	if (g->net) {
		if (!o->rq_ring || o->rqes < o->rq_ring || reg->rq_tail <= reg->rq_head ||
		    o->rqes + (uint64_t)reg->rq_entries * 16 > reg->net_stats ||
		    reg->net_stats + sizeof(struct io_unified_net_stats) > o->size)
			FAIL("net layout: rq %llu rqes %llu stats %llu size %llu",
			     (unsigned long long)o->rq_ring, (unsigned long long)o->rqes,
			     (unsigned long long)reg->net_stats, (unsigned long long)o->size);
	} else if (o->rq_ring || o->rqes || reg->net_stats || reg->rq_head || reg->rq_tail) {
		FAIL("a region without network has refill-ring offsets");
	}
	if (g->um.kind == MEM_KERNEL) {
		if (g->rd.size != o->size || !g->rd.mmap_offset)
			FAIL("kernel memory: rd.size %llu (layout %llu), mmap_offset %#llx",
			     (unsigned long long)g->rd.size, (unsigned long long)o->size,
			     (unsigned long long)g->rd.mmap_offset);
	} else if (g->rd.mmap_offset) {
		FAIL("user memory: mmap_offset %#llx, the docs say it stays 0",
		     (unsigned long long)g->rd.mmap_offset);
	}
}

/* the region's parts past the data area as the kernel defines them after registration */
static void check_fresh(struct region *g, uint8_t *base)
{
	const struct io_unified_ring_hdr *sq = (void *)(base + g->reg.offsets.sq_ring);
	const struct io_unified_ring_hdr *cq = (void *)(base + g->reg.offsets.cq_ring);

	if (sq->head || sq->tail || sq->flags || cq->head || cq->tail || cq->flags ||
	    sq->ring_entries != g->reg.sq_entries || sq->ring_mask != g->reg.sq_entries - 1 ||
	    cq->ring_entries != g->reg.cq_entries || cq->ring_mask != g->reg.cq_entries - 1)
		FAIL("fresh region (%s memory): sq %u/%u/%#x %u/%u, cq %u/%u/%#x %u/%u",
		     mem_names[g->um.kind], sq->head, sq->tail, sq->flags, sq->ring_entries,
		     sq->ring_mask, cq->head, cq->tail, cq->flags, cq->ring_entries, cq->ring_mask);
	if (g->net) {
		const struct io_unified_net_stats *st = (void *)(base + g->reg.net_stats);
		const uint32_t *h = (void *)(base + g->reg.offsets.rq_ring + g->reg.rq_head);
		const uint32_t *t = (void *)(base + g->reg.offsets.rq_ring + g->reg.rq_tail);

		if (st->copy_count || st->copy_bytes || st->refill_rejected || st->flags ||
		    *h || *t)
			FAIL("fresh network binding (%s memory): stats %llu/%llu/%llu/%#llx, "
			     "refill %u/%u", mem_names[g->um.kind],
			     (unsigned long long)st->copy_count, (unsigned long long)st->copy_bytes,
			     (unsigned long long)st->refill_rejected, (unsigned long long)st->flags,
			     *h, *t);
	}
	/* kernel memory arrives zeroed: nothing of another user's pages */
	if (g->um.kind == MEM_KERNEL)
		for (uint64_t i = 0; i < g->size; i += 8)
			if (*(uint64_t *)(base + i))
				FAIL("a fresh kernel-allocated data area has non-zero bytes at %#llx",
				     (unsigned long long)i);
}

static void region_attach(struct region *g, uint8_t *base)
{
	g->map = base;
	g->sq = (void *)(base + g->reg.offsets.sq_ring);
	g->cq = (void *)(base + g->reg.offsets.cq_ring);
	g->sqd = (void *)(base + g->reg.offsets.sq_descs);
	g->cqd = (void *)(base + g->reg.offsets.cq_descs);
}

static uint8_t *region_mmap(struct fring *r, struct region *g)
{
	void *p;

	g_ops++;
	p = mmap(NULL, g->reg.offsets.size, PROT_READ | PROT_WRITE, MAP_SHARED, r->ring.ring_fd,
		 (off_t)g->rd.mmap_offset);
	if (p == MAP_FAILED)
		FAIL("mmap of the %llu-byte region at %#llx: %s",
		     (unsigned long long)g->reg.offsets.size,
		     (unsigned long long)g->rd.mmap_offset, strerror(errno));
	return p;
}

/*
 * A valid region on @r: @size bytes of data, memory of @kind, network binding if
 * @net. Returns 0 or the registration's errno (for user memory the kernel may be
 * out of huge pages, or over the memlock limit, which the caller handles).
 */
static int region_create(struct fring *r, struct region *g, uint64_t size, int kind, int net,
			 int fixed_buf)
{
	uint64_t need;
	int ret;

	memset(g, 0, sizeof(*g));
	g->size = size;
	g->net = !!net;
	g->reg.sq_entries = 1u << below(9);
	g->reg.cq_entries = 1u << below(9);
	g->reg.region_size = size;
	g->reg.nvme_fd = -1;
	g->reg.region_ptr = (uint64_t)(uintptr_t)&g->rd;
	if (fixed_buf && r->nbufs) {
		g->reg.flags |= IORING_UNIFIED_REG_FIXED_BUF;
		g->reg.buf_index = (uint32_t)below(r->nbufs);
	}
	if (net) {
		g->reg.flags |= IORING_UNIFIED_REG_NET_NODEV;
		g->reg.rq_entries = 1u << (1 + below(8));
		/* @net > 1: an area of @net - 1 pages */
		if (net > 1)
			g->net_area = PAGE * (uint64_t)(net - 1);
		else
			g->net_area = chance(40) ? 0 : PAGE * (1 + below(size / PAGE));
		g->reg.net_area_len = g->net_area;
		if (!g->net_area)
			g->net_area = size;
	}
	g->um.kind = MEM_KERNEL;
	if (kind != MEM_KERNEL) {
		/* data + 2 ring-header pages + descriptors + refill ring: generous */
		need = size + 16 * PAGE + 2 * 512 * sizeof(struct io_unified_desc);
		if (umem_get(&g->um, kind, need, (int)below(256)))
			kind = MEM_KERNEL, g->um.kind = MEM_KERNEL;
		else {
			g->rd.flags = IORING_MEM_REGION_TYPE_USER;
			g->rd.user_addr = (uint64_t)(uintptr_t)g->um.p;
			g->rd.size = g->um.len;
		}
	}
	ret = reg_call(r, &g->reg, 1);
	logop("register %s size %#llx sq %u cq %u flags %#x buf %u net %d rq %u area %#llx -> %d",
	      mem_names[g->um.kind], (unsigned long long)size, g->reg.sq_entries,
	      g->reg.cq_entries, g->reg.flags, g->reg.buf_index, net, g->reg.rq_entries,
	      (unsigned long long)g->reg.net_area_len, ret);
	if (ret) {
		umem_put(&g->um);
		return ret;
	}
	g->live = 1;
	check_layout(g);
	if (g->um.kind == MEM_KERNEL) {
		g->map_len = g->reg.offsets.size;
		region_attach(g, region_mmap(r, g));
	} else {
		g->map_len = 0;
		region_attach(g, g->um.p);
	}
	check_fresh(g, g->map);
	g->shadow = malloc(size);
	memcpy(g->shadow, g->map, size);
	return 0;
}

/* the region's mapping goes; the registration stays (or went before) */
static void region_forget(struct region *g)
{
	if (g->map_len)
		munmap(g->map, g->map_len);
	umem_put(&g->um);
	free(g->shadow);
	g->shadow = NULL;
	g->map = NULL;
	g->live = 0;
}

static void verify_region(struct region *g, uint64_t off, uint64_t len, const char *when)
{
	if (!memcmp(g->map + off, g->shadow + off, len))
		return;
	for (uint64_t i = off; i < off + len; i++)
		if (g->map[i] != g->shadow[i])
			FAIL("%s: region byte %#llx is %#x, the shadow says %#x (%s memory)", when,
			     (unsigned long long)i, g->map[i], g->shadow[i], mem_names[g->um.kind]);
}

static void scribble_region(struct region *g)
{
	uint64_t len = PAGE * (1 + below(8)), off;

	if (len > g->size)
		len = g->size;
	off = below(g->size - len + 1);
	for (uint64_t i = 0; i < len; i++)
		g->shadow[off + i] = (uint8_t)rnd();
	memcpy(g->map + off, g->shadow + off, len);
}

/* ====================================================================== */
/* registration fuzzing                                                    */
/* ====================================================================== */

/* the errnos a registration may fail with, one set per bad field */
struct expect {
	int n;
	int err[16];
	char what[160];
};

static void want(struct expect *e, int err, const char *what)
{
	size_t l = strlen(e->what);

	if (e->n < 16)
		e->err[e->n++] = err;
	snprintf(e->what + l, sizeof(e->what) - l, "%s%s", l ? "," : "", what);
}

static int allowed(const struct expect *e, int ret)
{
	for (int i = 0; i < e->n; i++)
		if (e->err[i] == ret)
			return 1;
	return 0;
}

static uint8_t *ro_page, *none_page, *rw_pages;

/* one registration attempt with 0..3 bad fields */
static void reg_attempt(struct fring *r, int have_region)
{
	struct io_uring_unified_region_reg *reg, before;
	struct io_uring_region_desc *rd, rd_before;
	struct umem um = { .p = NULL };
	struct expect e = { 0 };
	unsigned nfaults = (unsigned)(chance(20) ? 0 : 1 + below(chance(70) ? 1 : 3));
	int net_ring = (r->flags & IORING_SETUP_DEFER_TASKRUN) &&
		       (r->flags & (IORING_SETUP_CQE32 | IORING_SETUP_CQE_MIXED));
	int net = 0, user = 0, ret, arg_mode = 0, rd_ro = 0;
	uint64_t size = PAGE * (1 + below(chance(80) ? 16 : 256));

	/* the struct ends up to 24 bytes into the second page, the descriptor lies in it */
	reg = (void *)(rw_pages + PAGE - sizeof(*reg) + 8 * below(4));
	rd = (void *)(rw_pages + PAGE + 64);
	memset(reg, 0, sizeof(*reg));
	memset(rd, 0, sizeof(*rd));
	reg->sq_entries = 1u << below(10);
	reg->cq_entries = 1u << below(10);
	reg->region_size = size;
	reg->nvme_fd = -1;
	reg->region_ptr = (uint64_t)(uintptr_t)rd;
	if (r->nbufs && chance(50)) {
		reg->flags = IORING_UNIFIED_REG_FIXED_BUF;
		reg->buf_index = (uint32_t)below(r->nbufs);
	}
	if (net_ring && chance(40)) {
		net = 1;
		reg->flags |= IORING_UNIFIED_REG_NET_NODEV;
		reg->rq_entries = 1u << below(12);
		reg->net_area_len = chance(50) ? 0 : PAGE * (1 + below(size / PAGE));
	}
	if (chance(30)) {
		int kind = 1 + (int)below(MEM_KINDS - 1);

		if (!umem_get(&um, kind, size + 8 * PAGE + 2 * 1024 * 64 + (net ? 65536 + 2 * PAGE : 0),
			      (int)below(256))) {
			user = 1;
			rd->flags = IORING_MEM_REGION_TYPE_USER;
			rd->user_addr = (uint64_t)(uintptr_t)um.p;
			rd->size = um.len;
		}
	}
	if (have_region)
		want(&e, -EBUSY, "second region");

	for (unsigned i = 0; i < nfaults; i++) {
		switch (below(34)) {
		case 0: reg->__resv[below(2)] = rnd() | 1; want(&e, -EINVAL, "__resv"); break;
		case 1: reg->__resv1[below(2)] = rnd() | 1; want(&e, -EINVAL, "__resv1"); break;
		case 2: reg->offsets.size = rnd() | 1; want(&e, -EINVAL, "offsets out"); break;
		case 3: reg->net_stats = rnd() | 1; want(&e, -EINVAL, "net_stats out"); break;
		case 4: reg->rq_head = (uint32_t)rnd() | 1; want(&e, -EINVAL, "rq_head out"); break;
		case 5: reg->flags |= 1u << (2 + below(30)); want(&e, -EINVAL, "flag"); break;
		case 6:
			reg->sq_entries = (uint32_t)PICK(0, 3, 6, 100, 1u << 16, 1u << 31, ~0u,
							 max_entries * 2, (uint32_t)rnd() | 5);
			want(&e, -EINVAL, "sq_entries");
			break;
		case 7:
			reg->cq_entries = (uint32_t)PICK(0, 5, 12, 1000, 1u << 20, 0x80000001u,
							 max_entries * 2, (uint32_t)rnd() | 3);
			want(&e, -EINVAL, "cq_entries");
			break;
		case 8:
			reg->region_size = PICK(0, 1, 4095, 4097, size + 1, size + 2048);
			want(&e, -EINVAL, "region_size");
			break;
		case 9:
			reg->region_size = PICK(1ull << 44, 1ull << 62, ~4095ull, 0x7ffffffffffff000ull);
			want(&e, -E2BIG, "region_size huge");
			break;
		case 10:
			/* fits in INT_MAX pages, not in RLIMIT_MEMLOCK */
			reg->region_size = PICK(MEMLOCK_LIMIT + MB, 1ull << 40, 1ull << 42);
			want(&e, -ENOMEM, "region_size > memlock");
			if (user) {	/* user memory smaller than the layout */
				want(&e, -EINVAL, "user memory small");
				want(&e, -EFAULT, "user memory");
			}
			break;
		case 11:
			reg->region_ptr = PICK(0, (uintptr_t)none_page, 0xffff888000000000ull,
					       (uintptr_t)none_page + 4000, 1ull << 63, 16);
			want(&e, -EFAULT, "region_ptr");
			break;
		case 12:
			/* the struct itself half in read-only memory: the write-back faults */
			rd_ro = 1;
			want(&e, -EFAULT, "rd read-only");
			break;
		case 13: rd->id = (uint32_t)rnd() | 1; want(&e, -EINVAL, "rd.id"); break;
		case 14: rd->mmap_offset = rnd() | 1; want(&e, -EINVAL, "rd.mmap_offset"); break;
		case 15: rd->__resv[below(4)] = rnd() | 1; want(&e, -EINVAL, "rd.__resv"); break;
		case 16: rd->flags |= 2u << below(31); want(&e, -EINVAL, "rd.flags"); break;
		case 17:
			if (!user) {
				rd->size = PAGE * (1 + below(64));
				want(&e, -EINVAL, "rd.size with kernel memory");
			} else {
				rd->size = PAGE;
				want(&e, -EINVAL, "user memory too small");
			}
			break;
		case 18:
			if (user) {
				rd->user_addr += PICK(8, 512, 2048);
				want(&e, -EINVAL, "user_addr unaligned");
			} else {
				rd->user_addr = (uintptr_t)rw_pages;
				want(&e, -EFAULT, "user_addr without TYPE_USER");
			}
			break;
		case 19:
			rd->flags = IORING_MEM_REGION_TYPE_USER;
			rd->size = 64 * PAGE;
			rd->user_addr = PICK(0, (uintptr_t)none_page, (uintptr_t)ro_page,
					     0xffff888000000000ull, 0x7ffffffff000ull);
			want(&e, -EFAULT, "user memory bad");
			want(&e, -EINVAL, "user memory small");
			if (rd->user_addr == (uintptr_t)ro_page || rd->user_addr == (uintptr_t)none_page)
				want(&e, -EFAULT, "user memory ro");
			user = 0;
			break;
		case 20:
			rd->flags = IORING_MEM_REGION_TYPE_USER;
			rd->user_addr = 0xfffffffffff00000ull;
			rd->size = 2 * MB;
			want(&e, -EFAULT, "user memory wraps");
			want(&e, -EOVERFLOW, "user memory wraps (EOVERFLOW)");
			want(&e, -EINVAL, "user memory small");
			user = 0;
			break;
		case 21:
			reg->nvme_fd = (int32_t)PICK(-2, -5, 0x80000000u, (uint64_t)closed_fd, 99999);
			want(&e, -EBADF, "nvme_fd bad");
			break;
		case 22:
			reg->nvme_fd = (int32_t)PICK((uint64_t)tmp_file, (uint64_t)dev_null,
						     (uint64_t)r->ring.ring_fd, (uint64_t)nvme_buffered - 0);
			if (reg->nvme_fd == nvme_buffered)
				reg->nvme_fd = dev_null;
			want(&e, -EINVAL, "nvme_fd not NVMe");
			break;
		case 23:
			reg->flags &= ~IORING_UNIFIED_REG_FIXED_BUF;
			reg->buf_index = 1 + (uint32_t)below(100);
			want(&e, -EINVAL, "buf_index without FIXED_BUF");
			break;
		case 24:
			reg->flags |= IORING_UNIFIED_REG_FIXED_BUF;
			reg->buf_index = r->nbufs + (uint32_t)PICK(0, 1, 1000, 0xffffu, 0xffffffffu - r->nbufs);
			want(&e, -EINVAL, "buf_index out of the table");
			break;
		case 25:
			reg->net_rxq = (uint32_t)rnd() | 1;
			if (!net && !reg->net_ifindex)
				want(&e, -EINVAL, "net_rxq without net");
			else
				want(&e, -EINVAL, "net_rxq with NODEV");
			break;
		case 26:
			reg->net_area_len = PICK(1, 4095, size + PAGE, 1ull << 40, size + 1);
			if (!net)
				want(&e, -EINVAL, "net_area_len without net");
			want(&e, reg->net_area_len % PAGE ? -EINVAL : -ERANGE, "net_area_len");
			break;
		case 27:
			/* 0 is only wrong with a binding; without one anything else is */
			reg->rq_entries = (uint32_t)(net ? PICK(0, 3, 100, 1u << 20, 0x80000000u) :
							 PICK(1, 3, 64, 1u << 20, 0x80000000u));
			want(&e, -EINVAL, "rq_entries");
			break;
		case 28:
			reg->net_ifindex = (uint32_t)PICK(1, 9999, (uint64_t)eth_ifindex, rnd() | 1);
			if (!reg->rq_entries)
				reg->rq_entries = 64;
			if (net)
				want(&e, -EINVAL, "net_ifindex with NODEV");
			if (!net_ring)
				want(&e, -EINVAL, "net on a ring without DEFER|CQE32");
			want(&e, -ENODEV, "no such device");
			want(&e, -EOPNOTSUPP, "device without memory providers");
			want(&e, -ERANGE, "rx queue");
			want(&e, -EINVAL, "the device refused the queue");
			break;
		case 29:
			reg->flags |= IORING_UNIFIED_REG_NET_NODEV;
			if (!reg->rq_entries)
				reg->rq_entries = 1u << below(12);
			if (!net_ring)
				want(&e, -EINVAL, "NODEV on a ring without DEFER|CQE32");
			else
				net = 1;
			break;
		case 30: arg_mode = 1; want(&e, -EINVAL, "nr_args"); break;
		case 31: arg_mode = 2; want(&e, -EINVAL, "arg NULL"); break;
		case 32: arg_mode = 3; want(&e, -EFAULT, "arg unmapped"); break;
		case 33:
			/* user memory that is not writable */
			if (user && chance(50)) {
				mprotect(um.p, um.len, PROT_READ);
				want(&e, -EFAULT, "user memory read-only");
			}
			break;
		}
	}
	/* the net binding makes sizes matter: the rq ring on top can overflow memlock */
	if (reg->region_size > MEMLOCK_LIMIT - 8 * MB && !allowed(&e, -ENOMEM))
		want(&e, -ENOMEM, "memlock");
	if (reg->sq_entries > max_entries || reg->cq_entries > max_entries ||
	    (reg->sq_entries & (reg->sq_entries - 1)) || (reg->cq_entries & (reg->cq_entries - 1)))
		if (!allowed(&e, -EINVAL))
			want(&e, -EINVAL, "entries");
	if (net && reg->rq_entries > max_entries && !allowed(&e, -EINVAL))
		want(&e, -EINVAL, "rq_entries too many");
	if (net && reg->net_area_len > reg->region_size && !allowed(&e, -ERANGE))
		want(&e, -ERANGE, "net area");

	before = *reg;
	rd_before = *rd;
	if (rd_ro)
		mprotect(rw_pages + PAGE, PAGE, PROT_READ);
	switch (arg_mode) {
	case 0: ret = reg_call(r, reg, 1); break;
	case 1: ret = reg_call(r, reg, (unsigned)PICK(0, 2, 255, 0x80000000u)); break;
	case 2: ret = reg_call(r, NULL, 1); break;
	default: ret = reg_call(r, none_page, 1); break;
	}
	if (rd_ro)
		mprotect(rw_pages + PAGE, PAGE, PROT_READ | PROT_WRITE);
	logop("reg-fuzz %s sq %u cq %u size %#llx nvme %d if %u rxq %u rq %u area %#llx "
	      "flags %#x buf %u rd{%#x %#llx %#llx id %u} arg %d -> %d (bad: %s)",
	      user ? mem_names[um.kind] : "kernel", reg->sq_entries, reg->cq_entries,
	      (unsigned long long)reg->region_size, reg->nvme_fd, reg->net_ifindex, reg->net_rxq,
	      reg->rq_entries, (unsigned long long)reg->net_area_len, reg->flags, reg->buf_index,
	      rd->flags, (unsigned long long)rd->user_addr, (unsigned long long)rd->size, rd->id,
	      arg_mode, ret, e.n ? e.what : "none");

	if (ret == 0) {
		struct region g;

		if (e.n)
			FAIL("registration succeeded with a bad field (%s)", e.what);
		memset(&g, 0, sizeof(g));
		g.reg = *reg;
		g.rd = *rd;
		g.net = net;
		g.size = reg->region_size;
		g.um = user ? um : (struct umem){ .kind = MEM_KERNEL };
		check_layout(&g);
		if (user) {
			check_fresh(&g, um.p);
		} else {
			uint8_t *m = region_mmap(r, &g);
			uint64_t len = g.reg.offsets.size;
			void *p;

			check_fresh(&g, m);
			/* mmap: a prefix maps, an offset into it or a length past it does not */
			g_ops += 2;
			p = mmap(NULL, PAGE * (1 + below(len / PAGE)), PROT_READ, MAP_SHARED,
				 r->ring.ring_fd, (off_t)(g.rd.mmap_offset + PAGE * (1 + below(8))));
			if (p != MAP_FAILED)
				FAIL("mmap at an offset into the region succeeded");
			p = mmap(NULL, len + PAGE * (1 + below(64)), PROT_READ, MAP_SHARED,
				 r->ring.ring_fd, (off_t)g.rd.mmap_offset);
			if (p != MAP_FAILED)
				FAIL("mmap past the region's end succeeded");
			munmap(m, len);
		}
		ret = unreg_call(r);
		if (ret)
			FAIL("unregister after a valid registration: %d", ret);
		logop("unregister -> 0");
		/* user memory mappings stay the application's: write to them */
		if (user)
			memset(um.p, 0x5a, um.len);
	} else {
		if (!e.n || !allowed(&e, ret))
			FAIL("registration failed with %d (%s); the bad fields were: %s", ret,
			     strerror(-ret), e.n ? e.what : "none");
		if (memcmp(reg, &before, sizeof(before)) || memcmp(rd, &rd_before, sizeof(rd_before)))
			FAIL("a failed registration (%d) changed the caller's structs", ret);
		if (!have_region && (ret = unreg_call(r)) != -ENXIO)
			FAIL("a failed registration left a region behind (unregister: %d)", ret);
	}
	umem_put(&um);
}

static void round_reg(void)
{
	struct fring r;
	struct region g;
	unsigned n = 20 + (unsigned)below(60);
	int have = 0;

	fring_init(&r, random_ring_flags(chance(40)), (int)below(4), 0);
	for (unsigned i = 0; i < n; i++) {
		if (chance(5) && !have) {
			/* a region in place: every further registration is -EBUSY */
			if (!region_create(&r, &g, PAGE * (1 + below(8)), MEM_KERNEL, 0, 1))
				have = 1;
		}
		reg_attempt(&r, have);
		if (have && chance(20)) {
			int ret = unreg_call(&r);

			logop("unregister -> %d", ret);
			if (ret)
				FAIL("unregister of a live region: %d", ret);
			region_forget(&g);
			have = 0;
		}
	}
	/* unregister twice, with arguments */
	if (have) {
		if (unreg_call(&r))
			FAIL("unregister");
		region_forget(&g);
	}
	g_ops++;
	if (io_uring_register(r.ring.ring_fd, IORING_UNREGISTER_UNIFIED_REGION, rw_pages, 1) != -EINVAL)
		FAIL("unregister with an argument did not fail -EINVAL");
	if (unreg_call(&r) != -ENXIO)
		FAIL("unregister without a region did not fail -ENXIO");
	fring_exit(&r);
}

/* ====================================================================== */
/* IORING_OP_UNIFIED                                                        */
/* ====================================================================== */

enum op_kind { K_STORE, K_BPF, K_SEND, K_RECV, K_BATCH, K_NOP };
static const char *const kind_names[] = { "store", "bpf", "send", "recv", "batch", "nop" };

/* the kinds of round main() draws, in the summary's order */
enum round_kind { ROUND_REG, ROUND_OPS, ROUND_RACE, ROUND_NET, ROUND_BPF, ROUND_KINDS };
static const char *const round_names[ROUND_KINDS] = { "registration", "op", "ring-race", "network", "BPF" };

#define OK_LEN	1	/* succeeds with the span's length */

struct op {
	int used;
	uint64_t ud;
	int kind;
	struct expect e;	/* failures the op may end with; none: it must succeed */
	int64_t ok;		/* the success result */
	uint32_t stages;
	uint64_t addr, dev_off;
	uint32_t len;
	int fd, fixed;
	int skip, drain, link, hard;
	int chain;		/* chain id, 0 for none */
	uint64_t sub_seq, comp_seq;
	int finals, res;
	unsigned cflags;
	int more;		/* a send's first CQE said a notification follows */
	int notifs;
	uint64_t notif_ud;
	uint8_t *payload;	/* a send: the bytes it must deliver */
	int fault_prep;		/* a fault found at prep */
	int junk;		/* 1 + which unused SQE field is set, 0 for none */
	int witness;		/* a NOP linked behind a CQE_SKIP_SUCCESS op: ud of that op */
	int may_enxio;		/* SQPOLL may prep it after the region went */
};

struct batchq {
	int n;
	struct op ops[MAX_OPS];
	uint64_t comp_seq;
	/* reservations: no two ops of a submission touch the same bytes */
	int nres;
	uint64_t res_lo[MAX_OPS * 2], res_hi[MAX_OPS * 2];
};

static uint64_t next_ud = 1000;

/* a send's peer: the bytes it got, checked against what sends delivered */
struct peer {
	int tx, rx;		/* the ring sends on tx; rx reads */
	uint8_t *want, *got;
	uint64_t want_len, got_len, checked;
};

static int reserve(struct batchq *q, uint64_t lo, uint64_t len)
{
	uint64_t hi = lo + len;

	if (len == 0 || hi < lo)
		return 1;
	for (int i = 0; i < q->nres; i++)
		if (lo < q->res_hi[i] && q->res_lo[i] < hi)
			return 0;
	q->res_lo[q->nres] = lo;
	q->res_hi[q->nres++] = hi;
	return 1;
}

/* region spans live at [0, 2^48), disk spans at 2^56 + offset: one reservation space */
#define DISK_SPACE (1ull << 56)

static struct op *find_op(struct batchq *q, uint64_t ud)
{
	for (int i = 0; i < q->n; i++)
		if (q->ops[i].ud == ud)
			return &q->ops[i];
	return NULL;
}

static struct op *notif_op(struct batchq *q, uint64_t ud)
{
	for (int i = 0; i < q->n; i++)
		if (q->ops[i].kind == K_SEND && q->ops[i].notif_ud == ud && q->ops[i].more >
		    q->ops[i].notifs)
			return &q->ops[i];
	return NULL;
}

/* a span of the data area, mostly valid and aligned, sometimes at or across the end */
static void gen_span(struct region *g, struct op *o, uint32_t align)
{
	uint32_t len = align * (uint32_t)(1 + below(chance(80) ? 4 : 32));

	if (len > g->size)
		len = (uint32_t)g->size;
	o->len = len;
	switch (below(10)) {
	case 0: o->addr = g->size - len; break;			/* at the end */
	case 1: o->addr = 0; break;
	default: o->addr = (below(g->size - len + 1) / align) * align; break;
	}
}

/* the fault of a span: across the end, overflow, zero, unaligned */
static void fault_span(struct region *g, struct op *o, int storage)
{
	switch (below(5)) {
	case 0:
		o->addr = g->size - (PAGE * below(2)) - (chance(50) ? 0 : PAGE / 2);
		o->len = PAGE * (uint32_t)(2 + below(4));
		want(&o->e, -EFAULT, "span past the end");
		if (o->addr % PAGE && storage)
			want(&o->e, -EINVAL, "unaligned");
		o->fault_prep = 1;
		break;
	case 1:
		o->addr = PICK(~0ull, ~0ull - 4095, 1ull << 63, g->size + (1ull << 40));
		o->len = PAGE;
		want(&o->e, o->addr > ~0ull - PAGE ? -EOVERFLOW : -EFAULT, "span wraps");
		o->fault_prep = 1;
		break;
	case 2:
		o->len = 0;
		want(&o->e, -EINVAL, "zero length");
		o->fault_prep = 1;
		break;
	case 3:
		if (!storage)
			return;
		o->addr += PICK(1, 512, 2048);
		if (o->addr + o->len > g->size)
			want(&o->e, -EFAULT, "span past the end");
		want(&o->e, -EINVAL, "addr unaligned");
		break;
	case 4:
		if (!storage)
			return;
		o->len = o->len - PAGE + (uint32_t)PICK(512, 1, 4095, 2048);
		want(&o->e, -EINVAL, "len unaligned");
		break;
	}
	/* a small region: "at the end minus a page" wraps below 0 */
	if (o->len && o->addr > ~0ull - o->len)
		want(&o->e, -EOVERFLOW, "span wraps");
	else if (o->len && o->addr + o->len > g->size && !allowed(&o->e, -EFAULT))
		want(&o->e, -EFAULT, "span past the end");
}

/* every unused SQE field, one at a time: chosen now, set after the prep helper ran */
static void sqe_junk(struct fring *r, struct op *o)
{
	o->junk = 1 + (int)below(r->flags & IORING_SETUP_SQE128 ? 9 : 8);
	if (o->junk == 7)
		want(&o->e, -EOPNOTSUPP, "IOSQE_BUFFER_SELECT");
	want(&o->e, -EINVAL, "unused SQE field");
	o->fault_prep = 1;
}

static void apply_junk(struct io_uring_sqe *sqe, struct op *o)
{
	switch (o->junk) {
	case 0: return;
	case 1: sqe->ioprio = (uint16_t)(rnd() | 1); break;
	case 2: sqe->rw_flags = (uint32_t)(rnd() | 1); break;
	case 3: sqe->buf_index = (uint16_t)(rnd() | 1); break;
	case 4: sqe->file_index = (uint32_t)(rnd() | 1); break;
	case 5: sqe->__pad2[0] = rnd() | 1; break;
	case 6: sqe->personality = (uint16_t)(rnd() | 1); break;	/* no such personality */
	case 7: sqe->flags |= IOSQE_BUFFER_SELECT; break;
	case 8: sqe->flags |= 1u << 7; break;				/* no such IOSQE flag */
	case 9: ((uint8_t *)(sqe + 1))[below(64)] = (uint8_t)(rnd() | 1); break;
	}
}

static int storage_fd(struct fring *r, struct op *o, int write, int fault)
{
	if (!fault) {
		if (r->nfiles && chance(30)) {
			o->fixed = 1;
			return 0;
		}
		return nvme_rw;
	}
	switch (below(8)) {
	case 0: want(&o->e, -EBADF, "fd -1"); return -1;
	case 1: want(&o->e, -EBADF, "fd closed"); return closed_fd;
	case 2: want(&o->e, -EINVAL, "fd without O_DIRECT"); return nvme_buffered;
	case 3: want(&o->e, -EINVAL, "fd a char device"); return PICK((uint64_t)nvme_chr, (uint64_t)dev_null);
	case 4: want(&o->e, -EINVAL, "fd on tmpfs"); return tmp_file;
	case 5:
		want(&o->e, -EBADF, write ? "write on a read-only fd" : "read on a write-only fd");
		return write ? nvme_ro : nvme_wo;
	case 6:
		if (r->nfiles) {
			o->fixed = 1;
			want(&o->e, -EBADF, "fixed file sparse or out of range");
			return (int)PICK(4, 5, 1000);
		}
		want(&o->e, -EBADF, "fixed file without a table");
		o->fixed = 1;
		return 0;
	default:
		want(&o->e, -EINVAL, "fd an io_uring");
		return r->ring.ring_fd;
	}
}

static const uint32_t NV = IORING_UNIFIED_OP_NVME, NT = IORING_UNIFIED_OP_NET,
		      BP = IORING_UNIFIED_OP_BPF, WR = IORING_UNIFIED_OP_WRITE,
		      BA = IORING_UNIFIED_OP_BATCH;

/* a storage or BPF op, possibly with faults; reserves what it could touch */
static void gen_store(struct fring *r, struct region *g, struct batchq *q, struct op *o,
		      struct io_uring_sqe *sqe, int allow_faults)
{
	int write = chance(50), fault = allow_faults && chance(35);
	int bpf = chance(8);
	int tries = 0;

	o->kind = bpf ? K_BPF : K_STORE;
	o->stages = NV | (write ? WR : 0) | (bpf ? BP : 0);
	if (bpf && chance(40))
		o->stages = BP;			/* BPF alone */
	do {
		gen_span(g, o, PAGE);
		o->dev_off = win_off + (below(WINDOW_LEN - o->len + 1) / PAGE) * PAGE;
	} while (tries++ < 8 && !(reserve(q, o->addr, o->len) &&
				  reserve(q, DISK_SPACE + o->dev_off, o->len)));
	if (tries > 8) {
		o->kind = K_NOP;
		return;
	}
	o->ok = o->len;
	if (o->stages == BP) {
		o->fd = -1;
		o->dev_off = 0;
		want(&o->e, -ENOENT, "no BPF program");
		if (fault && chance(50)) {
			if (chance(50))
				o->fd = nvme_rw, want(&o->e, -EINVAL, "BPF alone with a file");
			else
				o->dev_off = PAGE, want(&o->e, -EINVAL, "BPF alone with addr3");
			o->fault_prep = 1;
		} else if (fault) {
			fault_span(g, o, 0);
		}
	} else {
		o->fd = storage_fd(r, o, write, fault && chance(40));
		if (bpf)
			want(&o->e, -ENOENT, "no BPF program");
		if (fault && !o->e.n)
			switch (below(3)) {
			case 0: fault_span(g, o, 1); break;
			case 1:
				o->dev_off = PICK(disk_bytes, disk_bytes - PAGE, disk_bytes + MB,
						  ~0ull - 4095);
				if (o->dev_off + o->len <= disk_bytes)
					o->dev_off = disk_bytes;
				want(&o->e, -ERANGE, "past the device's end");
				if (o->dev_off > ~0ull - o->len)
					want(&o->e, -EINVAL, "device offset wraps");
				break;
			case 2:
				o->dev_off += PICK(512, 1, 100);
				want(&o->e, -EINVAL, "device offset unaligned");
				break;
			}
	}
	if (allow_faults && chance(3)) {
		/* bits no stage has, or two devices */
		o->stages = (uint32_t)PICK(0, WR, NV | NT, NV | NT | WR, 1u << 5, 1u << 31, 0xffffffff);
		want(&o->e, -EINVAL, "stages");
		o->fault_prep = 1;
	}
	if (allow_faults && chance(3))
		sqe_junk(r, o);
	t_prep_unified(sqe, o->fd, o->stages, o->addr, o->len, o->dev_off);
	apply_junk(sqe, o);
	if (o->fixed)
		sqe->flags |= IOSQE_FIXED_FILE;
	if (o->stages == (uint32_t)0xffffffff && chance(50))
		sqe->off = 1ull << (32 + below(32)) | NV;	/* stages beyond 32 bits */
}

/* a zero-copy send from the region to a TCP socket */
static void gen_send(struct fring *r, struct region *g, struct batchq *q, struct op *o,
		     struct io_uring_sqe *sqe, struct peer *pr)
{
	int tries = 0;

	o->kind = K_SEND;
	o->stages = NT | WR;
	do {
		gen_span(g, o, 1);
		if (o->len > 16384)
			o->len = 16384;
		o->len = 1 + (uint32_t)below(o->len);
		if (o->addr + o->len > g->size)
			o->addr = g->size - o->len;
	} while (tries++ < 8 && !reserve(q, o->addr, o->len));
	if (tries > 8) {
		o->kind = K_NOP;
		return;
	}
	o->fd = pr->tx;
	o->ok = o->len;
	o->notif_ud = chance(30) ? next_ud++ : 0;
	t_prep_unified(sqe, o->fd, o->stages, o->addr, o->len, o->notif_ud);
	if (chance(25)) {
		switch (below(5)) {
		case 0: fault_span(g, o, 0); break;
		case 1: o->fd = tmp_file; want(&o->e, -ENOTSOCK, "send on a file"); break;
		case 2: o->fd = closed_fd; want(&o->e, -EBADF, "send on no file"); break;
		case 3: sqe_junk(r, o); break;
		case 4:
			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
			want(&o->e, -EINVAL, "send with CQE_SKIP_SUCCESS");
			o->fault_prep = 1;
			r->skip_used = 1;
			break;
		}
		sqe->fd = o->fd;
		sqe->addr = o->addr;
		sqe->len = o->len;
		apply_junk(sqe, o);
	}
	if (!o->notif_ud)
		o->notif_ud = o->ud;
	if (!o->e.n) {
		o->payload = malloc(o->len);
		memcpy(o->payload, g->shadow + o->addr, o->len);
	}
}

/* an op the region refuses outright: receives without a binding, bad batch SQEs */
static void gen_misc(struct fring *r, struct region *g, struct op *o, struct io_uring_sqe *sqe,
		     struct peer *pr)
{
	o->kind = K_RECV;
	o->fd = pr ? pr->rx : tmp_file;
	o->stages = NT | (chance(20) ? BP : 0);
	switch (below(4)) {
	case 0:
		if (!g->net)
			want(&o->e, -ENOLINK, "receive without a binding");
		o->addr = PAGE;
		want(&o->e, -EINVAL, "receive with addr");
		break;
	case 1:
		o->dev_off = 1 + below(100);
		want(&o->e, -EINVAL, "receive with addr3");
		if (!g->net)
			want(&o->e, -ENOLINK, "receive without a binding");
		break;
	case 2:
		o->kind = K_BATCH;
		o->stages = BA;
		o->fd = -1;
		o->len = 1 + (uint32_t)below(4);
		switch (below(5)) {
		case 0: o->fd = nvme_rw; break;
		case 1: o->addr = PAGE; break;
		case 2: o->dev_off = 1; break;
		case 3: o->len = 0; break;
		case 4: o->stages = BA | (uint32_t)PICK(NV, NT, BP, WR); break;
		}
		want(&o->e, -EINVAL, "bad batch SQE");
		break;
	default:
		if (g->net)
			want(&o->e, -ENOTSOCK, "receive on a file");
		else
			want(&o->e, -ENOLINK, "receive without a binding");
		o->fd = tmp_file;
		break;
	}
	if (r->flags & IORING_SETUP_SQPOLL && 0)
		return;
	o->fault_prep = 1;
	t_prep_unified(sqe, o->fd, o->stages, o->addr, o->len, o->dev_off);
}

/* batch descriptors, each with the model of its result */
struct dexp {
	uint64_t ud;
	struct expect e;
	int64_t ok;
	uint32_t stages;
	uint64_t addr, dev_off;
	uint32_t len;
	int done;
};

struct dbatch {
	int n;
	struct dexp d[512];
};

static void gen_descs(struct fring *r, struct region *g, struct batchq *q, struct dbatch *db,
		      unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		struct io_unified_desc *d = &g->sqd[g->sq_tail & (g->reg.sq_entries - 1)];
		struct dexp *x = &db->d[db->n];
		struct op tmp = { 0 };
		int write = chance(50), tries = 0;

		memset(x, 0, sizeof(*x));
		memset(d, 0, sizeof(*d));
		do {
			gen_span(g, &tmp, PAGE);
			tmp.dev_off = win_off + (below(WINDOW_LEN - tmp.len + 1) / PAGE) * PAGE;
		} while (tries++ < 8 && !(reserve(q, tmp.addr, tmp.len) &&
					  reserve(q, DISK_SPACE + tmp.dev_off, tmp.len)));
		x->ud = next_ud++;
		x->stages = NV | (write ? WR : 0);
		x->addr = tmp.addr;
		x->len = tmp.len;
		x->dev_off = tmp.dev_off;
		x->ok = tmp.len;
		d->fd = nvme_rw;
		if (r->nfiles && chance(20)) {
			d->flags = IORING_UNIFIED_DESC_FIXED_FILE;
			d->fd = 0;
		}
		if (tries > 8 || chance(40)) {
			/* a bad descriptor: it fails alone */
			tmp.e.n = 0;
			tmp.e.what[0] = 0;
			/* a span that could not be reserved gets a fault that moves nothing */
			switch (tries > 8 ? 0 : below(12)) {
			case 0: d->__resv1 = 1; want(&tmp.e, -EINVAL, "__resv1"); break;
			case 1: d->__resv2 = rnd() | 1; want(&tmp.e, -EINVAL, "__resv2"); break;
			case 2: d->flags |= 1u << (16 + below(16)); want(&tmp.e, -EINVAL, "flags"); break;
			case 3:
				x->stages = (uint32_t)PICK(0, WR, NT, NT | WR, BA | NV, NV | NT,
							   1u << 9, 0x80000000u);
				want(&tmp.e, -EINVAL, "stages");
				break;
			case 4:
				x->stages |= BP;
				want(&tmp.e, -ENOENT, "no BPF program");
				if (x->stages == (NV | BP))
					tmp.kind = K_BPF;	/* the read lands first */
				break;
			case 5: x->stages = BP; want(&tmp.e, -ENOENT, "no BPF program"); break;
			case 6:
				d->fd = (int)PICK((uint64_t)closed_fd, (uint64_t)-1, 77777);
				d->flags = 0;
				want(&tmp.e, -EBADF, "fd");
				break;
			case 7:
				d->flags = IORING_UNIFIED_DESC_FIXED_FILE;
				d->fd = (int)PICK(4, 5, 100, 0x7fffffff);
				want(&tmp.e, -EBADF, "fixed file");
				break;
			case 8:
				d->fd = (int)PICK((uint64_t)nvme_buffered, (uint64_t)tmp_file,
						  (uint64_t)nvme_chr, (uint64_t)dev_null);
				d->flags = 0;
				want(&tmp.e, -EINVAL, "not an O_DIRECT block file");
				break;
			case 9:
				x->dev_off = PICK(disk_bytes, disk_bytes - PAGE / 2, ~0ull - 4095);
				want(&tmp.e, x->dev_off % PAGE ? -EINVAL : -ERANGE, "device offset");
				if (x->dev_off > ~0ull - x->len)
					want(&tmp.e, -EINVAL, "wraps");
				break;
			default:
				tmp.addr = x->addr;
				tmp.len = x->len;
				fault_span(g, &tmp, 1);
				if (!tmp.e.n)
					want(&tmp.e, -EINVAL, "unaligned"), x->len |= 1;
				else
					x->addr = tmp.addr, x->len = tmp.len;
				break;
			}
			x->e = tmp.e;
			if (tmp.kind == K_BPF)
				x->ok = -1000;	/* marks: data lands, then -ENOENT */
		}
		d->user_data = x->ud;
		d->addr = x->addr;
		d->len = x->len;
		d->dev_off = x->dev_off;
		d->op_flags = x->stages;
		db->n++;
		g->sq_tail++;
		g_ops++;
	}
	__atomic_store_n(&g->sq->tail, g->sq_tail, __ATOMIC_RELEASE);
}

/* the data a successful transfer moved, into the shadows */
static void apply_effect(struct region *g, uint32_t stages, uint64_t addr, uint64_t dev_off,
			 uint32_t len)
{
	if (stages & WR) {
		if (dev_off < scratch_off || dev_off + len > scratch_off + SCRATCH_LEN)
			FAIL("a write to %#llx+%u outside the scratch range succeeded",
			     (unsigned long long)dev_off, len);
		memcpy(disk_shadow + (dev_off - scratch_off), g->shadow + addr, len);
	} else {
		disk_expect(dev_off, g->shadow + addr, len);
	}
}

static int in_expect(const struct expect *e, int res)
{
	return allowed(e, res);
}

/* reaps the descriptor results of batches that completed */
static void reap_descs(struct region *g, struct dbatch *db, unsigned consumed_total)
{
	uint32_t tail = __atomic_load_n(&g->cq->tail, __ATOMIC_ACQUIRE);
	unsigned n = 0;

	if (tail - g->cq_head != consumed_total)
		FAIL("completion ring holds %u results, the batch CQEs said %u",
		     tail - g->cq_head, consumed_total);
	for (; g->cq_head != tail; g->cq_head++, n++) {
		struct io_unified_desc *d = &g->cqd[g->cq_head & (g->reg.cq_entries - 1)];
		struct dexp *x = NULL;

		for (int i = 0; i < db->n; i++)
			if (db->d[i].ud == d->user_data && !db->d[i].done)
				x = &db->d[i];
		if (!x)
			FAIL("a descriptor result for unknown user_data %llu (res %d)",
			     (unsigned long long)d->user_data, d->res);
		x->done = 1;
		logop("desc ud %llu st %#x addr %#llx len %u dev %#llx -> %d (want %s)",
		      (unsigned long long)x->ud, x->stages, (unsigned long long)x->addr, x->len,
		      (unsigned long long)x->dev_off, d->res, x->e.n ? x->e.what : "success");
		if (d->__resv1 || d->__resv2)
			FAIL("a result descriptor with reserved fields set");
		if (x->e.n ? !in_expect(&x->e, d->res) : d->res != x->ok)
			FAIL("descriptor ud %llu (stages %#x addr %#llx len %u dev %#llx): res %d, "
			     "want %s", (unsigned long long)x->ud, x->stages,
			     (unsigned long long)x->addr, x->len, (unsigned long long)x->dev_off,
			     d->res, x->e.n ? x->e.what : "success");
		if (d->res >= 0 && !x->e.n)
			apply_effect(g, x->stages, x->addr, x->dev_off, x->len);
		else if (x->ok == -1000 && d->res == -ENOENT)
			apply_effect(g, NV, x->addr, x->dev_off, x->len);
	}
	__atomic_store_n(&g->cq->head, g->cq_head, __ATOMIC_RELEASE);
}

/*
 * Takes whatever the peer socket has. Bytes may arrive before the send's CQE
 * is reaped: they are compared once the CQE said what was sent.
 */
static void peer_drain(struct peer *pr)
{
	for (;;) {
		ssize_t n;

		pr->got = realloc(pr->got, pr->got_len + 16384);
		n = recv(pr->rx, pr->got + pr->got_len, 16384, MSG_DONTWAIT);
		if (n <= 0)
			break;
		pr->got_len += (uint64_t)n;
	}
	for (; pr->checked < pr->got_len && pr->checked < pr->want_len; pr->checked++)
		if (pr->got[pr->checked] != pr->want[pr->checked])
			FAIL("stream byte %llu from a zero-copy send is %#x, the region held %#x",
			     (unsigned long long)pr->checked, pr->got[pr->checked],
			     pr->want[pr->checked]);
}

/*
 * One CQE against the model: known user_data, exactly one final CQE per SQE,
 * a send's notification only after its first CQE said one follows.
 */
static void take_cqe(struct fring *r, struct region *g, struct batchq *q, struct peer *pr,
		     struct io_uring_cqe *cqe)
{
	struct op *o = find_op(q, cqe->user_data);
	int is32 = (r->flags & IORING_SETUP_CQE32) || (cqe->flags & IORING_CQE_F_32);

	(void)g;
	if (cqe->flags & IORING_CQE_F_NOTIF) {
		o = notif_op(q, cqe->user_data);
		logop("cqe notif ud %llu res %d flags %#x", (unsigned long long)cqe->user_data,
		      cqe->res, cqe->flags);
		if (!o)
			FAIL("a notification for user_data %llu, and no send with "
			     "IORING_CQE_F_MORE waits for one", (unsigned long long)cqe->user_data);
		o->notifs++;
		return;
	}
	logop("cqe ud %llu res %d flags %#x%s", (unsigned long long)cqe->user_data, cqe->res,
	      cqe->flags, is32 ? " (32)" : "");
	if (!o)
		FAIL("a CQE for unknown user_data %llu (res %d, flags %#x)",
		     (unsigned long long)cqe->user_data, cqe->res, cqe->flags);
	if (o->finals)
		FAIL("a second CQE for user_data %llu (%s): res %d after %d",
		     (unsigned long long)o->ud, kind_names[o->kind], cqe->res, o->res);
	if (o->kind == K_SEND && (cqe->flags & IORING_CQE_F_MORE)) {
		o->more = 1;
	} else if (cqe->flags & IORING_CQE_F_MORE) {
		FAIL("IORING_CQE_F_MORE on a %s op (user_data %llu, res %d)", kind_names[o->kind],
		     (unsigned long long)o->ud, cqe->res);
	}
	if (o->kind == K_SEND && cqe->res >= 0 && !(cqe->flags & IORING_CQE_F_MORE))
		FAIL("a successful send (user_data %llu) without IORING_CQE_F_MORE",
		     (unsigned long long)o->ud);
	o->finals = 1;
	o->res = cqe->res;
	o->cflags = cqe->flags;
	o->comp_seq = q->comp_seq++;
	/* CQE32 fields of a direct storage op: the region offset and the stages */
	if ((r->flags & IORING_SETUP_CQE32) && o->kind == K_STORE && o->res == o->ok &&
	    (cqe->big_cqe[0] != o->addr || (uint32_t)cqe->big_cqe[1] != o->stages))
		FAIL("CQE32 of ud %llu: big_cqe %#llx/%#llx, want offset %#llx stages %#x",
		     (unsigned long long)o->ud, (unsigned long long)cqe->big_cqe[0],
		     (unsigned long long)cqe->big_cqe[1], (unsigned long long)o->addr, o->stages);
	if (o->kind == K_SEND && o->res > 0) {
		if (!o->payload)
			FAIL("a send that should have failed (%s) sent %d bytes", o->e.what, o->res);
		if ((uint32_t)o->res > o->len)
			FAIL("a send of %u bytes reports %d", o->len, o->res);
		pr->want = realloc(pr->want, pr->want_len + (uint64_t)o->res);
		memcpy(pr->want + pr->want_len, o->payload, (size_t)o->res);
		pr->want_len += (uint64_t)o->res;
	}
}

/* waits for every final CQE (and notification) of @q; the peer is drained meanwhile */
static void reap(struct fring *r, struct region *g, struct batchq *q, struct peer *pr)
{
	double deadline = t_now() + 60;

	for (;;) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_nsec = 2000000 };
		int pending = 0;

		for (int i = 0; i < q->n; i++) {
			struct op *o = &q->ops[i];

			/*
			 * A CQE_SKIP_SUCCESS op and the NOP linked behind it post one
			 * CQE between them: the op's if it failed (the rest of its link
			 * is then cancelled without CQEs), else the NOP's.
			 */
			if (o->witness && !o->finals && !find_op(q, (uint64_t)o->witness)->finals)
				pending++;
			else if (!o->finals && !o->skip && !o->witness)
				pending++;
			if (o->kind == K_SEND && o->more > o->notifs)
				pending++;
		}
		if (pr && pr->got_len < pr->want_len)
			pending++;
		if (!pending)
			break;
		if (t_now() > deadline) {
			for (int i = 0; i < q->n; i++)
				if (!q->ops[i].finals || q->ops[i].more > q->ops[i].notifs)
					logop("waiting: ud %llu %s finals %d more %d notifs %d skip %d",
					      (unsigned long long)q->ops[i].ud,
					      kind_names[q->ops[i].kind], q->ops[i].finals,
					      q->ops[i].more, q->ops[i].notifs, q->ops[i].skip);
			FAIL("completions missing after 60 s (%d pending)", pending);
		}
		/* (re)submits what a refused SQE left in the ring, then waits */
		cqe = NULL;
		if (io_uring_submit_and_wait_timeout(&r->ring, &cqe, 1, &ts, NULL) >= 0 && cqe) {
			take_cqe(r, g, q, pr, cqe);
			io_uring_cqe_seen(&r->ring, cqe);
			while (io_uring_peek_cqe(&r->ring, &cqe) == 0) {
				take_cqe(r, g, q, pr, cqe);
				io_uring_cqe_seen(&r->ring, cqe);
			}
		}
		if (pr)
			peer_drain(pr);
	}
}

static int op_ok(const struct op *o, int res)
{
	if (o->kind == K_SEND || o->kind == K_BATCH)
		return res >= 0;
	return res == o->ok;
}

/* links, drains, skips: the whole submission against the model */
static void check_batch(struct fring *r, struct region *g, struct batchq *q)
{
	(void)r;
	for (int i = 0; i < q->n; i++) {
		struct op *o = &q->ops[i];
		int res = o->finals ? o->res : (int)o->ok;	/* a skipped CQE: it succeeded */
		int chain_faulty = 0, failed_before = 0;

		if (!o->finals && !o->skip && !o->witness)
			FAIL("no CQE for ud %llu", (unsigned long long)o->ud);
		if (o->witness) {
			/* the NOP behind a CQE_SKIP_SUCCESS op: one CQE between the two */
			struct op *s = find_op(q, (uint64_t)o->witness);

			if (s->finals == o->finals || (o->finals && o->res != 0))
				FAIL("ud %llu with IOSQE_CQE_SKIP_SUCCESS: %s; the NOP linked behind "
				     "it: %s (%d)", (unsigned long long)s->ud,
				     s->finals ? "a CQE" : "no CQE", o->finals ? "a CQE" : "no CQE",
				     o->res);
			if (s->finals && op_ok(s, s->res))
				FAIL("a CQE (%d) for ud %llu with IOSQE_CQE_SKIP_SUCCESS that "
				     "succeeded", s->res, (unsigned long long)s->ud);
			continue;
		}
		if (o->kind == K_NOP)
			continue;
		if (o->chain) {
			for (int j = 0; j < q->n; j++) {
				struct op *c = &q->ops[j];

				if (c->chain != o->chain || c->witness)
					continue;
				if (c->e.n)
					chain_faulty = 1;
				if (j < i && c->finals && !op_ok(c, c->res) && c->res != -ECANCELED)
					failed_before = 1;
			}
		}
		if (res == -ECANCELED && o->chain && chain_faulty)
			continue;	/* its link broke: cancelled, nothing moved */
		if (res == -ENXIO && o->may_enxio)
			continue;
		if (o->chain && failed_before && !o->hard && op_ok(o, res))
			FAIL("ud %llu succeeded (%d) after an earlier op of its link failed",
			     (unsigned long long)o->ud, res);
		if (o->e.n ? !in_expect(&o->e, res) : !op_ok(o, res))
			FAIL("ud %llu (%s stages %#x fd %d%s addr %#llx len %u dev %#llx): res %d, "
			     "want %s", (unsigned long long)o->ud, kind_names[o->kind], o->stages,
			     o->fd, o->fixed ? " fixed" : "", (unsigned long long)o->addr, o->len,
			     (unsigned long long)o->dev_off, res,
			     o->e.n ? o->e.what : "success");
		if (o->kind == K_STORE && res == o->ok && !o->e.n)
			apply_effect(g, o->stages, o->addr, o->dev_off, o->len);
		if (o->kind == K_BPF && res == -ENOENT && o->stages == (NV | BP))
			apply_effect(g, NV, o->addr, o->dev_off, o->len);	/* read, then BPF */
		if (o->drain && !o->e.n && !o->chain)
			for (int j = 0; j < i; j++)
				if (q->ops[j].finals && q->ops[j].comp_seq > o->comp_seq)
					FAIL("ud %llu completed after the drain ud %llu that followed it",
					     (unsigned long long)q->ops[j].ud,
					     (unsigned long long)o->ud);
	}
}

static void batch_reset(struct batchq *q)
{
	for (int i = 0; i < q->n; i++)
		free(q->ops[i].payload);
	memset(q, 0, sizeof(*q));
}

static struct op *new_op(struct batchq *q)
{
	struct op *o = &q->ops[q->n++];

	memset(o, 0, sizeof(*o));
	o->used = 1;
	o->ud = next_ud++;
	o->sub_seq = (uint64_t)q->n;
	return o;
}

/* runs whatever descriptors are left, so that the next submission starts clean */
static void flush_descs(struct fring *r, struct region *g, struct dbatch *db)
{
	while (g->ksq_head != g->sq_tail) {
		uint32_t left = g->sq_tail - g->ksq_head;
		uint32_t want_n = left < g->reg.cq_entries ? left : g->reg.cq_entries;
		struct io_uring_sqe *sqe = get_sqe(r);
		int res;

		t_prep_unified(sqe, -1, BA, 0, left, 0);
		sqe->user_data = 1;
		g_ops++;
		res = submit_one(r);
		logop("batch (flush) of %u -> %d", left, res);
		if (res != (int)want_n)
			FAIL("a batch of %u over %u pending descriptors and %u free completion "
			     "slots consumed %d", left, left, g->reg.cq_entries, res);
		g->ksq_head += (uint32_t)res;
		g->kcq_tail += (uint32_t)res;
		g_ops += (uint64_t)res;
		reap_descs(g, db, (unsigned)res);
	}
}

/*
 * One submission of 1..12 ops: direct ops, links and drains, sends, refused
 * receives, batches over the descriptor ring. Returns after every completion.
 */
static void one_submission(struct fring *r, struct region *g, struct peer *pr, int registered)
{
	static struct batchq q;
	static struct dbatch db;
	unsigned n = 1 + (unsigned)below(12), batches = 0, batch_total = 0;
	unsigned chain = 0, chain_hard = 0, ndesc = 0, maxsum = 0, avail, cq_room;
	int sent = 0;

	batch_reset(&q);
	db.n = 0;
	if (registered && chance(25)) {
		/* descriptors first; batch SQEs of this submission consume them */
		unsigned room = g->reg.sq_entries - (g->sq_tail - g->ksq_head);

		ndesc = (unsigned)below(room + 1);
		if (ndesc > 24)
			ndesc = 24;
		gen_descs(r, g, &q, &db, ndesc);
	}
	avail = registered ? g->sq_tail - g->ksq_head : 0;
	cq_room = registered ? g->reg.cq_entries - (g->kcq_tail - g->cq_head) : 0;
	for (unsigned i = 0; i < n && q.n < MAX_OPS - 2; i++) {
		struct io_uring_sqe *sqe = get_sqe(r);
		struct op *o = new_op(&q);
		unsigned k = (unsigned)below(100);
		int linkable, in_chain = chain != 0;

		if (ndesc && batches < 3 && k < 30) {
			o->kind = K_BATCH;
			o->stages = BA;
			o->fd = -1;
			o->len = 1 + (uint32_t)below(ndesc + 2);
			batches++;
			t_prep_unified(sqe, -1, BA, 0, o->len, 0);
		} else if (pr && !sent && k < 45 && !in_chain) {
			gen_send(r, g, &q, o, sqe, pr);
			sent = 1;
		} else if (k < 52) {
			gen_misc(r, g, o, sqe, pr);
		} else {
			gen_store(r, g, &q, o, sqe, 1);
		}
		if (o->kind == K_NOP) {
			io_uring_prep_nop(sqe);
			o->ok = 0;
		}
		if (!registered && o->kind != K_NOP) {
			want(&o->e, -ENXIO, "no region");
			o->fault_prep = 1;
		}
		sqe->user_data = o->ud;
		if (chance(10))
			sqe->flags |= IOSQE_ASYNC;
		if (chance(5)) {
			sqe->flags |= IOSQE_IO_DRAIN;
			o->drain = 1;
			if (r->skip_used && o->junk != 8) {
				want(&o->e, -EOPNOTSUPP, "IOSQE_IO_DRAIN after CQE_SKIP_SUCCESS");
				o->fault_prep = 1;
			}
		}
		if (in_chain) {
			o->chain = (int)chain;
			o->hard = (int)chain_hard;
		}
		linkable = o->kind != K_SEND && o->kind != K_BATCH && i + 1 < n;
		if (linkable && chance(15)) {
			if (!chain) {
				chain = (unsigned)o->ud;
				chain_hard = chance(30);
			}
			o->chain = (int)chain;
			o->hard = (int)chain_hard;
			sqe->flags |= chain_hard ? IOSQE_IO_HARDLINK : IOSQE_IO_LINK;
		} else {
			chain = 0;
		}
		if (!in_chain && !chain && o->kind != K_SEND && o->kind != K_BATCH &&
		    q.n < MAX_OPS - 2 && chance(6)) {
			/* a witness NOP linked behind it posts once it is done */
			struct op *w;
			struct io_uring_sqe *wsqe;

			sqe->flags |= IOSQE_CQE_SKIP_SUCCESS | IOSQE_IO_LINK;
			o->skip = 1;
			if (o->drain) {	/* its own skip flag disables draining first */
				want(&o->e, -EOPNOTSUPP, "IOSQE_IO_DRAIN with CQE_SKIP_SUCCESS");
				o->fault_prep = 1;
			}
			if (o->junk != 7 && o->junk != 8)
				r->skip_used = 1;
			logop("sqe ud %llu %s st %#x fd %d%s addr %#llx len %u dev %#llx flags %#x%s%s",
			      (unsigned long long)o->ud, kind_names[o->kind], o->stages, o->fd,
			      o->fixed ? "(fixed)" : "", (unsigned long long)o->addr, o->len,
			      (unsigned long long)o->dev_off, sqe->flags, o->e.n ? " bad: " : "",
			      o->e.n ? o->e.what : "");
			g_ops++;
			w = new_op(&q);
			wsqe = get_sqe(r);
			w->kind = K_NOP;
			w->witness = (int)o->ud;
			io_uring_prep_nop(wsqe);
			wsqe->user_data = w->ud;
			logop("sqe ud %llu witness nop for ud %llu", (unsigned long long)w->ud,
			      (unsigned long long)o->ud);
			continue;
		}
		logop("sqe ud %llu %s st %#x fd %d%s addr %#llx len %u dev %#llx flags %#x%s%s",
		      (unsigned long long)o->ud, kind_names[o->kind], o->stages, o->fd,
		      o->fixed ? "(fixed)" : "", (unsigned long long)o->addr, o->len,
		      (unsigned long long)o->dev_off, sqe->flags, o->e.n ? " bad: " : "",
		      o->e.n ? o->e.what : "");
		g_ops++;
	}
	io_uring_submit(&r->ring);
	reap(r, g, &q, pr);

	/* batches: their counts add up to what the completion ring holds */
	for (int i = 0; i < q.n; i++) {
		struct op *o = &q.ops[i];

		if (o->kind != K_BATCH || o->e.n)
			continue;
		if (o->res == -ECANCELED && o->chain)
			continue;
		if (o->res < 0 || (uint32_t)o->res > o->len)
			FAIL("batch ud %llu of at most %u consumed %d", (unsigned long long)o->ud,
			     o->len, o->res);
		batch_total += (unsigned)o->res;
		maxsum += o->len;
	}
	if (registered && batches) {
		unsigned want_n = maxsum < avail ? maxsum : avail;

		if (cq_room < want_n)
			want_n = cq_room;
		if (batch_total != want_n)
			FAIL("batches consumed %u descriptors: %u pending, %u completion slots, "
			     "the SQEs asked for %u", batch_total, avail, cq_room, maxsum);
		g->ksq_head += batch_total;
		g->kcq_tail += batch_total;
		g_ops += batch_total;
		if (__atomic_load_n(&g->sq->head, __ATOMIC_ACQUIRE) != g->ksq_head)
			FAIL("submission ring head %u, the model says %u", g->sq->head, g->ksq_head);
	}
	check_batch(r, g, &q);
	if (registered && (batches || ndesc)) {
		reap_descs(g, &db, g->kcq_tail - g->cq_head);
		flush_descs(r, g, &db);
		for (int i = 0; i < db.n; i++)
			if (!db.d[i].done)
				FAIL("descriptor ud %llu never got a result",
				     (unsigned long long)db.d[i].ud);
	}
	/* what moved is where the shadow says */
	for (int i = 0; i < q.nres; i++)
		if (q.res_lo[i] < DISK_SPACE && g->shadow)
			verify_region(g, q.res_lo[i], q.res_hi[i] - q.res_lo[i], "after a submission");
}

/* rings and regions of one op round */
static void net_pair(struct peer *pr)
{
	memset(pr, 0, sizeof(*pr));
	t_tcp_pair(&pr->tx, &pr->rx);
}

static void peer_close(struct peer *pr)
{
	close(pr->tx);
	close(pr->rx);
	if (pr->got_len > pr->want_len)
		FAIL("the peer got %llu bytes, sends reported %llu",
		     (unsigned long long)pr->got_len, (unsigned long long)pr->want_len);
	free(pr->want);
	free(pr->got);
}

/* ops in flight, then unregister, ring exit, fork, munmap or mremap */
static void race_end(struct fring *r, struct region *g, struct peer *pr)
{
	static struct batchq q;
	unsigned n = 1 + (unsigned)below(16);
	int what = (int)below(5), ret;
	uint64_t wlo = ~0ull, whi = 0;
	uint8_t *snap;

	batch_reset(&q);
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = get_sqe(r);
		struct op *o = &q.ops[q.n++];

		memset(o, 0, sizeof(*o));
		o->ud = next_ud++;
		gen_store(r, g, &q, o, sqe, 0);
		if (o->kind == K_NOP)
			io_uring_prep_nop(sqe);
		sqe->user_data = o->ud;
		if (o->kind == K_STORE && (o->stages & WR)) {
			if (o->dev_off < wlo)
				wlo = o->dev_off;
			if (o->dev_off + o->len > whi)
				whi = o->dev_off + o->len;
		}
		g_ops++;
	}
	snap = malloc(g->size);
	memcpy(snap, g->shadow, g->size);
	io_uring_submit(&r->ring);
	switch (what) {
	case 0:
		/* the SQPOLL thread may take the SQEs only after the unregistration */
		for (int i = 0; i < q.n; i++)
			q.ops[i].may_enxio = !!(r->flags & IORING_SETUP_SQPOLL);
		ret = unreg_call(r);
		logop("race: unregister with %u ops in flight -> %d", n, ret);
		if (ret)
			FAIL("unregister with ops in flight: %d", ret);
		reap(r, g, &q, pr);
		check_batch(r, g, &q);
		verify_region(g, 0, g->size, "ops that outlived unregistration");
		/* the next op finds no region; a new one starts zeroed */
		{
			struct io_uring_sqe *sqe = get_sqe(r);

			t_prep_unified(sqe, nvme_rw, NV, 0, PAGE, win_off);
			sqe->user_data = 1;
			g_ops++;
			if ((ret = submit_one(r)) != -ENXIO)
				FAIL("an op after unregistration: %d, want -ENXIO", ret);
		}
		break;
	case 1: {
		/* ring exit: writes in flight land or not, the mapping stays valid */
		uint8_t *disk_before = NULL;

		logop("race: ring exit with %u ops in flight", n);
		if (whi) {
			disk_before = malloc(whi - wlo);
			memcpy(disk_before, disk_shadow + (wlo - scratch_off), whi - wlo);
		}
		fring_exit(r);
		if (g->um.kind == MEM_KERNEL) {
			/*
			 * A mapping of the ring fd keeps the ring's file, so the ring
			 * (and its I/O) would live on: unmap, then wait for it to go.
			 */
			munmap(g->map, g->map_len);
			g->map_len = 0;
			g->map = NULL;
		}
		memlock_wait("ring exit with I/O in flight");
		/* reads in flight may have landed in the region: they read the disk's bytes */
		for (int i = 0; i < q.n; i++) {
			struct op *o = &q.ops[i];

			if (g->map && (o->kind == K_STORE || o->kind == K_BPF) &&
			    (o->stages & NV) && !(o->stages & WR) &&
			    memcmp(g->map + o->addr, g->shadow + o->addr, o->len)) {
				uint8_t *want_buf = malloc(o->len);

				disk_expect(o->dev_off, want_buf, o->len);
				/* a write in flight may have raced it: either is fine then */
				if (memcmp(g->map + o->addr, want_buf, o->len) && !whi)
					FAIL("after ring exit, region span %#llx+%u holds neither its "
					     "old bytes nor the disk's", (unsigned long long)o->addr,
					     o->len);
				memcpy(g->shadow + o->addr, g->map + o->addr, o->len);
				free(want_buf);
			}
		}
		/* each write in flight landed whole or not at all: read it back */
		if (whi) {
			uint8_t *now = malloc(whi - wlo);

			disk_pread(wlo, now, whi - wlo);
			for (int i = 0; i < q.n; i++) {
				struct op *o = &q.ops[i];
				uint64_t k = o->dev_off - wlo;

				if (o->kind != K_STORE || !(o->stages & WR))
					continue;
				if (memcmp(now + k, disk_before + k, o->len) &&
				    memcmp(now + k, snap + o->addr, o->len))
					FAIL("after ring exit, disk %#llx+%u holds neither its old "
					     "bytes nor the write's", (unsigned long long)o->dev_off,
					     o->len);
			}
			memcpy(disk_shadow + (wlo - scratch_off), now, whi - wlo);
			free(now);
			free(disk_before);
		}
		if (g->map)
			verify_region(g, 0, g->size, "user memory after ring exit");
		break;
	}
	case 2: {
		/* fork: the child sees the same bytes and may unregister */
		int child_unreg = chance(50), status;
		uint64_t h;
		pid_t pid;

		reap(r, g, &q, pr);
		check_batch(r, g, &q);
		h = hash_bytes(g->map, g->size);
		pid = fork();
		if (pid == 0) {
			int rc = 0;

			if (hash_bytes(g->map, g->size) != h)
				_exit(3);
			if (child_unreg) {
				rc = io_uring_register(r->ring.ring_fd,
						       IORING_UNREGISTER_UNIFIED_REGION, NULL, 0);
				_exit(rc == 0 ? 0 : rc == -EEXIST ? 1 : 2);
			}
			_exit(0);
		}
		waitpid(pid, &status, 0);
		logop("race: fork, child unregister %d -> status %#x", child_unreg, status);
		if (!WIFEXITED(status) || WEXITSTATUS(status) == 3)
			FAIL("the forked child saw other bytes in the region (status %#x)", status);
		if (WEXITSTATUS(status) == 2)
			FAIL("unregister from a forked child: neither 0 nor -EEXIST");
		if (child_unreg && WEXITSTATUS(status) == 1 &&
		    !(r->flags & IORING_SETUP_SINGLE_ISSUER))
			FAIL("unregister from a child of a shared ring: -EEXIST");
		if (child_unreg && WEXITSTATUS(status) == 0 && (r->flags & IORING_SETUP_SINGLE_ISSUER))
			FAIL("a child unregistered a SINGLE_ISSUER ring's region");
		ret = unreg_call(r);
		if (ret != ((child_unreg && WEXITSTATUS(status) == 0) ? -ENXIO : 0))
			FAIL("unregister after the child: %d", ret);
		break;
	}
	case 3: {
		/* munmap with ops in flight, then map again: same bytes */
		if (g->um.kind != MEM_KERNEL) {
			reap(r, g, &q, pr);
			check_batch(r, g, &q);
			break;
		}
		munmap(g->map, g->map_len);
		logop("race: munmap with %u ops in flight", n);
		reap(r, g, &q, pr);
		check_batch(r, g, &q);
		region_attach(g, region_mmap(r, g));
		verify_region(g, 0, g->size, "remapped after munmap with ops in flight");
		ret = unreg_call(r);
		if (ret)
			FAIL("unregister: %d", ret);
		break;
	}
	default: {
		/* mremap: moves of the mapping keep its bytes; growing it is refused */
		void *p;

		reap(r, g, &q, pr);
		check_batch(r, g, &q);
		if (g->um.kind != MEM_KERNEL)
			break;
		g_ops++;
		p = mremap(g->map, g->map_len, g->map_len + PAGE * (1 + below(4)), MREMAP_MAYMOVE);
		logop("race: mremap grow -> %s", p == MAP_FAILED ? strerror(errno) : "ok");
		if (p != MAP_FAILED)
			FAIL("mremap grew the region's mapping past its end");
		p = mremap(g->map, g->map_len, g->map_len, MREMAP_MAYMOVE | MREMAP_FIXED,
			   mmap(NULL, g->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
		logop("race: mremap move -> %s", p == MAP_FAILED ? strerror(errno) : "ok");
		if (p != MAP_FAILED)
			region_attach(g, p);
		verify_region(g, 0, g->size, "after mremap");
		ret = unreg_call(r);
		if (ret)
			FAIL("unregister: %d", ret);
		break;
	}
	}
	free(snap);
	batch_reset(&q);
}

static void round_ops(void)
{
	struct fring r;
	struct region g;
	struct peer pr, *prp = NULL;
	unsigned steps = 10 + (unsigned)below(40);
	int kind = (int)below(MEM_KINDS), ret;
	uint64_t size = PAGE * (1 + below(chance(70) ? 64 : 512));

	fring_init(&r, random_ring_flags(0), chance(60) ? 1 + (int)below(4) : 0, chance(60));
	if (chance(8)) {
		/* no region at all: every op is -ENXIO (or refused earlier) */
		static struct region none;

		memset(&none, 0, sizeof(none));
		none.size = 16 * PAGE;
		for (int i = 0; i < 5; i++)
			one_submission(&r, &none, NULL, 0);
	}
	ret = region_create(&r, &g, size, kind, 0, chance(50));
	if (ret == -ENOMEM) {
		fring_exit(&r);
		return;
	}
	if (ret)
		FAIL("a valid registration failed: %d", ret);
	if (chance(60)) {
		net_pair(&pr);
		prp = &pr;
	}
	for (unsigned s = 0; s < steps; s++) {
		if (chance(30))
			scribble_region(&g);
		one_submission(&r, &g, prp, 1);
	}
	if (chance(70)) {
		race_end(&r, &g, prp);
	} else {
		ret = unreg_call(&r);
		if (ret)
			FAIL("unregister: %d", ret);
	}
	logop("round end");
	fring_exit(&r);
	if (prp)
		peer_close(prp);
	/* the mapping outlives the ring: its bytes are still the shadow's */
	if (g.map)
		verify_region(&g, 0, g.size, "the mapping after the ring is closed");
	region_forget(&g);
}

/* ====================================================================== */
/* descriptor rings rewritten by another thread while batches run          */
/* ====================================================================== */

struct scribbler {
	pthread_t thr;
	volatile int stop;
	struct region *g;
	uint64_t rng;
	uint64_t writes;
};

static void *scribble_main(void *arg)
{
	struct scribbler *s = arg;
	struct region *g = s->g;
	uint32_t sqn = g->reg.sq_entries, cqn = g->reg.cq_entries;
	/* a write may reach up to 8 pages + 512 bytes past its offset: stay short of the end */
	uint64_t span = WINDOW_LEN / PAGE - 10;

	while (!s->stop) {
		uint64_t x = mix64(s->rng++);
		struct io_unified_desc *d = &g->sqd[x % sqn];
		int fd;

		switch (x >> 60) {
		case 0: case 1: case 2: case 3: case 4: case 5:
			/*
			 * A plausible descriptor. The kernel copies it while it is
			 * written, so any mix of old and new fields must be safe: the
			 * device offset is always inside the window, and the fd is
			 * stored last, with release semantics.
			 */
			__atomic_store_n(&d->dev_off, win_off + ((x >> 24) % span) * PAGE,
					 __ATOMIC_RELAXED);
			d->user_data = x;
			d->addr = (x >> 8) % (g->size + 2 * PAGE);
			d->len = (uint32_t)(PAGE * ((x >> 20) % 8)) + ((x & 0x100) ? 512 : 0);
			d->op_flags = (uint32_t)((x >> 32) & 0x1f);
			d->flags = (uint32_t)((x >> 36) & 0x3);
			d->__resv1 = (x & 0x800) ? 0 : (uint32_t)(x >> 50);
			d->__resv2 = (x & 0x1000) ? 0 : x;
			fd = (x & 0x200) ? nvme_rw : (x & 0x400) ? nvme_ro : (int)(x >> 40);
			__atomic_store_n(&d->fd, fd, __ATOMIC_RELEASE);
			break;
		case 6: case 7:
			__atomic_store_n(&g->sq->tail, g->sq->head + (uint32_t)((x >> 8) % (sqn + 3)),
					 __ATOMIC_RELEASE);
			break;
		case 8:
			__atomic_store_n(&g->cq->head, (uint32_t)(x >> 8), __ATOMIC_RELEASE);
			break;
		case 9:
			__atomic_store_n(&g->cq->head, __atomic_load_n(&g->cq->tail, __ATOMIC_ACQUIRE),
					 __ATOMIC_RELEASE);
			break;
		case 10:
			/* the kernel's own indexes: it must not trust them */
			g->sq->head = (uint32_t)x;
			g->cq->tail = (uint32_t)(x >> 32);
			break;
		case 11:
			/* nor the ring sizes */
			g->sq->ring_mask = (uint32_t)x;
			g->cq->ring_entries = (uint32_t)(x >> 32);
			break;
		case 12:
			memset(&g->cqd[x % cqn], (int)(x >> 40), sizeof(struct io_unified_desc));
			break;
		default:
			/* garbage in every field but the device offset; the fd first */
			__atomic_store_n(&d->fd, -1, __ATOMIC_RELEASE);
			memset(d, (int)(x >> 8), offsetof(struct io_unified_desc, dev_off));
			d->len = (uint32_t)(x >> 12);
			d->op_flags = (uint32_t)(x >> 20);
			d->res = (int)x;
			d->aux = x;
			d->flags = (uint32_t)(x >> 28);
			d->__resv1 = (uint32_t)(x >> 30);
			break;
		}
		s->writes++;
		if ((s->writes & 63) == 0)
			sched_yield();
	}
	return NULL;
}

static void round_race(void)
{
	struct fring r;
	struct region g;
	struct scribbler s = { 0 };
	unsigned batches = 20 + (unsigned)below(60);
	uint64_t consumed = 0;
	int ret;

	/* no file table: a fixed-file flag the thread sets names nothing */
	fring_init(&r, random_ring_flags(0) & ~IORING_SETUP_SQPOLL, 0, 0);
	ret = region_create(&r, &g, PAGE * (4 + below(60)), chance(70) ? MEM_KERNEL : MEM_ANON,
			    0, 0);
	if (ret == -ENOMEM) {
		fring_exit(&r);
		return;
	}
	if (ret)
		FAIL("register: %d", ret);
	/* every device offset the thread can leave lies inside the window */
	for (uint32_t i = 0; i < g.reg.sq_entries; i++) {
		g.sqd[i].dev_off = win_off;
		g.sqd[i].fd = -1;
	}
	s.g = &g;
	s.rng = rnd();
	if (pthread_create(&s.thr, NULL, scribble_main, &s))
		FAIL("pthread_create");
	for (unsigned i = 0; i < batches; i++) {
		struct io_uring_sqe *sqe = get_sqe(&r);
		uint32_t max = 1 + (uint32_t)below(64);
		int res;

		t_prep_unified(sqe, -1, BA, 0, max, 0);
		sqe->user_data = 1;
		if (chance(20))
			sqe->flags |= IOSQE_ASYNC;
		g_ops++;
		res = submit_one(&r);
		if (res != -EINVAL && (res < 0 || (uint32_t)res > max))
			FAIL("a batch of at most %u over a rewritten ring: %d", max, res);
		if (res > 0)
			consumed += (uint64_t)res;
	}
	s.stop = 1;
	pthread_join(s.thr, NULL);
	g_ops += consumed;
	logop("race round: %u batches consumed %llu descriptors, %llu rewrites", batches,
	      (unsigned long long)consumed, (unsigned long long)s.writes);
	/* mid-race unregistration sometimes: the batches hold the region */
	ret = unreg_call(&r);
	if (ret)
		FAIL("unregister: %d", ret);
	fring_exit(&r);
	region_forget(&g);
	/* the window's bytes are whatever the scribbled writes made them */
	resync_disk(win_off, WINDOW_LEN);
}

/* ====================================================================== */
/* the network binding                                                      */
/* ====================================================================== */

struct held {
	uint64_t off;
	uint32_t len;
	uint64_t stream_off;
};

struct refill_chaos {
	pthread_t thr;
	volatile int stop;
	struct region *g;
	uint32_t *tail;
	struct io_uring_zcrx_rqe *rqes;
	uint32_t mask;
	uint64_t rng;
};

static void *refill_chaos_main(void *arg)
{
	struct refill_chaos *c = arg;

	while (!c->stop) {
		uint64_t x = mix64(c->rng++);
		struct io_uring_zcrx_rqe *e = &c->rqes[x & c->mask];

		e->off = (x & 1) ? (x >> 8) : ((x >> 8) % (c->g->net_area + PAGE)) & ~4095ull;
		e->len = (uint32_t)(x >> 40);
		e->__pad = (x & 2) ? 0 : (uint32_t)x;
		if (x & 4)
			__atomic_store_n(c->tail, *c->tail + (uint32_t)((x >> 16) % 4),
					 __ATOMIC_RELEASE);
		if ((x & 0xff) == 0)
			sched_yield();
	}
	return NULL;
}

static void round_net(void)
{
	struct fring r;
	struct region g;
	struct refill_chaos chaos = { 0 };
	uint32_t *rq_tail, *rq_head, rq_mask;
	struct io_uring_zcrx_rqe *rqes;
	struct io_unified_net_stats *stats;
	struct held *held;
	unsigned nheld = 0, steps = 20 + (unsigned)below(80);
	uint64_t sent = 0, got = 0, garbage = 0, stream = rnd(), cap = 0, cap_got = 0;
	uint64_t recv_ud = 0;
	int tx, rx, armed = 0, ended = 0, chaos_on = chance(15), ret;
	int kind = chance(70) ? MEM_KERNEL : (int)(1 + below(MEM_KINDS - 1));
	uint8_t buf[8192];

	fring_init(&r, random_ring_flags(1), 1, 0);
	ret = region_create(&r, &g, PAGE * (1 + below(32)), kind, 1, chance(50));
	if (ret == -ENOMEM) {
		fring_exit(&r);
		return;
	}
	if (ret)
		FAIL("a valid device-less binding failed: %d", ret);
	rq_tail = (uint32_t *)(g.map + g.reg.offsets.rq_ring + g.reg.rq_tail);
	rq_head = (uint32_t *)(g.map + g.reg.offsets.rq_ring + g.reg.rq_head);
	rqes = (void *)(g.map + g.reg.offsets.rqes);
	rq_mask = g.reg.rq_entries - 1;
	stats = (void *)(g.map + g.reg.net_stats);
	held = calloc(g.net_area / PAGE + 1, sizeof(*held));
	t_tcp_pair(&tx, &rx);
	if (chaos_on) {
		chaos.g = &g;
		chaos.tail = rq_tail;
		chaos.rqes = rqes;
		chaos.mask = rq_mask;
		chaos.rng = rnd();
		pthread_create(&chaos.thr, NULL, refill_chaos_main, &chaos);
	}
	logop("net round: area %#llx rq %u chaos %d", (unsigned long long)g.net_area,
	      g.reg.rq_entries, chaos_on);

	for (unsigned s = 0; s < steps && !ended; s++) {
		struct io_uring_cqe *cqe;
		struct __kernel_timespec ts = { .tv_nsec = 3000000 };
		unsigned head, seen = 0;

		/* more bytes into the stream */
		if (chance(70)) {
			size_t n = 1 + below(sizeof(buf));
			ssize_t w;

			t_fill(buf, n, stream, sent);
			w = send(tx, buf, n, MSG_DONTWAIT);
			if (w > 0)
				sent += (uint64_t)w;
		}
		/* hand buffers back, some twice, with garbage among them */
		/* (never more entries than the refill ring has room for) */
		while (nheld && chance(60) &&
		       *rq_tail - __atomic_load_n(rq_head, __ATOMIC_ACQUIRE) + 4 <= g.reg.rq_entries) {
			unsigned i = (unsigned)below(nheld);
			struct held h = held[i];
			uint32_t t = *rq_tail;

			if (!chaos_on && t_verify(g.map + h.off, h.len, stream, h.stream_off) >= 0)
				FAIL("a held fragment at %#llx+%u changed before it was handed back",
				     (unsigned long long)h.off, h.len);
			held[i] = held[--nheld];
			rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){ .off = h.off, .len = h.len };
			t++;
			if (chance(10)) {	/* the same buffer again: a double return */
				rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){ .off = h.off, .len = h.len };
				t++;
				garbage++;
			}
			if (chance(10)) {
				rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){
					.off = PICK(g.net_area, g.net_area + PAGE, 1ull << 40, ~0ull & ~4095ull),
					.len = PAGE,
				};
				t++;
				garbage++;
			}
			if (chance(5)) {
				rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){ .off = 0, .__pad = 1 };
				t++;
				garbage++;
			}
			__atomic_store_n(rq_tail, t, __ATOMIC_RELEASE);
			g_ops++;
		}
		if (!armed) {
			struct io_uring_sqe *sqe = get_sqe(&r);

			cap = chance(30) ? 1 + below(16384) : 0;
			cap_got = 0;
			recv_ud = next_ud++;
			t_prep_unified(sqe, rx, NT, 0, (uint32_t)cap, 0);
			sqe->user_data = recv_ud;
			if (chance(10))
				sqe->flags |= IOSQE_ASYNC;
			logop("arm receive ud %llu cap %llu flags %#x", (unsigned long long)recv_ud,
			      (unsigned long long)cap, sqe->flags);
			armed = 1;
			g_ops++;
		}
		io_uring_submit(&r.ring);
		if (io_uring_wait_cqe_timeout(&r.ring, &cqe, &ts))
			continue;
		io_uring_for_each_cqe(&r.ring, head, cqe) {
			seen += io_uring_cqe_nr(cqe);
			if (cqe->flags & IORING_CQE_F_SKIP)
				continue;	/* padding before a 32-byte CQE on a mixed ring */
			if (cqe->user_data != recv_ud)
				FAIL("a CQE for unknown user_data %llu (res %d)",
				     (unsigned long long)cqe->user_data, cqe->res);
			if (!armed)
				FAIL("a CQE for receive %llu after its final one",
				     (unsigned long long)recv_ud);
			if (cqe->flags & IORING_CQE_F_MORE) {
				uint64_t off = cqe->big_cqe[0];
				uint32_t len = (uint32_t)cqe->res;

				if (!((r.flags & IORING_SETUP_CQE32) || (cqe->flags & IORING_CQE_F_32)))
					FAIL("a fragment's CQE is not 32 bytes");
				if (cqe->res <= 0 || off >= g.net_area || len > g.net_area - off ||
				    (off % PAGE) + len > PAGE)
					FAIL("fragment %#llx+%d outside the %#llx-byte area or a page",
					     (unsigned long long)off, cqe->res,
					     (unsigned long long)g.net_area);
				for (unsigned i = 0; i < nheld; i++)
					if (held[i].off / PAGE == off / PAGE && !chaos_on)
						FAIL("fragment at %#llx: its buffer is still held",
						     (unsigned long long)off);
				if (!chaos_on && t_verify(g.map + off, len, stream, got) >= 0)
					FAIL("stream byte near %llu (region %#llx) is wrong",
					     (unsigned long long)got, (unsigned long long)off);
				if (cap && cap_got + len > cap)
					FAIL("receive capped at %llu got %llu", (unsigned long long)cap,
					     (unsigned long long)(cap_got + len));
				cap_got += len;
				/* the racing thread hands back buffers this loop still counts as held */
				if (chaos_on && nheld == g.net_area / PAGE)
					nheld--;
				held[nheld++] = (struct held){ off, len, got };
				if (nheld > g.net_area / PAGE)
					FAIL("more fragments held than buffers");
				got += len;
				continue;
			}
			armed = 0;
			logop("receive ud %llu ended %d after %llu bytes", (unsigned long long)recv_ud,
			      cqe->res, (unsigned long long)got);
			if (cqe->res == 0 && !cap)
				FAIL("a receive without a cap ended with 0 before EOF");
			if (cqe->res == 0 && cap_got != cap)
				FAIL("a receive capped at %llu ended with 0 after %llu bytes",
				     (unsigned long long)cap, (unsigned long long)cap_got);
			if (cqe->res != 0 && cqe->res != -ENOSPC && cqe->res != -ENOMEM)
				FAIL("receive ended with %d", cqe->res);
			if (cqe->res == -ENOMEM && !cap_got)
				g_idle_rearms++;
		}
		io_uring_cq_advance(&r.ring, seen);
	}
	/* how it ends: EOF, unregistration with buffers held, or ring exit */
	switch (below(3)) {
	case 0: {
		double deadline = t_now() + 30;
		uint64_t sweep = g.net_area;	/* the next area page handed back blindly */

		shutdown(tx, SHUT_WR);
		if (chaos_on) {
			/*
			 * The racing thread overwrote refill entries, so which buffers
			 * the kernel still counts as the application's is unknown. It
			 * stops and every buffer of the area goes back (those the
			 * kernel has are refused as double returns): else the receive
			 * may run dry, -ENOMEM forever (seed 851617321 round 187).
			 */
			chaos.stop = 1;
			pthread_join(chaos.thr, NULL);
			nheld = 0;
			sweep = 0;
			logop("net: racing thread stopped, every buffer handed back");
		}
		/* hand everything back and read to EOF */
		while (!ended) {
			struct io_uring_cqe *cqe;
			struct __kernel_timespec ts = { .tv_nsec = 3000000 };
			unsigned head, seen = 0;

			if (t_now() > deadline)
				FAIL("no EOF after 30 s: %llu of %llu bytes", (unsigned long long)got,
				     (unsigned long long)sent);
			while (sweep < g.net_area && *rq_tail - __atomic_load_n(rq_head, __ATOMIC_ACQUIRE) <
					g.reg.rq_entries) {
				uint32_t t = *rq_tail;

				rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){ .off = sweep, .len = PAGE };
				__atomic_store_n(rq_tail, t + 1, __ATOMIC_RELEASE);
				sweep += PAGE;
			}
			while (nheld && *rq_tail - __atomic_load_n(rq_head, __ATOMIC_ACQUIRE) <
					g.reg.rq_entries) {
				uint32_t t = *rq_tail;

				nheld--;
				rqes[t & rq_mask] = (struct io_uring_zcrx_rqe){
					.off = held[nheld].off, .len = held[nheld].len };
				__atomic_store_n(rq_tail, t + 1, __ATOMIC_RELEASE);
			}
			if (!armed) {
				struct io_uring_sqe *sqe = get_sqe(&r);

				recv_ud = next_ud++;
				cap = 0;
				cap_got = 0;
				t_prep_unified(sqe, rx, NT, 0, 0, 0);
				sqe->user_data = recv_ud;
				armed = 1;
				g_ops++;
			}
			io_uring_submit(&r.ring);
			if (io_uring_wait_cqe_timeout(&r.ring, &cqe, &ts))
				continue;
			io_uring_for_each_cqe(&r.ring, head, cqe) {
				seen += io_uring_cqe_nr(cqe);
				if (cqe->flags & IORING_CQE_F_SKIP)
					continue;
				if (cqe->user_data != recv_ud)
					FAIL("a CQE for unknown user_data %llu",
					     (unsigned long long)cqe->user_data);
				if (cqe->flags & IORING_CQE_F_MORE) {
					uint64_t off = cqe->big_cqe[0];

					if (cqe->res <= 0 || off >= g.net_area ||
					    (uint64_t)cqe->res > g.net_area - off)
						FAIL("fragment %#llx+%d out of the area",
						     (unsigned long long)off, cqe->res);
					if (!chaos_on && t_verify(g.map + off, (size_t)cqe->res, stream, got) >= 0)
						FAIL("stream byte near %llu is wrong", (unsigned long long)got);
					if (chaos_on && nheld == g.net_area / PAGE)
						nheld--;
					held[nheld++] = (struct held){ off, (uint32_t)cqe->res, got };
					got += (uint64_t)cqe->res;
					cap_got += (uint64_t)cqe->res;
					continue;
				}
				armed = 0;
				/* a receive armed before the shutdown may end at its cap, not EOF */
				if (cqe->res == 0)
					ended = !(cap && cap_got == cap);
				else if (cqe->res != -ENOSPC && cqe->res != -ENOMEM)
					FAIL("receive ended with %d", cqe->res);
				if (cqe->res == -ENOMEM && !cap_got)
					g_idle_rearms++;
			}
			io_uring_cq_advance(&r.ring, seen);
		}
		if (got != sent && !chaos_on)
			FAIL("EOF after %llu bytes, %llu were sent", (unsigned long long)got,
			     (unsigned long long)sent);
		if (!chaos_on && stats->copy_bytes != got)
			FAIL("copy_bytes %llu, device-less received %llu",
			     (unsigned long long)stats->copy_bytes, (unsigned long long)got);
		if (!chaos_on && stats->refill_rejected > garbage)
			FAIL("%llu refill entries rejected, only %llu were garbage",
			     (unsigned long long)stats->refill_rejected, (unsigned long long)garbage);
		if (stats->flags)
			FAIL("net stats flags %#llx on a live device-less binding",
			     (unsigned long long)stats->flags);
		ret = unreg_call(&r);
		if (ret)
			FAIL("unregister: %d", ret);
		break;
	}
	case 1: {
		/* unregister with fragments held and a receive armed: it ends -ECANCELED */
		struct io_uring_cqe *cqe;
		double deadline = t_now() + 30;

		if (!armed) {
			struct io_uring_sqe *sqe = get_sqe(&r);

			recv_ud = next_ud++;
			t_prep_unified(sqe, rx, NT, 0, 0, 0);
			sqe->user_data = recv_ud;
			armed = 1;
			io_uring_submit(&r.ring);
		}
		ret = unreg_call(&r);
		logop("net: unregister with %u fragments held, receive armed -> %d", nheld, ret);
		if (ret)
			FAIL("unregister: %d", ret);
		/* a byte wakes the receive; it finds the binding gone */
		if (send(tx, "x", 1, MSG_DONTWAIT) != 1)
			FAIL("send: %s", strerror(errno));
		while (armed) {
			struct __kernel_timespec ts = { .tv_nsec = 5000000 };

			if (t_now() > deadline)
				FAIL("an armed receive did not end after unregistration");
			if (io_uring_wait_cqe_timeout(&r.ring, &cqe, &ts))
				continue;
			if (cqe->user_data != recv_ud)
				FAIL("a CQE for unknown user_data %llu", (unsigned long long)cqe->user_data);
			if (!(cqe->flags & IORING_CQE_F_MORE)) {
				armed = 0;
				if (cqe->res != -ECANCELED && cqe->res != -ENOSPC &&
				    cqe->res != -ENOMEM && cqe->res != 0)
					FAIL("the armed receive ended %d after unregistration", cqe->res);
			}
			io_uring_cqe_seen(&r.ring, cqe);
		}
		/* held fragments stay readable in the mapping */
		break;
	}
	default:
		logop("net: ring exit with %u fragments held, receive %s", nheld,
		      armed ? "armed" : "idle");
		break;
	}
	if (chaos_on && !chaos.stop) {
		chaos.stop = 1;
		pthread_join(chaos.thr, NULL);
	}
	fring_exit(&r);
	close(tx);
	close(rx);
	free(held);
	g.shadow = realloc(g.shadow, g.size);
	region_forget(&g);
}

/* ====================================================================== */
/* BPF programs attached and detached under load                           */
/* ====================================================================== */

/*
 * The programs of bpf/ as the BPF stage: checksum (CRC32C of the span, low 31
 * bits, as the result) and xor (the span XORed in place with 0x5a, whole
 * 64-byte windows only, result 0). Each is loaded and verified once; a round
 * gives its ring a struct_ops map per program (the map's value names the
 * ring) and a link attaches one, as libbpf's bpf_map__attach_struct_ops()
 * does. A second thread destroys the link (close, or BPF_LINK_DETACH first)
 * and links a map again at random moments while the ring runs BPF-stage ops.
 */
#define XOR_KEY		0x5a	/* bpf/xor.bpf.c's key */
#define BPF_WIN		64	/* the windows bpf/ programs walk a span in */

enum { P_NONE = -1, P_CRC, P_XOR, NPROGS };
static const char *const prog_names[] = { "checksum", "xor" };

struct bprog {
	struct bpf_object *obj;
	struct t_shared_prog sp;	/* what a ring's map of it needs */
};
static struct bprog bprogs[NPROGS];
static int bprogs_loaded;
/* over the run: ops and fragments the program ran on, or found none; checks with no change */
static uint64_t bpf_ran, bpf_enoent, bpf_stable_on, bpf_stable_off, bpf_toggles;

/* opens, sets up and loads /tests/NAME.bpf.o without attaching it */
static void bprog_load(int p)
{
	struct bprog *bp = &bprogs[p];
	struct bpf_map *map;
	char path[128];
	double t0 = t_now();
	int ret;

	snprintf(path, sizeof(path), "/tests/%s.bpf.o", prog_names[p]);
	bp->obj = bpf_object__open_file(path, NULL);
	if (!bp->obj)
		FAIL("%s: %s (the guest image must carry the BPF programs)", path, strerror(errno));
	bpf_object__for_each_map(map, bp->obj) {
		if (p == P_CRC && strstr(bpf_map__name(map), ".rodata")) {
			size_t size;
			void *rodata = bpf_map__initial_value(map, &size);

			t_bpf_setup_crc(rodata, size);
		}
	}
	t_bpf_log_len = 0;
	if ((ret = bpf_object__load(bp->obj)))
		FAIL("loading %s: %d\n%s", path, ret, t_bpf_log);
	t_shared_prog_init(&bp->sp, bp->obj);
	printf("uio_fuzz: %s loaded and verified in %.1f s\n", path, t_now() - t0);
}

/* a struct_ops map of program @p whose value names @ring_fd: a link to it attaches it */
static int bprog_map(int p, int ring_fd)
{
	return t_shared_prog_map(&bprogs[p].sp, ring_fd);
}

/*
 * Who is attached. seq is odd while an attach or detach is under way: an op
 * submitted after seq read even and reaped before it read the same value ran
 * entirely while @cur was attached (or nothing was).
 */
struct toggler {
	pthread_t thr;
	volatile int stop;
	volatile int ring_gone;		/* the ring is closing: an attach may find no ring */
	int running;
	uint64_t rng;
	unsigned mask;			/* the round's programs, 1 << P_* */
	int ring_fd;
	int map_fd[NPROGS];
	int link_fd;			/* -1: detached */
	int cur;			/* the attached program, P_NONE */
	uint64_t seq;
	uint64_t ops;			/* attaches, detaches, refused attaches, new maps */
};

static void tog_change(struct toggler *t)
{
	__atomic_add_fetch(&t->seq, 1, __ATOMIC_SEQ_CST);
}

static int tog_pick(const struct toggler *t, uint64_t x)
{
	return t->mask == (1u << P_XOR) ? P_XOR : t->mask == (1u << P_CRC) ? P_CRC : (int)(x & 1);
}

/* links program @p's map: it is attached (or the ring went, when it may be) */
static void tog_attach(struct toggler *t, int p)
{
	int fd;

	tog_change(t);
	fd = bpf_link_create(t->map_fd[p], 0, BPF_STRUCT_OPS, NULL);
	logop("bpf: attach %s (map fd %d) -> %d", prog_names[p], t->map_fd[p], fd < 0 ? fd : 0);
	if (fd >= 0) {
		t->link_fd = fd;
		__atomic_store_n(&t->cur, p, __ATOMIC_SEQ_CST);
	} else if (!t->ring_gone || (fd != -EBADF && fd != -EOPNOTSUPP)) {
		FAIL("attaching %s to the ring: %d (%s)", prog_names[p], fd, strerror(-fd));
	}
	t->ops++;
	tog_change(t);
}

/* destroys the link: closed, or detached by BPF_LINK_DETACH first */
static void tog_detach(struct toggler *t, int by_detach)
{
	int ret = 0;

	tog_change(t);
	if (by_detach)
		ret = bpf_link_detach(t->link_fd);
	close(t->link_fd);
	logop("bpf: detach %s by %s -> %d", prog_names[t->cur],
	      by_detach ? "BPF_LINK_DETACH" : "closing the link", ret);
	if (ret)
		FAIL("BPF_LINK_DETACH of a struct_ops link: %d", ret);
	t->link_fd = -1;
	__atomic_store_n(&t->cur, P_NONE, __ATOMIC_SEQ_CST);
	t->ops++;
	tog_change(t);
}

static void *toggler_main(void *arg)
{
	struct toggler *t = arg;

	while (!t->stop) {
		uint64_t x = mix64(t->rng++);
		unsigned what = (unsigned)((x >> 8) % 100), us;

		if (t->link_fd >= 0) {
			if (what < 70) {
				tog_detach(t, (x >> 16) & 1);
			} else if (what < 85) {
				/* a second attachment while one is there: -EBUSY, nothing changes */
				int p = tog_pick(t, x >> 20), fd;

				tog_change(t);
				fd = bpf_link_create(t->map_fd[p], 0, BPF_STRUCT_OPS, NULL);
				logop("bpf: attach %s over %s -> %d", prog_names[p], prog_names[t->cur],
				      fd < 0 ? fd : 0);
				if (fd >= 0)
					FAIL("%s attached to a ring that had %s attached",
					     prog_names[p], prog_names[t->cur]);
				if (fd != -EBUSY && !(t->ring_gone && (fd == -EBADF || fd == -EOPNOTSUPP)))
					FAIL("attaching %s over %s: %d, want -EBUSY", prog_names[p],
					     prog_names[t->cur], fd);
				t->ops++;
				tog_change(t);
			}
		} else if (what < 85) {
			int p = tog_pick(t, x >> 20);

			if (what >= 75) {
				/* a new map for the program; the old one goes */
				int old = t->map_fd[p];

				t->map_fd[p] = bprog_map(p, t->ring_fd);
				close(old);
				logop("bpf: new map fd %d for %s", t->map_fd[p], prog_names[p]);
				t->ops++;
			}
			tog_attach(t, p);
		}
		/* mostly short gaps, sometimes long enough for whole submissions */
		us = (x >> 40) % 4 ? (unsigned)((x >> 44) % 1500) : 5000 + (unsigned)((x >> 44) % 30000);
		usleep(us);
	}
	return NULL;
}

static void tog_stop(struct toggler *t)
{
	if (!t->running)
		return;
	t->stop = 1;
	pthread_join(t->thr, NULL);
	t->running = 0;
}

/* a BPF-stage op (or a plain storage op, or a descriptor) of a BPF round */
struct bop {
	uint64_t ud;
	uint32_t stages;		/* 0: a NOP */
	uint64_t addr, dev_off;
	uint32_t len;
	int fd, fixed;
	int err;			/* refused whatever is attached: its errno */
	int err_async;			/* with IOSQE_ASYNC, the errno it may fail with instead */
	int may_enxio;			/* submitted only after the region went */
	int finals, res, is32;
	uint64_t big0, big1;
};

struct bround {
	struct fring r;
	struct region g;
	struct toggler t;
	uint64_t lo;			/* ops stay in [lo, size): the network area is below */
	int n;
	struct bop ops[MAX_OPS];
	int ndesc;
	struct bop descs[16];
	int unregistered;
	/* the NET|BPF receive, on a region with a network binding */
	int net, tx, rx, armed, enoent_frag, eof, tx_shut;
	uint64_t stream, sent, got, cap, cap_got, recv_ud;
	struct held *held;
	unsigned nheld;
	uint32_t *rq_tail, *rq_head, rq_mask;
	struct io_uring_zcrx_rqe *rqes;
	unsigned seen_progs;		/* 1 << (P_* + 1) for each fragment since the step began */
	uint64_t ran, enoent, frags;
};

/* the span as program @p leaves it */
static void bpf_apply(int p, const uint8_t *base, uint8_t *out, uint32_t len)
{
	memcpy(out, base, len);
	if (p == P_XOR)
		for (uint32_t i = 0; i < len / BPF_WIN * BPF_WIN; i++)
			out[i] ^= XOR_KEY;
}

static int32_t bpf_result(int p, const uint8_t *base, uint32_t len)
{
	return p == P_CRC ? (int32_t)t_crc31(base, len) : 0;
}

static const char *pname(int p)
{
	return p == P_NONE ? "none" : prog_names[p];
}

/*
 * What a BPF-stage op or descriptor did: the program that ran (res the span's
 * length; the span's bytes and, where a CQE or descriptor carries it, the
 * result are that program's) or P_NONE (-ENOENT: none attached at that
 * moment; a read's data landed, nothing else moved). Anything else fails.
 * The shadows get the effect.
 */
static int bpf_judge(struct bround *b, const struct bop *o, int has_result, int32_t result,
		     int prefer, const char *what)
{
	struct region *g = &b->g;
	int read = (o->stages & NV) && !(o->stages & WR), p = P_NONE - 1;
	uint8_t *base = malloc(o->len), *want = malloc(o->len);
	uint8_t *now = g->map + o->addr;

	if (read)
		disk_expect(o->dev_off, base, o->len);
	else
		memcpy(base, g->shadow + o->addr, o->len);
	if (o->res == -ENOENT) {
		p = P_NONE;
		memcpy(want, base, o->len);
		b->enoent++;
	} else if (o->res == (int)o->len) {
		/*
		 * Both may fit (under 64 bytes xor changes nothing, and a
		 * 16-byte CQE has no result): the attached one, if known, first
		 */
		for (int i = 0; i < NPROGS && p < P_NONE; i++) {
			int q = prefer >= 0 ? (prefer + i) % NPROGS : i;

			if (!(b->t.mask & (1u << q)))
				continue;
			bpf_apply(q, base, want, o->len);
			if (!memcmp(now, want, o->len) &&
			    (!has_result || result == bpf_result(q, base, o->len)))
				p = q;
		}
		b->ran++;
	} else {
		FAIL("%s ud %llu (stages %#x addr %#llx len %u dev %#llx): res %d, neither the "
		     "span's length (a program ran) nor -ENOENT (none attached)", what,
		     (unsigned long long)o->ud, o->stages, (unsigned long long)o->addr, o->len,
		     (unsigned long long)o->dev_off, o->res);
	}
	if (p < P_NONE || memcmp(now, want, o->len)) {
		uint32_t i = 0;

		while (i + 1 < o->len && now[i] == want[i])
			i++;
		FAIL("%s ud %llu (stages %#x addr %#llx len %u dev %#llx): res %d result %d%s; "
		     "the span matches no program of the round (%s%s): byte %u is %#x, %s "
		     "would leave %#x", what, (unsigned long long)o->ud, o->stages,
		     (unsigned long long)o->addr, o->len, (unsigned long long)o->dev_off, o->res,
		     result, has_result ? "" : " (not reported)",
		     b->t.mask & 1 ? "checksum " : "", b->t.mask & 2 ? "xor" : "", i, now[i],
		     pname(p < P_NONE ? (b->t.mask & 1 ? P_CRC : P_XOR) : p), want[i]);
	}
	memcpy(g->shadow + o->addr, want, o->len);
	if ((o->stages & WR) && p != P_NONE)
		memcpy(disk_shadow + (o->dev_off - scratch_off), want, o->len);
	free(base);
	free(want);
	return p;
}

/* a span of [lo, size): page-aligned with a device range for storage, any bytes for BPF alone */
static int bpf_span(struct bround *b, struct batchq *q, struct bop *o)
{
	uint64_t room = b->g.size - b->lo;

	for (int tries = 0; tries < 8; tries++) {
		if (o->stages & NV) {
			uint64_t pages = room / PAGE < 8 ? room / PAGE : 8;

			o->len = PAGE * (uint32_t)(1 + below(pages));
			o->addr = b->lo + below((room - o->len) / PAGE + 1) * PAGE;
			o->dev_off = win_off + below((WINDOW_LEN - o->len) / PAGE + 1) * PAGE;
			if (reserve(q, o->addr, o->len) && reserve(q, DISK_SPACE + o->dev_off, o->len))
				return 1;
		} else {
			o->len = 1 + (uint32_t)below(room < 16384 ? room : 16384);
			o->addr = b->lo + below(room - o->len + 1);
			o->dev_off = 0;
			if (reserve(q, o->addr, o->len))
				return 1;
		}
	}
	return 0;
}

/* BPF alone, NVME|BPF, BPF|NVME|WRITE or plain storage; a few refused whatever is attached */
static void bpf_gen(struct bround *b, struct batchq *q, struct bop *o, int desc)
{
	unsigned k = (unsigned)below(100);

	memset(o, 0, sizeof(*o));
	o->ud = next_ud++;
	o->fd = nvme_rw;
	if (!desc && chance(6)) {
		o->stages = BP;
		o->fd = -1;
		o->addr = b->lo;
		o->len = PAGE;
		switch (below(6)) {
		case 0: o->fd = nvme_rw; o->err = -EINVAL; break;		/* BPF alone with a file */
		case 1: o->dev_off = PAGE; o->err = -EINVAL; break;		/* with addr3 */
		case 2: o->addr = b->g.size - 1; o->len = 2; o->err = -EFAULT; break;
		case 3: o->len = 0; o->err = -EINVAL; break;
		case 4:
			/* BPF before a send is not there yet */
			o->stages = BP | NT | WR;
			o->fd = b->net ? b->tx : tmp_file;
			o->err = -EOPNOTSUPP;
			break;
		default:
			o->stages = BP | NT;
			o->fd = tmp_file;
			o->addr = 0;
			o->len = 0;
			o->err = b->net ? -ENOTSOCK : -ENOLINK;
			break;
		}
		return;
	}
	if (k < 30)
		o->stages = BP, o->fd = -1;
	else if (k < 55)
		o->stages = NV | BP;
	else if (k < 80)
		o->stages = BP | NV | WR;
	else
		o->stages = NV | (chance(50) ? WR : 0);
	if (desc && !(o->stages & NV))
		o->fd = -1;
	if (!bpf_span(b, q, o)) {
		o->stages = 0;
		return;
	}
	if ((o->stages & NV) && b->r.nfiles && chance(20)) {
		o->fixed = 1;
		o->fd = 0;
	}
}

static void bpf_log_op(const struct bop *o, const char *what, unsigned sqe_flags)
{
	logop("%s ud %llu st %#x fd %d%s addr %#llx len %u dev %#llx flags %#x%s", what,
	      (unsigned long long)o->ud, o->stages, o->fd, o->fixed ? "(fixed)" : "",
	      (unsigned long long)o->addr, o->len, (unsigned long long)o->dev_off, sqe_flags,
	      o->err ? " (refused)" : "");
}

/* one fragment of the NET|BPF receive, or its end */
static void bpf_recv_cqe(struct bround *b, struct io_uring_cqe *cqe)
{
	struct region *g = &b->g;
	int is32 = (b->r.flags & IORING_SETUP_CQE32) || (cqe->flags & IORING_CQE_F_32);

	if (cqe->flags & IORING_CQE_F_MORE) {
		uint64_t off = cqe->big_cqe[0];
		uint32_t len = (uint32_t)cqe->res;
		int32_t result = (int32_t)(cqe->big_cqe[1] >> 32);
		uint8_t raw[PAGE], want[PAGE];
		int p = P_NONE - 1;

		if (!is32)
			FAIL("a NET|BPF fragment's CQE is not 32 bytes");
		if (cqe->res <= 0 || off >= g->net_area || len > g->net_area - off ||
		    (off % PAGE) + len > PAGE)
			FAIL("fragment %#llx+%d outside the %#llx-byte area or a page",
			     (unsigned long long)off, cqe->res, (unsigned long long)g->net_area);
		if ((uint32_t)cqe->big_cqe[1] != (NT | BP))
			FAIL("a NET|BPF fragment with stages %#x", (uint32_t)cqe->big_cqe[1]);
		if (b->enoent_frag)
			FAIL("receive ud %llu: a fragment after the one that found no program",
			     (unsigned long long)b->recv_ud);
		for (unsigned i = 0; i < b->nheld; i++)
			if (b->held[i].off / PAGE == off / PAGE)
				FAIL("fragment at %#llx: its buffer is still held", (unsigned long long)off);
		if (b->cap && b->cap_got + len > b->cap)
			FAIL("receive capped at %llu got %llu", (unsigned long long)b->cap,
			     (unsigned long long)(b->cap_got + len));
		t_fill(raw, len, b->stream, b->got);
		if (result == -ENOENT) {
			p = P_NONE;
			memcpy(want, raw, len);
			b->enoent_frag = 1;
			b->enoent++;
		} else {
			for (int q = 0; q < NPROGS && p < P_NONE; q++) {
				if (!(b->t.mask & (1u << q)))
					continue;
				bpf_apply(q, raw, want, len);
				if (!memcmp(g->map + off, want, len) && result == bpf_result(q, raw, len))
					p = q;
			}
			b->ran++;
		}
		logop("fragment ud %llu %#llx+%u stream %llu result %d: %s",
		      (unsigned long long)b->recv_ud, (unsigned long long)off, len,
		      (unsigned long long)b->got, result, pname(p < P_NONE ? P_CRC : p));
		if (p < P_NONE || memcmp(g->map + off, want, len))
			FAIL("fragment %#llx+%u (stream byte %llu): result %d, its bytes and result "
			     "are no program's of the round (%s%s), nor -ENOENT's",
			     (unsigned long long)off, len, (unsigned long long)b->got, result,
			     b->t.mask & 1 ? "checksum " : "", b->t.mask & 2 ? "xor" : "");
		b->seen_progs |= 1u << (p + 1);
		b->held[b->nheld++] = (struct held){ off, len, b->got };
		if (b->nheld > g->net_area / PAGE)
			FAIL("more fragments held than buffers");
		b->got += len;
		b->cap_got += len;
		b->frags++;
		return;
	}
	b->armed = 0;
	logop("receive ud %llu ended %d after %llu bytes", (unsigned long long)b->recv_ud, cqe->res,
	      (unsigned long long)b->got);
	if (cqe->res == -ENOMEM && !b->cap_got)
		g_idle_rearms++;
	/*
	 * The docs: the final CQE after a vetoed fragment carries the errno,
	 * also when that fragment filled the cap (seed 512307263 round 28 found
	 * a kernel ending it 0; bpf_stage tests that case on its own).
	 */
	if (b->enoent_frag && cqe->res != -ENOENT)
		FAIL("a receive whose fragment found no program ended %d, want -ENOENT", cqe->res);
	if (!b->enoent_frag && cqe->res == -ENOENT)
		FAIL("a receive ended -ENOENT without a fragment that found no program");
	if (cqe->res == 0 && !(b->cap && b->cap_got == b->cap)) {
		if (b->eof || !b->tx_shut)
			FAIL("a receive (cap %llu, %llu bytes) ended with 0 before EOF",
			     (unsigned long long)b->cap, (unsigned long long)b->cap_got);
		b->eof = 1;
	}
	if (cqe->res != 0 && cqe->res != -ENOSPC && cqe->res != -ENOMEM && cqe->res != -ENOENT &&
	    !(b->unregistered && cqe->res == -ECANCELED))
		FAIL("NET|BPF receive ended with %d", cqe->res);
	b->enoent_frag = 0;
}

/* hands held buffers back through the refill ring, as many as it has room for */
static void bpf_refill(struct bround *b)
{
	while (b->nheld && *b->rq_tail - __atomic_load_n(b->rq_head, __ATOMIC_ACQUIRE) <
			   b->g.reg.rq_entries) {
		uint32_t t = *b->rq_tail;
		struct held h = b->held[--b->nheld];

		b->rqes[t & b->rq_mask] = (struct io_uring_zcrx_rqe){ .off = h.off, .len = h.len };
		__atomic_store_n(b->rq_tail, t + 1, __ATOMIC_RELEASE);
	}
}

static void bpf_arm(struct bround *b)
{
	struct io_uring_sqe *sqe;

	if (!b->net || b->armed || b->eof || b->unregistered)
		return;
	sqe = get_sqe(&b->r);
	b->cap = b->tx_shut || chance(70) ? 0 : 1 + below(16384);
	b->cap_got = 0;
	b->recv_ud = next_ud++;
	t_prep_unified(sqe, b->rx, NT | BP, 0, (uint32_t)b->cap, 0);
	sqe->user_data = b->recv_ud;
	b->armed = 1;
	g_ops++;
	logop("arm NET|BPF receive ud %llu cap %llu", (unsigned long long)b->recv_ud,
	      (unsigned long long)b->cap);
}

static void bpf_take(struct bround *b, struct io_uring_cqe *cqe)
{
	struct bop *o = NULL;

	if (b->armed && cqe->user_data == b->recv_ud) {
		bpf_recv_cqe(b, cqe);
		return;
	}
	for (int i = 0; i < b->n; i++)
		if (b->ops[i].ud == cqe->user_data)
			o = &b->ops[i];
	logop("cqe ud %llu res %d flags %#x", (unsigned long long)cqe->user_data, cqe->res,
	      cqe->flags);
	if (!o)
		FAIL("a CQE for unknown user_data %llu (res %d, flags %#x)",
		     (unsigned long long)cqe->user_data, cqe->res, cqe->flags);
	if (o->finals)
		FAIL("a second CQE for user_data %llu: res %d after %d", (unsigned long long)o->ud,
		     cqe->res, o->res);
	if (cqe->flags & IORING_CQE_F_MORE)
		FAIL("IORING_CQE_F_MORE on ud %llu (stages %#x)", (unsigned long long)o->ud, o->stages);
	o->finals = 1;
	o->res = cqe->res;
	o->is32 = (b->r.flags & IORING_SETUP_CQE32) || (cqe->flags & IORING_CQE_F_32);
	if (o->is32) {
		o->big0 = cqe->big_cqe[0];
		o->big1 = cqe->big_cqe[1];
	}
	/* the docs: on a CQE_MIXED ring an op with a BPF stage posts a 32-byte CQE */
	if ((b->r.flags & IORING_SETUP_CQE_MIXED) && (o->stages & BP) && !o->err && !o->is32 &&
	    !(o->may_enxio && o->res == -ENXIO))
		FAIL("ud %llu (stages %#x) posted a 16-byte CQE on a CQE_MIXED ring",
		     (unsigned long long)o->ud, o->stages);
}

/* takes every CQE there is, without waiting */
static void bpf_drain(struct bround *b)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;

	io_uring_for_each_cqe(&b->r.ring, head, cqe) {
		seen += io_uring_cqe_nr(cqe);
		if (cqe->flags & IORING_CQE_F_SKIP)
			continue;	/* padding before a 32-byte CQE on a mixed ring */
		bpf_take(b, cqe);
	}
	io_uring_cq_advance(&b->r.ring, seen);
}

/* submits what is queued, waits a little (task work runs in the wait), takes the CQEs */
static void bpf_pump(struct bround *b)
{
	struct io_uring_cqe *cqe = NULL;
	struct __kernel_timespec ts = { .tv_nsec = 2000000 };
	int ret = io_uring_submit_and_wait_timeout(&b->r.ring, &cqe, 1, &ts, NULL);

	if (ret < 0 && ret != -ETIME && ret != -EINTR)
		FAIL("submit_and_wait: %d", ret);
	bpf_drain(b);
}

static void bpf_scribble(struct bround *b)
{
	struct region *g = &b->g;
	uint64_t room = g->size - b->lo, len = PAGE * (1 + below(4)), off;

	if (len > room)
		len = room;
	off = b->lo + below(room - len + 1);
	for (uint64_t i = 0; i < len; i++)
		g->shadow[off + i] = (uint8_t)rnd();
	memcpy(g->map + off, g->shadow + off, len);
}

/* state of a step: attachment seen before submitting */
static uint64_t step_seq;
static int step_cur;

/*
 * Queues and submits one step: 1..@nops ops, sometimes a batch of BPF-stage
 * descriptors, more of the stream and the receive re-armed. What arrived
 * before is taken first, then the attachment is read: whatever completes from
 * here on ran after that.
 */
static void bpf_submit(struct bround *b, unsigned nops)
{
	static struct batchq q;
	struct region *g = &b->g;

	bpf_drain(b);
	b->seen_progs = 0;
	if (b->net && !b->unregistered) {
		if (!b->tx_shut && chance(70)) {
			uint8_t buf[8192];
			size_t n = 1 + below(sizeof(buf));
			ssize_t w;

			t_fill(buf, n, b->stream, b->sent);
			w = send(b->tx, buf, n, MSG_DONTWAIT);
			if (w > 0)
				b->sent += (uint64_t)w;
		}
		bpf_refill(b);
		bpf_arm(b);
	}
	q.nres = 0;
	b->n = 0;
	b->ndesc = 0;
	step_seq = __atomic_load_n(&b->t.seq, __ATOMIC_SEQ_CST);
	step_cur = __atomic_load_n(&b->t.cur, __ATOMIC_SEQ_CST);
	if (!b->unregistered && chance(20)) {
		uint32_t sq_room = g->reg.sq_entries - (g->sq_tail - g->ksq_head);
		uint32_t cq_room = g->reg.cq_entries - (g->kcq_tail - g->cq_head);
		uint32_t room = sq_room < cq_room ? sq_room : cq_room;
		unsigned want_n = 1 + (unsigned)below(room < 8 ? room : 8);

		for (unsigned i = 0; room && i < want_n; i++) {
			struct bop *d = &b->descs[b->ndesc];
			struct io_unified_desc *x = &g->sqd[g->sq_tail & (g->reg.sq_entries - 1)];

			bpf_gen(b, &q, d, 1);
			if (!d->stages)
				continue;
			memset(x, 0, sizeof(*x));
			x->user_data = d->ud;
			x->addr = d->addr;
			x->len = d->len;
			x->dev_off = d->dev_off;
			x->op_flags = d->stages;
			x->fd = d->fd;
			if (d->fixed)
				x->flags = IORING_UNIFIED_DESC_FIXED_FILE;
			g->sq_tail++;
			b->ndesc++;
			g_ops++;
			bpf_log_op(d, "desc", 0);
		}
		__atomic_store_n(&g->sq->tail, g->sq_tail, __ATOMIC_RELEASE);
		if (b->ndesc) {
			struct bop *o = &b->ops[b->n++];
			struct io_uring_sqe *sqe = get_sqe(&b->r);

			memset(o, 0, sizeof(*o));
			o->ud = next_ud++;
			o->stages = BA;
			o->fd = -1;
			o->len = (uint32_t)b->ndesc;
			t_prep_unified(sqe, -1, BA, 0, o->len, 0);
			sqe->user_data = o->ud;
			bpf_log_op(o, "batch", 0);
			g_ops++;
		}
	}
	for (unsigned i = 0; i < nops && b->n < MAX_OPS; i++) {
		struct bop *o = &b->ops[b->n++];
		struct io_uring_sqe *sqe = get_sqe(&b->r);

		bpf_gen(b, &q, o, 0);
		if (!o->stages) {
			io_uring_prep_nop(sqe);
		} else {
			t_prep_unified(sqe, o->fd, o->stages, o->addr, o->len, o->dev_off);
			if (o->fixed)
				sqe->flags |= IOSQE_FIXED_FILE;
			if (chance(10)) {
				sqe->flags |= IOSQE_ASYNC;
				/*
				 * A multishot request on a file that cannot poll, forced
				 * to io-wq: -EBADFD, as upstream's RECV_ZC (the docs'
				 * error table has only -ENOTSOCK)
				 */
				if (o->err == -ENOTSOCK)
					o->err_async = -EBADFD;
			}
		}
		sqe->user_data = o->ud;
		bpf_log_op(o, "sqe", sqe->flags);
		g_ops++;
	}
	io_uring_submit(&b->r.ring);
}

/*
 * Reaps the step and checks it: every SQE exactly one CQE, each BPF stage the
 * work of a program of the round or -ENOENT, and, when nothing was attached
 * or detached from submission to the last completion, of the program that
 * was attached then (-ENOENT exactly when none was).
 */
static void bpf_finish(struct bround *b)
{
	struct region *g = &b->g;
	double deadline = t_now() + 60;
	uint64_t seq;
	int stable;

	for (;;) {
		int pending = 0;

		for (int i = 0; i < b->n; i++)
			pending += !b->ops[i].finals;
		if (!pending)
			break;
		if (t_now() > deadline)
			FAIL("completions missing after 60 s (%d pending)", pending);
		bpf_pump(b);
	}
	seq = __atomic_load_n(&b->t.seq, __ATOMIC_SEQ_CST);
	stable = seq == step_seq && !(seq & 1);
	if (stable)
		logop("step with %s attached all along", pname(step_cur));
	for (int i = 0; i < b->n; i++) {
		struct bop *o = &b->ops[i];
		int p;

		if (o->may_enxio && o->res == -ENXIO)
			continue;
		if (!o->stages) {
			if (o->res)
				FAIL("a NOP: %d", o->res);
			continue;
		}
		if (o->err) {
			if (o->res != o->err && !(o->err_async && o->res == o->err_async))
				FAIL("ud %llu (stages %#x fd %d addr %#llx len %u dev %#llx): res %d, want "
				     "%d whatever is attached", (unsigned long long)o->ud, o->stages,
				     o->fd, (unsigned long long)o->addr, o->len,
				     (unsigned long long)o->dev_off, o->res, o->err);
			continue;
		}
		if (o->stages == BA) {
			if (o->res != b->ndesc)
				FAIL("a batch over %d descriptors consumed %d", b->ndesc, o->res);
			continue;
		}
		if (!(o->stages & BP)) {
			if (o->res != (int)o->len)
				FAIL("ud %llu (stages %#x addr %#llx len %u dev %#llx): res %d",
				     (unsigned long long)o->ud, o->stages, (unsigned long long)o->addr,
				     o->len, (unsigned long long)o->dev_off, o->res);
			apply_effect(g, o->stages, o->addr, o->dev_off, o->len);
			continue;
		}
		if (o->is32 && o->res >= 0 && (o->big0 != o->addr || (uint32_t)o->big1 != o->stages))
			FAIL("CQE32 of ud %llu: big_cqe %#llx/%#llx, want offset %#llx stages %#x",
			     (unsigned long long)o->ud, (unsigned long long)o->big0,
			     (unsigned long long)o->big1, (unsigned long long)o->addr, o->stages);
		p = bpf_judge(b, o, o->is32, (int32_t)(o->big1 >> 32), stable ? step_cur : P_NONE,
			      "op");
		if (stable && p != step_cur)
			FAIL("ud %llu (stages %#x): %s ran, but %s was attached from its submission "
			     "to its completion", (unsigned long long)o->ud, o->stages,
			     p == P_NONE ? "no program (-ENOENT)" : prog_names[p], pname(step_cur));
	}
	if (b->ndesc) {
		uint32_t tail = __atomic_load_n(&g->cq->tail, __ATOMIC_ACQUIRE);

		if (tail - g->cq_head != (uint32_t)b->ndesc)
			FAIL("the completion ring holds %u results, the batch consumed %d",
			     tail - g->cq_head, b->ndesc);
		for (; g->cq_head != tail; g->cq_head++) {
			struct io_unified_desc *x = &g->cqd[g->cq_head & (g->reg.cq_entries - 1)];
			struct bop *d = NULL;
			int p;

			for (int i = 0; i < b->ndesc; i++)
				if (b->descs[i].ud == x->user_data && !b->descs[i].finals)
					d = &b->descs[i];
			logop("desc result ud %llu res %d aux %llu", (unsigned long long)x->user_data,
			      x->res, (unsigned long long)x->aux);
			if (!d)
				FAIL("a descriptor result for unknown user_data %llu",
				     (unsigned long long)x->user_data);
			d->finals = 1;
			d->res = x->res;
			if (!(d->stages & BP)) {
				if (d->res != (int)d->len)
					FAIL("descriptor ud %llu (stages %#x): res %d",
					     (unsigned long long)d->ud, d->stages, d->res);
				apply_effect(g, d->stages, d->addr, d->dev_off, d->len);
				continue;
			}
			p = bpf_judge(b, d, 1, (int32_t)x->aux, stable ? step_cur : P_NONE,
				      "descriptor");
			if (stable && p != step_cur)
				FAIL("descriptor ud %llu (stages %#x): %s ran, but %s was attached from "
				     "its batch's submission to its completion", (unsigned long long)d->ud,
				     d->stages, p == P_NONE ? "no program (-ENOENT)" : prog_names[p],
				     pname(step_cur));
		}
		__atomic_store_n(&g->cq->head, g->cq_head, __ATOMIC_RELEASE);
		g->ksq_head += (uint32_t)b->ndesc;
		g->kcq_tail += (uint32_t)b->ndesc;
		g_ops += (uint64_t)b->ndesc;
	}
	if (stable && (b->seen_progs & ~(1u << (step_cur + 1))))
		FAIL("a NET|BPF fragment found %s while %s was attached all along",
		     b->seen_progs & 1 ? "no program" : "another program", pname(step_cur));
	if (stable)
		step_cur == P_NONE ? bpf_stable_off++ : bpf_stable_on++;
	verify_region(g, b->lo, g->size - b->lo, "after a BPF step");
}

static void bpf_step(struct bround *b, unsigned nops)
{
	bpf_submit(b, nops);
	bpf_finish(b);
}

/*
 * After ring exit with ops in flight: each landed whole or not at all - a
 * write's device range holds its old bytes or what a program (or none) left
 * in the span, a read's span (user memory) its old bytes or the device's as a
 * program left them. The shadows take what is there.
 */
static void bpf_after_exit(struct bround *b)
{
	struct region *g = &b->g;

	for (int i = 0; i < b->n + b->ndesc; i++) {
		struct bop *o = i < b->n ? &b->ops[i] : &b->descs[i - b->n];
		int write = (o->stages & WR) != 0, ok = 0;
		uint8_t *base, *now, *want;

		if (!o->stages || o->err || o->stages == BA || (!(o->stages & NV) && !g->map))
			continue;
		if (!write && !g->map)
			continue;
		base = malloc(o->len);
		now = malloc(o->len);
		want = malloc(o->len);
		if (write) {
			disk_pread(o->dev_off, now, o->len);
			ok = !memcmp(now, disk_shadow + (o->dev_off - scratch_off), o->len);
			memcpy(base, g->shadow + o->addr, o->len);
		} else {
			memcpy(now, g->map + o->addr, o->len);
			ok = !memcmp(now, g->shadow + o->addr, o->len);
			if (o->stages & NV)
				disk_expect(o->dev_off, base, o->len);
			else
				memcpy(base, g->shadow + o->addr, o->len);
		}
		for (int p = P_NONE; p < NPROGS && !ok; p++) {
			/* P_NONE: the bytes as they were (a plain op, or a read that found no program) */
			if (p == P_NONE ? write && (o->stages & BP) :
					  !(o->stages & BP) || !(b->t.mask & (1u << p)))
				continue;
			bpf_apply(p, base, want, o->len);
			ok = !memcmp(now, want, o->len);
		}
		if (!ok)
			FAIL("after ring exit, %s %#llx+%u of ud %llu (stages %#x) holds neither its "
			     "old bytes nor what the op would leave", write ? "disk" : "region span",
			     (unsigned long long)(write ? o->dev_off : o->addr), o->len,
			     (unsigned long long)o->ud, o->stages);
		if (write)
			memcpy(disk_shadow + (o->dev_off - scratch_off), now, o->len);
		else
			memcpy(g->shadow + o->addr, now, o->len);
		free(base);
		free(now);
		free(want);
	}
	/* a write's span in user memory may have been XORed before it went */
	if (g->map)
		memcpy(g->shadow + b->lo, g->map + b->lo, g->size - b->lo);
}

static void round_bpf(void)
{
	static struct bround b;
	struct region *g = &b.g;
	unsigned flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	unsigned steps = 6 + (unsigned)below(24);
	int net = chance(35), kind = chance(70) ? MEM_KERNEL : (int)(1 + below(MEM_KINDS - 1));
	uint64_t size = PAGE * (8 + below(56));
	char fb[96];
	int ret;

	if (!bprogs_loaded) {
		struct rlimit rl;

		t_bpf_init();
		/* libbpf must not raise RLIMIT_MEMLOCK: the other rounds count on it */
		libbpf_set_memlock_rlim(0);
		for (int p = 0; p < NPROGS; p++)
			bprog_load(p);
		if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur != MEMLOCK_LIMIT)
			FAIL("RLIMIT_MEMLOCK changed by loading BPF programs");
		bprogs_loaded = 1;
	}
	memset(&b, 0, sizeof(b));
	switch (below(net ? 2 : 3)) {
	case 0: flags |= IORING_SETUP_CQE32; break;
	case 1: flags |= IORING_SETUP_CQE_MIXED; break;
	}
	flags |= random_sq_flags();
	fring_init(&b.r, flags, (int)below(2), chance(50));
	/* with a binding, its area is the first 2-7 pages; ops stay above it */
	ret = region_create(&b.r, g, size, kind, net ? 3 + (int)below(6) : 0, chance(50));
	if (ret == -ENOMEM) {
		fring_exit(&b.r);
		return;
	}
	if (ret)
		FAIL("a valid registration failed: %d", ret);
	b.net = net;
	b.lo = net ? g->net_area : 0;
	if (net) {
		b.rq_tail = (uint32_t *)(g->map + g->reg.offsets.rq_ring + g->reg.rq_tail);
		b.rq_head = (uint32_t *)(g->map + g->reg.offsets.rq_ring + g->reg.rq_head);
		b.rqes = (void *)(g->map + g->reg.offsets.rqes);
		b.rq_mask = g->reg.rq_entries - 1;
		b.held = calloc(g->net_area / PAGE + 1, sizeof(*b.held));
		b.stream = rnd();
		t_tcp_pair(&b.tx, &b.rx);
	}
	b.t.mask = chance(60) ? 1u << P_CRC : chance(50) ? 1u << P_XOR : 3u;
	b.t.ring_fd = b.r.ring.ring_fd;
	b.t.link_fd = -1;
	b.t.cur = P_NONE;
	for (int p = 0; p < NPROGS; p++)
		b.t.map_fd[p] = b.t.mask & (1u << p) ? bprog_map(p, b.r.ring.ring_fd) : -1;
	b.t.rng = rnd();
	logop("bpf round: %s programs %s%s, ops in %#llx..%#llx, network area %#llx",
	      flag_names(flags, fb, sizeof(fb)), b.t.mask & 1 ? "checksum " : "",
	      b.t.mask & 2 ? "xor" : "", (unsigned long long)b.lo, (unsigned long long)g->size,
	      (unsigned long long)(net ? g->net_area : 0));

	/* attached before the thread starts: the first step runs it */
	tog_attach(&b.t, tog_pick(&b.t, rnd()));
	bpf_step(&b, 1 + (unsigned)below(12));
	if (pthread_create(&b.t.thr, NULL, toggler_main, &b.t))
		FAIL("pthread_create");
	b.t.running = 1;
	for (unsigned s = 0; s < steps; s++) {
		if (chance(30))
			bpf_scribble(&b);
		bpf_step(&b, 1 + (unsigned)below(12));
	}

	switch (below(4)) {
	case 0: {
		/* ring exit with ops in flight while the thread attaches and detaches */
		bpf_submit(&b, 1 + (unsigned)below(16));
		b.t.ring_gone = 1;
		logop("bpf: ring exit with %d ops in flight, attach/detach racing", b.n);
		fring_exit(&b.r);
		if (g->um.kind == MEM_KERNEL) {
			munmap(g->map, g->map_len);	/* it would keep the ring alive */
			g->map_len = 0;
			g->map = NULL;
		}
		tog_stop(&b.t);
		memlock_wait("ring exit with BPF-stage ops in flight");
		bpf_after_exit(&b);
		break;
	}
	case 1: {
		/* unregistration with ops in flight: they finish on the region they hold */
		struct io_uring_sqe *sqe;

		bpf_submit(&b, 1 + (unsigned)below(16));
		/* without SUBMIT_ALL the SQEs behind a refused one go in after the unregistration */
		for (int i = 0, refused = 0; i < b.n; i++) {
			b.ops[i].may_enxio = refused;
			if (b.ops[i].err && !(b.r.flags & IORING_SETUP_SUBMIT_ALL))
				refused = 1;
		}
		ret = unreg_call(&b.r);
		logop("bpf: unregister with %d ops in flight -> %d", b.n, ret);
		if (ret)
			FAIL("unregister with BPF-stage ops in flight: %d", ret);
		b.unregistered = 1;
		bpf_finish(&b);
		sqe = get_sqe(&b.r);
		t_prep_unified(sqe, -1, BP, 0, PAGE, 0);
		sqe->user_data = next_ud;
		b.ops[0] = (struct bop){ .ud = next_ud++, .stages = BP, .len = PAGE, .fd = -1,
					 .err = -ENXIO };
		b.n = 1;
		b.ndesc = 0;
		bpf_finish(&b);
		tog_stop(&b.t);
		break;
	}
	default:
		/* the thread stops: a program runs on every op, then none does */
		tog_stop(&b.t);
		if (b.t.link_fd < 0)
			tog_attach(&b.t, tog_pick(&b.t, rnd()));
		bpf_step(&b, 1 + (unsigned)below(12));
		if (net) {
			double deadline = t_now() + 30;

			shutdown(b.tx, SHUT_WR);
			b.tx_shut = 1;
			bpf_drain(&b);
			b.seen_progs = 0;
			while (!b.eof) {
				if (t_now() > deadline)
					FAIL("no EOF after 30 s: %llu of %llu bytes",
					     (unsigned long long)b.got, (unsigned long long)b.sent);
				bpf_refill(&b);
				bpf_arm(&b);
				bpf_pump(&b);
			}
			if (b.got != b.sent)
				FAIL("EOF after %llu bytes, %llu were sent", (unsigned long long)b.got,
				     (unsigned long long)b.sent);
			if (b.seen_progs & ~(1u << (b.t.cur + 1)))
				FAIL("to EOF with %s attached and left alone, a fragment found %s",
				     prog_names[b.t.cur], b.seen_progs & 1 ? "no program" : "another");
		}
		tog_detach(&b.t, chance(50));
		bpf_step(&b, 1 + (unsigned)below(12));
		if ((ret = unreg_call(&b.r)))
			FAIL("unregister: %d", ret);
		break;
	}
	if (b.t.link_fd >= 0)
		close(b.t.link_fd);
	for (int p = 0; p < NPROGS; p++)
		if (b.t.map_fd[p] >= 0)
			close(b.t.map_fd[p]);
	logop("bpf round end: %llu attach/detach calls; %llu runs, %llu -ENOENT, %llu fragments",
	      (unsigned long long)b.t.ops, (unsigned long long)b.ran,
	      (unsigned long long)b.enoent, (unsigned long long)b.frags);
	g_ops += b.t.ops;
	bpf_toggles += b.t.ops;
	bpf_ran += b.ran;
	bpf_enoent += b.enoent;
	fring_exit(&b.r);
	if (net) {
		close(b.tx);
		close(b.rx);
		free(b.held);
	}
	if (g->map)
		verify_region(g, b.lo, g->size - b.lo, "the mapping after the ring is closed");
	region_forget(g);
	verify_disk(win_off, WINDOW_LEN, "the window after a BPF round");
}

/* ====================================================================== */

static unsigned memlock_pages(void)
{
	return t_memlock_settled(&memlock_probe, pin_scratch, MEMLOCK_LIMIT / PAGE);
}

/*
 * Waits until every page charged by rings that are gone is back: a closed
 * ring lets go of its region (and the I/O it had in flight) from a kernel
 * worker, a moment after close(). One pin of memlock_free pages fits then.
 */
static void memlock_wait(const char *when)
{
	struct iovec iov = { pin_scratch, (size_t)memlock_free * PAGE };
	double until = t_now() + 10;
	int ret;

	while ((ret = io_uring_register_buffers(&memlock_probe, &iov, 1)) == -ENOMEM) {
		if (t_now() > until)
			FAIL("%s: RLIMIT_MEMLOCK pages still charged 10 s after the last ring "
			     "closed (%u pages do not fit)", when, memlock_free);
		usleep(5000);
	}
	if (ret)
		FAIL("register_buffers(%u pages): %d", memlock_free, ret);
	io_uring_unregister_buffers(&memlock_probe);
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	struct io_uring_query_unified qu = { 0 };
	struct rlimit rl = { MEMLOCK_LIMIT, MEMLOCK_LIMIT };
	uint64_t soak = env_u64("UIO_SOAK", 1), counts[ROUND_KINDS] = { 0 }, kind_ops[ROUND_KINDS] = { 0 };
	unsigned pages_before, pages_after;
	uint64_t *hash_after;
	double t0, t1, kind_secs[ROUND_KINDS] = { 0 };
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/* the suite passes a fixed seed; UIO_FUZZ_SEED overrides it, 0 draws one */
	g_seed = env_u64("UIO_FUZZ_SEED", argc > 1 ? strtoull(argv[1], NULL, 0) : 0);
	if (!g_seed) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		g_seed = mix64((uint64_t)ts.tv_sec * 1000000007ull + (uint64_t)ts.tv_nsec) % 1000000000ull;
	}
	g_iters = env_u64("UIO_FUZZ_ITERS", 100000);
	if (argc > 2)
		g_iters = strtoull(argv[2], NULL, 0);
	g_start_round = env_u64("UIO_FUZZ_ROUND", 0);
	printf("uio_fuzz: seed %llu, %llu operations x UIO_SOAK %llu, from round %llu\n",
	       (unsigned long long)g_seed, (unsigned long long)g_iters, (unsigned long long)soak,
	       (unsigned long long)g_start_round);
	printf("uio_fuzz: replay with UIO_FUZZ_SEED=%llu UIO_FUZZ_ITERS=%llu\n",
	       (unsigned long long)g_seed, (unsigned long long)g_iters);

	if (t_query(IO_URING_QUERY_UNIFIED, &qu, sizeof(qu)) || !qu.max_ring_entries)
		t_skip("no unified region in this kernel");
	max_entries = qu.max_ring_entries;
	if (!(qu.op_flags & IORING_UNIFIED_OP_BATCH) || !(qu.op_flags & IORING_UNIFIED_OP_NET) ||
	    !(qu.op_flags & IORING_UNIFIED_OP_BPF))
		t_skip("this kernel lacks the batch, network or BPF stage");

	nvme_rw = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	nvme_ro = open("/dev/nvme0n1", O_RDONLY | O_DIRECT);
	nvme_wo = open("/dev/nvme0n1", O_WRONLY | O_DIRECT);
	nvme_buffered = open("/dev/nvme0n1", O_RDWR);
	nvme_chr = open("/dev/ng0n1", O_RDWR);
	tmp_file = open("/tmp/uio_fuzz", O_RDWR | O_CREAT, 0600);
	dev_null = open("/dev/null", O_RDWR);
	closed_fd = 999;	/* the rounds never have that many files open */
	if (nvme_rw < 0 || nvme_ro < 0 || nvme_wo < 0 || nvme_buffered < 0 || nvme_chr < 0 ||
	    tmp_file < 0 || dev_null < 0 || fcntl(closed_fd, F_GETFD) != -1)
		FAIL("opening the disk and files: %s", strerror(errno));
	if (ftruncate(tmp_file, 16 * MB))
		FAIL("ftruncate: %s", strerror(errno));
	if (ioctl(nvme_rw, BLKGETSIZE64, &disk_bytes) || disk_bytes < 2 * SCRATCH_LEN)
		FAIL("disk size %llu", (unsigned long long)disk_bytes);
	eth_ifindex = 2;
	scratch_off = disk_bytes - SCRATCH_LEN;
	if (posix_memalign((void **)&iobuf, PAGE, 4 * MB))
		FAIL("memalign");
	disk_shadow = malloc(SCRATCH_LEN);
	resync_disk(scratch_off, SCRATCH_LEN);
	outside_hash = malloc(sizeof(uint64_t) * (scratch_off / MB));
	hash_after = malloc(sizeof(uint64_t) * (scratch_off / MB));
	hash_outside(outside_hash);
	printf("uio_fuzz: /dev/nvme0n1 is %llu MiB; writes go to its last %llu MiB only\n",
	       (unsigned long long)(disk_bytes / MB), (unsigned long long)(SCRATCH_LEN / MB));

	ro_page = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	none_page = mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rw_pages = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pin_scratch = mmap(NULL, MEMLOCK_LIMIT, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ro_page == MAP_FAILED || none_page == MAP_FAILED || rw_pages == MAP_FAILED ||
	    pin_scratch == MAP_FAILED)
		FAIL("mmap: %s", strerror(errno));

	/* every charge counts: no CAP_IPC_LOCK, a limit the rounds stay under */
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		FAIL("setrlimit: %s", strerror(errno));
	t_drop_cap(CAP_IPC_LOCK);
	if (io_uring_queue_init(4, &memlock_probe, 0))
		FAIL("probe ring");
	pages_before = memlock_free = memlock_pages();
	printf("uio_fuzz: RLIMIT_MEMLOCK %llu pages, %u free before the first ring\n",
	       (unsigned long long)(MEMLOCK_LIMIT / PAGE), pages_before);

	signal(SIGPIPE, SIG_IGN);
	t0 = t_now();
	for (g_round = g_start_round; g_ops - g_idle_rearms < g_iters * soak; g_round++) {
		uint64_t ops_before = g_ops;
		double round_t0 = t_now();
		enum round_kind kind;
		unsigned draw;

		g_rng = mix64(g_seed ^ mix64(g_round));
		win_off = scratch_off + (below(SCRATCH_LEN / WINDOW_LEN)) * WINDOW_LEN;
		draw = (unsigned)below(100);
		/*
		 * One round in ten attaches programs: drawn apart from the round's
		 * stream, so that the other rounds of a seed are what they were
		 * before this kind existed.
		 */
		if (mix64(g_seed ^ mix64(g_round) ^ 0xb9f) % 10 == 0)
			kind = ROUND_BPF;
		else if (draw < 30)
			kind = ROUND_REG;
		else if (draw < 72)
			kind = ROUND_OPS;
		else if (draw < 84)
			kind = ROUND_RACE;
		else
			kind = ROUND_NET;
		switch (kind) {
		case ROUND_REG: round_reg(); break;
		case ROUND_OPS: round_ops(); break;
		case ROUND_RACE: round_race(); break;
		case ROUND_NET: round_net(); break;
		case ROUND_BPF: round_bpf(); break;
		case ROUND_KINDS: break;
		}
		counts[kind]++;
		kind_ops[kind] += g_ops - ops_before;
		kind_secs[kind] += t_now() - round_t0;
		if (g_round % 25 == 24)
			memlock_wait("every 25 rounds");
		if (g_round % 50 == 49)
			printf("uio_fuzz: round %llu, %llu operations, %.0f ops/s\n",
			       (unsigned long long)g_round + 1, (unsigned long long)g_ops,
			       g_ops / (t_now() - t0));
	}
	t1 = t_now();
	printf("uio_fuzz: %llu operations in %llu rounds (%llu registration, %llu op, %llu "
	       "ring-race, %llu network, %llu BPF) in %.1f s: %.0f ops/s\n", (unsigned long long)g_ops,
	       (unsigned long long)(g_round - g_start_round), (unsigned long long)counts[ROUND_REG],
	       (unsigned long long)counts[ROUND_OPS], (unsigned long long)counts[ROUND_RACE],
	       (unsigned long long)counts[ROUND_NET], (unsigned long long)counts[ROUND_BPF], t1 - t0,
	       g_ops / (t1 - t0));
	/* where the time goes, to keep the suite's share of it in view */
	printf("uio_fuzz: by kind (rounds, operations, seconds):");
	for (unsigned i = 0; i < ROUND_KINDS; i++)
		printf("%s %s %llu/%llu/%.1f", i ? "," : "", round_names[i],
		       (unsigned long long)counts[i], (unsigned long long)kind_ops[i], kind_secs[i]);
	printf("\n");
	printf("uio_fuzz: %llu of the operations were receives re-armed while every buffer "
	       "was held (ended -ENOMEM at once); the target of %llu counts the others\n",
	       (unsigned long long)g_idle_rearms, (unsigned long long)(g_iters * soak));
	printf("uio_fuzz: BPF rounds: %llu attach/detach calls under load; %llu BPF stages ran a "
	       "program, %llu found none (-ENOENT); %llu steps checked with a program attached "
	       "all along, %llu with none\n", (unsigned long long)bpf_toggles,
	       (unsigned long long)bpf_ran, (unsigned long long)bpf_enoent,
	       (unsigned long long)bpf_stable_on, (unsigned long long)bpf_stable_off);
	/* the racing must have been seen from both sides */
	if (counts[4] >= 5 && (!bpf_ran || !bpf_enoent || !bpf_toggles))
		FAIL("%llu BPF rounds and %llu ran, %llu -ENOENT, %llu attach/detach calls: the "
		     "racing did not happen", (unsigned long long)counts[4],
		     (unsigned long long)bpf_ran, (unsigned long long)bpf_enoent,
		     (unsigned long long)bpf_toggles);

	/* the end: data where successful writes put it, nowhere else; every page back */
	g_round = ~0ull;
	verify_disk(scratch_off, SCRATCH_LEN, "the scratch range at the end");
	hash_outside(hash_after);
	for (uint64_t i = 0; i < scratch_off / MB; i++)
		if (hash_after[i] != outside_hash[i])
			FAIL("the disk changed outside the scratch range, in MiB %llu",
			     (unsigned long long)i);
	pages_after = memlock_pages();
	if (pages_after != pages_before)
		FAIL("RLIMIT_MEMLOCK: %u pages free after the last ring closed, %u before",
		     pages_after, pages_before);
	printf("uio_fuzz: disk checked (scratch against the shadow, the rest unchanged); all %u "
	       "RLIMIT_MEMLOCK pages back\n", pages_after);
	ret = T_EXIT_PASS;
	return ret;
}
