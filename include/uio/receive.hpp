// SPDX-License-Identifier: MIT
// Receiving a byte stream into a unified region: the data lands in the region
// and comes out as Fragments - views of the region that hand their buffer
// back when they die.
//
// Two paths, chosen by the region (UnifiedRegion::receive_path()):
//  - zero copy: the region is a zcrx area - natively its own network binding
//    (IORING_OP_UNIFIED's NET stage), on the compat backend a zcrx instance
//    registered on the same memory - and buffers go back on its refill ring;
//  - provided buffers: a multishot receive over a provided-buffer ring whose
//    buffers are spans of the region, where zcrx is not available.
// The program is the same either way.
#pragma once

#include <liburing.h>
#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <type_traits>
#include <utility>

#include "error.hpp"
#include "ops.hpp"
#include "region.hpp"
#include "ring.hpp"

namespace uio {

// The provided-buffer path's buffers; the zero-copy path ignores these (the
// region's network binding, NetOptions, decides its area).
struct ReceiveOptions {
    std::uint64_t area_offset = 0;     // where the receive buffers start in the data area
    std::uint64_t area_len = 0;        // bytes given to receive buffers; 0: to the end of the region
    std::uint32_t buffer_size = 16384; // one buffer; the area holds area_len / buffer_size of them
    std::uint16_t group = 0;           // provided-buffer group id, unique per ring
};

namespace detail {
enum class ReceiveKind : std::uint8_t { provided_buffers, unified_net, recv_zc, none };

// What a Receiver and its Fragments share. It co-owns the region's state
// (and so the ring's), so a Fragment can be read and released after the
// Receiver, the region and the Ring are gone.
struct ReceiveState {
    explicit ReceiveState(std::shared_ptr<RegionState> region) noexcept
        : region(std::move(region)), data(this->region->map) {}
    ReceiveState(const ReceiveState&) = delete;
    ReceiveState& operator=(const ReceiveState&) = delete;
    ~ReceiveState()
    {
        if (!br)
            return;
        io_uring_buf_reg reg{};
        reg.bgid = group;
        (void)region->core->reg(IORING_UNREGISTER_PBUF_RING, &reg, 1);
        munmap(br, br_len());
    }

    [[nodiscard]] std::size_t br_len() const noexcept { return std::size_t{entries} * sizeof(io_uring_buf); }

    // a provided-buffer ring of @n entries for group @bgid (what
    // io_uring_setup_buf_ring() does, on the ring's own fd)
    [[nodiscard]] int setup_buf_ring(std::uint32_t n, std::uint16_t bgid) noexcept
    {
        void* p = mmap(nullptr, std::size_t{n} * sizeof(io_uring_buf), PROT_READ | PROT_WRITE,
                       MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        if (p == MAP_FAILED)
            return -errno;
        io_uring_buf_reg reg{};
        reg.ring_addr = reinterpret_cast<std::uintptr_t>(p);
        reg.ring_entries = n;
        reg.bgid = bgid;
        if (int ret = region->core->reg(IORING_REGISTER_PBUF_RING, &reg, 1); ret < 0) {
            munmap(p, std::size_t{n} * sizeof(io_uring_buf));
            return ret;
        }
        br = static_cast<io_uring_buf_ring*>(p);
        io_uring_buf_ring_init(br);
        entries = n;
        group = bgid;
        return 0;
    }

    const std::shared_ptr<RegionState> region;
    ReceiveKind kind = ReceiveKind::provided_buffers;
    std::byte* const data;  // the region's data area
    // provided buffers
    io_uring_buf_ring* br = nullptr;
    std::uint64_t area_offset = 0;
    std::uint32_t buffer_size = 0;
    std::uint32_t entries = 0;
    std::uint16_t group = 0;
    // zero copy
    NetRing net{};
    std::mutex lock;  // give_back()

    // Fragments may die on any thread: returns are serialised here, as the
    // buffer ring and the refill ring each take one producer at a time.
    void give_back(std::uint64_t region_offset, std::uint32_t len) noexcept
    {
        std::lock_guard guard(lock);
        if (kind == ReceiveKind::provided_buffers) {
            const auto bid = static_cast<std::uint16_t>((region_offset - area_offset) / buffer_size);
            io_uring_buf_ring_add(br, data + region_offset, buffer_size, bid, io_uring_buf_ring_mask(entries), 0);
            io_uring_buf_ring_advance(br, 1);
            return;
        }
        const std::uint32_t tail = *net.tail;
        uapi::zcrx_rqe& rqe = net.rqes[tail & net.mask];
        rqe.off = region_offset | net.area_token;
        rqe.len = len;
        rqe.pad = 0;
        // the entry is written before the kernel can see it
        __atomic_store_n(net.tail, tail + 1, __ATOMIC_RELEASE);
    }
};
} // namespace detail

// Received bytes: a view of the region. Movable, not copyable; the buffer goes
// back to the kernel when the Fragment dies.
//
// Threads: a Fragment may be moved to, read on and destroyed on any thread,
// also after its Receiver, region and Ring are gone (it co-owns them), and
// Fragments of one Receiver may die on several threads at once (returns are
// serialised by a lock in the receive state). One Fragment object is not
// shared between threads without the caller's lock, like any value.
class Fragment {
public:
    // takes @o's bytes; @o is left empty
    Fragment(Fragment&& o) noexcept
        : state_(std::move(o.state_)), offset_(std::exchange(o.offset_, 0)), len_(std::exchange(o.len_, 0u)) {}
    // gives this Fragment's buffer back, then takes @o's bytes; @o is left empty
    Fragment& operator=(Fragment&& o) noexcept
    {
        if (this != &o) {
            release();
            state_ = std::move(o.state_);
            offset_ = std::exchange(o.offset_, 0);
            len_ = std::exchange(o.len_, 0u);
        }
        return *this;
    }
    Fragment(const Fragment&) = delete;
    Fragment& operator=(const Fragment&) = delete;
    ~Fragment() { release(); }

    // false once moved from: an empty Fragment has no bytes (data() is empty)
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }  // valid()

    // the received bytes, in the region (empty when moved from)
    [[nodiscard]] std::span<const std::byte> data() const noexcept
    {
        if (!state_)
            return {};
        return {state_->data + offset_, len_};
    }
    [[nodiscard]] std::uint64_t region_offset() const noexcept { return offset_; }  // where they are in the data area

private:
    template <SqeSize, CqeSize>
    friend class Receiver;
    Fragment(std::shared_ptr<detail::ReceiveState> state, std::uint64_t offset, std::uint32_t len) noexcept
        : state_(std::move(state)), offset_(offset), len_(len) {}
    void release() noexcept
    {
        if (state_)
            state_->give_back(offset_, len_);
        state_.reset();
    }

    std::shared_ptr<detail::ReceiveState> state_;
    std::uint64_t offset_ = 0;
    std::uint32_t len_ = 0;
};

// The multishot receive of a socket into the region, as a builder: the
// IORING_OP_UNIFIED NET stage, IORING_OP_RECV_ZC or a provided-buffer
// IORING_OP_RECV, whichever path the region has.
template <FileRef F>
class NetReceive {
public:
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    void prep(io_uring_sqe* sqe) const noexcept
    {
        switch (kind_) {
        case detail::ReceiveKind::unified_net:
            io_uring_prep_rw(uapi::op_unified, sqe, sock_.raw(), nullptr, 0, uapi::op_net);
            break;
        case detail::ReceiveKind::recv_zc:
            io_uring_prep_rw(uapi::op_recv_zc, sqe, sock_.raw(), nullptr, 0, 0);
            sqe->ioprio = IORING_RECV_MULTISHOT;
            sqe->file_index = id_;  // zcrx_ifq_idx, the same field
            break;
        case detail::ReceiveKind::provided_buffers:
            io_uring_prep_recv_multishot(sqe, sock_.raw(), nullptr, 0, 0);
            sqe->flags |= IOSQE_BUFFER_SELECT;
            sqe->buf_group = static_cast<std::uint16_t>(id_);
            break;
        case detail::ReceiveKind::none:  // an empty Receiver's: completes with EBADF
            io_uring_prep_recv(sqe, -1, nullptr, 0, 0);
            return;
        }
        sqe->flags |= F::sqe_flags;
    }

private:
    template <SqeSize, CqeSize>
    friend class Receiver;
    NetReceive(F socket, detail::ReceiveKind kind, std::uint32_t id) noexcept : sock_(socket), kind_(kind), id_(id) {}

    F sock_;
    detail::ReceiveKind kind_;
    std::uint32_t id_;  // provided-buffer group or zcrx instance
};

// What one completion of the receive meant.
enum class ReceiveStatus {
    data,     // a fragment
    end,      // the peer closed the stream
    stopped,  // the receive is no longer armed (see error()): re-arm to resume
};

// Threads: thread-compatible: arm() and take() on the thread that reaps the
// Ring's completions (or under the caller's lock); the Fragments it yields
// may go anywhere (see Fragment).
template <SqeSize Sqe, CqeSize Cqe>
class Receiver {
public:
    // A receiver into @region, a region of @ring: zero copy where the region has
    // zcrx (receive_path()), else provided buffers over @opts' part of the data
    // area (EINVAL unless that makes a power of two of them, up to 32768);
    // errc::wrong_ring for another ring's region, errc::empty for empty ones.
    [[nodiscard]] static Result<Receiver> create(Ring<Sqe, Cqe>& ring, UnifiedRegion<Sqe, Cqe>& region,
                                                 const ReceiveOptions& opts) noexcept
    {
        if (!ring || !region)
            return errc::empty;
        if (!region.belongs_to(ring))
            return errc::wrong_ring;
        std::shared_ptr<detail::ReceiveState> state;
        try {
            state = std::make_shared<detail::ReceiveState>(region.s_);
        } catch (const std::bad_alloc&) {
            return errno_code(ENOMEM);
        }
        if (region.receive_path() == ReceivePath::zero_copy) {
            state->kind = region.backend() == Backend::native ? detail::ReceiveKind::unified_net
                                                               : detail::ReceiveKind::recv_zc;
            state->net = region.s_->net;
            return Receiver(std::move(state));
        }

        const std::uint64_t len = opts.area_len ? opts.area_len : region.size() - std::min(opts.area_offset, region.size());
        const std::uint64_t entries = opts.buffer_size ? len / opts.buffer_size : 0;
        if (!entries || entries > 32768 || (entries & (entries - 1)))
            return errno_code(EINVAL);  // the kernel wants a power-of-two count
        if (!region.subspan(opts.area_offset, len))
            return errc::out_of_bounds;
        if (int ret = state->setup_buf_ring(static_cast<std::uint32_t>(entries), opts.group); ret < 0)
            return errno_code(ret);
        state->area_offset = opts.area_offset;
        state->buffer_size = opts.buffer_size;
        for (std::uint32_t bid = 0; bid < state->entries; ++bid)
            io_uring_buf_ring_add(state->br, state->data + opts.area_offset + std::size_t{bid} * opts.buffer_size,
                                  opts.buffer_size, static_cast<std::uint16_t>(bid),
                                  io_uring_buf_ring_mask(state->entries), static_cast<int>(bid));
        io_uring_buf_ring_advance(state->br, static_cast<int>(state->entries));
        return Receiver(std::move(state));
    }

    // false once moved from: an empty Receiver's arm() builds a receive that
    // completes with EBADF, and take() says stopped (errc::empty)
    [[nodiscard]] bool valid() const noexcept { return state_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }  // valid()

    // The receive for @socket: push it with a user_data of your choice. It
    // stays armed (IORING_CQE_F_MORE) until the stream ends or it stops.
    // On the compat backend's device-less zcrx instance this first asks the
    // kernel to take back what was released to the refill ring
    // (ZCRX_CTRL_FLUSH_RQ): stock kernels recycle such an instance's buffers
    // only when asked, and a re-arm follows a stop for want of buffers.
    template <FileRef F>
    [[nodiscard]] NetReceive<F> arm(F socket) const noexcept
    {
        if (!state_)
            return NetReceive<F>(socket, detail::ReceiveKind::none, 0);
        if (state_->kind == detail::ReceiveKind::recv_zc && !state_->region->opts.net.ifindex) {
            uapi::zcrx_ctrl ctrl{};
            ctrl.zcrx_id = state_->net.zcrx_id;
            ctrl.op = uapi::zcrx_ctrl_flush_rq;
            // best effort: without it the receive stops again with ENOMEM
            (void)state_->region->core->reg(uapi::register_zcrx_ctrl, &ctrl, 0);
        }
        const std::uint32_t id = state_->kind == detail::ReceiveKind::provided_buffers ? state_->group
                                                                                        : state_->net.zcrx_id;
        return NetReceive<F>(socket, state_->kind, id);
    }

    // Interprets a completion of the armed receive. On data, @out receives the
    // fragment; on stopped, error() says why - ENOBUFS or ENOMEM: every buffer
    // is held, release fragments and re-arm; ENOSPC: the CQ was full, re-arm;
    // nothing was lost either way. A completion without IORING_CQE_F_MORE
    // (Completion::more()) means the receive is no longer armed.
    [[nodiscard]] ReceiveStatus take(const Completion<Cqe>& c, std::optional<Fragment>& out) noexcept
    {
        error_ = {};
        if (!state_) {
            error_ = make_error_code(errc::empty);
            return ReceiveStatus::stopped;
        }
        if (state_->kind == detail::ReceiveKind::provided_buffers) {
            if (c.res() > 0 && (c.flags() & IORING_CQE_F_BUFFER)) {
                const auto bid = static_cast<std::uint16_t>(c.flags() >> IORING_CQE_BUFFER_SHIFT);
                out.emplace(Fragment(state_, state_->area_offset + std::uint64_t{bid} * state_->buffer_size,
                                     static_cast<std::uint32_t>(c.res())));
                return ReceiveStatus::data;
            }
        } else if constexpr (std::is_same_v<Cqe, Cqe32>) {
            // zero copy: the second half of the CQE holds the region offset
            if (c.res() > 0 && c.more()) {
                out.emplace(Fragment(state_, c.extra1() & ~uapi::zcrx_area_mask,
                                     static_cast<std::uint32_t>(c.res())));
                return ReceiveStatus::data;
            }
        }
        if (c.res() == 0)
            return ReceiveStatus::end;
        error_ = c.error();
        return ReceiveStatus::stopped;
    }

    // why the receive stopped, after take() said so
    [[nodiscard]] std::error_code error() const noexcept { return error_; }

    // how this receiver's bytes arrive (provided buffers when empty)
    [[nodiscard]] ReceivePath path() const noexcept
    {
        return !state_ || state_->kind == detail::ReceiveKind::provided_buffers ? ReceivePath::provided_buffers
                                                                                : ReceivePath::zero_copy;
    }
    // provided buffers: how many; zero copy and empty: 0
    [[nodiscard]] std::uint32_t buffers() const noexcept { return state_ ? state_->entries : 0; }

private:
    explicit Receiver(std::shared_ptr<detail::ReceiveState> state) noexcept : state_(std::move(state)) {}

    std::shared_ptr<detail::ReceiveState> state_;
    std::error_code error_;
};

// Receiver<Sqe, Cqe>::create() with the entry sizes taken from @ring.
template <SqeSize Sqe, CqeSize Cqe>
[[nodiscard]] Result<Receiver<Sqe, Cqe>> make_receiver(Ring<Sqe, Cqe>& ring, UnifiedRegion<Sqe, Cqe>& region,
                                                      const ReceiveOptions& opts = {}) noexcept
{
    return Receiver<Sqe, Cqe>::create(ring, region, opts);
}

} // namespace uio
