/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_MEMLOCK accounting without CAP_IPC_LOCK: a region costs exactly one
 * charge of its size (data area plus ring pages), a region that fits the
 * limit registers and one page more fails with -ENOMEM, and unregistering
 * returns the whole charge.
 */
#include <sys/resource.h>
#include "uio_test.h"

#define LIMIT (4u << 20)
#define PAGE 4096u

static uint8_t *scratch;

static unsigned headroom(struct io_uring *ring)
{
	return t_memlock_headroom(ring, scratch, LIMIT / PAGE);
}

static int register_region(struct io_uring *ring, uint64_t data_pages, uint64_t *total_pages)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	int ret;

	t_region_defaults(&reg, &rd, data_pages * PAGE, 0);
	reg.flags = 0;
	ret = t_region_register(ring, &reg);
	if (total_pages)
		*total_pages = reg.offsets.size / PAGE;
	return ret;
}

int main(void)
{
	struct rlimit rl = { LIMIT, LIMIT };
	unsigned before, during, after, meta;
	uint64_t total;
	struct io_uring ring;
	int ret;

	scratch = mmap(NULL, LIMIT + PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (scratch == MAP_FAILED)
		t_fail("mmap");
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		t_fail("setrlimit: %s", strerror(errno));
	t_drop_cap(CAP_IPC_LOCK);
	t_ring_init(&ring, 8, 0, 0);

	before = headroom(&ring);
	if (before == 0 || before > LIMIT / PAGE)
		t_fail("headroom %u pages", before);

	/* ring headers and descriptors: what a one-page data area adds */
	if (register_region(&ring, 1, &total) || t_region_unregister(&ring))
		t_fail("probe registration");
	meta = total - 1;

	/*
	 * A power-of-two data area plus its ring pages: other io_uring regions
	 * would round that up to one compound allocation of twice the size and
	 * charge it whole; the unified region is charged exactly its pages.
	 */
	ret = register_region(&ring, 256, &total);
	if (ret || total != 256 + meta)
		t_fail("register a 256-page data area: %d, %llu pages", ret, (unsigned long long)total);
	during = headroom(&ring);
	printf("headroom %u pages; a region of %llu pages (256 data) leaves %u: charged %u pages\n",
	       before, (unsigned long long)total, during, before - during);
	if (before - during != total)
		t_fail("region of %llu pages charged %u pages, want exactly one charge",
		       (unsigned long long)total, before - during);
	if (t_region_unregister(&ring))
		t_fail("unregister");
	after = headroom(&ring);
	if (after != before)
		t_fail("headroom %u after unregister, was %u", after, before);

	/* exactly at the limit registers, one page more does not */
	ret = register_region(&ring, before - meta + 1, NULL);
	if (ret != -ENOMEM)
		t_fail("region one page over the limit: %d, want -ENOMEM", ret);
	ret = register_region(&ring, before - meta, &total);
	if (ret)
		t_fail("region of exactly the headroom (%u pages): %d", before, ret);
	if (headroom(&ring) != 0)
		t_fail("headroom left after filling it");
	if (t_region_unregister(&ring) || headroom(&ring) != before)
		t_fail("charge not returned after a full-limit region");

	io_uring_queue_exit(&ring);
	printf("one charge per region: %u-page region fits a %u-page headroom, %u pages fail with ENOMEM\n",
	       before, before, before + 1);
	return T_EXIT_PASS;
}
