/* SPDX-License-Identifier: MIT */
/*
 * Throughput of the BPF stage against userspace, side by side in one run:
 * CRC32C over the same 1 MiB of a unified region, computed by bpf/checksum's
 * program as IORING_OP_UNIFIED's BPF stage (BPF alone, no device) and by the
 * same table-driven algorithm in C in this process. Prints both and their
 * ratio; fails below the target of 0.3x. Runs in the VM (the patched kernel),
 * where both sides run under the same emulation.
 */
#include "../tests/vm/bpf_test.h"

#define SPAN (1u << 20)
#define ROUNDS 16
#define TARGET 0.3

int main(void)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQE32,
	};
	struct io_uring_unified_region_reg reg;
	struct io_uring_region_desc rd;
	struct t_bpf_ops ops;
	struct io_uring ring;
	double t_bpf = 0, t_user = 0;
	volatile uint32_t sink = 0;
	uint8_t *region;

	t_bpf_init();
	if (io_uring_queue_init_params(8, &ring, &p) || io_uring_register_buffers_sparse(&ring, 1))
		t_fail("ring");
	t_region_defaults(&reg, &rd, SPAN, 0);
	if (t_region_register(&ring, &reg))
		t_fail("region");
	region = t_region_map(&ring, &reg, &rd);
	t_fill(region, SPAN, 1, 0);

	if (t_bpf_load("checksum", &ring, t_bpf_setup_crc, &ops))
		t_fail("load checksum:\n%s", t_bpf_log);

	for (int r = 0; r < ROUNDS; r++) {
		struct io_uring_cqe *cqe;
		struct io_uring_sqe *sqe = t_get_sqe(&ring);
		double t0 = t_now();

		t_prep_unified(sqe, -1, IORING_UNIFIED_OP_BPF, 0, SPAN, 0);
		if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_wait_cqe(&ring, &cqe))
			t_fail("op");
		t_bpf += t_now() - t0;
		if (cqe->res != SPAN || (uint32_t)(cqe->big_cqe[1] >> 32) != t_crc31(region, SPAN))
			t_fail("the kernel's checksum differs");
		io_uring_cqe_seen(&ring, cqe);

		t0 = t_now();
		sink ^= t_crc31(region, SPAN);
		t_user += t_now() - t0;
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
	t_bpf_unload(&ops);
	io_uring_queue_exit(&ring);
	return T_EXIT_PASS;
}
