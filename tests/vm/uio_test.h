/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the guest-side tests. Exit codes follow liburing's tests:
 * 0 pass, 1 fail, 77 skip (only when the kernel lacks what the test needs).
 */
#ifndef UIO_TEST_H
#define UIO_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/io_uring.h>	/* the patched kernel's uAPI, before liburing's copy */
#include <linux/io_uring/query.h>
#include <liburing.h>

enum { T_EXIT_PASS = 0, T_EXIT_FAIL = 1, T_EXIT_SKIP = 77 };

static inline void __attribute__((noreturn, format(printf, 3, 4)))
t_fail_at(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(T_EXIT_FAIL);
}

/* a macro only to capture the caller's file and line */
#define t_fail(...) t_fail_at(__FILE__, __LINE__, __VA_ARGS__)

static inline void __attribute__((noreturn)) t_skip(const char *why)
{
	printf("SKIP: %s\n", why);
	exit(T_EXIT_SKIP);
}

/* deterministic byte pattern for offset @off of stream @seed */
static inline uint8_t t_pattern(uint64_t seed, uint64_t off)
{
	uint64_t x = (seed + 1) * 0x9e3779b97f4a7c15ULL + (off / 8);

	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 32;
	return (uint8_t)(x >> ((off % 8) * 8));
}

static inline void t_fill(void *buf, size_t len, uint64_t seed, uint64_t off)
{
	uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		p[i] = t_pattern(seed, off + i);
}

/* returns the index of the first mismatching byte, or -1 */
static inline long t_verify(const void *buf, size_t len, uint64_t seed, uint64_t off)
{
	const uint8_t *p = buf;

	for (size_t i = 0; i < len; i++)
		if (p[i] != t_pattern(seed, off + i))
			return (long)i;
	return -1;
}

/* runs one IORING_REGISTER_QUERY entry without a ring; returns hdr.result */
static inline int t_query(uint32_t op, void *data, uint32_t size)
{
	struct io_uring_query_hdr hdr = {
		.query_data = (uint64_t)(uintptr_t)data,
		.query_op = op,
		.size = size,
	};
	int ret = io_uring_register(-1, IORING_REGISTER_QUERY, &hdr, 0);

	if (ret < 0)
		return ret;
	return hdr.result;
}

#endif
