// SPDX-License-Identifier: GPL-2.0
/*
 * Must not load: a TCP congestion control (another struct_ops type, no ring
 * anywhere) that calls the BPF stage's kfunc with a context of its own.
 */
#include "uio_bpf.h"

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/uio_foreign_ssthresh")
__u32 BPF_PROG(uio_foreign_ssthresh, struct sock *sk)
{
	__u64 fake[8] = { 0, 4096, 0, 0xffffffff81000000ull };
	__u8 *p = bpf_io_uring_unified_ptr((struct iou_unified_ctx *)fake, 0, 8);

	return p ? p[0] : 2;
}

SEC(".struct_ops.link")
struct tcp_congestion_ops uio_foreign = {
	.ssthresh = (void *)uio_foreign_ssthresh,
	.name = "uio_foreign",
};
