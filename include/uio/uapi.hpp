// SPDX-License-Identifier: MIT
// The unified-region uAPI of the uio kernel series, for programs built against
// headers that predate it (liburing's copy of io_uring.h, a distribution's
// linux-libc-dev). Values and layouts mirror include/uapi/linux/io_uring.h of
// the series; when the patched header is the one in use, they are checked
// against it at compile time.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

namespace uio::uapi {

// register opcodes and the request opcode
inline constexpr unsigned register_unified_region = 38;
inline constexpr unsigned unregister_unified_region = 39;  // IORING_UNREGISTER_UNIFIED_REGION
inline constexpr std::uint8_t op_unified = 65;  // IORING_OP_UNIFIED
inline constexpr std::uint32_t query_unified_op = 4;  // IO_URING_QUERY_UNIFIED

// struct io_uring_unified_region_reg::flags
inline constexpr std::uint32_t reg_fixed_buf = 1u << 0;
inline constexpr std::uint32_t reg_net_nodev = 1u << 1;  // IORING_UNIFIED_REG_NET_NODEV: device-less network binding

// stage flags, in sqe->off and io_unified_desc::op_flags
inline constexpr std::uint32_t op_nvme = 1u << 0;
inline constexpr std::uint32_t op_net = 1u << 1;  // IORING_UNIFIED_OP_NET: the network stage
inline constexpr std::uint32_t op_bpf = 1u << 2;  // IORING_UNIFIED_OP_BPF: the BPF stage
// IORING_UNIFIED_OP_WRITE: outbound (BPF first, then the data leaves)
inline constexpr std::uint32_t op_write = 1u << 3;
inline constexpr std::uint32_t op_batch = 1u << 4;  // IORING_UNIFIED_OP_BATCH: consume the submission ring
// the storage stage over a list of data-area spans (sqe->addr: the list,
// sqe->len: how many), one bio chain into one device range
inline constexpr std::uint32_t op_vec = 1u << 5;
inline constexpr std::uint32_t vec_max_spans = 1024;  // the most spans one op_vec takes

// IORING_UNIFIED_DESC_FIXED_FILE: a descriptor's fd is a registered file's index
inline constexpr std::uint32_t desc_fixed_file = 1u << 0;
inline constexpr std::uint32_t desc_drain = 1u << 1;  // after the batch's earlier descriptors

// IORING_MEM_REGION_TYPE_USER of struct io_uring_region_desc
inline constexpr std::uint32_t mem_region_type_user = 1;

// struct io_unified_region_offsets (output of the registration): where each
// part of the region is in its mapping.
struct region_offsets {
    // offsets in the mapping of the data area (0), the submission and completion
    // ring headers, their descriptors, the refill ring's header and entries; size:
    // the whole mapping's bytes
    std::uint64_t data, sq_ring, cq_ring, sq_descs, cq_descs, rq_ring, rqes, size;
};

// struct io_uring_unified_region_reg: the argument of
// IORING_REGISTER_UNIFIED_REGION.
struct region_reg {
    std::uint32_t sq_entries;  // submission descriptors, power of two
    std::uint32_t cq_entries;  // completion descriptors, power of two
    std::uint64_t region_size;  // bytes of the data area, page multiple
    std::int32_t nvme_fd;  // NVMe namespace to bind, -1 for none
    std::uint32_t net_ifindex;  // netdev whose rx queue receives into the region
    std::uint64_t region_ptr;  // struct io_uring_region_desc *
    std::uint32_t flags;  // reg_* flags
    std::uint32_t buf_index;  // fixed buffer slot, with reg_fixed_buf
    std::uint32_t net_rxq;  // rx queue of net_ifindex
    std::uint32_t rq_entries;  // refill ring entries, power of two; 0 without network
    std::uint64_t net_area_len;  // bytes of the data area given to the network, 0: all
    std::uint32_t resv1[2];  // reserved, 0
    region_offsets offsets;  // output: where the parts are
    std::uint64_t net_stats;  // output: offset of net_stats, 0 without network
    std::uint32_t rq_head;    // output: refill ring head, from offsets.rq_ring
    std::uint32_t rq_tail;    // output: refill ring tail, from offsets.rq_ring
    std::uint64_t resv[2];  // reserved, 0
};

// struct io_unified_net_stats: the network binding's state, in the mapping
// (the kernel writes, userspace reads).
struct net_stats {
    std::uint64_t copy_count;  // received chunks the kernel copied into the region
    std::uint64_t copy_bytes;  // bytes it copied
    std::uint64_t refill_rejected;  // refill entries ignored: bad offset, buffer not held
    std::uint64_t flags;  // net_dev_gone
    std::uint64_t resv[4];  // reserved, 0
};
// net_stats::flags: the bound queue's device was unregistered
inline constexpr std::uint64_t net_dev_gone = 1;

// head and tail on cache lines of their own: one side writes each
struct ring_hdr {
    std::uint32_t head;  // consumer index
    std::uint32_t ring_mask;  // ring_entries - 1
    std::uint32_t ring_entries;  // entries, a power of two
    std::uint32_t flags;  // reserved, 0
    std::uint32_t resv1[12];  // reserved: pads head's cache line
    std::uint32_t tail;  // producer index
    std::uint32_t resv2[15];  // reserved: pads tail's cache line
};

// struct io_unified_desc: one operation in the submission ring, its result
// in the completion ring.
struct desc {
    std::uint64_t user_data;  // copied to the result
    std::uint64_t addr;  // data-area offset
    std::uint64_t dev_off;  // device byte offset for the storage stage
    std::uint32_t len;  // bytes
    std::uint32_t op_flags;  // op_* stages; on completion the stages that ran
    std::int32_t fd;  // file, or registered file index
    std::int32_t res;  // completion: bytes moved or -errno
    std::uint64_t aux;  // completion: the BPF program's result
    std::uint32_t flags;  // desc_* flags
    std::uint32_t resv1;  // reserved, 0
    std::uint64_t resv2;  // reserved, 0
};

// struct io_unified_span: one span of an op_vec storage stage
struct span {
    std::uint64_t addr;  // data-area offset
    std::uint32_t len;   // bytes
    std::uint32_t resv;  // must be 0
};

// struct io_uring_query_unified: IO_URING_QUERY_UNIFIED's answer (query_unified()).
struct query_unified {
    std::uint64_t register_flags;  // reg_* flags the kernel accepts
    std::uint64_t op_flags;  // op_* stages IORING_OP_UNIFIED accepts
    std::uint32_t reg_size;  // sizeof(struct io_uring_unified_region_reg)
    std::uint32_t desc_size;  // sizeof(struct io_unified_desc)
    std::uint32_t max_ring_entries;  // the largest sq_entries, cq_entries and rq_entries
    std::uint32_t resv1;  // reserved, 0
    std::uint64_t resv2[2];  // reserved, 0
};

static_assert(sizeof(region_offsets) == 64);
static_assert(sizeof(region_reg) == 160 && offsetof(region_reg, offsets) == 64);
static_assert(sizeof(ring_hdr) == 128 && offsetof(ring_hdr, tail) == 64);
static_assert(sizeof(net_stats) == 64);
static_assert(sizeof(desc) == 64);
static_assert(sizeof(query_unified) == 48);
static_assert(sizeof(span) == 16 && offsetof(span, len) == 8);

#ifdef IORING_UNIFIED_OP_NVME  // the series' own header is in use: check the mirror
static_assert(op_unified == IORING_OP_UNIFIED);
static_assert(register_unified_region == IORING_REGISTER_UNIFIED_REGION);
static_assert(unregister_unified_region == IORING_UNREGISTER_UNIFIED_REGION);
static_assert(op_nvme == IORING_UNIFIED_OP_NVME && op_net == IORING_UNIFIED_OP_NET &&
              op_bpf == IORING_UNIFIED_OP_BPF && op_write == IORING_UNIFIED_OP_WRITE &&
              op_batch == IORING_UNIFIED_OP_BATCH);
static_assert(desc_fixed_file == IORING_UNIFIED_DESC_FIXED_FILE &&
              desc_drain == IORING_UNIFIED_DESC_DRAIN);
static_assert(reg_fixed_buf == IORING_UNIFIED_REG_FIXED_BUF &&
              reg_net_nodev == IORING_UNIFIED_REG_NET_NODEV);
static_assert(sizeof(region_reg) == sizeof(io_uring_unified_region_reg) &&
              offsetof(region_reg, offsets) == offsetof(io_uring_unified_region_reg, offsets) &&
              offsetof(region_reg, net_area_len) == offsetof(io_uring_unified_region_reg, net_area_len) &&
              offsetof(region_reg, net_stats) == offsetof(io_uring_unified_region_reg, net_stats) &&
              offsetof(region_reg, rq_tail) == offsetof(io_uring_unified_region_reg, rq_tail));
static_assert(sizeof(net_stats) == sizeof(io_unified_net_stats) &&
              offsetof(net_stats, refill_rejected) == offsetof(io_unified_net_stats, refill_rejected) &&
              offsetof(net_stats, flags) == offsetof(io_unified_net_stats, flags));
static_assert(net_dev_gone == IORING_UNIFIED_NET_F_DEV_GONE);
static_assert(sizeof(ring_hdr) == sizeof(io_unified_ring_hdr) &&
              offsetof(ring_hdr, tail) == offsetof(io_unified_ring_hdr, tail));
static_assert(sizeof(desc) == sizeof(io_unified_desc) &&
              offsetof(desc, res) == offsetof(io_unified_desc, res) &&
              offsetof(desc, aux) == offsetof(io_unified_desc, aux));
#endif
#ifdef IORING_UNIFIED_OP_VEC  // a series with the vectored storage stage
static_assert(op_vec == IORING_UNIFIED_OP_VEC);
static_assert(sizeof(span) == sizeof(io_unified_span) && offsetof(span, addr) == offsetof(io_unified_span, addr) &&
              offsetof(span, len) == offsetof(io_unified_span, len) &&
              offsetof(span, resv) == offsetof(io_unified_span, __resv));
#endif
#ifndef IORING_UNIFIED_OP_NVME
// liburing's copy of the uAPI: no check of its enum totals here (a newer
// liburing has more opcodes). Whether the running kernel speaks this uAPI is
// asked at run time: IO_URING_QUERY_UNIFIED must answer with these struct
// sizes (query_unified() in ring.hpp), or the native backend is not used.
#endif

// Upstream io_uring uAPI that uio uses and liburing's io_uring.h has only
// since releases newer than 2.9 (the oldest liburing uio builds against):
// zero-copy receive (zcrx, Linux 6.15; ZCRX_REG_NODEV and ZCRX_CTRL later),
// IORING_OP_WRITEV_FIXED (6.15) and IORING_REGISTER_QUERY (6.18). Kernel ABI,
// so carried here and used whatever the liburing; checked against liburing's
// own definitions where it has them. Whether the running kernel has each is
// asked at run time (an error from the kernel, never a silent fallback).
inline constexpr std::uint8_t op_recv_zc = 58;        // IORING_OP_RECV_ZC
inline constexpr std::uint8_t op_writev_fixed = 61;   // IORING_OP_WRITEV_FIXED
inline constexpr unsigned register_zcrx_ifq = 32;     // IORING_REGISTER_ZCRX_IFQ
inline constexpr unsigned register_query = 35;        // IORING_REGISTER_QUERY
inline constexpr unsigned register_zcrx_ctrl = 36;    // IORING_REGISTER_ZCRX_CTRL
inline constexpr std::uint32_t zcrx_reg_nodev = 2;    // ZCRX_REG_NODEV
inline constexpr std::uint32_t zcrx_ctrl_flush_rq = 0;  // ZCRX_CTRL_FLUSH_RQ
// IORING_ZCRX_AREA_MASK: the area id bits of a zcrx completion's offset
inline constexpr std::uint64_t zcrx_area_mask = ~((std::uint64_t{1} << 48) - 1);

// struct io_uring_zcrx_rqe: a refill ring entry, a buffer handed back
struct zcrx_rqe {
    std::uint64_t off;  // area token | offset of the buffer in the area
    std::uint32_t len;  // its length
    std::uint32_t pad;  // reserved, 0
};

// struct io_uring_zcrx_offsets: where the refill ring's parts are
struct zcrx_offsets {
    std::uint32_t head;  // offset of the ring's head
    std::uint32_t tail;  // offset of the ring's tail
    std::uint32_t rqes;  // offset of the entries
    std::uint32_t resv2;  // reserved, 0
    std::uint64_t resv[2];  // reserved, 0
};

// struct io_uring_zcrx_area_reg: the receive area of a zcrx instance
struct zcrx_area_reg {
    std::uint64_t addr;  // the area's start
    std::uint64_t len;  // its bytes
    std::uint64_t rq_area_token;  // output: the area's id bits, for refill entries
    std::uint32_t flags;  // IORING_ZCRX_AREA_* flags
    std::uint32_t dmabuf_fd;  // with IORING_ZCRX_AREA_DMABUF
    std::uint64_t resv2[2];  // reserved, 0
};

// struct io_uring_zcrx_ifq_reg: the argument of IORING_REGISTER_ZCRX_IFQ
struct zcrx_ifq_reg {
    std::uint32_t if_idx;  // the netdev, 0 with zcrx_reg_nodev
    std::uint32_t if_rxq;  // its rx queue
    std::uint32_t rq_entries;  // refill ring entries
    std::uint32_t flags;  // ZCRX_REG_* flags
    std::uint64_t area_ptr;    // struct io_uring_zcrx_area_reg *
    std::uint64_t region_ptr;  // struct io_uring_region_desc *
    zcrx_offsets offsets;  // output: the refill ring's layout
    std::uint32_t zcrx_id;  // output: the instance's id
    std::uint32_t rx_buf_len;  // requested receive buffer size, 0: the default
    std::uint64_t resv[3];  // reserved, 0
};

// struct zcrx_ctrl: the argument of IORING_REGISTER_ZCRX_CTRL
struct zcrx_ctrl {
    std::uint32_t zcrx_id;  // the instance
    std::uint32_t op;  // zcrx_ctrl_flush_rq, ...
    std::uint64_t resv[2];  // reserved, 0
    std::uint64_t data[6];  // the op's arguments (none for a flush)
};

// struct io_uring_query_hdr: one entry of IORING_REGISTER_QUERY
struct query_hdr {
    std::uint64_t next_entry;  // the next query_hdr, 0 for none
    std::uint64_t query_data;  // the query's struct
    std::uint32_t query_op;  // which query (IO_URING_QUERY_*)
    std::uint32_t size;  // bytes of query_data
    std::int32_t result;  // output: 0 or -errno
    std::uint32_t resv[3];  // reserved, 0
};

static_assert(sizeof(zcrx_rqe) == 16 && sizeof(zcrx_offsets) == 32 && sizeof(zcrx_area_reg) == 48);
static_assert(sizeof(zcrx_ifq_reg) == 96 && offsetof(zcrx_ifq_reg, offsets) == 32 &&
              offsetof(zcrx_ifq_reg, zcrx_id) == 64);
static_assert(sizeof(zcrx_ctrl) == 72 && sizeof(query_hdr) == 40);

#ifdef IORING_ZCRX_AREA_SHIFT  // liburing's io_uring.h has zcrx: check the copy
static_assert(zcrx_area_mask == IORING_ZCRX_AREA_MASK);
static_assert(op_recv_zc == IORING_OP_RECV_ZC && register_zcrx_ifq == IORING_REGISTER_ZCRX_IFQ);
static_assert(sizeof(zcrx_rqe) == sizeof(io_uring_zcrx_rqe) &&
              offsetof(zcrx_rqe, len) == offsetof(io_uring_zcrx_rqe, len));
static_assert(sizeof(zcrx_offsets) == sizeof(io_uring_zcrx_offsets) &&
              offsetof(zcrx_offsets, rqes) == offsetof(io_uring_zcrx_offsets, rqes));
static_assert(sizeof(zcrx_area_reg) == sizeof(io_uring_zcrx_area_reg) &&
              offsetof(zcrx_area_reg, rq_area_token) == offsetof(io_uring_zcrx_area_reg, rq_area_token));
// the receive's sqe->file_index is the field io_uring.h calls zcrx_ifq_idx
static_assert(offsetof(io_uring_sqe, zcrx_ifq_idx) == offsetof(io_uring_sqe, file_index));
static_assert(sizeof(zcrx_ifq_reg) == sizeof(io_uring_zcrx_ifq_reg) &&
              offsetof(zcrx_ifq_reg, offsets) == offsetof(io_uring_zcrx_ifq_reg, offsets) &&
              offsetof(zcrx_ifq_reg, zcrx_id) == offsetof(io_uring_zcrx_ifq_reg, zcrx_id));
#endif
#if !IO_URING_CHECK_VERSION(2, 15)  // liburing 2.15 has all of them
static_assert(op_writev_fixed == IORING_OP_WRITEV_FIXED && register_query == IORING_REGISTER_QUERY &&
              register_zcrx_ctrl == IORING_REGISTER_ZCRX_CTRL);
static_assert(zcrx_reg_nodev == ZCRX_REG_NODEV && zcrx_ctrl_flush_rq == ZCRX_CTRL_FLUSH_RQ);
static_assert(sizeof(zcrx_ctrl) == sizeof(::zcrx_ctrl) && offsetof(zcrx_ctrl, data) == offsetof(::zcrx_ctrl, zc_flush));
static_assert(sizeof(query_hdr) == sizeof(io_uring_query_hdr) &&
              offsetof(query_hdr, result) == offsetof(io_uring_query_hdr, result));
#endif

} // namespace uio::uapi
