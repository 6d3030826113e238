/* SPDX-License-Identifier: MIT */
/*
 * RLIMIT_MEMLOCK accounting without CAP_IPC_LOCK: a region costs exactly one
 * charge of its size (data area plus ring pages), a region that fits the
 * limit registers and one page more fails with -ENOMEM, and unregistering
 * returns the whole charge.
 */
#include <sys/resource.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include "uio_test.h"

#define LIMIT (4u << 20)
#define PAGE 4096u

static uint8_t *scratch;

static void drop_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		t_fail("capget: %s", strerror(errno));
	data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &hdr, data))
		t_fail("capset: %s", strerror(errno));
}

/* pages still chargeable to this user: the largest fixed buffer that registers */
static unsigned headroom(struct io_uring *ring)
{
	unsigned lo = 0, hi = LIMIT / PAGE + 1;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;
		struct iovec iov = { scratch, (size_t)mid * PAGE };
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
	drop_ipc_lock();
	t_ring_init(&ring, 8, 0, 0);

	before = headroom(&ring);
	if (before == 0 || before > LIMIT / PAGE)
		t_fail("headroom %u pages", before);

	/* ring headers and descriptors: what a one-page data area adds */
	if (register_region(&ring, 1, &total) || t_region_unregister(&ring))
		t_fail("probe registration");
	meta = total - 1;

	/*
	 * A power-of-two total, so that kernel memory allocated as one compound
	 * page (which io_create_region() charges whole) is charged exactly its size.
	 */
	ret = register_region(&ring, 256 - meta, &total);
	if (ret || total != 256)
		t_fail("register a 256-page region: %d, %llu pages", ret, (unsigned long long)total);
	during = headroom(&ring);
	printf("headroom %u pages; a region of %llu pages (%u data) leaves %u: charged %u pages\n",
	       before, (unsigned long long)total, 256 - meta, during, before - during);
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
