/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared by uio's BPF programs: the kfunc that reaches an op's span, and a
 * walk over the span window by window (the verifier bounds each window's
 * pointer by its constant size, and bpf_loop() bounds the walk).
 */
#ifndef UIO_BPF_H
#define UIO_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

extern __u8 *bpf_io_uring_unified_ptr(struct iou_unified_ctx *uctx, __u32 offset,
				      const size_t rdwr_buf_size) __ksym;

/* the window a program sees at a time; spans are walked in these */
#define UIO_WINDOW 64

#define EBADMSG 74

#endif
