// SPDX-License-Identifier: MIT
// Receiving a byte stream into a unified region: the data lands in region
// buffers and comes out as Fragments - views of the region that hand their
// buffer back when they die.
//
// Today both backends receive through a provided-buffer ring whose buffers are
// spans of the region (the kernel copies each byte once, from the socket into
// the region); zero-copy receive into the region's own pages arrives with the
// series' network stage.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

#include "error.hpp"
#include "ops.hpp"
#include "region.hpp"
#include "ring.hpp"

namespace uio {

struct ReceiveOptions {
    std::uint64_t area_offset = 0;     // where the receive buffers start in the data area
    std::uint64_t area_len = 0;        // bytes given to receive buffers; 0: to the end of the region
    std::uint32_t buffer_size = 16384; // one buffer; the area holds area_len / buffer_size of them
    std::uint16_t group = 0;           // provided-buffer group id, unique per ring
};

namespace detail {
// The buffer ring, shared by a Receiver and its Fragments so neither can
// outlive it; the Ring itself must outlive both.
struct BufRing {
    io_uring* ring = nullptr;
    io_uring_buf_ring* br = nullptr;
    std::byte* base = nullptr;  // the first receive buffer, in the region's mapping
    std::uint64_t region_offset = 0;
    std::uint32_t buffer_size = 0;
    std::uint32_t entries = 0;
    std::uint16_t group = 0;

    BufRing() = default;
    BufRing(const BufRing&) = delete;
    BufRing& operator=(const BufRing&) = delete;
    ~BufRing()
    {
        if (br)
            io_uring_free_buf_ring(ring, br, entries, group);
    }
    void recycle(std::uint16_t bid) noexcept
    {
        io_uring_buf_ring_add(br, base + static_cast<std::size_t>(bid) * buffer_size, buffer_size, bid,
                              io_uring_buf_ring_mask(entries), 0);
        io_uring_buf_ring_advance(br, 1);
    }
};
} // namespace detail

// Received bytes: a view of the region. Movable, not copyable; the buffer goes
// back to the kernel when the Fragment dies.
class Fragment {
public:
    Fragment(Fragment&& o) noexcept : ring_(std::move(o.ring_)), bid_(o.bid_), len_(o.len_) {}
    Fragment& operator=(Fragment&& o) noexcept
    {
        if (this != &o) {
            release();
            ring_ = std::move(o.ring_);
            bid_ = o.bid_;
            len_ = o.len_;
        }
        return *this;
    }
    Fragment(const Fragment&) = delete;
    Fragment& operator=(const Fragment&) = delete;
    ~Fragment() { release(); }

    [[nodiscard]] std::span<const std::byte> data() const noexcept
    {
        return {ring_->base + static_cast<std::size_t>(bid_) * ring_->buffer_size, len_};
    }
    [[nodiscard]] std::uint64_t region_offset() const noexcept
    {
        return ring_->region_offset + static_cast<std::uint64_t>(bid_) * ring_->buffer_size;
    }

private:
    template <SqeSize, CqeSize>
    friend class Receiver;
    Fragment(std::shared_ptr<detail::BufRing> ring, std::uint16_t bid, std::uint32_t len) noexcept
        : ring_(std::move(ring)), bid_(bid), len_(len) {}
    void release() noexcept
    {
        if (ring_)
            ring_->recycle(bid_);
        ring_.reset();
    }

    std::shared_ptr<detail::BufRing> ring_;
    std::uint16_t bid_ = 0;
    std::uint32_t len_ = 0;
};

// Multishot receive of a socket into region buffers, as a builder.
template <FileRef F>
class RecvMultishot {
public:
    static constexpr std::uint8_t opcode = IORING_OP_RECV;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    RecvMultishot(F socket, std::uint16_t group) noexcept : sock_(socket), group_(group) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_recv_multishot(sqe, sock_.raw(), nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT | F::sqe_flags;
        sqe->buf_group = group_;
    }

private:
    F sock_;
    std::uint16_t group_;
};

// What one completion of the receive meant.
enum class ReceiveStatus {
    data,     // a fragment
    end,      // the peer closed the stream
    stopped,  // the receive is no longer armed (see error()): re-arm to resume
};

template <SqeSize Sqe, CqeSize Cqe>
class Receiver {
public:
    [[nodiscard]] static Result<Receiver> create(Ring<Sqe, Cqe>& ring, UnifiedRegion<Sqe, Cqe>& region,
                                                 const ReceiveOptions& opts) noexcept
    {
        const std::uint64_t len = opts.area_len ? opts.area_len : region.size() - std::min(opts.area_offset, region.size());
        const std::uint64_t entries = opts.buffer_size ? len / opts.buffer_size : 0;
        if (!entries || entries > 32768 || (entries & (entries - 1)))
            return errno_code(EINVAL);  // the kernel wants a power-of-two count
        auto area = region.subspan(opts.area_offset, len);
        if (!area)
            return area.error();

        auto state = std::make_shared<detail::BufRing>();
        int err = 0;
        state->br = io_uring_setup_buf_ring(ring.native(), static_cast<unsigned>(entries), opts.group, 0, &err);
        if (!state->br)
            return errno_code(err);
        state->ring = ring.native();
        state->base = area->data();
        state->region_offset = opts.area_offset;
        state->buffer_size = opts.buffer_size;
        state->entries = static_cast<std::uint32_t>(entries);
        state->group = opts.group;
        for (std::uint32_t bid = 0; bid < state->entries; ++bid)
            io_uring_buf_ring_add(state->br, state->base + static_cast<std::size_t>(bid) * opts.buffer_size,
                                  opts.buffer_size, static_cast<std::uint16_t>(bid),
                                  io_uring_buf_ring_mask(state->entries), static_cast<int>(bid));
        io_uring_buf_ring_advance(state->br, static_cast<int>(state->entries));
        return Receiver(std::move(state));
    }

    // The receive for @socket: push it with a user_data of your choice. It
    // stays armed (IORING_CQE_F_MORE) until the stream ends or it stops.
    template <FileRef F>
    [[nodiscard]] RecvMultishot<F> arm(F socket) const noexcept
    {
        return RecvMultishot<F>(socket, state_->group);
    }

    // Interprets a completion of the armed receive. On data, @out receives the
    // fragment; on stopped, error() says why (ENOBUFS: every buffer is held -
    // release fragments, then re-arm; nothing was lost). Whatever the status,
    // a completion without IORING_CQE_F_MORE (Completion::more()) means the
    // receive is no longer armed: re-arm it unless the stream ended.
    [[nodiscard]] ReceiveStatus take(const Completion<Cqe>& c, std::optional<Fragment>& out) noexcept
    {
        error_ = {};
        if (c.res() > 0 && (c.flags() & IORING_CQE_F_BUFFER)) {
            const auto bid = static_cast<std::uint16_t>(c.flags() >> IORING_CQE_BUFFER_SHIFT);
            out.emplace(Fragment(state_, bid, static_cast<std::uint32_t>(c.res())));
            return ReceiveStatus::data;
        }
        if (c.res() == 0)
            return ReceiveStatus::end;
        error_ = c.error();
        return ReceiveStatus::stopped;
    }

    // why the receive stopped, after take() said so
    [[nodiscard]] std::error_code error() const noexcept { return error_; }

    // a CPU copy of each received byte: socket buffer -> region buffer
    [[nodiscard]] static constexpr unsigned cpu_copies_per_byte() noexcept { return 1; }
    [[nodiscard]] std::uint32_t buffers() const noexcept { return state_->entries; }

private:
    explicit Receiver(std::shared_ptr<detail::BufRing> state) noexcept : state_(std::move(state)) {}

    std::shared_ptr<detail::BufRing> state_;
    std::error_code error_;
};

} // namespace uio
