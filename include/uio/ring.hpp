// SPDX-License-Identifier: MIT
// uio::Ring: an owning, movable io_uring whose entry sizes are part of its type.
#pragma once

#include <liburing.h>

#include <bitset>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <system_error>

#include "error.hpp"
#include "uapi.hpp"

namespace uio {

// Entry sizes as types: the ring derives its setup flags from them, and an
// operation that needs a bigger entry than the ring has does not compile.
struct Sqe64 {
    static constexpr unsigned bytes = 64;
    static constexpr unsigned setup_flag = 0;
};
struct Sqe128 {
    static constexpr unsigned bytes = 128;
    static constexpr unsigned setup_flag = IORING_SETUP_SQE128;
};
struct Cqe16 {
    static constexpr unsigned bytes = 16;
    static constexpr unsigned setup_flag = 0;
};
struct Cqe32 {
    static constexpr unsigned bytes = 32;
    static constexpr unsigned setup_flag = IORING_SETUP_CQE32;
};

template <class T>
concept SqeSize = std::same_as<T, Sqe64> || std::same_as<T, Sqe128>;
template <class T>
concept CqeSize = std::same_as<T, Cqe16> || std::same_as<T, Cqe32>;

// Something that prepares one SQE; sqe_size and cqe_size are the smallest
// entries it works with.
template <class Op>
concept Preparable = requires(const Op& op, io_uring_sqe* sqe) {
    { op.prep(sqe) } noexcept;
    requires SqeSize<typename Op::sqe_size>;
    requires CqeSize<typename Op::cqe_size>;
};

// An operation builder: Preparable, with the opcode a probe can ask about.
template <class Op>
concept Operation = Preparable<Op> && requires {
    { Op::opcode } -> std::convertible_to<std::uint8_t>;
};

template <class Op, class Sqe, class Cqe>
concept FitsRing = Preparable<Op> && (Op::sqe_size::bytes <= Sqe::bytes) &&
                   (Op::cqe_size::bytes <= Cqe::bytes);

// One completion. The big-CQE payload exists only on 32-byte completions.
template <CqeSize Cqe>
class Completion {
public:
    explicit Completion(const io_uring_cqe* cqe) noexcept : cqe_(cqe) {}

    [[nodiscard]] std::uint64_t user_data() const noexcept { return cqe_->user_data; }
    [[nodiscard]] std::int32_t res() const noexcept { return cqe_->res; }
    [[nodiscard]] std::uint32_t flags() const noexcept { return cqe_->flags; }
    [[nodiscard]] bool ok() const noexcept { return cqe_->res >= 0; }
    [[nodiscard]] bool more() const noexcept { return cqe_->flags & IORING_CQE_F_MORE; }
    [[nodiscard]] bool notification() const noexcept { return cqe_->flags & IORING_CQE_F_NOTIF; }
    // the errno of a failed operation as std::errc (a value-initialised errc when ok)
    [[nodiscard]] std::errc errc() const noexcept
    {
        return cqe_->res < 0 ? static_cast<std::errc>(-cqe_->res) : std::errc{};
    }
    [[nodiscard]] std::error_code error() const noexcept
    {
        return cqe_->res < 0 ? errno_code(cqe_->res) : std::error_code{};
    }

    [[nodiscard]] std::uint64_t extra1() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return cqe_->big_cqe[0];
    }
    [[nodiscard]] std::uint64_t extra2() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return cqe_->big_cqe[1];
    }
    // IORING_OP_UNIFIED: the stages that ran, and what the BPF stage returned
    [[nodiscard]] std::uint32_t stages() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return static_cast<std::uint32_t>(cqe_->big_cqe[1]);
    }
    [[nodiscard]] std::int32_t bpf_result() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return static_cast<std::int32_t>(cqe_->big_cqe[1] >> 32);
    }

    [[nodiscard]] const io_uring_cqe* native() const noexcept { return cqe_; }

private:
    const io_uring_cqe* cqe_;
};

struct RingOptions {
    unsigned entries = 64;
    unsigned cq_entries = 0;  // 0: the kernel's default (twice entries)
    bool single_issuer = false;
    bool defer_taskrun = false;  // implies single_issuer
    bool sqpoll = false;
    unsigned sq_thread_idle_ms = 0;
    bool register_ring_fd = true;  // saves an fget per io_uring_enter
};

// What the running kernel supports, from IORING_REGISTER_PROBE and the
// unified-region query entry of the uio series.
struct Probe {
    std::bitset<256> opcodes;
    bool unified_region = false;
    std::uint64_t unified_register_flags = 0;
    std::uint64_t unified_op_flags = 0;

    [[nodiscard]] bool supports(std::uint8_t opcode) const noexcept { return opcodes.test(opcode); }
    template <Operation Op>
    [[nodiscard]] bool supports() const noexcept
    {
        return supports(Op::opcode);
    }
    [[nodiscard]] bool supports_stages(std::uint32_t stages) const noexcept
    {
        return unified_region && (unified_op_flags & stages) == stages;
    }
};

// IO_URING_QUERY_UNIFIED, which needs no ring: empty when the kernel lacks it.
[[nodiscard]] inline std::optional<uapi::query_unified> query_unified() noexcept
{
    uapi::query_unified q{};
    io_uring_query_hdr hdr{};
    hdr.query_data = reinterpret_cast<std::uintptr_t>(&q);
    hdr.query_op = uapi::query_unified_op;
    hdr.size = sizeof(q);
    if (io_uring_register(-1, IORING_REGISTER_QUERY, &hdr, 0) < 0 || hdr.result != 0)
        return std::nullopt;
    if (q.reg_size != sizeof(uapi::region_reg) || q.desc_size != sizeof(uapi::desc))
        return std::nullopt;  // a uAPI this library does not speak
    return q;
}

namespace detail {
struct RingDeleter {
    void operator()(io_uring* ring) const noexcept
    {
        io_uring_queue_exit(ring);
        delete ring;
    }
};
} // namespace detail

// An owning io_uring. The liburing state lives on the heap, so moving a Ring
// with operations in flight is safe: the kernel and liburing only ever see the
// heap object, and the move transfers it whole.
template <SqeSize Sqe = Sqe64, CqeSize Cqe = Cqe16>
class Ring {
public:
    using sqe_size = Sqe;
    using cqe_size = Cqe;
    using completion = Completion<Cqe>;

    [[nodiscard]] static Result<Ring> create(const RingOptions& opts = {}) noexcept
    {
        io_uring_params p{};
        p.flags = Sqe::setup_flag | Cqe::setup_flag;
        if (opts.cq_entries) {
            p.flags |= IORING_SETUP_CQSIZE;
            p.cq_entries = opts.cq_entries;
        }
        if (opts.single_issuer || opts.defer_taskrun)
            p.flags |= IORING_SETUP_SINGLE_ISSUER;
        if (opts.defer_taskrun)
            p.flags |= IORING_SETUP_DEFER_TASKRUN;
        if (opts.sqpoll) {
            p.flags |= IORING_SETUP_SQPOLL;
            p.sq_thread_idle = opts.sq_thread_idle_ms;
        }
        std::unique_ptr<io_uring, detail::RingDeleter> ring;
        auto* raw = new (std::nothrow) io_uring{};
        if (!raw)
            return errno_code(ENOMEM);
        int ret = io_uring_queue_init_params(opts.entries, raw, &p);
        if (ret < 0) {
            delete raw;
            return errno_code(ret);
        }
        ring.reset(raw);
        if (opts.register_ring_fd) {
            ret = io_uring_register_ring_fd(raw);
            if (ret < 0)
                return errno_code(ret);
        }
        return Ring(std::move(ring));
    }

    Ring(Ring&&) noexcept = default;
    Ring& operator=(Ring&&) noexcept = default;

    // Queues @op; false when the submission queue is full (submit, then retry).
    template <class Op>
        requires FitsRing<Op, Sqe, Cqe>
    [[nodiscard]] bool push(const Op& op, std::uint64_t user_data = 0) noexcept
    {
        io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
        if (!sqe) [[unlikely]]
            return false;
        op.prep(sqe);
        sqe->user_data = user_data;
        return true;
    }

    // Like push(), with extra IOSQE_* flags (IO_LINK, ASYNC, ...).
    template <class Op>
        requires FitsRing<Op, Sqe, Cqe>
    [[nodiscard]] bool push(const Op& op, std::uint64_t user_data, std::uint8_t sqe_flags) noexcept
    {
        io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
        if (!sqe) [[unlikely]]
            return false;
        op.prep(sqe);
        sqe->user_data = user_data;
        sqe->flags |= sqe_flags;
        return true;
    }

    // Returns the number of SQEs submitted.
    [[nodiscard]] Result<unsigned> submit() noexcept { return count(io_uring_submit(ring_.get())); }
    [[nodiscard]] Result<unsigned> submit_and_wait(unsigned wait_nr) noexcept
    {
        return count(io_uring_submit_and_wait(ring_.get(), wait_nr));
    }

    // The next completion if one is ready; mark it seen() when done with it.
    [[nodiscard]] std::optional<completion> peek() noexcept
    {
        io_uring_cqe* cqe = nullptr;
        if (io_uring_peek_cqe(ring_.get(), &cqe) != 0)
            return std::nullopt;
        return completion(cqe);
    }

    // Waits for the next completion; mark it seen() when done with it.
    [[nodiscard]] Result<completion> wait() noexcept
    {
        io_uring_cqe* cqe = nullptr;
        int ret = io_uring_wait_cqe(ring_.get(), &cqe);
        if (ret < 0)
            return errno_code(ret);
        return completion(cqe);
    }

    void seen(const completion& c) noexcept
    {
        io_uring_cqe_seen(ring_.get(), const_cast<io_uring_cqe*>(c.native()));
    }

    // Calls f(completion) for every ready completion and retires them with one
    // store to the CQ head; returns how many there were.
    template <class F>
        requires std::invocable<F&, completion>
    unsigned drain(F&& f) noexcept(std::is_nothrow_invocable_v<F&, completion>)
    {
        io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe)
        {
            f(completion(cqe));
            ++n;
        }
        io_uring_cq_advance(ring_.get(), n);
        return n;
    }

    [[nodiscard]] unsigned sq_space_left() const noexcept { return io_uring_sq_space_left(ring_.get()); }

    [[nodiscard]] Probe probe() const noexcept
    {
        Probe probe;
        if (io_uring_probe* p = io_uring_get_probe_ring(ring_.get())) {
            for (int i = 0; i < p->ops_len; ++i)
                if (p->ops[i].flags & IO_URING_OP_SUPPORTED)
                    probe.opcodes.set(p->ops[i].op);
            io_uring_free_probe(p);
        }
        if (auto q = query_unified()) {
            probe.unified_region = true;
            probe.unified_register_flags = q->register_flags;
            probe.unified_op_flags = q->op_flags;
        }
        return probe;
    }

    // the io_uring fd (registered rings still have one) and the liburing state
    [[nodiscard]] int fd() const noexcept { return ring_->ring_fd; }
    [[nodiscard]] io_uring* native() noexcept { return ring_.get(); }
    [[nodiscard]] const io_uring* native() const noexcept { return ring_.get(); }

    // io_uring_register() on this ring
    [[nodiscard]] int register_raw(unsigned opcode, void* arg, unsigned nr_args) noexcept
    {
        return io_uring_register(ring_->ring_fd, opcode, arg, nr_args);
    }

    // a sparse fixed-buffer table of @nr slots
    [[nodiscard]] Result<void> register_buffers_sparse(unsigned nr) noexcept
    {
        return check(io_uring_register_buffers_sparse(ring_.get(), nr));
    }

private:
    explicit Ring(std::unique_ptr<io_uring, detail::RingDeleter> ring) noexcept : ring_(std::move(ring)) {}

    static Result<unsigned> count(int ret) noexcept
    {
        if (ret < 0)
            return errno_code(ret);
        return static_cast<unsigned>(ret);
    }

    std::unique_ptr<io_uring, detail::RingDeleter> ring_;
};

// The ring NVMe passthrough needs: 128-byte SQEs and 32-byte CQEs.
using NvmeRing = Ring<Sqe128, Cqe32>;

} // namespace uio
