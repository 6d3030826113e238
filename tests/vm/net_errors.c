/* SPDX-License-Identifier: MIT */
/*
 * Every invalid network binding and NET-stage input gets its errno and leaves
 * nothing behind; refill entries that name no buffer, or a buffer userspace
 * does not hold, are skipped and counted, never trusted.
 */
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "net_test.h"

#define SIZE (1u << 20)

struct ctx {
	struct t_net_region r;
	unsigned ring_flags;	/* setup flags of the ring the case registers on */
	int drop_net_admin;
};

struct error_case {
	const char *what;
	void (*corrupt)(struct ctx *c);
	int want;
};

static void nodev_and_if(struct ctx *c)	{ c->r.reg.net_ifindex = 1; }
static void rxq_no_if(struct ctx *c)	{ c->r.reg.flags &= ~IORING_UNIFIED_REG_NET_NODEV; c->r.reg.net_rxq = 1; }
static void rq_zero(struct ctx *c)	{ c->r.reg.rq_entries = 0; }
static void rq_npot(struct ctx *c)	{ c->r.reg.rq_entries = 100; }
static void rq_big(struct ctx *c)	{ c->r.reg.rq_entries = 1u << 16; }
static void len_odd(struct ctx *c)	{ c->r.reg.net_area_len = 4096 + 512; }
static void len_big(struct ctx *c)	{ c->r.reg.net_area_len = 2 * SIZE; }
static void no_defer(struct ctx *c)	{ c->ring_flags = IORING_SETUP_CQE32; }
static void no_cqe32(struct ctx *c)	{ c->ring_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN; }
static void no_admin(struct ctx *c)	{ c->drop_net_admin = 1; }
static void if_none(struct ctx *c)	{ c->r.reg.flags &= ~IORING_UNIFIED_REG_NET_NODEV; c->r.reg.net_ifindex = 9999; }
static void if_lo(struct ctx *c)	{ c->r.reg.flags &= ~IORING_UNIFIED_REG_NET_NODEV; c->r.reg.net_ifindex = if_nametoindex("lo"); }
static void if_lo_rxq(struct ctx *c)	{ if_lo(c); c->r.reg.net_rxq = 7; }

static unsigned nsim_ifindex;
static void if_nsim(struct ctx *c)
{
	c->r.reg.flags &= ~IORING_UNIFIED_REG_NET_NODEV;
	c->r.reg.net_ifindex = nsim_ifindex;
}

static const struct error_case cases[] = {
	{ "NET_NODEV and net_ifindex", nodev_and_if, -EINVAL },
	{ "net_rxq without net_ifindex", rxq_no_if, -EINVAL },
	{ "rq_entries 0", rq_zero, -EINVAL },
	{ "rq_entries 100", rq_npot, -EINVAL },
	{ "rq_entries 65536", rq_big, -EINVAL },
	{ "net_area_len not a page multiple", len_odd, -EINVAL },
	{ "net_area_len past the data area", len_big, -ERANGE },
	{ "ring without DEFER_TASKRUN", no_defer, -EINVAL },
	{ "ring without 32-byte CQEs", no_cqe32, -EINVAL },
	{ "no CAP_NET_ADMIN", no_admin, -EPERM },
	{ "no such device", if_none, -ENODEV },
	{ "loopback: no memory-provider support", if_lo, -EOPNOTSUPP },
	{ "rx queue out of range", if_lo_rxq, -ERANGE },
	{ "netdevsim with tcp-data-split off", if_nsim, -EINVAL },
};

/* a netdevsim device with one port; returns the port's ifindex */
static unsigned nsim_create(void)
{
	const char *dir = "/sys/bus/netdevsim/devices/netdevsim1/net";
	int fd = open("/sys/bus/netdevsim/new_device", O_WRONLY);
	struct dirent *e;
	unsigned idx = 0;
	DIR *d;

	if (fd < 0 || write(fd, "1 1", 3) != 3)
		t_fail("creating a netdevsim device: %s", strerror(errno));
	close(fd);
	d = opendir(dir);
	if (!d)
		t_fail("%s: %s", dir, strerror(errno));
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			idx = if_nametoindex(e->d_name);
	closedir(d);
	if (!idx)
		t_fail("no netdevsim port");
	return idx;
}

static void nsim_delete(void)
{
	int fd = open("/sys/bus/netdevsim/del_device", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		t_fail("deleting the netdevsim device: %s", strerror(errno));
	close(fd);
}

static void set_net_admin(int on)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	unsigned bit = 1u << (CAP_NET_ADMIN % 32);

	if (syscall(SYS_capget, &hdr, data))
		t_fail("capget: %s", strerror(errno));
	if (on)
		data[CAP_NET_ADMIN / 32].effective |= bit;
	else
		data[CAP_NET_ADMIN / 32].effective &= ~bit;
	if (syscall(SYS_capset, &hdr, data))
		t_fail("capset: %s", strerror(errno));
}

static int ring_init(struct io_uring *ring, unsigned flags)
{
	struct io_uring_params p = { .flags = flags };
	int ret = io_uring_queue_init_params(64, ring, &p);

	if (ret)
		t_fail("ring %#x: %d", flags, ret);
	return io_uring_register_buffers_sparse(ring, 1);
}

/* one case on a fresh ring; afterwards the same ring takes a valid binding */
static void run_case(const struct error_case *e)
{
	struct ctx c = {
		.ring_flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
			      IORING_SETUP_CQE32,
	};
	struct io_uring ring;
	int ret;

	t_net_region_defaults(&c.r, SIZE, 0, 64);
	e->corrupt(&c);
	if (ring_init(&ring, c.ring_flags))
		t_fail("%s: sparse buffer table", e->what);
	if (c.drop_net_admin)
		set_net_admin(0);
	ret = t_region_register(&ring, &c.r.reg);
	if (c.drop_net_admin)
		set_net_admin(1);
	if (ret != e->want)
		t_fail("%s: got %d, want %d", e->what, ret, e->want);
	if (c.r.reg.net_stats || c.r.reg.offsets.size)
		t_fail("%s: a failed registration wrote results back", e->what);
	/* nothing was left behind: no region, and a valid one still fits */
	if (t_region_unregister(&ring) != -ENXIO)
		t_fail("%s: a region is registered after the failure", e->what);
	io_uring_queue_exit(&ring);
}

static void valid_then_gone(void)
{
	struct t_net_region r;
	struct io_uring ring;
	int ret;

	t_net_ring(&ring);
	t_net_region_defaults(&r, SIZE, 0, 64);
	ret = t_net_region_register(&ring, &r);
	if (ret)
		t_fail("a valid device-less binding: %d", ret);
	if (!r.reg.offsets.rq_ring || r.reg.offsets.rqes <= r.reg.offsets.rq_ring ||
	    r.reg.net_stats < r.reg.offsets.rqes + 64 * sizeof(struct io_uring_zcrx_rqe) ||
	    r.reg.net_stats + sizeof(struct io_unified_net_stats) > r.reg.offsets.size ||
	    r.reg.rq_tail <= r.reg.rq_head)
		t_fail("layout: rq_ring %llu rqes %llu stats %llu size %llu head %u tail %u",
		       (unsigned long long)r.reg.offsets.rq_ring,
		       (unsigned long long)r.reg.offsets.rqes,
		       (unsigned long long)r.reg.net_stats,
		       (unsigned long long)r.reg.offsets.size, r.reg.rq_head, r.reg.rq_tail);
	if (t_region_register(&ring, &r.reg) != -EBUSY)
		t_fail("a second region on the ring");
	t_net_region_unmap(&r);
	if (t_region_unregister(&ring))
		t_fail("unregister");
	io_uring_queue_exit(&ring);
}

/* errors of the NET stage itself */
static void op_errors(void)
{
	struct t_net_region r;
	struct io_uring ring;
	int wfd, rfd, file = open("/tmp/net_errors", O_RDWR | O_CREAT, 0600);
	struct io_uring_sqe *sqe;
	int ret;

	t_net_ring(&ring);
	t_tcp_pair(&wfd, &rfd);

	/* a region without a network binding */
	t_region_defaults(&r.reg, &r.rd, SIZE, 0);
	if (t_region_register(&ring, &r.reg))
		t_fail("plain region");
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, rfd, IORING_UNIFIED_OP_NET, 0, 0, 0);
	if ((ret = t_submit_one(&ring)) != -ENOLINK)
		t_fail("receive without a network binding: %d", ret);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, rfd, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_NVME, 0, 4096, 0);
	if ((ret = t_submit_one(&ring)) != -EINVAL)
		t_fail("NET and NVME in one op: %d", ret);
	if (t_region_unregister(&ring))
		t_fail("unregister");

	t_net_region_defaults(&r, SIZE, 0, 64);
	if (t_net_region_register(&ring, &r))
		t_fail("binding");
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, file, IORING_UNIFIED_OP_NET, 0, 0, 0);
	if ((ret = t_submit_one(&ring)) != -ENOTSOCK)
		t_fail("receive on a regular file: %d", ret);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, file, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE, 0, 4096, 0);
	ret = t_submit_one(&ring);
	if (ret != -ENOTSOCK)
		t_fail("send on a regular file: %d", ret);
	/* a failed send still posts its notification */
	{
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&ring, &cqe) || !(cqe->flags & IORING_CQE_F_NOTIF))
			t_fail("no notification after a failed send");
		io_uring_cqe_seen(&ring, cqe);
	}
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, rfd, IORING_UNIFIED_OP_NET, 4096, 0, 0);
	if ((ret = t_submit_one(&ring)) != -EINVAL)
		t_fail("receive with addr: %d", ret);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, wfd, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE, SIZE - 4096, 8192, 0);
	if ((ret = t_submit_one(&ring)) != -EFAULT)
		t_fail("send past the data area: %d", ret);
	sqe = t_get_sqe(&ring);
	t_prep_unified(sqe, wfd, IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_BPF | IORING_UNIFIED_OP_WRITE,
		       0, 4096, 0);
	if ((ret = t_submit_one(&ring)) != -EOPNOTSUPP)
		t_fail("BPF before a send: %d", ret);
	printf("NET stage: -ENOLINK, -EINVAL, -ENOTSOCK (receive and send), -EFAULT, -EOPNOTSUPP as documented\n");

	t_net_region_unmap(&r);
	t_region_unregister(&ring);
	io_uring_queue_exit(&ring);
	close(wfd);
	close(rfd);
	close(file);
}

/*
 * Garbage refill entries - offsets outside the area, a set pad - are skipped
 * and counted, and the stream goes on intact. (An entry naming a buffer of
 * the area cannot be told from a real return: zcrx counts returns per buffer,
 * so lying about one only hurts the liar.)
 */
static void refill_garbage(void)
{
	const uint64_t total = 4u << 20;
	struct t_net_region r;
	struct io_uring ring;
	struct t_sender tx;
	struct t_recv_result res;
	int wfd, rfd;

	t_net_ring(&ring);
	/* a 256 KiB area: 64 buffers, so the refill ring is read many times */
	t_net_region_defaults(&r, SIZE, 256 * 1024, 256);
	if (t_net_region_register(&ring, &r))
		t_fail("binding");
	t_refill(&r, 256 * 1024, 4096);		/* past the area */
	t_refill(&r, 1ull << 40, 4096);		/* far past it */
	r.rqes[*r.rq_tail & r.rq_mask].__pad = 1;
	r.rqes[*r.rq_tail & r.rq_mask].off = 4096;
	__atomic_store_n(r.rq_tail, *r.rq_tail + 1, __ATOMIC_RELEASE);

	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 3, total);
	res = t_recv_stream(&ring, &r, rfd, 3, NULL, NULL);
	t_sender_join(&tx);
	if (res.bytes != total)
		t_fail("received %llu of %llu", (unsigned long long)res.bytes,
		       (unsigned long long)total);
	if (r.stats->refill_rejected != 3)
		t_fail("%llu refill entries rejected, 3 were garbage",
		       (unsigned long long)r.stats->refill_rejected);
	printf("refill ring: 3 garbage entries skipped and counted, a 4 MiB stream intact\n");
	close(rfd);
	t_net_region_unmap(&r);
	t_region_unregister(&ring);
	io_uring_queue_exit(&ring);
}

/*
 * Double returns: an area of one buffer, every fragment handed back twice.
 * The kernel takes the buffer back once and rejects the second entry; the
 * stream arrives intact, one page at a time.
 */
static void refill_double(void)
{
	const uint64_t total = 256 * 1024;
	struct t_net_region r;
	struct io_uring ring;
	struct t_sender tx;
	uint64_t got = 0, fragments = 0;
	int wfd, rfd, armed = 0, done = 0;

	t_net_ring(&ring);
	t_net_region_defaults(&r, SIZE, 4096, 64);
	if (t_net_region_register(&ring, &r))
		t_fail("binding");
	t_tcp_pair(&wfd, &rfd);
	t_sender_start(&tx, wfd, 9, total);
	while (!done) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		if (!armed) {
			t_prep_net_recv(&ring, rfd, 1);
			armed = 1;
		}
		if (io_uring_submit_and_wait(&ring, 1) < 0)
			t_fail("submit_and_wait");
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			if (cqe->flags & IORING_CQE_F_MORE) {
				if (cqe->big_cqe[0] != 0 || cqe->res <= 0 || cqe->res > 4096)
					t_fail("fragment %llu+%d in a one-page area",
					       (unsigned long long)cqe->big_cqe[0], cqe->res);
				if (t_verify(r.map, (size_t)cqe->res, 9, got) >= 0)
					t_fail("byte near %llu is wrong", (unsigned long long)got);
				got += (uint64_t)cqe->res;
				fragments++;
				t_refill(&r, 0, 4096);
				t_refill(&r, 0, 4096);
				continue;
			}
			armed = 0;
			if (cqe->res == 0)
				done = 1;
			else if (cqe->res != -ENOMEM && cqe->res != -ENOSPC)
				t_fail("receive ended with %d", cqe->res);
		}
		io_uring_cq_advance(&ring, seen);
	}
	t_sender_join(&tx);
	/* the last fragment's two entries may not have been read yet */
	if (got != total || r.stats->refill_rejected + 1 < fragments)
		t_fail("%llu of %llu bytes, %llu fragments, %llu rejected",
		       (unsigned long long)got, (unsigned long long)total,
		       (unsigned long long)fragments,
		       (unsigned long long)r.stats->refill_rejected);
	printf("refill ring: %llu fragments through a one-buffer area, each returned twice: "
	       "%llu second returns rejected, the stream intact\n",
	       (unsigned long long)fragments, (unsigned long long)r.stats->refill_rejected);
	close(rfd);
	t_net_region_unmap(&r);
	t_region_unregister(&ring);
	io_uring_queue_exit(&ring);
}

int main(void)
{
	unsigned i;

	nsim_ifindex = nsim_create();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	nsim_delete();
	printf("registration: %u invalid network bindings refused with their errno, nothing left behind\n",
	       (unsigned)(sizeof(cases) / sizeof(cases[0])));
	valid_then_gone();
	op_errors();
	refill_garbage();
	refill_double();
	return T_EXIT_PASS;
}
