/* SPDX-License-Identifier: MIT */
/*
 * Register a unified region, map it, and move data between it and a file
 * with READ_FIXED/WRITE_FIXED addressed by region offset; spans cross page
 * boundaries and end at the region's last byte. Also: the layout written
 * back, the one-region-per-ring rule, mappings outliving unregistration, and
 * user-provided (hugetlb) memory.
 */
#include <fcntl.h>
#include "uio_test.h"

#define REGION_SIZE (1u << 20)

static void check_layout(const struct io_uring_unified_region_reg *reg,
			 const struct io_uring_region_desc *rd, const uint8_t *map)
{
	const struct io_unified_region_offsets *o = &reg->offsets;
	const struct io_unified_ring_hdr *sq = (const void *)(map + o->sq_ring);
	const struct io_unified_ring_hdr *cq = (const void *)(map + o->cq_ring);

	if (o->data != 0 || o->sq_ring < reg->region_size || o->cq_ring < o->sq_ring + sizeof(struct io_unified_ring_hdr))
		t_fail("layout: data %llu sq_ring %llu cq_ring %llu", (unsigned long long)o->data,
		       (unsigned long long)o->sq_ring, (unsigned long long)o->cq_ring);
	if (o->sq_descs % 4096 || o->cq_descs % 4096 || o->size % 4096 ||
	    o->cq_descs < o->sq_descs + reg->sq_entries * sizeof(struct io_unified_desc) ||
	    o->size < o->cq_descs + reg->cq_entries * sizeof(struct io_unified_desc))
		t_fail("layout: descriptor arrays misplaced");
	if (rd->size != o->size || !rd->mmap_offset)
		t_fail("region desc: size %llu mmap_offset %#llx", (unsigned long long)rd->size,
		       (unsigned long long)rd->mmap_offset);
	if (sq->ring_entries != reg->sq_entries || sq->ring_mask != reg->sq_entries - 1 ||
	    cq->ring_entries != reg->cq_entries || cq->ring_mask != reg->cq_entries - 1 ||
	    sq->head || sq->tail || cq->head || cq->tail)
		t_fail("ring headers not initialised");
}

static int rw_fixed(struct io_uring *ring, bool write, int fd, uint64_t region_off,
		    unsigned len, uint64_t file_off, unsigned buf_index)
{
	struct io_uring_sqe *sqe = t_get_sqe(ring);

	/* for fixed buffers of a unified region, the "address" is the region offset */
	if (write)
		io_uring_prep_write_fixed(sqe, fd, (void *)(uintptr_t)region_off, len,
					  file_off, buf_index);
	else
		io_uring_prep_read_fixed(sqe, fd, (void *)(uintptr_t)region_off, len,
					 file_off, buf_index);
	return t_submit_one(ring);
}

/* spans: start of the region, across a page boundary, an odd span, the tail */
static const struct { uint64_t off; unsigned len; } spans[] = {
	{ 0, 4096 },
	{ 4096 - 100, 300 },
	{ 3 * 4096 + 1, 3 * 4096 + 17 },
	{ REGION_SIZE - 5000, 5000 },
	{ REGION_SIZE - 1, 1 },
	{ 0, REGION_SIZE },
};

static void roundtrip(struct io_uring *ring, uint8_t *data, uint64_t size, unsigned buf_index)
{
	uint8_t *check = malloc(size);
	int fd = open("/tmp/region_basic", O_RDWR | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || !check)
		t_fail("setup: %s", strerror(errno));
	for (unsigned i = 0; i < sizeof(spans) / sizeof(spans[0]); i++) {
		uint64_t off = spans[i].off;
		unsigned len = spans[i].len;
		int ret;
		long bad;

		/* region -> file */
		t_fill(data + off, len, i, 0);
		ret = rw_fixed(ring, true, fd, off, len, 0, buf_index);
		if (ret != (int)len)
			t_fail("WRITE_FIXED span %u (%llu+%u): %d", i, (unsigned long long)off, len, ret);
		if (pread(fd, check, len, 0) != len)
			t_fail("pread: %s", strerror(errno));
		bad = t_verify(check, len, i, 0);
		if (bad >= 0)
			t_fail("span %u: file differs from region at byte %ld", i, bad);

		/* file -> region */
		t_fill(check, len, i + 100, 0);
		if (pwrite(fd, check, len, 0) != len)
			t_fail("pwrite: %s", strerror(errno));
		memset(data + off, 0, len);
		ret = rw_fixed(ring, false, fd, off, len, 0, buf_index);
		if (ret != (int)len)
			t_fail("READ_FIXED span %u: %d", i, ret);
		bad = t_verify(data + off, len, i + 100, 0);
		if (bad >= 0)
			t_fail("span %u: region differs from file at byte %ld", i, bad);
	}
	/* one byte past the end of the data area is not part of the buffer */
	if (rw_fixed(ring, true, fd, size - 4096, 4097, 0, buf_index) != -EFAULT)
		t_fail("span past the data area was accepted");
	close(fd);
	free(check);
}

static void kernel_memory(void)
{
	struct io_uring_unified_region_reg reg, reg2;
	struct io_uring_region_desc rd, rd2;
	struct io_uring ring;
	uint8_t *map;
	int fd, ret;

	t_ring_init(&ring, 8, 0, 4);
	t_region_defaults(&reg, &rd, REGION_SIZE, 2);
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register: %d (%s)", ret, strerror(-ret));
	map = t_region_map(&ring, &reg, &rd);
	check_layout(&reg, &rd, map);
	roundtrip(&ring, map, REGION_SIZE, 2);

	/* one region per ring */
	t_region_defaults(&reg2, &rd2, REGION_SIZE, 3);
	ret = t_region_register(&ring, &reg2);
	if (ret != -EBUSY)
		t_fail("second region: %d, want -EBUSY", ret);

	/* the mapping outlives the registration; the buffer slot does not */
	t_fill(map, 4096, 7, 0);
	ret = t_region_unregister(&ring);
	if (ret)
		t_fail("unregister: %d", ret);
	if (t_verify(map, 4096, 7, 0) >= 0)
		t_fail("mapping changed after unregister");
	fd = open("/tmp/region_basic", O_RDWR);
	if (rw_fixed(&ring, true, fd, 0, 4096, 0, 2) != -EFAULT)
		t_fail("buffer slot still usable after unregister");
	close(fd);
	ret = t_region_unregister(&ring);
	if (ret != -ENXIO)
		t_fail("second unregister: %d, want -ENXIO", ret);

	/* and the slot and the ring are free for a new region */
	t_region_defaults(&reg, &rd, REGION_SIZE, 2);
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("re-register: %d", ret);
	munmap(map, reg.offsets.size);
	io_uring_queue_exit(&ring);
	printf("kernel memory: %u-byte region registered, mapped, %zu spans moved both ways\n",
	       REGION_SIZE, sizeof(spans) / sizeof(spans[0]));
}

/* user memory backed by a 2 MiB huge page: the application's own mapping is the region */
static void user_memory(void)
{
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct io_uring ring;
	size_t len = 2u << 20;
	uint8_t *mem;
	int ret;

	mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (mem == MAP_FAILED)
		t_fail("hugetlb mmap: %s", strerror(errno));
	t_ring_init(&ring, 8, 0, 1);
	t_region_defaults(&reg, &rd, REGION_SIZE, 0);
	rd.flags = IORING_MEM_REGION_TYPE_USER;
	rd.user_addr = (uint64_t)(uintptr_t)mem;
	rd.size = len;
	ret = t_region_register(&ring, &reg);
	if (ret)
		t_fail("register user memory: %d", ret);
	if (rd.mmap_offset)
		t_fail("user memory got an mmap offset");
	roundtrip(&ring, mem, REGION_SIZE, 0);

	/* too small for the layout */
	io_uring_queue_exit(&ring);
	t_ring_init(&ring, 8, 0, 1);
	t_region_defaults(&reg, &rd, len, 0);
	rd.flags = IORING_MEM_REGION_TYPE_USER;
	rd.user_addr = (uint64_t)(uintptr_t)mem;
	rd.size = len;
	ret = t_region_register(&ring, &reg);
	if (ret != -EINVAL)
		t_fail("user memory without room for the rings: %d, want -EINVAL", ret);
	io_uring_queue_exit(&ring);
	munmap(mem, len);
	printf("user memory: 2 MiB huge page registered as the region, spans moved both ways\n");
}

int main(void)
{
	kernel_memory();
	user_memory();
	return T_EXIT_PASS;
}
