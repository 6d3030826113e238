/* SPDX-License-Identifier: MIT */
/*
 * What receiving into the same memory costs in RLIMIT_MEMLOCK (the charge
 * io_uring makes without CAP_IPC_LOCK), side by side:
 *  - the unified region with a device-less network binding: one registration,
 *    one charge of the region;
 *  - upstream 7.3: the memory registered as a fixed buffer and again as the
 *    area of a device-less zcrx instance: two pins, two charges.
 * Prints the table the README records; fails unless the region is charged
 * once and the upstream way twice.
 */
#include <sys/resource.h>
#include "net_test.h"

#define DATA (1u << 20)
#define LIMIT (8u << 20)

static uint8_t *scratch;

static unsigned headroom(struct io_uring *ring)
{
	return t_memlock_headroom(ring, scratch, LIMIT / T_PAGE);
}

static unsigned unified_charge(struct io_uring *probe, unsigned before)
{
	struct t_net_region r;
	struct io_uring ring;
	unsigned charged;

	t_net_ring(&ring);
	t_net_region_defaults(&r, DATA, 0, 64);
	if (t_net_region_register(&ring, &r))
		t_fail("region with a network binding");
	charged = before - headroom(probe);
	t_net_region_unmap(&r);
	io_uring_queue_exit(&ring);
	return charged;
}

static unsigned upstream_charge(struct io_uring *probe, unsigned before)
{
	void *mem = mmap(NULL, DATA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec iov = { mem, DATA };
	struct io_uring_region_desc rq_rd = { .size = 2 * T_PAGE };
	struct io_uring_zcrx_area_reg area = { .addr = (uint64_t)(uintptr_t)mem, .len = DATA };
	struct io_uring_zcrx_ifq_reg zreg = {
		.rq_entries = 64, .flags = ZCRX_REG_NODEV,
		.area_ptr = (uint64_t)(uintptr_t)&area,
		.region_ptr = (uint64_t)(uintptr_t)&rq_rd,
	};
	struct io_uring ring;
	unsigned charged;
	int ret;

	if (mem == MAP_FAILED || t_net_ring_init(&ring, 64, 0))
		t_fail("setup");
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret)
		t_fail("fixed buffer: %d", ret);
	ret = io_uring_register(ring.ring_fd, IORING_REGISTER_ZCRX_IFQ, &zreg, 1);
	if (ret)
		t_fail("zcrx area on the same memory: %d", ret);
	charged = before - headroom(probe);
	io_uring_queue_exit(&ring);
	munmap(mem, DATA);
	return charged;
}

int main(void)
{
	const unsigned data_pages = DATA / T_PAGE;
	struct rlimit rl = { LIMIT, LIMIT };
	unsigned before, unified, upstream;
	struct io_uring probe;

	scratch = mmap(NULL, LIMIT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	if (scratch == MAP_FAILED || setrlimit(RLIMIT_MEMLOCK, &rl))
		t_fail("setup: %s", strerror(errno));
	t_drop_cap(CAP_IPC_LOCK);
	t_ring_init(&probe, 8, 0, 0);
	before = headroom(&probe);

	unified = unified_charge(&probe, before);
	/* the region's ring is closed: wait for its charges to come back */
	if (t_memlock_settled(&probe, scratch, LIMIT / T_PAGE) != before)
		t_fail("the region's charges were not returned");
	upstream = upstream_charge(&probe, before);
	printf("RLIMIT_MEMLOCK charged to receive into %u data pages (device-less binding):\n",
	       data_pages);
	printf("  %-44s %5u pages  (%.2f x data)\n", "unified region + network binding",
	       unified, (double)unified / data_pages);
	printf("  %-44s %5u pages  (%.2f x data)\n", "upstream: fixed buffer + zcrx area",
	       upstream, (double)upstream / data_pages);
	if (unified < data_pages || unified >= 2 * data_pages)
		t_fail("the region was not charged once: %u pages", unified);
	if (upstream < 2 * data_pages)
		t_fail("the upstream way charged %u pages, expected two charges", upstream);
	if (t_memlock_settled(&probe, scratch, LIMIT / T_PAGE) != before)
		t_fail("the upstream way's charges were not returned");
	return T_EXIT_PASS;
}
