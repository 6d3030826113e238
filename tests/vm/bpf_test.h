/* SPDX-License-Identifier: MIT */
/*
 * Helpers for guest programs that use the BPF stage: loading a program of
 * bpf/ (from /tests) as a ring's io_uring_bpf_ops with libbpf, the verifier's
 * words when it refuses one, and the CRC32C that bpf/checksum.bpf.c computes.
 */
#ifndef UIO_BPF_TEST_H
#define UIO_BPF_TEST_H

#include <stdarg.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "uio_test.h"

static uint32_t t_crc_table[256];
/* what libbpf printed while the last t_bpf_load() loaded, the verifier's log included */
static char t_bpf_log[65536];
static size_t t_bpf_log_len;

static int t_bpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	if (t_bpf_log_len < sizeof(t_bpf_log))
		t_bpf_log_len += (size_t)vsnprintf(t_bpf_log + t_bpf_log_len,
						   sizeof(t_bpf_log) - t_bpf_log_len, fmt, ap);
	return 0;
}

/* the CRC32C table, and libbpf's messages into t_bpf_log */
static inline void t_bpf_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		t_crc_table[i] = c;
	}
	libbpf_set_print(t_bpf_print);
}

/* what the checksum program reports: CRC32C, low 31 bits */
static inline uint32_t t_crc31(const uint8_t *p, size_t len)
{
	uint32_t crc = ~0u;

	for (size_t i = 0; i < len; i++)
		crc = t_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return ~crc & 0x7fffffffu;
}

struct t_bpf_ops {
	struct bpf_object *obj;
	struct bpf_link *link;
};

/*
 * Opens /tests/@name.bpf.o, points its struct_ops map at @ring, lets @setup
 * fill its read-only data, loads and attaches it. Returns 0 or -errno.
 */
static inline int t_bpf_load(const char *name, struct io_uring *ring,
			     void (*setup)(void *rodata, size_t size), struct t_bpf_ops *out)
{
	struct bpf_map *map, *ops = NULL;
	char path[128];
	int ret;

	out->link = NULL;
	snprintf(path, sizeof(path), "/tests/%s.bpf.o", name);
	out->obj = bpf_object__open_file(path, NULL);
	if (!out->obj)
		return -errno;
	bpf_object__for_each_map(map, out->obj) {
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS) {
			ops = map;
		} else if (setup && strstr(bpf_map__name(map), ".rodata")) {
			size_t size;
			void *data = bpf_map__initial_value(map, &size);

			setup(data, size);
		}
	}
	if (!ops)
		t_fail("%s: no struct_ops map", name);
	{
		size_t size;
		char *data = bpf_map__initial_value(ops, &size);
		/* struct io_uring_bpf_ops: two function pointers, then ring_fd */
		uint32_t fd = (uint32_t)ring->ring_fd;

		memcpy(data + 2 * sizeof(void *), &fd, sizeof(fd));
	}
	t_bpf_log_len = 0;
	ret = bpf_object__load(out->obj);
	if (ret) {
		bpf_object__close(out->obj);
		return ret;
	}
	out->link = bpf_map__attach_struct_ops(ops);
	if (!out->link) {
		ret = -errno;
		bpf_object__close(out->obj);
		return ret;
	}
	return 0;
}

/*
 * Opens and loads /tests/@name.bpf.o, of any struct_ops type, without
 * attaching it: 0 or the error; the verifier's words are in t_bpf_log.
 */
static inline int t_bpf_try_load(const char *name)
{
	struct bpf_object *obj;
	char path[128];
	int ret;

	snprintf(path, sizeof(path), "/tests/%s.bpf.o", name);
	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return -errno;
	t_bpf_log_len = 0;
	ret = bpf_object__load(obj);
	bpf_object__close(obj);
	return ret;
}

static inline void t_bpf_unload(struct t_bpf_ops *ops)
{
	bpf_link__destroy(ops->link);
	bpf_object__close(ops->obj);
}

/* @setup for bpf/checksum.bpf.c: its CRC table */
static inline void t_bpf_setup_crc(void *rodata, size_t size)
{
	if (size < sizeof(t_crc_table))
		t_fail("checksum program's rodata is %zu bytes", size);
	memcpy(rodata, t_crc_table, sizeof(t_crc_table));
}

#endif
