/* SPDX-License-Identifier: MIT */
/*
 * The storage path of a unified region against plain SQEs and against fio,
 * side by side in one VM run on the emulated NVMe disk.
 *
 * Access patterns (each a fixed number of operations): 4 KiB random read and
 * write at queue depth 1 and 32, 128 KiB sequential read and write at depth 8.
 * Paths, all on one region (data area installed as fixed buffer 0):
 *
 *   fixed       IORING_OP_READ_FIXED/WRITE_FIXED by region offset, /dev/nvme0n1 (O_DIRECT)
 *   direct      IORING_OP_UNIFIED, storage stage, one SQE per op
 *   batchB      IORING_OP_UNIFIED batch mode: B descriptors per batch SQE; descriptors
 *               in flight are capped at the pattern's depth, or at B when B is larger
 *               (then the row's depth is B, and the table says so)
 *   passthru    IORING_OP_URING_CMD, NVMe read/write with IORING_URING_CMD_FIXED by
 *               region offset, /dev/ng0n1 (its own SQE128/CQE32 ring and region)
 *   direct-async  a diagnostic beside the batch rows: direct ops with IOSQE_ASYNC, so
 *               each SQE takes the io-wq hand-off that every batch SQE takes
 *   fio-uring   Debian's fio, io_uring engine, fixedbufs, /dev/nvme0n1, direct=1
 *   fio-cmd     Debian's fio, io_uring_cmd engine (cmd_type=nvme), fixedbufs, /dev/ng0n1
 *
 * Per row: IOPS, guest CPU seconds per million ops - system-wide busy time
 * (user+nice+system+irq+softirq of /proc/stat, all vCPUs) and the process's own
 * (getrusage: user+system of every thread, io-wq workers included; for fio its
 * job's usr_cpu+sys_cpu) - and io_uring_enter calls per op (counted in the
 * submit loop; fio does not report them). Output lines "BENCH key=value..."
 * are what bench/storage_table.py turns into Markdown; the guest prints a
 * readable table as well.
 *
 * Every path is checked before it is timed: a write pass of patterned data
 * through the path (a seed of its own) and a read pass back through the same
 * path, every byte compared, at 4 KiB and at 128 KiB; and every timed op must
 * move exactly its length. fio's data is checked by a separate pass with
 * --verify=crc32c on both engines. Any failure fails the program.
 *
 * Arguments (uio.args): "full" for the real counts, "ops=N" (4 KiB ops per
 * row), "seqops=N" (128 KiB ops per row), "span=MiB" (device span the bench
 * uses), "rounds=R" (each row R times, the median kept), "only=PATTERN" (that
 * pattern's rows alone, e.g. only=randwrite-4k-qd1), "nofio" (skip fio: only
 * when the image has none). Under TCG only ratios mean anything.
 */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "../tests/vm/uio_test.h"

#define MiB (1ull << 20)
#define MAX_SLOTS 128
#define REGION_DATA (16 * MiB)		/* 128 slots x 128 KiB */
#define NVME_REGION_DATA (4 * MiB)
#define VERIFY_OFF (160 * MiB)		/* our paths' check area */
#define FIO_VERIFY_OFF (192 * MiB)	/* fio's check area, 16 MiB */

enum path { P_FIXED, P_DIRECT, P_BATCH, P_PASSTHRU, P_DIRECT_ASYNC };
static const char *const path_names[] = { "fixed", "direct", "batch", "passthru", "direct-async" };

struct pattern {
	const char *name;	/* also the fio job suffix */
	const char *fio_rw;
	int write, random;
	unsigned bs, depth;
};

static const struct pattern patterns[] = {
	{ "randread-4k-qd1", "randread", 0, 1, 4096, 1 },
	{ "randread-4k-qd32", "randread", 0, 1, 4096, 32 },
	{ "randwrite-4k-qd1", "randwrite", 1, 1, 4096, 1 },
	{ "randwrite-4k-qd32", "randwrite", 1, 1, 4096, 32 },
	{ "read-128k-qd8", "read", 0, 0, 128 << 10, 8 },
	{ "write-128k-qd8", "write", 1, 0, 128 << 10, 8 },
};
#define NR_PATTERNS (sizeof(patterns) / sizeof(patterns[0]))
static const unsigned batch_sizes[] = { 8, 32, 128 };

/* the rings: one plain (SQE64/CQE16) for fixed, direct and batch, one for passthrough */
struct region {
	struct io_uring ring;
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	uint8_t *map;
	struct io_unified_ring_hdr *sq, *cq;
	struct io_unified_desc *sqd, *cqd;
};

static struct region rg, nv;
static int blk, ng, nsid;
static unsigned long long ops4k = 128, ops128k = 32, span = 8 * MiB;
static unsigned rounds = 1;
static int want_fio = 1;
static const char *only;	/* one pattern's rows, fio's included */

/* one op of a run: device offset, direction */
struct op {
	uint64_t dev_off;
	int write;
};

/* a run: what the submit loop reports */
struct stats {
	unsigned long long ops, enters, ctxt;
	double secs, stat_cpu, ru_cpu;
};

/* optional per-op hooks (checks only: timed runs have none) */
struct hooks {
	void (*issue)(uint8_t *buf, const struct op *op, unsigned bs);
	void (*complete)(uint8_t *buf, const struct op *op, unsigned bs);
	uint64_t seed;
};

static uint64_t hook_seed;

static void fill_hook(uint8_t *buf, const struct op *op, unsigned bs)
{
	t_fill(buf, bs, hook_seed, op->dev_off);
}

static void clear_hook(uint8_t *buf, const struct op *op, unsigned bs)
{
	(void)op;
	memset(buf, 0, bs);
}

static void verify_hook(uint8_t *buf, const struct op *op, unsigned bs)
{
	long bad = t_verify(buf, bs, hook_seed, op->dev_off);

	if (bad >= 0)
		t_fail("data read back at device offset %llu differs at byte %ld",
		       (unsigned long long)op->dev_off + bad, bad);
}

/*
 * From a copy of /proc/stat in @path: busy seconds of all CPUs (user nice
 * system irq softirq of the "cpu" line) and context switches ("ctxt").
 */
struct sys_stat {
	double busy;
	unsigned long long ctxt;
};

static void stat_file(const char *path, struct sys_stat *ss)
{
	unsigned long long v[8];
	char line[256];
	FILE *f = fopen(path, "r");
	int got = 0;

	if (!f)
		t_fail("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		/* "cpu " only: the per-CPU lines ("cpu0 ...") would match the format too */
		if (!strncmp(line, "cpu ", 4) &&
		    sscanf(line + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			   &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
			ss->busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / sysconf(_SC_CLK_TCK);
			got |= 1;
		} else if (!strncmp(line, "ctxt ", 5) && sscanf(line + 5, "%llu", &ss->ctxt) == 1) {
			got |= 2;
		}
		/* the "intr" line is longer than the buffer: its tail reads as another line */
	}
	fclose(f);
	if (got != 3)
		t_fail("%s: no cpu or ctxt line", path);
}

static void stat_now(struct sys_stat *ss)
{
	stat_file("/proc/stat", ss);
}

static double ru_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void region_setup(struct region *r, unsigned ring_flags, uint64_t data)
{
	struct io_uring_params p = { .flags = ring_flags };
	int ret = io_uring_queue_init_params(256, &r->ring, &p);

	if (ret)
		t_fail("io_uring_queue_init_params(%#x): %d", ring_flags, ret);
	ret = io_uring_register_buffers_sparse(&r->ring, 1);
	if (ret)
		t_fail("register_buffers_sparse: %d", ret);
	t_region_defaults(&r->reg, &r->rd, data, 0);
	r->reg.sq_entries = 256;
	r->reg.cq_entries = 256;
	ret = t_region_register(&r->ring, &r->reg);
	if (ret)
		t_fail("region register: %d", ret);
	r->map = t_region_map(&r->ring, &r->reg, &r->rd);
	r->sq = (void *)(r->map + r->reg.offsets.sq_ring);
	r->cq = (void *)(r->map + r->reg.offsets.cq_ring);
	r->sqd = (void *)(r->map + r->reg.offsets.sq_descs);
	r->cqd = (void *)(r->map + r->reg.offsets.cq_descs);
}

/* xorshift64*: the random patterns' block numbers */
static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dULL;
}

/* all ops of a run, generated before the clock starts */
static struct op *gen_ops(const struct pattern *pt, unsigned long long n, uint64_t base,
			  uint64_t len, int write)
{
	struct op *ops = malloc(n * sizeof(*ops));
	uint64_t blocks = len / pt->bs;

	if (!ops)
		t_fail("malloc");
	rnd_state = 0x9e3779b97f4a7c15ULL ^ n ^ pt->bs;
	for (unsigned long long i = 0; i < n; i++) {
		uint64_t b = pt->random ? rnd() % blocks : i % blocks;

		ops[i].dev_off = base + b * pt->bs;
		ops[i].write = write;
	}
	return ops;
}

static void prep_plain(enum path path, struct io_uring_sqe *sqe, const struct op *op,
		       unsigned bs, uint64_t region_off)
{
	switch (path) {
	case P_FIXED:
		if (op->write)
			io_uring_prep_write_fixed(sqe, blk, (void *)(uintptr_t)region_off, bs,
						  op->dev_off, 0);
		else
			io_uring_prep_read_fixed(sqe, blk, (void *)(uintptr_t)region_off, bs,
						 op->dev_off, 0);
		break;
	case P_DIRECT:
	case P_DIRECT_ASYNC:
		t_prep_unified(sqe, blk, IORING_UNIFIED_OP_NVME | (op->write ? IORING_UNIFIED_OP_WRITE : 0),
			       region_off, bs, op->dev_off);
		if (path == P_DIRECT_ASYNC)
			sqe->flags |= IOSQE_ASYNC;
		break;
	case P_PASSTHRU:
		t_prep_nvme_rw(sqe, ng, nsid, op->write ? T_NVME_WRITE : T_NVME_READ, region_off,
			       bs, op->dev_off / 4096, 0);
		break;
	default:
		t_fail("path %d", path);
	}
}

/*
 * One SQE per op: up to @depth in flight; each round submits what is free and
 * waits for at least one completion in the same io_uring_enter, then reaps
 * every completion there is.
 */
static void run_plain(enum path path, const struct op *ops, unsigned long long n, unsigned bs,
		      unsigned depth, const struct hooks *h, struct stats *st)
{
	struct region *r = path == P_PASSTHRU ? &nv : &rg;
	unsigned free_slots[MAX_SLOTS], nfree = depth;
	unsigned long long slot_op[MAX_SLOTS];
	unsigned long long issued = 0, done = 0, enters = 0;
	struct sys_stat s0, s1;
	double t0, r0;

	if (depth > MAX_SLOTS)
		t_fail("depth %u", depth);
	for (unsigned i = 0; i < depth; i++)
		free_slots[i] = depth - 1 - i;
	stat_now(&s0);
	r0 = ru_cpu();
	t0 = t_now();
	while (done < n) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int ret;

		while (nfree && issued < n) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
			unsigned slot = free_slots[--nfree];

			if (!sqe)
				t_fail("SQ full");
			if (h && h->issue)
				h->issue(r->map + (uint64_t)slot * bs, &ops[issued], bs);
			prep_plain(path, sqe, &ops[issued], bs, (uint64_t)slot * bs);
			sqe->user_data = slot;
			slot_op[slot] = issued++;
		}
		ret = io_uring_submit_and_wait(&r->ring, 1);
		enters++;
		if (ret < 0)
			t_fail("%s: submit_and_wait: %d", path_names[path], ret);
		io_uring_for_each_cqe(&r->ring, head, cqe) {
			unsigned slot = (unsigned)cqe->user_data;

			/* an NVMe passthrough command completes with its status, 0 */
			if (cqe->res != (path == P_PASSTHRU ? 0 : (int)bs))
				t_fail("%s: op at %llu: res %d", path_names[path],
				       (unsigned long long)ops[slot_op[slot]].dev_off, cqe->res);
			if (h && h->complete)
				h->complete(r->map + (uint64_t)slot * bs, &ops[slot_op[slot]], bs);
			free_slots[nfree++] = slot;
			seen++;
		}
		io_uring_cq_advance(&r->ring, seen);
		done += seen;
	}
	st->secs = t_now() - t0;
	st->ru_cpu = ru_cpu() - r0;
	stat_now(&s1);
	st->stat_cpu = s1.busy - s0.busy;
	st->ctxt = s1.ctxt - s0.ctxt;
	st->ops = n;
	st->enters = enters;
}

/*
 * Batch mode: descriptors of @batch ops per batch SQE, at most max(@depth,
 * @batch) descriptors in flight. Each round pushes every batch that fits,
 * submits their SQEs and waits for one batch CQE in one io_uring_enter, then
 * reaps every descriptor result there is with one store of the head. Results
 * arrive in completion order, whichever batch they came with; a batch that
 * consumed fewer descriptors than it was given (a full completion ring) gets a
 * follow-up SQE for the rest.
 */
static void run_batch(const struct op *ops, unsigned long long n, unsigned bs, unsigned depth,
		      unsigned batch, const struct hooks *h, struct stats *st)
{
	struct region *r = &rg;
	unsigned cap = depth > batch ? depth : batch;
	unsigned free_slots[MAX_SLOTS], nfree = cap;
	unsigned long long slot_op[MAX_SLOTS];
	unsigned long long issued = 0, done = 0, enters = 0, unconsumed = 0;
	unsigned batches = 0;
	uint32_t mask = r->sq->ring_mask, cmask = r->cq->ring_mask;
	struct sys_stat s0, s1;
	double t0, r0;

	if (cap > MAX_SLOTS)
		t_fail("depth %u", cap);
	for (unsigned i = 0; i < cap; i++)
		free_slots[i] = cap - 1 - i;
	stat_now(&s0);
	r0 = ru_cpu();
	t0 = t_now();
	while (done < n) {
		struct io_uring_cqe *cqe;
		uint32_t tail = r->sq->tail, head, ctail;
		unsigned cqhead, seen = 0;
		int pushed = 0, ret;

		/* whole batches while they fit; the last one may be short */
		while (issued < n && nfree >= (n - issued < batch ? n - issued : batch)) {
			unsigned k = n - issued < batch ? (unsigned)(n - issued) : batch;
			struct io_uring_sqe *sqe;

			for (unsigned i = 0; i < k; i++) {
				struct io_unified_desc *d = &r->sqd[tail++ & mask];
				unsigned slot = free_slots[--nfree];
				const struct op *op = &ops[issued];

				if (h && h->issue)
					h->issue(r->map + (uint64_t)slot * bs, op, bs);
				memset(d, 0, sizeof(*d));
				d->user_data = slot;
				d->addr = (uint64_t)slot * bs;
				d->len = bs;
				d->dev_off = op->dev_off;
				d->op_flags = IORING_UNIFIED_OP_NVME |
					      (op->write ? IORING_UNIFIED_OP_WRITE : 0);
				d->fd = blk;
				slot_op[slot] = issued++;
			}
			sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				t_fail("SQ full");
			t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BATCH, 0, k, 0);
			sqe->user_data = k;
			batches++;
			pushed = 1;
		}
		if (unconsumed) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);

			if (!sqe)
				t_fail("SQ full");
			t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BATCH, 0, (unsigned)unconsumed, 0);
			sqe->user_data = unconsumed;
			unconsumed = 0;
			batches++;
		}
		if (pushed)
			__atomic_store_n(&r->sq->tail, tail, __ATOMIC_RELEASE);
		ret = io_uring_submit_and_wait(&r->ring, 1);
		enters++;
		if (ret < 0)
			t_fail("batch: submit_and_wait: %d", ret);
		io_uring_for_each_cqe(&r->ring, cqhead, cqe) {
			if (cqe->res < 0 || (unsigned long long)cqe->res > cqe->user_data)
				t_fail("batch SQE of %llu: res %d", (unsigned long long)cqe->user_data,
				       cqe->res);
			unconsumed += cqe->user_data - cqe->res;
			batches--;
			seen++;
		}
		io_uring_cq_advance(&r->ring, seen);
		/* the descriptors' results: one acquire of the tail, one release of the head */
		head = r->cq->head;
		ctail = __atomic_load_n(&r->cq->tail, __ATOMIC_ACQUIRE);
		for (; head != ctail; head++) {
			struct io_unified_desc *d = &r->cqd[head & cmask];
			unsigned slot = (unsigned)d->user_data;

			if (slot >= cap || d->res != (int)bs)
				t_fail("batch descriptor %llu at %llu: res %d",
				       (unsigned long long)d->user_data,
				       (unsigned long long)d->dev_off, d->res);
			if (h && h->complete)
				h->complete(r->map + (uint64_t)slot * bs, &ops[slot_op[slot]], bs);
			free_slots[nfree++] = slot;
			done++;
		}
		__atomic_store_n(&r->cq->head, head, __ATOMIC_RELEASE);
	}
	/* every batch SQE's CQE, so the next run starts clean */
	while (batches) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&r->ring, &cqe))
			t_fail("batch: wait");
		enters++;
		batches--;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	st->secs = t_now() - t0;
	st->ru_cpu = ru_cpu() - r0;
	stat_now(&s1);
	st->stat_cpu = s1.busy - s0.busy;
	st->ctxt = s1.ctxt - s0.ctxt;
	st->ops = n;
	st->enters = enters;
}

static void run(enum path path, const struct op *ops, unsigned long long n, unsigned bs,
		unsigned depth, unsigned batch, const struct hooks *h, struct stats *st)
{
	if (path == P_BATCH)
		run_batch(ops, n, bs, depth, batch, h, st);
	else
		run_plain(path, ops, n, bs, depth, h, st);
}

/* write patterned data through the path, read it back through it, compare */
static void check_path(enum path path, unsigned batch, uint64_t seed)
{
	static const struct { unsigned bs, n, depth; } sizes[] = { { 4096, 64, 32 }, { 128 << 10, 8, 8 } };
	struct stats st;

	for (unsigned s = 0; s < 2; s++) {
		struct pattern pt = { .bs = sizes[s].bs };
		struct op *w = gen_ops(&pt, sizes[s].n, VERIFY_OFF, (uint64_t)sizes[s].n * sizes[s].bs, 1);
		struct op *rd = gen_ops(&pt, sizes[s].n, VERIFY_OFF, (uint64_t)sizes[s].n * sizes[s].bs, 0);
		struct hooks hw = { .issue = fill_hook }, hr = { .issue = clear_hook, .complete = verify_hook };

		hook_seed = seed * 2 + s;
		run(path, w, sizes[s].n, sizes[s].bs, sizes[s].depth, batch, &hw, &st);
		run(path, rd, sizes[s].n, sizes[s].bs, sizes[s].depth, batch, &hr, &st);
		free(w);
		free(rd);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void print_row(const char *pattern, const char *path, unsigned depth, unsigned batch,
		      unsigned long long ops, double iops, double stat_cpu, double ru_cpu,
		      double enters_per_op, double ctxt_per_op)
{
	printf("BENCH pattern=%s path=%s depth=%u batch=%u ops=%llu iops=%.1f "
	       "cpu_stat_s_per_mop=%.2f cpu_proc_s_per_mop=%.2f enters_per_op=%.4f "
	       "ctxt_per_op=%.3f\n",
	       pattern, path, depth, batch, ops, iops, stat_cpu, ru_cpu, enters_per_op, ctxt_per_op);
	fflush(stdout);
}

/* one row at @depth, @rounds times, medians */
static void bench_row(const struct pattern *pt, enum path path, unsigned depth, unsigned batch)
{
	unsigned long long n = pt->bs == 4096 ? ops4k : ops128k;
	struct op *ops = gen_ops(pt, n, 0, span, pt->write);
	double iops[16], sc[16], rc[16], en[16], cx[16];
	char name[32];
	struct stats st;

	for (unsigned i = 0; i < rounds; i++) {
		run(path, ops, n, pt->bs, depth, batch, NULL, &st);
		iops[i] = st.ops / st.secs;
		sc[i] = st.stat_cpu / st.ops * 1e6;
		rc[i] = st.ru_cpu / st.ops * 1e6;
		en[i] = (double)st.enters / st.ops;
		cx[i] = (double)st.ctxt / st.ops;
	}
	if (path == P_BATCH)
		snprintf(name, sizeof(name), "batch%u", batch);
	else
		snprintf(name, sizeof(name), "%s", path_names[path]);
	print_row(pt->name, name, path == P_BATCH && batch > depth ? batch : depth,
		  path == P_BATCH ? batch : 0, n, median(iops, rounds), median(sc, rounds),
		  median(rc, rounds), median(en, rounds), median(cx, rounds));
	free(ops);
}

/* ---- fio ---------------------------------------------------------------- */

static int run_cmd(char *const argv[], const char *out)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		t_fail("fork: %s", strerror(errno));
	if (!pid) {
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			if (fd < 0)
				_exit(127);
			dup2(fd, 1);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		t_fail("waitpid");
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	long len;
	char *s;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	s = malloc(len + 1);
	if (!s || fread(s, 1, len, f) != (size_t)len)
		t_fail("read %s", path);
	s[len] = 0;
	fclose(f);
	return s;
}

/* the number after "key" : in [from, to), or -1 */
static double json_num(const char *from, const char *to, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\" : ", key);
	p = strstr(from, pat);
	if (!p || (to && p >= to))
		return -1;
	return strtod(p + strlen(pat), NULL);
}

/* /proc/stat as fio's exec_prerun/exec_postrun of @job saw it (jobname.{pre,post}run.txt) */
static void stat_fio(const char *job, const char *when, struct sys_stat *ss)
{
	char path[128];

	snprintf(path, sizeof(path), "/tmp/%s.%s.txt", job, when);
	stat_file(path, ss);
}

static void fio_job(FILE *f, const char *name, int cmd, const struct pattern *pt,
		    unsigned long long n)
{
	fprintf(f, "[%s]\nstonewall\n", name);
	if (cmd)
		fprintf(f, "ioengine=io_uring_cmd\ncmd_type=nvme\nfilename=/dev/ng0n1\n");
	else
		fprintf(f, "ioengine=io_uring\ndirect=1\nfilename=/dev/nvme0n1\n");
	fprintf(f, "fixedbufs=1\nrw=%s\nbs=%u\niodepth=%u\nsize=%llu\noffset=0\n"
		"io_size=%llu\nnumber_ios=%llu\nnorandommap=1\nrandrepeat=0\ngtod_reduce=1\n"
		"exec_prerun=cat /proc/stat\nexec_postrun=cat /proc/stat\n\n",
		pt->fio_rw, pt->bs, pt->depth, span, n * pt->bs, n);
}

static const char *fio_bin = "/usr/bin/fio";

static void fio_verify(void)
{
	FILE *f = fopen("/tmp/verify.fio", "w");
	char *argv[] = { (char *)fio_bin, "--eta=never", "--output-format=json", "--output=/tmp/verify.json",
			 "/tmp/verify.fio", NULL };
	char *json;
	int rc;

	if (!f)
		t_fail("/tmp/verify.fio");
	for (int cmd = 0; cmd < 2; cmd++) {
		for (int big = 0; big < 2; big++) {
			fprintf(f, "[verify-%s-%s]\nstonewall\n", cmd ? "cmd" : "uring", big ? "128k" : "4k");
			if (cmd)
				fprintf(f, "ioengine=io_uring_cmd\ncmd_type=nvme\nfilename=/dev/ng0n1\n");
			else
				fprintf(f, "ioengine=io_uring\ndirect=1\nfilename=/dev/nvme0n1\n");
			fprintf(f, "fixedbufs=1\nrw=%s\nbs=%u\niodepth=%u\nsize=%llu\noffset=%llu\n"
				"verify=crc32c\ndo_verify=1\nverify_fatal=1\n\n",
				big ? "write" : "randwrite", big ? 128 << 10 : 4096, big ? 8 : 32,
				big ? 4 * MiB : 1 * MiB, FIO_VERIFY_OFF + (cmd * 2 + big) * 4 * MiB);
		}
	}
	fclose(f);
	rc = run_cmd(argv, NULL);
	json = slurp("/tmp/verify.json");
	if (rc || !json)
		t_fail("fio --verify=crc32c exited %d%s", rc, json ? "" : " without output");
	/* every job read back what it wrote, and no job reports an error */
	for (const char *p = json; (p = strstr(p, "\"jobname\" : ")); p++) {
		const char *next = strstr(p + 1, "\"jobname\" : ");
		const char *rd = strstr(p, "\"read\" : {");
		double err = json_num(p, next, "error"), rios = rd ? json_num(rd, next, "total_ios") : -1;

		if (err != 0 || rios <= 0)
			t_fail("fio verify job %.40s: error %g, %g ios read back", p + 12, err, rios);
	}
	printf("fio: --verify=crc32c passes on io_uring (fixedbufs, /dev/nvme0n1) and io_uring_cmd "
	       "(nvme, fixedbufs, /dev/ng0n1), 4 KiB random and 128 KiB sequential\n");
	free(json);
}

static void fio_bench(void)
{
	FILE *f = fopen("/tmp/bench.fio", "w");
	char *argv[] = { (char *)fio_bin, "--eta=never", "--output-format=json", "--output=/tmp/bench.json",
			 "/tmp/bench.fio", NULL };
	static double iops[2][NR_PATTERNS][16], sc[2][NR_PATTERNS][16], rc[2][NR_PATTERNS][16];
	static double cx[2][NR_PATTERNS][16];
	char name[64];

	if (!f)
		t_fail("/tmp/bench.fio");
	for (unsigned p = 0; p < NR_PATTERNS; p++)
		for (int cmd = 0; cmd < 2 && (!only || !strcmp(only, patterns[p].name)); cmd++) {
			snprintf(name, sizeof(name), "%s-%s", cmd ? "cmd" : "uring", patterns[p].name);
			fio_job(f, name, cmd, &patterns[p], patterns[p].bs == 4096 ? ops4k : ops128k);
		}
	fclose(f);
	for (unsigned r = 0; r < rounds; r++) {
		char *json;
		int ret = run_cmd(argv, NULL);

		json = slurp("/tmp/bench.json");
		if (ret || !json)
			t_fail("fio exited %d%s", ret, json ? "" : " without output");
		for (unsigned p = 0; p < NR_PATTERNS; p++)
			for (int cmd = 0; cmd < 2 && (!only || !strcmp(only, patterns[p].name)); cmd++) {
				const struct pattern *pt = &patterns[p];
				const char *job, *next, *dir;
				char key[96];
				double ios, runtime, usr, sys;
				struct sys_stat pre, post;
				unsigned long long n = pt->bs == 4096 ? ops4k : ops128k;

				snprintf(name, sizeof(name), "%s-%s", cmd ? "cmd" : "uring", pt->name);
				snprintf(key, sizeof(key), "\"jobname\" : \"%s\"", name);
				job = strstr(json, key);
				if (!job)
					t_fail("fio: no job %s in its output", name);
				next = strstr(job + 1, "\"jobname\" : ");
				dir = strstr(job, pt->write ? "\"write\" : {" : "\"read\" : {");
				if (!dir || (next && dir > next))
					t_fail("fio: job %s has no %s part", name, pt->write ? "write" : "read");
				ios = json_num(dir, next, "total_ios");
				if (json_num(job, next, "error") != 0 || ios != (double)n)
					t_fail("fio job %s: error %g, %g of %llu ops", name,
					       json_num(job, next, "error"), ios, n);
				runtime = json_num(job, next, "job_runtime") / 1e3;
				usr = json_num(job, next, "usr_cpu");
				sys = json_num(job, next, "sys_cpu");
				stat_fio(name, "prerun", &pre);
				stat_fio(name, "postrun", &post);
				iops[cmd][p][r] = json_num(dir, next, "iops");
				rc[cmd][p][r] = (usr + sys) / 100 * runtime / n * 1e6;
				sc[cmd][p][r] = (post.busy - pre.busy) / n * 1e6;
				cx[cmd][p][r] = (double)(post.ctxt - pre.ctxt) / n;
			}
		free(json);
	}
	for (unsigned p = 0; p < NR_PATTERNS; p++)
		for (int cmd = 0; cmd < 2 && (!only || !strcmp(only, patterns[p].name)); cmd++)
			print_row(patterns[p].name, cmd ? "fio-cmd" : "fio-uring", patterns[p].depth, 0,
				  patterns[p].bs == 4096 ? ops4k : ops128k, median(iops[cmd][p], rounds),
				  median(sc[cmd][p], rounds), median(rc[cmd][p], rounds), -1,
				  median(cx[cmd][p], rounds));
}

/* fills the bench span once so reads read written blocks */
static void prefill(void)
{
	struct pattern pt = { .bs = 128 << 10 };
	unsigned long long n = span / pt.bs;
	struct op *ops = gen_ops(&pt, n, 0, span, 1);
	struct stats st;

	run_plain(P_DIRECT, ops, n, pt.bs, 8, NULL, &st);
	free(ops);
}

int main(int argc, char **argv)
{
	struct io_uring_query_unified q = { 0 };
	struct stat sb;
	double t0 = t_now();

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "full")) {
			ops4k = 6000;
			ops128k = 1500;
			span = 64 * MiB;
			rounds = 3;
		} else if (!strncmp(argv[i], "ops=", 4)) {
			ops4k = strtoull(argv[i] + 4, NULL, 0);
		} else if (!strncmp(argv[i], "seqops=", 7)) {
			ops128k = strtoull(argv[i] + 7, NULL, 0);
		} else if (!strncmp(argv[i], "span=", 5)) {
			span = strtoull(argv[i] + 5, NULL, 0) * MiB;
		} else if (!strncmp(argv[i], "rounds=", 7)) {
			rounds = atoi(argv[i] + 7);
		} else if (!strncmp(argv[i], "only=", 5)) {
			only = argv[i] + 5;
		} else if (!strcmp(argv[i], "nofio")) {
			want_fio = 0;
		} else {
			t_fail("unknown argument %s", argv[i]);
		}
	}
	if (!ops4k || !ops128k || rounds < 1 || rounds > 16 || !span || span > VERIFY_OFF ||
	    span % (128 << 10))
		t_fail("bad counts");
	for (unsigned p = 0; only && p < NR_PATTERNS; p++)
		if (!strcmp(only, patterns[p].name))
			break;
		else if (p == NR_PATTERNS - 1)
			t_fail("only=%s: no such pattern", only);
	if (t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q)) < 0)
		t_skip("kernel without unified regions");

	blk = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
	ng = open("/dev/ng0n1", O_RDWR);
	if (blk < 0 || ng < 0)
		t_fail("open the NVMe namespace: %s", strerror(errno));
	nsid = ioctl(ng, NVME_IOCTL_ID);
	if (nsid <= 0)
		t_fail("NVME_IOCTL_ID: %d", nsid);
	region_setup(&rg, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN, REGION_DATA);
	region_setup(&nv, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			  IORING_SETUP_SQE128 | IORING_SETUP_CQE32, NVME_REGION_DATA);
	if (want_fio && stat(fio_bin, &sb))
		t_fail("%s is not in the image (build the bench initramfs, or pass nofio)", fio_bin);

	{
		char cs[64] = "?";
		FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");

		if (f) {
			if (fscanf(f, "%63s", cs) != 1)
				strcpy(cs, "?");
			fclose(f);
		}
		printf("storage bench: %llu ops per 4 KiB row, %llu per 128 KiB row, %llu MiB span, "
		       "%u round(s), median kept, %ld vCPUs, clocksource %s; only ratios mean "
		       "anything under TCG\n", ops4k, ops128k, span / MiB, rounds,
		       sysconf(_SC_NPROCESSORS_ONLN), cs);
	}

	/* every path's data, checked before anything is timed */
	check_path(P_FIXED, 0, 1);
	check_path(P_DIRECT, 0, 2);
	for (unsigned b = 0; b < 3; b++)
		check_path(P_BATCH, batch_sizes[b], 3 + b);
	check_path(P_PASSTHRU, 0, 6);
	check_path(P_DIRECT_ASYNC, 0, 7);
	printf("check: fixed, direct, batch8/32/128, passthru and direct-async each wrote patterned data and "
	       "read it back, every byte compared (4 KiB and 128 KiB)\n");
	if (want_fio)
		fio_verify();

	prefill();
	for (unsigned p = 0; p < NR_PATTERNS; p++) {
		const struct pattern *pt = &patterns[p];

		if (only && strcmp(only, pt->name))
			continue;
		bench_row(pt, P_FIXED, pt->depth, 0);
		bench_row(pt, P_DIRECT, pt->depth, 0);
		for (unsigned b = 0; b < 3; b++) {
			bench_row(pt, P_BATCH, pt->depth, batch_sizes[b]);
			/* a batch larger than the depth runs at its own depth: plain SQEs there too */
			if (batch_sizes[b] > pt->depth)
				bench_row(pt, P_DIRECT, batch_sizes[b], 0);
			/* and plain SQEs through io-wq, as batches go, where batches are judged */
			if (batch_sizes[b] >= 32)
				bench_row(pt, P_DIRECT_ASYNC, batch_sizes[b] > pt->depth ?
					  batch_sizes[b] : pt->depth, 0);
		}
		bench_row(pt, P_PASSTHRU, pt->depth, 0);
	}
	if (want_fio)
		fio_bench();
	printf("storage bench: done in %.1f s\n", t_now() - t0);
	io_uring_queue_exit(&rg.ring);
	io_uring_queue_exit(&nv.ring);
	return T_EXIT_PASS;
}
