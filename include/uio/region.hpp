// SPDX-License-Identifier: MIT
// uio::UnifiedRegion: one memory region registered with a ring, seen as spans,
// addressed by fixed-buffer ops and moved to and from storage - on a kernel with
// the uio series (native backend) or on a stock kernel (compat backend).
#pragma once

#include <liburing.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <bit>
#include <type_traits>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "error.hpp"
#include "ops.hpp"
#include "ring.hpp"
#include "uapi.hpp"

namespace uio {

// How a region is registered (UnifiedRegion::backend()).
enum class Backend {
    native,  // IORING_REGISTER_UNIFIED_REGION: one pin, one charge, region offsets
    compat,  // the same memory registered as a plain fixed buffer
};

// Which backend UnifiedRegion::create() uses: automatic probes the kernel
// (native where it has the series), the others force one (errc::wrong_backend
// where it cannot run).
enum class BackendChoice { automatic, native, compat };

// "native" or "compat"
[[nodiscard]] constexpr const char* to_string(Backend b) noexcept
{
    return b == Backend::native ? "native" : "compat";
}

// The region as the place the network receives into. Natively: the region's
// own network binding (one pin, one charge). On the compat backend: a zcrx
// instance registered separately on the same memory where the kernel offers
// one (a second pin and charge), else receive goes through provided buffers
// in the region. Needs a Ring<..., Cqe32> created with defer_taskrun, and
// CAP_NET_ADMIN, as zcrx does.
// Hardware mode: bind before listen(). Binding restarts the queue, and what
// a connection received before that came through the queue's old buffers,
// which the kernel then copies into the region (received_bytes_copied()).
struct NetOptions {
    bool enabled = false;  // bind the region to the network
    unsigned ifindex = 0;            // a NIC's receive queue (hardware mode); 0: device-less
    unsigned rxq = 0;                // the queue of ifindex
    std::uint64_t area_len = 0;      // bytes from the start of the data area; 0: all of it
    unsigned refill_entries = 256;   // the refill ring, a power of two
};

// What UnifiedRegion::create() registers.
struct RegionOptions {
    std::size_t data_size = 0;  // required: bytes of the data area, a page multiple
    unsigned sq_entries = 64;   // descriptor rings (native) - powers of two
    unsigned cq_entries = 64;  // completion descriptor ring (native), a power of two
    // The data area's slot in the ring's fixed-buffer table, which uio
    // registers (sparse) with the first region and shares between the
    // ring's regions and Ring::register_buffer(): empty for the lowest free
    // slot (buf_index() says which). A ring with a table of its own (the
    // application's) is never touched: errc::buffer_table_in_use.
    std::optional<std::uint16_t> buf_index{};
    // an NVMe namespace to bind (native), -1 for none; a storage op on the
    // region may then name it as file -1
    int nvme_fd = -1;
    BackendChoice backend = BackendChoice::automatic;  // native, compat, or probed
    // Compat backend only: also register the memory as the ring's memory
    // region (IORING_REGISTER_MEM_REGION), as upstream users of that region
    // do. It costs one more pin and charge, and stock kernels cannot
    // unregister it: they last until the ring is closed, and a ring has one.
    bool compat_mem_region = false;
    NetOptions net{};  // the network binding, off by default
};

// How received bytes reach the region.
enum class ReceivePath {
    provided_buffers,  // a multishot receive over provided buffers in the region
    zero_copy,         // zcrx: the region's pages are the receive area, buffers go back on a refill ring
};

namespace detail {
// The refill ring of a zcrx instance on the region (zcrx format), and how its
// completions name region offsets.
struct NetRing {
    std::uint32_t* tail = nullptr;
    uapi::zcrx_rqe* rqes = nullptr;
    std::uint32_t mask = 0;
    std::uint64_t area_token = 0;    // the area's id bits, as in the completions' offsets
    std::uint32_t zcrx_id = 0;       // compat: the instance IORING_OP_RECV_ZC names
    const uapi::net_stats* stats = nullptr;  // native: the kernel's counters
    void* compat_map = nullptr;      // compat: the refill ring's own mapping
    std::size_t compat_map_len = 0;
};
} // namespace detail

// What the backend costs, observable at run time: counted from the
// registrations this region made, not assumed.
struct RegionCosts {
    unsigned pins = 0;                      // times the memory was pinned
    unsigned memlock_charges = 0;           // RLIMIT_MEMLOCK charges for the memory
    unsigned storage_copies_per_byte = 0;   // CPU copies of a byte moved to or from storage
    unsigned receive_copies_per_byte = 0;   // CPU copies of a received byte (see Receiver)
};

// One storage operation of a batch: read (device -> region) or write.
struct BatchOp {
    std::uint64_t user_data;  // given back in its BatchResult
    std::uint64_t region_offset;  // where in the data area
    std::uint32_t len;  // bytes
    std::uint64_t device_offset;  // byte offset on the device
    int fd;                   // a descriptor, or with fixed_file an index of the registered file table
    bool write;  // true: region -> device; false: device -> region
    bool fixed_file = false;  // fd is a registered file's index (as uio::Fixed)
    // Ops of a batch run concurrently, as SQEs do: a drain op is issued only
    // after every earlier op of the batch completed (a read of what an
    // earlier write of the batch wrote needs it).
    bool drain = false;
};

// How one op of a batch ended.
struct BatchResult {
    std::uint64_t user_data;  // the op's BatchOp::user_data
    std::int32_t res;  // bytes moved or -errno
};

// How UnifiedRegion::run_batch() moves a batch. Plain SQEs are the default:
// measured side by side (bench/storage.c, README "Performance"), the region's
// descriptor rings lose to them in IOPS and CPU per op, as a batch SQE always
// runs from io-wq while a plain SQE to a block device is issued inline.
enum class BatchPath {
    sqes,             // one IORING_OP_UNIFIED (compat: fixed-buffer) SQE per op
    descriptor_ring,  // native only: one batch SQE over the descriptor rings
};

template <FileRef F>
class RegionIo;
template <FileRef F>
class RegionSend;
template <FileRef F>
class RegionVecWrite;

namespace detail {
// A region's registration and mapping, co-owned by the UnifiedRegion and the
// receivers and fragments made from it; it holds the ring's core in turn. The
// last owner unregisters and unmaps, on the ring the region was made on.
class RegionState {
public:
    RegionState(std::shared_ptr<RingCore> core, Backend backend, const RegionOptions& opts) noexcept
        : core(std::move(core)), backend(backend), opts(opts)
    {
    }
    RegionState(const RegionState&) = delete;
    RegionState& operator=(const RegionState&) = delete;
    ~RegionState() { release(); }

    [[nodiscard]] static std::size_t page_size() noexcept { return static_cast<std::size_t>(sysconf(_SC_PAGESIZE)); }

    [[nodiscard]] bool in_bounds(std::uint64_t offset, std::uint64_t len) const noexcept
    {
        return len && offset < opts.data_size && len <= opts.data_size - offset;
    }

    // both backends need a slot in the ring's fixed-buffer table: its own,
    // never another region's or the application's
    Result<void> claim_slot() noexcept
    {
        auto claimed = core->claim_slot(opts.buf_index);
        if (!claimed)
            return claimed.error();
        slot = *claimed;
        has_slot = true;
        return {};
    }

    Result<void> register_native() noexcept
    {
        io_uring_region_desc rd{};
        uapi::region_reg reg{};
        reg.sq_entries = opts.sq_entries;
        reg.cq_entries = opts.cq_entries;
        reg.region_size = opts.data_size;
        reg.nvme_fd = opts.nvme_fd;
        reg.region_ptr = reinterpret_cast<std::uintptr_t>(&rd);
        reg.flags = uapi::reg_fixed_buf;
        reg.buf_index = slot;
        if (opts.net.enabled) {
            reg.net_ifindex = opts.net.ifindex;
            reg.net_rxq = opts.net.rxq;
            reg.flags |= opts.net.ifindex ? 0u : uapi::reg_net_nodev;
            reg.rq_entries = opts.net.refill_entries;
            reg.net_area_len = opts.net.area_len;
        }
        int ret = core->reg(uapi::register_unified_region, &reg, 1);
        if (ret < 0)
            return errno_code(ret);
        void* p = mmap(nullptr, reg.offsets.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, core->fd(),
                       static_cast<off_t>(rd.mmap_offset));
        if (p == MAP_FAILED) {
            const int err = errno;
            (void)core->reg(uapi::unregister_unified_region, nullptr, 0);
            return errno_code(err);
        }
        map = static_cast<std::byte*>(p);
        map_len = reg.offsets.size;
        layout = reg.offsets;
        registrations = 1;
        if (opts.net.enabled) {
            net.tail = reinterpret_cast<std::uint32_t*>(map + layout.rq_ring + reg.rq_tail);
            net.rqes = reinterpret_cast<uapi::zcrx_rqe*>(map + layout.rqes);
            net.mask = reg.rq_entries - 1;
            net.stats = reinterpret_cast<const uapi::net_stats*>(map + reg.net_stats);
        }
        return {};
    }

    // the region's slot of the ring's table: @iov, or empty
    [[nodiscard]] int update_slot(const iovec& iov) const noexcept { return core->update_slot(slot, iov); }

    Result<void> register_compat() noexcept
    {
        void* p = mmap(nullptr, opts.data_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
                       -1, 0);
        if (p == MAP_FAILED)
            return errno_code(errno);
        map = static_cast<std::byte*>(p);
        map_len = opts.data_size;
        int ret = update_slot(iovec{p, opts.data_size});
        if (ret < 0)
            return errno_code(ret);  // release() unmaps
        registrations = 1;
        if (opts.net.enabled)
            register_compat_zcrx();
        if (!opts.compat_mem_region)
            return {};
        if (!kernel_has_mem_region())
            return errc::unsupported_by_kernel;  // release() undoes the rest
        io_uring_region_desc rd{};
        rd.user_addr = reinterpret_cast<std::uintptr_t>(p);
        rd.size = opts.data_size;
        rd.flags = IORING_MEM_REGION_TYPE_USER;
        io_uring_mem_region_reg mr{};
        mr.region_uptr = reinterpret_cast<std::uintptr_t>(&rd);
        ret = core->reg(IORING_REGISTER_MEM_REGION, &mr, 1);
        if (ret < 0)
            return errno_code(ret);
        ++registrations;
        return {};
    }

    // The same memory as the area of a separately registered zcrx instance
    // (device-less unless a queue is named): a second pin and charge, and an
    // instance stock kernels keep until the ring is closed. A kernel without
    // zcrx, or without ZCRX_REG_NODEV (6.18), refuses it: receive then goes
    // through provided buffers, as receive_path() reports.
    void register_compat_zcrx() noexcept
    {
        const std::uint64_t area_len = opts.net.area_len ? opts.net.area_len : opts.data_size;
        const std::size_t rq_len =
            (4096 + std::size_t{opts.net.refill_entries} * sizeof(uapi::zcrx_rqe) + page_size() - 1) &
            ~(page_size() - 1);
        io_uring_region_desc rd{};
        rd.size = rq_len;
        uapi::zcrx_area_reg area{};
        area.addr = reinterpret_cast<std::uintptr_t>(map);
        area.len = area_len;
        uapi::zcrx_ifq_reg reg{};
        reg.if_idx = opts.net.ifindex;
        reg.if_rxq = opts.net.rxq;
        reg.rq_entries = opts.net.refill_entries;
        reg.flags = opts.net.ifindex ? 0u : uapi::zcrx_reg_nodev;
        reg.area_ptr = reinterpret_cast<std::uintptr_t>(&area);
        reg.region_ptr = reinterpret_cast<std::uintptr_t>(&rd);
        if (area_len > opts.data_size || core->reg(uapi::register_zcrx_ifq, &reg, 1) < 0)
            return;
        ++registrations;
        void* rq = mmap(nullptr, rq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, core->fd(),
                        static_cast<off_t>(rd.mmap_offset));
        if (rq == MAP_FAILED)
            return;  // registered but unusable: provided buffers it is
        auto* base = static_cast<std::byte*>(rq);
        net.tail = reinterpret_cast<std::uint32_t*>(base + reg.offsets.tail);
        net.rqes = reinterpret_cast<uapi::zcrx_rqe*>(base + reg.offsets.rqes);
        net.mask = reg.rq_entries - 1;
        net.area_token = area.rq_area_token;
        net.zcrx_id = reg.zcrx_id;
        net.compat_map = rq;
        net.compat_map_len = rq_len;
    }

    // A kernel without IORING_REGISTER_MEM_REGION rejects the opcode with
    // -EINVAL before it looks at the argument; one with it faults on the
    // region descriptor at address 0 (or is busy: the ring has its region).
    [[nodiscard]] bool kernel_has_mem_region() const noexcept
    {
        io_uring_mem_region_reg mr{};
        const int ret = core->reg(IORING_REGISTER_MEM_REGION, &mr, 1);
        return ret == -EFAULT || ret == -EBUSY;
    }

    void release() noexcept
    {
        if (map) {
            if (backend == Backend::native)
                (void)core->reg(uapi::unregister_unified_region, nullptr, 0);
            else
                (void)update_slot(iovec{nullptr, 0});
            munmap(map, map_len);
            map = nullptr;
        }
        if (net.compat_map)
            munmap(net.compat_map, net.compat_map_len);
        net = {};
        if (has_slot)
            core->release_slot(slot);
        has_slot = false;
    }

    const std::shared_ptr<RingCore> core;
    const Backend backend;
    const RegionOptions opts;
    std::byte* map = nullptr;
    std::size_t map_len = 0;
    uapi::region_offsets layout{};
    unsigned registrations = 0;  // pins and charges of the memory made here
    NetRing net{};               // set when receive is zero-copy
    std::uint16_t slot = 0;      // the data area's fixed-buffer slot
    bool has_slot = false;
    bool has_vec = false;        // native: the kernel has the vectored storage stage
};
} // namespace detail

// Threads: thread-compatible. Its const members (data views, fixed(),
// builders) may be called from several threads at once; writing the data
// area from several threads is the application's to coordinate, as with any
// memory. Creating and destroying regions is safe on any thread (the ring's
// slot table has its own lock), but see Ring for single-issuer rings.
template <SqeSize Sqe, CqeSize Cqe>
class UnifiedRegion {
public:
    // A region that a socket receives into: @net as RegionOptions::net. Only
    // for a Ring<..., Cqe32> - received fragments are named by the second
    // half of a 32-byte CQE - so on a 16-byte-CQE ring this does not compile
    // (RegionOptions::net there fails at run time with EINVAL).
    [[nodiscard]] static Result<UnifiedRegion> create(Ring<Sqe, Cqe>& ring, RegionOptions opts,
                                                      const NetOptions& net) noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        opts.net = net;
        opts.net.enabled = true;
        return create(ring, opts);
    }

    // Registers a region of @opts.data_size bytes with @ring. The region
    // co-owns the ring's state: either may die first (see Ring).
    [[nodiscard]] static Result<UnifiedRegion> create(Ring<Sqe, Cqe>& ring, const RegionOptions& opts) noexcept
    {
        if (!ring)
            return errc::empty;
        if (!opts.data_size || opts.data_size % detail::RegionState::page_size())
            return errno_code(EINVAL);
        // received fragments are named by the second half of a 32-byte CQE
        if (opts.net.enabled && !std::is_same_v<Cqe, Cqe32>)
            return errno_code(EINVAL);
        const auto q = query_unified();
        const bool native_ok = q && (q->register_flags & uapi::reg_fixed_buf) &&
                               (q->op_flags & (uapi::op_nvme | uapi::op_batch)) ==
                                   (uapi::op_nvme | uapi::op_batch);
        Backend backend = native_ok ? Backend::native : Backend::compat;
        if (opts.backend == BackendChoice::native && !native_ok)
            return errc::unsupported_by_kernel;
        if (opts.backend == BackendChoice::compat)
            backend = Backend::compat;

        std::shared_ptr<detail::RegionState> state;
        try {
            state = std::make_shared<detail::RegionState>(ring.core_, backend, opts);
        } catch (const std::bad_alloc&) {
            return errno_code(ENOMEM);
        }
        state->has_vec = backend == Backend::native && (q->op_flags & uapi::op_vec);
        Result<void> ret = state->claim_slot();
        if (!ret)
            return ret.error();
        ret = backend == Backend::native ? state->register_native() : state->register_compat();
        if (!ret)
            return ret.error();
        return UnifiedRegion(std::move(state));
    }

    // moves leave the source empty (see valid())
    UnifiedRegion(UnifiedRegion&&) noexcept = default;
    // releases this handle (as the destructor does), then takes the other's
    UnifiedRegion& operator=(UnifiedRegion&&) noexcept = default;
    UnifiedRegion(const UnifiedRegion&) = delete;
    UnifiedRegion& operator=(const UnifiedRegion&) = delete;
    // Ends this handle; the registration goes when the last receiver and
    // fragment made from the region are gone too.
    ~UnifiedRegion() = default;

    // false once moved from: an empty region has no data (data() is empty,
    // size() 0) and every span, operation and batch fails with errc::empty
    [[nodiscard]] bool valid() const noexcept { return s_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }  // valid()

    // (compat for an empty region)
    [[nodiscard]] Backend backend() const noexcept { return s_ ? s_->backend : Backend::compat; }
    // what this region costs (pins, charges, copies), as registered
    [[nodiscard]] RegionCosts costs() const noexcept
    {
        if (!s_)
            return {};
        // every registration of the memory pins and charges it once; storage
        // is DMA from and to the region on both backends; receive goes through
        // provided buffers in the region, which the kernel copies into
        const bool nic_writes = s_->net.rqes && s_->opts.net.ifindex;
        return {.pins = s_->registrations,
                .memlock_charges = s_->registrations,
                .storage_copies_per_byte = 0,
                .receive_copies_per_byte = nic_writes ? 0u : 1u};
    }
    [[nodiscard]] std::size_t size() const noexcept { return s_ ? s_->opts.data_size : 0; }  // bytes of the data area
    // how received bytes reach the region (zero_copy where zcrx is registered)
    [[nodiscard]] ReceivePath receive_path() const noexcept
    {
        return s_ && s_->net.rqes ? ReceivePath::zero_copy : ReceivePath::provided_buffers;
    }
    // Bytes the kernel copied into the region on receive, as the native
    // binding's counters say (0 elsewhere).
    [[nodiscard]] std::uint64_t received_bytes_copied() const noexcept
    {
        return s_ && s_->net.stats ? __atomic_load_n(&s_->net.stats->copy_bytes, __ATOMIC_RELAXED) : 0;
    }
    // Hardware mode: the bound queue's device was unregistered (deleted, or
    // its network namespace dismantled). Held fragments stay valid; receives
    // end with ENODEV once the socket is drained.
    [[nodiscard]] bool device_gone() const noexcept
    {
        return s_ && s_->net.stats && (__atomic_load_n(&s_->net.stats->flags, __ATOMIC_ACQUIRE) & uapi::net_dev_gone);
    }
    // the data area's slot in the ring's fixed-buffer table (0 when empty)
    [[nodiscard]] std::uint16_t buf_index() const noexcept { return s_ ? s_->slot : 0; }

    // The data area. Views of a temporary region would dangle: not allowed.
    [[nodiscard]] std::span<std::byte> data() & noexcept
    {
        if (!s_)
            return {};
        return {s_->map, s_->opts.data_size};
    }
    std::span<std::byte> data() && = delete;

    // [offset, offset + len) of the data area, bounds-checked.
    [[nodiscard]] Result<std::span<std::byte>> subspan(std::uint64_t offset, std::uint64_t len) & noexcept
    {
        if (!s_)
            return errc::empty;
        if (!s_->in_bounds(offset, len))
            return errc::out_of_bounds;
        return std::span<std::byte>(s_->map + offset, len);
    }
    Result<std::span<std::byte>> subspan(std::uint64_t, std::uint64_t) && = delete;

    // [offset, offset + len) as fixed-buffer SQEs address it: the region offset
    // on the native backend, the pointer on the compat backend.
    [[nodiscard]] Result<FixedSpan> fixed(std::uint64_t offset, std::uint32_t len) const noexcept
    {
        if (!s_)
            return errc::empty;
        if (!s_->in_bounds(offset, len))
            return errc::out_of_bounds;
        const std::uint64_t addr =
            s_->backend == Backend::native ? offset : reinterpret_cast<std::uintptr_t>(s_->map) + offset;
        return FixedSpan{addr, len, s_->slot};
    }

    // A storage transfer of [offset, offset + len) at @device_offset of @file:
    // IORING_OP_UNIFIED natively, READ_FIXED/WRITE_FIXED on the compat backend.
    // Natively the file must be a block device (or a file on one) opened with
    // O_DIRECT, and the span aligned to its logical block size. Push it into
    // the region's own ring: another ring has other buffers.
    template <FileRef F>
    [[nodiscard]] Result<RegionIo<F>> read_from(F file, std::uint64_t offset, std::uint32_t len,
                                                std::uint64_t device_offset) const noexcept
    {
        return io<F>(file, offset, len, device_offset, false);
    }
    template <FileRef F>
    // the write counterpart of read_from(): region -> @file
    [[nodiscard]] Result<RegionIo<F>> write_to(F file, std::uint64_t offset, std::uint32_t len,
                                               std::uint64_t device_offset) const noexcept
    {
        return io<F>(file, offset, len, device_offset, true);
    }

    // The same with the BPF stage: the ring's program (uio::BpfOps) computes
    // over the bytes read, or before the write (and may transform them or
    // veto it). Natively only: the compat backend has no BPF stage.
    template <FileRef F>
    [[nodiscard]] Result<RegionIo<F>> read_then_compute(F file, std::uint64_t offset, std::uint32_t len,
                                                        std::uint64_t device_offset) const noexcept
    {
        if (s_ && s_->backend != Backend::native)
            return errc::unsupported_by_kernel;
        return io<F>(file, offset, len, device_offset, false, true);
    }
    template <FileRef F>
    // the program runs over the span, then it is written to @file
    [[nodiscard]] Result<RegionIo<F>> compute_then_write(F file, std::uint64_t offset, std::uint32_t len,
                                                         std::uint64_t device_offset) const noexcept
    {
        if (s_ && s_->backend != Backend::native)
            return errc::unsupported_by_kernel;
        return io<F>(file, offset, len, device_offset, true, true);
    }
    // Whether write_spans_to() runs here: natively when the kernel has the
    // vectored storage stage (uapi::op_vec in IO_URING_QUERY_UNIFIED), on
    // the compat backend always (IORING_OP_WRITEV_FIXED, which kernels
    // before 6.15 refuse with EINVAL in the completion).
    [[nodiscard]] bool vectored_writes() const noexcept
    {
        return s_ && (s_->backend == Backend::compat || s_->has_vec);
    }

    // [offset, offset + len) as write_spans_to() takes it: the region
    // offset on the native backend, the address on the compat backend (as
    // fixed() does), bounds-checked.
    [[nodiscard]] Result<uapi::span> vec_span(std::uint64_t offset, std::uint32_t len) const noexcept
    {
        auto f = fixed(offset, len);
        if (!f)
            return f.error();
        return uapi::span{f->addr, f->len, 0};
    }

    // One write of @spans (from vec_span()), in order, to @file from
    // @device_offset on: natively IORING_OP_UNIFIED's vectored storage
    // stage (one bio chain over the region's pages), on the compat backend
    // IORING_OP_WRITEV_FIXED from the region's fixed buffer. Zero copies
    // either way. Checked here: 1 to uapi::vec_max_spans spans, each in the
    // region, non-empty, resv 0 (errc::out_of_bounds, EINVAL), a total below
    // 2 GiB (EOVERFLOW: the completion reports it in an int). The device's
    // alignment rules (offsets and lengths in logical blocks, O_DIRECT) are
    // the kernel's to check. @spans must stay valid until the SQE is
    // submitted: the kernel copies the array then (both backends). Natively
    // without the vectored stage: errc::unsupported_by_kernel (write the
    // spans one by one with write_to()).
    template <FileRef F>
    [[nodiscard]] Result<RegionVecWrite<F>> write_spans_to(F file, std::uint64_t device_offset,
                                                           std::span<const uapi::span> spans) const noexcept
    {
        if (!s_)
            return errc::empty;
        if (spans.empty() || spans.size() > uapi::vec_max_spans)
            return errno_code(EINVAL);
        if (!vectored_writes())
            return errc::unsupported_by_kernel;
        const std::uint64_t base =
            s_->backend == Backend::native ? 0 : reinterpret_cast<std::uintptr_t>(s_->map);
        std::uint64_t total = 0;
        for (const uapi::span& sp : spans) {
            if (sp.resv || !sp.len)
                return errno_code(EINVAL);
            if (sp.addr < base || !s_->in_bounds(sp.addr - base, sp.len))
                return errc::out_of_bounds;
            total += sp.len;
        }
        if (total > 0x7fffffffu)
            return errno_code(EOVERFLOW);
        if constexpr (std::endian::native != std::endian::little) {
            if (s_->backend == Backend::compat)
                return errc::unsupported_by_kernel;  // spans are read as iovecs there
        }
        return RegionVecWrite<F>(file, spans, device_offset, s_->backend, s_->slot);
    }

    // The BPF stage alone, over bytes already in the region.
    [[nodiscard]] Result<UnifiedCompute> compute(std::uint64_t offset, std::uint32_t len) const noexcept
    {
        if (!s_)
            return errc::empty;
        if (s_->backend != Backend::native)
            return errc::unsupported_by_kernel;
        if (!s_->in_bounds(offset, len))
            return errc::out_of_bounds;
        return UnifiedCompute(offset, len);
    }

    // A zero-copy send of [offset, offset + len) to @socket - received bytes
    // go out again from where they landed: IORING_OP_UNIFIED's outbound NET
    // stage natively, SEND_ZC from the fixed buffer on the compat backend.
    // Either way a completion with the bytes sent and IORING_CQE_F_MORE, then
    // a notification (Completion::notification()) once the span may change.
    template <FileRef F>
    [[nodiscard]] Result<RegionSend<F>> send(F socket, std::uint64_t offset, std::uint32_t len) const noexcept
    {
        auto span = fixed(offset, len);
        if (!span)
            return span.error();
        return RegionSend<F>(socket, *span, s_->backend);
    }

    // Runs @ops as one batch and waits for all of them, by default as one
    // SQE per op (see BatchPath); with BatchPath::descriptor_ring, natively,
    // as IORING_OP_UNIFIED batch SQEs over the region's descriptor rings (in
    // rounds of the ring sizes; errc::unsupported_by_kernel on the compat
    // backend). @ring must be the region's own (errc::wrong_ring otherwise)
    // and have no other operations in flight while this runs.
    [[nodiscard]] Result<std::vector<BatchResult>> run_batch(Ring<Sqe, Cqe>& ring, std::span<const BatchOp> ops,
                                                             BatchPath path = BatchPath::sqes)
    {
        if (!s_ || !ring)
            return errc::empty;
        if (ring.core_ != s_->core)
            return errc::wrong_ring;
        const bool rings = path == BatchPath::descriptor_ring;
        if (rings && s_->backend != Backend::native)
            return errc::unsupported_by_kernel;
        std::vector<BatchResult> results;
        results.reserve(ops.size());
        while (results.size() < ops.size()) {
            auto done = rings ? batch_round_rings(ring, ops.subspan(results.size()), results)
                              : batch_round_sqes(ring, ops.subspan(results.size()), results);
            if (!done)
                return done.error();
        }
        return results;
    }

    // whether @ring is the ring this region was made on
    [[nodiscard]] bool belongs_to(const Ring<Sqe, Cqe>& ring) const noexcept
    {
        return s_ && ring.core_ == s_->core;
    }

private:
    explicit UnifiedRegion(std::shared_ptr<detail::RegionState> state) noexcept : s_(std::move(state)) {}

    template <FileRef F>
    Result<RegionIo<F>> io(F file, std::uint64_t offset, std::uint32_t len, std::uint64_t dev_off,
                           bool write, bool bpf = false) const noexcept
    {
        auto span = fixed(offset, len);
        if (!span)
            return span.error();
        return RegionIo<F>(file, *span, dev_off, write, s_->backend, bpf);
    }

    // one round: as many ops as both descriptor rings hold
    Result<void> batch_round_rings(Ring<Sqe, Cqe>& ring, std::span<const BatchOp> ops,
                                    std::vector<BatchResult>& results)
    {
        std::byte* const map = s_->map;
        const uapi::region_offsets& layout = s_->layout;
        const RegionOptions& opts = s_->opts;
        auto* sq = reinterpret_cast<uapi::ring_hdr*>(map + layout.sq_ring);
        auto* cq = reinterpret_cast<uapi::ring_hdr*>(map + layout.cq_ring);
        auto* sqd = reinterpret_cast<uapi::desc*>(map + layout.sq_descs);
        auto* cqd = reinterpret_cast<uapi::desc*>(map + layout.cq_descs);
        const std::size_t n = std::min<std::size_t>({ops.size(), opts.sq_entries, opts.cq_entries});
        std::uint32_t tail = sq->tail;

        for (std::size_t i = 0; i < n; ++i) {
            uapi::desc& d = sqd[(tail + i) & (opts.sq_entries - 1)];
            d = {};
            d.user_data = ops[i].user_data;
            d.addr = ops[i].region_offset;
            d.len = ops[i].len;
            d.dev_off = ops[i].device_offset;
            d.fd = ops[i].fd;
            d.op_flags = uapi::op_nvme | (ops[i].write ? uapi::op_write : 0);
            d.flags = (ops[i].fixed_file ? uapi::desc_fixed_file : 0u) | (ops[i].drain ? uapi::desc_drain : 0u);
        }
        __atomic_store_n(&sq->tail, tail + static_cast<std::uint32_t>(n), __ATOMIC_RELEASE);
        if (!ring.push(UnifiedBatch(static_cast<std::uint32_t>(n)), 0))
            return errno_code(EBUSY);
        auto c = ring.submit_and_wait(1);
        if (!c)
            return c.error();
        auto cqe = ring.wait();
        if (!cqe)
            return cqe.error();
        const int consumed = cqe->res();
        ring.seen(*cqe);
        if (consumed < 0)
            return errno_code(consumed);

        std::uint32_t head = cq->head;
        const std::uint32_t ctail = __atomic_load_n(&cq->tail, __ATOMIC_ACQUIRE);
        for (; head != ctail; ++head) {
            const uapi::desc& d = cqd[head & (opts.cq_entries - 1)];
            results.push_back({d.user_data, d.res});
        }
        __atomic_store_n(&cq->head, head, __ATOMIC_RELEASE);
        if (consumed == 0)
            return errno_code(EAGAIN);  // cannot happen with an empty completion ring
        return {};
    }

    // one round: one SQE per op, up to the SQ's room or the next drain op
    Result<void> batch_round_sqes(Ring<Sqe, Cqe>& ring, std::span<const BatchOp> ops,
                                    std::vector<BatchResult>& results)
    {
        std::size_t n = 0;
        for (; n < ops.size(); ++n) {
            const BatchOp& op = ops[n];
            if (op.drain && n > 0)
                break;  // this round completes first; the next starts with the drain
            auto push = [&](auto file) -> bool {
                auto io = op.write ? write_to(file, op.region_offset, op.len, op.device_offset)
                                   : read_from(file, op.region_offset, op.len, op.device_offset);
                if (!io) {  // fails on its own, as a bad descriptor does natively
                    results.push_back({op.user_data, -EFAULT});
                    return true;
                }
                return ring.push(*io, op.user_data);
            };
            const bool queued = op.fixed_file ? push(Fixed{static_cast<unsigned>(op.fd)}) : push(Fd{op.fd});
            if (!queued)
                break;
        }
        auto submitted = ring.submit();
        if (!submitted)
            return submitted.error();
        for (unsigned inflight = *submitted; inflight; --inflight) {
            auto cqe = ring.wait();
            if (!cqe)
                return cqe.error();
            results.push_back({cqe->user_data(), cqe->res()});
            ring.seen(*cqe);
        }
        return {};
    }

    std::shared_ptr<detail::RegionState> s_;

    template <SqeSize, CqeSize>
    friend class Receiver;
};

// A storage transfer of a region span, whichever backend the region runs on.
template <FileRef F>
class RegionIo {
public:
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // @span of the region to (@write) or from @file at @device_offset, as @backend
    // moves it; @bpf adds the BPF stage (native only). Made by UnifiedRegion.
    RegionIo(F file, FixedSpan span, std::uint64_t device_offset, bool write, Backend backend,
             bool bpf = false) noexcept
        : file_(file), span_(span), dev_off_(device_offset), write_(write), bpf_(bpf), backend_(backend) {}

    void prep(io_uring_sqe* sqe) const noexcept
    {
        if (backend_ == Backend::native) {
            const std::uint32_t stages = uapi::op_nvme | (write_ ? uapi::op_write : 0u) | (bpf_ ? uapi::op_bpf : 0u);
            UnifiedOp<F>(file_, stages, span_.addr, span_.len).device_offset(dev_off_).prep(sqe);
        } else if (write_) {
            WriteFixed<F>(file_, span_, dev_off_).prep(sqe);
        } else {
            ReadFixed<F>(file_, span_, dev_off_).prep(sqe);
        }
    }

private:
    F file_;
    FixedSpan span_;
    std::uint64_t dev_off_;
    bool write_;
    bool bpf_;
    Backend backend_;
};

// A vectored write of region spans (UnifiedRegion::write_spans_to()),
// whichever backend the region runs on. It refers to the caller's span
// array, which must stay valid until the SQE is submitted.
template <FileRef F>
class RegionVecWrite {
public:
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // @spans to @file from @device_offset on, as @backend moves them (the compat
    // backend from fixed buffer @buf_index). Made by UnifiedRegion::write_spans_to().
    RegionVecWrite(F file, std::span<const uapi::span> spans, std::uint64_t device_offset, Backend backend,
                   std::uint16_t buf_index) noexcept
        : file_(file), spans_(spans), dev_off_(device_offset), backend_(backend), buf_index_(buf_index) {}

    void prep(io_uring_sqe* sqe) const noexcept
    {
        if (backend_ == Backend::native) {
            UnifiedOpVec<F>(file_, uapi::op_nvme | uapi::op_write, spans_).device_offset(dev_off_).prep(sqe);
        } else {
            // compat spans hold addresses (vec_span()): with resv 0 a span is
            // an iovec's bytes on a little-endian machine (checked at creation)
            WritevFixed<F>(file_, {reinterpret_cast<const iovec*>(spans_.data()), spans_.size()}, dev_off_,
                           buf_index_)
                .prep(sqe);
        }
    }

private:
    static_assert(sizeof(uapi::span) == sizeof(iovec) && offsetof(iovec, iov_len) == offsetof(uapi::span, len));
    F file_;
    std::span<const uapi::span> spans_;
    std::uint64_t dev_off_;
    Backend backend_;
    std::uint16_t buf_index_;
};

// A zero-copy send of a region span, whichever backend the region runs on.
template <FileRef F>
class RegionSend {
public:
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // sends @span of the region on @socket. Made by UnifiedRegion.
    RegionSend(F socket, FixedSpan span, Backend backend) noexcept : sock_(socket), span_(span), backend_(backend) {}

    void prep(io_uring_sqe* sqe) const noexcept
    {
        if (backend_ == Backend::native)
            UnifiedOp<F>(sock_, uapi::op_net | uapi::op_write, span_.addr, span_.len).prep(sqe);
        else
            SendZcFixed<F>(sock_, span_).prep(sqe);
    }

private:
    F sock_;
    FixedSpan span_;
    Backend backend_;
};

// The region type for a ring type: RegionFor<decltype(ring)>.
template <class R>
using RegionFor = UnifiedRegion<typename std::remove_cvref_t<R>::sqe_size, typename std::remove_cvref_t<R>::cqe_size>;

// UnifiedRegion<Sqe, Cqe>::create() with the entry sizes taken from @ring:
// `auto region = uio::make_region(*ring, {.data_size = 1 << 20});`
template <SqeSize Sqe, CqeSize Cqe>
[[nodiscard]] Result<UnifiedRegion<Sqe, Cqe>> make_region(Ring<Sqe, Cqe>& ring, const RegionOptions& opts) noexcept
{
    return UnifiedRegion<Sqe, Cqe>::create(ring, opts);
}

// make_region() for a region that a socket receives into: 32-byte-CQE rings only
template <SqeSize Sqe>
[[nodiscard]] Result<UnifiedRegion<Sqe, Cqe32>> make_region(Ring<Sqe, Cqe32>& ring, const RegionOptions& opts,
                                                            const NetOptions& net) noexcept
{
    return UnifiedRegion<Sqe, Cqe32>::create(ring, opts, net);
}

} // namespace uio
