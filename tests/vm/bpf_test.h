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
#include <bpf/btf.h>
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

/*
 * One verified program attached to ring after ring without verifying it
 * again. A struct_ops map's value names its ring (ring_fd) and is set only
 * once, so each ring gets a map of its own, made as libbpf's
 * bpf_object__load() makes one, around the program libbpf loaded once; a
 * link (bpf_link_create()) then attaches it, as
 * bpf_map__attach_struct_ops() does.
 */
struct t_shared_prog {
	int prog_fd;		/* the loaded unified_op program */
	int btf_fd;		/* its object's BTF, which a struct_ops map must name */
	uint32_t value_type_id;	/* the kernel's struct bpf_struct_ops_io_uring_bpf_ops */
	uint32_t value_size, map_flags;
	uint32_t op_off, fd_off;	/* unified_op and ring_fd in the map's value */
};

/* the byte offset of member @name of @t in vmlinux's BTF, or -1 */
static inline long t_btf_member_off(const struct btf *btf, const struct btf_type *t,
				    const char *name, uint32_t *type)
{
	const struct btf_member *m = btf_members(t);

	for (unsigned i = 0; i < btf_vlen(t); i++, m++)
		if (!strcmp(btf__name_by_offset(btf, m->name_off), name)) {
			if (type)
				*type = m->type;
			return btf_member_bit_offset(t, i) / 8;
		}
	return -1;
}

/* what attaching the unified_op program of @obj, loaded, to other rings needs */
static inline void t_shared_prog_init(struct t_shared_prog *sp, struct bpf_object *obj)
{
	struct bpf_map_info info = { 0 };
	uint32_t info_len = sizeof(info), data_type;
	struct bpf_program *prog = NULL, *p;
	const struct bpf_map *map, *st = NULL;
	const struct btf_type *t;
	struct btf *btf;
	long data, op, fd;

	bpf_object__for_each_map(map, obj)
		if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
			st = map;
	bpf_object__for_each_program(p, obj)
		prog = p;
	if (!st || !prog || bpf_map_get_info_by_fd(bpf_map__fd(st), &info, &info_len))
		t_fail("the loaded program's struct_ops map");
	btf = btf__load_vmlinux_btf();
	if (!btf)
		t_fail("vmlinux BTF: %s", strerror(errno));
	t = btf__type_by_id(btf, info.btf_vmlinux_value_type_id);
	data = t ? t_btf_member_off(btf, t, "data", &data_type) : -1;
	t = data >= 0 ? btf__type_by_id(btf, data_type) : NULL;
	op = t ? t_btf_member_off(btf, t, "unified_op", NULL) : -1;
	fd = t ? t_btf_member_off(btf, t, "ring_fd", NULL) : -1;
	btf__free(btf);
	if (op < 0 || fd < 0 || info.value_size > 256)
		t_fail("io_uring_bpf_ops in the kernel's BTF");
	*sp = (struct t_shared_prog){
		.prog_fd = bpf_program__fd(prog),
		.btf_fd = bpf_object__btf_fd(obj),
		.value_type_id = info.btf_vmlinux_value_type_id,
		.value_size = info.value_size,
		.map_flags = info.map_flags,
		.op_off = (uint32_t)(data + op),
		.fd_off = (uint32_t)(data + fd),
	};
}

/* a struct_ops map of @sp's program whose value names @ring_fd: a link to it attaches it */
static inline int t_shared_prog_map(const struct t_shared_prog *sp, int ring_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .btf_fd = (uint32_t)sp->btf_fd,
		    .btf_vmlinux_value_type_id = sp->value_type_id, .map_flags = sp->map_flags);
	uint8_t value[256] = { 0 };
	uint64_t prog = (uint64_t)sp->prog_fd;	/* the kernel reads an unsigned long */
	uint32_t fd = (uint32_t)ring_fd, zero = 0;
	int map_fd;

	memcpy(value + sp->op_off, &prog, sizeof(prog));
	memcpy(value + sp->fd_off, &fd, sizeof(fd));
	map_fd = bpf_map_create(BPF_MAP_TYPE_STRUCT_OPS, "uio_test_ops", sizeof(zero),
				sp->value_size, 1, &opts);
	if (map_fd < 0)
		t_fail("struct_ops map: %s", strerror(errno));
	if (bpf_map_update_elem(map_fd, &zero, value, 0))
		t_fail("struct_ops map value: %s", strerror(errno));
	return map_fd;
}

/* @setup for bpf/checksum.bpf.c: its CRC table */
static inline void t_bpf_setup_crc(void *rodata, size_t size)
{
	if (size < sizeof(t_crc_table))
		t_fail("checksum program's rodata is %zu bytes", size);
	memcpy(rodata, t_crc_table, sizeof(t_crc_table));
}

#endif
