/* SPDX-License-Identifier: MIT */
/*
 * Throughput of the BPF stage against userspace, side by side in one run:
 * CRC32C over the same 1 MiB of a unified region, computed by bpf/checksum's
 * program as IORING_OP_UNIFIED's BPF stage (BPF alone, no device) and by the
 * same table-driven algorithm in C in this process. Prints both and their
 * ratio; fails below the target of 0.3x. Runs in the VM (the patched kernel),
 * where both sides run under the same emulation.
 */
#include <time.h>
#include <bpf/libbpf.h>
#include "../tests/vm/uio_test.h"

#define SPAN (1u << 20)
#define ROUNDS 16
#define TARGET 0.3

static uint32_t table[256];

static uint32_t crc31(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;

	for (size_t i = 0; i < len; i++)
		crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc & 0x7fffffffu;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32,
	};
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct bpf_object *obj;
	struct bpf_map *map, *ops = NULL;
	struct bpf_link *link;
	struct io_uring ring;
	double t_bpf = 0, t_user = 0;
	volatile uint32_t sink = 0;
	uint8_t *region;

	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		table[i] = c;
	}
	if (io_uring_queue_init_params(8, &ring, &p) || io_uring_register_buffers_sparse(&ring, 1))
		t_fail("ring");
	t_region_defaults(&reg, &rd, SPAN, 0);
	if (t_region_register(&ring, &reg))
		t_fail("region");
	region = t_region_map(&ring, &reg, &rd);
	t_fill(region, SPAN, 1, 0);

	obj = bpf_object__open_file("/tests/checksum.bpf.o", NULL);
	if (!obj)
		t_fail("open checksum.bpf.o");
	bpf_object__for_each_map(map, obj) {
		size_t size;
		void *data = bpf_map__initial_value(map, &size);

		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS) {
			uint32_t fd = (uint32_t)ring.ring_fd;

			ops = map;	/* io_uring_bpf_ops: two function pointers, then ring_fd */
			memcpy((char *)data + 2 * sizeof(void *), &fd, sizeof(fd));
		} else if (strstr(bpf_map__name(map), ".rodata")) {
			memcpy(data, table, sizeof(table));
		}
	}
	if (!ops || bpf_object__load(obj) || !(link = bpf_map__attach_struct_ops(ops)))
		t_fail("load checksum");

	for (int r = 0; r < ROUNDS; r++) {
		struct io_uring_cqe *cqe;
		struct io_uring_sqe *sqe = t_get_sqe(&ring);
		double t0 = now();

		t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BPF, 0, SPAN, 0);
		if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_wait_cqe(&ring, &cqe))
			t_fail("op");
		t_bpf += now() - t0;
		if (cqe->res != SPAN || (uint32_t)(cqe->big_cqe[1] >> 32) != crc31(region, SPAN))
			t_fail("the kernel's checksum differs");
		io_uring_cqe_seen(&ring, cqe);

		t0 = now();
		sink ^= crc31(region, SPAN);
		t_user += now() - t0;
	}
	{
		double mb = (double)SPAN * ROUNDS / 1e6, ratio = t_user / t_bpf;

		printf("CRC32C over 1 MiB of the region, %d rounds, side by side:\n", ROUNDS);
		printf("  BPF stage (IORING_OP_UNIFIED, BPF alone)  %8.1f MB/s\n", mb / t_bpf);
		printf("  userspace C, same table algorithm          %8.1f MB/s\n", mb / t_user);
		printf("  ratio BPF / userspace                      %8.2f x (target >= %.1f x)\n", ratio, TARGET);
		if (ratio < TARGET)
			t_fail("the BPF stage is below its throughput target");
	}
	bpf_link__destroy(link);
	bpf_object__close(obj);
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
