// SPDX-License-Identifier: MIT
// uio::Ring: an owning, movable io_uring whose entry sizes are part of its type.
#pragma once

#include <liburing.h>
#include <sys/uio.h>

#include <unistd.h>

#include <algorithm>
#include <bitset>
#include <concepts>
#include <cstdint>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "error.hpp"
#include "version.hpp"  // first: the liburing version check
#include "uapi.hpp"

namespace uio {

// Entry sizes as types: the ring derives its setup flags from them, and an
// operation that needs a bigger entry than the ring has does not compile.
struct Sqe64 {
    static constexpr unsigned bytes = 64;  // the entry's size in bytes
    static constexpr unsigned setup_flag = 0;  // the IORING_SETUP_* flag for it (none: the default)
};
// 128-byte submission entries (IORING_SETUP_SQE128), which NVMe passthrough needs
struct Sqe128 {
    static constexpr unsigned bytes = 128;  // the entry's size in bytes
    static constexpr unsigned setup_flag = IORING_SETUP_SQE128;  // the IORING_SETUP_* flag for it
};
// 16-byte completion entries, the default
struct Cqe16 {
    static constexpr unsigned bytes = 16;  // the entry's size in bytes
    static constexpr unsigned setup_flag = 0;  // the IORING_SETUP_* flag for it (none: the default)
};
// 32-byte completion entries (IORING_SETUP_CQE32): the big-CQE payload
// (Completion::extra1(), extra2()) that NVMe passthrough and IORING_OP_UNIFIED fill
struct Cqe32 {
    static constexpr unsigned bytes = 32;  // the entry's size in bytes
    static constexpr unsigned setup_flag = IORING_SETUP_CQE32;  // the IORING_SETUP_* flag for it
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
    // a view of @cqe, valid until the ring retires it
    explicit Completion(const io_uring_cqe* cqe) noexcept : cqe_(cqe) {}

    // the user_data the request was pushed with
    [[nodiscard]] std::uint64_t user_data() const noexcept { return cqe_->user_data; }
    // the result: >= 0 on success (bytes, a count), -errno on failure
    [[nodiscard]] std::int32_t res() const noexcept { return cqe_->res; }
    [[nodiscard]] std::uint32_t flags() const noexcept { return cqe_->flags; }  // IORING_CQE_F_* flags
    [[nodiscard]] bool ok() const noexcept { return cqe_->res >= 0; }  // res() >= 0
    // IORING_CQE_F_MORE: the request posts more completions
    [[nodiscard]] bool more() const noexcept { return cqe_->flags & IORING_CQE_F_MORE; }
    // IORING_CQE_F_NOTIF: a zero-copy send's buffer may be reused
    [[nodiscard]] bool notification() const noexcept { return cqe_->flags & IORING_CQE_F_NOTIF; }
    // the errno of a failed operation as std::errc (a value-initialised errc when ok)
    [[nodiscard]] std::errc errc() const noexcept
    {
        return cqe_->res < 0 ? static_cast<std::errc>(-cqe_->res) : std::errc{};
    }
    // the errno of a failed operation as an error_code (empty when ok)
    [[nodiscard]] std::error_code error() const noexcept
    {
        return cqe_->res < 0 ? errno_code(cqe_->res) : std::error_code{};
    }

    // the big-CQE payload's first word (32-byte completions only)
    [[nodiscard]] std::uint64_t extra1() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return cqe_->big_cqe[0];
    }
    // the big-CQE payload's second word (32-byte completions only)
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
    // IORING_OP_UNIFIED: what the BPF stage returned (the upper half of extra2())
    [[nodiscard]] std::int32_t bpf_result() const noexcept
        requires std::same_as<Cqe, Cqe32>
    {
        return static_cast<std::int32_t>(cqe_->big_cqe[1] >> 32);
    }

    [[nodiscard]] const io_uring_cqe* native() const noexcept { return cqe_; }  // the CQE itself

private:
    const io_uring_cqe* cqe_;
};

// How Ring::create() sets a ring up.
struct RingOptions {
    unsigned entries = 64;  // submission queue entries (the kernel rounds up to a power of two)
    unsigned cq_entries = 0;  // 0: the kernel's default (twice entries)
    bool single_issuer = false;  // IORING_SETUP_SINGLE_ISSUER: one thread submits
    bool defer_taskrun = false;  // implies single_issuer
    bool sqpoll = false;  // IORING_SETUP_SQPOLL: a kernel thread polls the submission queue
    unsigned sq_thread_idle_ms = 0;  // with sqpoll: how long that thread spins idle before it sleeps
    bool register_ring_fd = true;  // saves an fget per io_uring_enter
};

// What the running kernel supports, from IORING_REGISTER_PROBE and the
// unified-region query entry of the uio series.
struct Probe {
    std::bitset<256> opcodes;  // the IORING_OP_* opcodes the kernel supports, by number
    bool unified_region = false;  // the kernel has the uio series' unified region
    std::uint64_t unified_register_flags = 0;  // the region registration flags it accepts (uapi::reg_*)
    std::uint64_t unified_op_flags = 0;  // the IORING_OP_UNIFIED stages it accepts (uapi::op_*)

    // whether the kernel has @opcode
    [[nodiscard]] bool supports(std::uint8_t opcode) const noexcept { return opcodes.test(opcode); }
    template <Operation Op>
    // whether the kernel has the opcode of operation builder Op
    [[nodiscard]] bool supports() const noexcept
    {
        return supports(Op::opcode);
    }
    // whether IORING_OP_UNIFIED runs every stage in @stages (uapi::op_* flags)
    [[nodiscard]] bool supports_stages(std::uint32_t stages) const noexcept
    {
        return unified_region && (unified_op_flags & stages) == stages;
    }
};

// IO_URING_QUERY_UNIFIED, which needs no ring: empty when the kernel lacks it.
[[nodiscard]] inline std::optional<uapi::query_unified> query_unified() noexcept
{
    uapi::query_unified q{};
    uapi::query_hdr hdr{};
    hdr.query_data = reinterpret_cast<std::uintptr_t>(&q);
    hdr.query_op = uapi::query_unified_op;
    hdr.size = sizeof(q);
    if (io_uring_register(static_cast<unsigned>(-1), uapi::register_query, &hdr, 0) < 0 || hdr.result != 0)
        return std::nullopt;
    if (q.reg_size != sizeof(uapi::region_reg) || q.desc_size != sizeof(uapi::desc))
        return std::nullopt;  // a uAPI this library does not speak
    return q;
}

namespace detail {
// The fixed-buffer table uio registers on a ring for its regions and for
// Ring::register_buffer(): its size and which slots are held.
struct BufferTable {
    static constexpr std::uint32_t default_slots = 64;
    bool registered = false;
    std::vector<bool> used;  // one per slot
    unsigned in_use = 0;
};

// What a Ring and everything made from it co-own: the liburing state (so the
// ring's memory and fd) and the bookkeeping of uio's fixed-buffer table.
// Regions, receivers and fragments each hold a reference, so the io_uring
// they registered with lives until the last of them is gone: none of them
// can act on freed memory or on another ring that reused the fd number. Only
// long-lived objects copy the reference; the hot path never touches it.
class RingCore {
public:
    RingCore() = default;
    RingCore(const RingCore&) = delete;
    RingCore& operator=(const RingCore&) = delete;
    ~RingCore()
    {
        if (!live_)
            return;
        // A registered ring fd lives in the creating thread's table; another
        // thread's unregister would hit its own slot of that number, possibly
        // another ring's. Elsewhere the slot is left to the creator's exit.
        if (reg_ring_bits_ && ::gettid() != creator_)
            forget_registered_fd();
        io_uring_queue_exit(&ring_);
    }

    [[nodiscard]] int init(unsigned entries, io_uring_params& p, bool register_ring_fd) noexcept
    {
        int ret = io_uring_queue_init_params(entries, &ring_, &p);
        if (ret < 0)
            return ret;
        live_ = true;
        if (register_ring_fd) {
            const auto before = ring_.int_flags;
            ret = io_uring_register_ring_fd(&ring_);
            if (ret < 0)
                return ret;
            reg_ring_bits_ = static_cast<decltype(reg_ring_bits_)>(ring_.int_flags & ~before);
            creator_ = ::gettid();
        }
        return 0;
    }

    // The Ring handle is going (the rest of the core's owners never enter
    // the ring): drop the registered fd now, on the handle's thread.
    void handle_gone() noexcept
    {
        if (reg_ring_bits_ && ::gettid() == creator_ && io_uring_unregister_ring_fd(&ring_) == 1)
            reg_ring_bits_ = 0;
    }

    [[nodiscard]] io_uring* ring() noexcept { return &ring_; }
    [[nodiscard]] int fd() const noexcept { return ring_.ring_fd; }
    // io_uring_register() on the ring's own fd, never on a registered index
    // (which names a ring only in the thread that registered it)
    [[nodiscard]] int reg(unsigned opcode, const void* arg, unsigned nr_args) const noexcept
    {
        return io_uring_register(static_cast<unsigned>(ring_.ring_fd), opcode, arg, nr_args);
    }

    // A slot of uio's fixed-buffer table: @want, or the lowest free one. The
    // first claim registers the table (sparse, BufferTable::default_slots or
    // @want + 1 slots); a ring whose table someone else registered is never
    // touched (errc::buffer_table_in_use).
    [[nodiscard]] Result<std::uint16_t> claim_slot(std::optional<std::uint16_t> want) noexcept
    {
        std::lock_guard lock(table_lock_);
        if (!table_.registered) {
            const std::uint32_t n = std::max<std::uint32_t>(BufferTable::default_slots, want ? *want + 1u : 0u);
            try {
                table_.used.assign(n, false);
            } catch (const std::bad_alloc&) {
                return errno_code(ENOMEM);
            }
            io_uring_rsrc_register rr{};
            rr.nr = n;
            rr.flags = IORING_RSRC_REGISTER_SPARSE;
            const int ret = reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
            if (ret == -EBUSY)
                return errc::buffer_table_in_use;
            if (ret < 0)
                return errno_code(ret);
            table_.registered = true;
        }
        std::size_t slot = 0;
        if (want) {
            slot = *want;
            if (slot >= table_.used.size() || table_.used[slot])
                return errc::buffer_slot_unavailable;
        } else {
            while (slot < table_.used.size() && table_.used[slot])
                ++slot;
            if (slot == table_.used.size())
                return errc::buffer_slot_unavailable;
        }
        table_.used[slot] = true;
        ++table_.in_use;
        return static_cast<std::uint16_t>(slot);
    }

    // Gives @slot back (emptied first, unless the caller did); the table is
    // unregistered with its last slot, so the ring is as it was.
    void release_slot(std::uint16_t slot) noexcept
    {
        std::lock_guard lock(table_lock_);
        if (!table_.registered || slot >= table_.used.size() || !table_.used[slot])
            return;
        table_.used[slot] = false;
        if (--table_.in_use == 0) {
            (void)reg(IORING_UNREGISTER_BUFFERS, nullptr, 0);
            table_ = {};
        }
    }

    // slot @slot of the table: @iov, or empty ({nullptr, 0})
    [[nodiscard]] int update_slot(std::uint16_t slot, const iovec& iov) const noexcept
    {
        io_uring_rsrc_update2 up{};
        up.offset = slot;
        up.data = reinterpret_cast<std::uintptr_t>(&iov);
        up.nr = 1;
        return reg(IORING_REGISTER_BUFFERS_UPDATE, &up, sizeof(up));
    }

private:
    // what liburing's io_uring_unregister_ring_fd() does after its syscall
    void forget_registered_fd() noexcept
    {
        ring_.int_flags = static_cast<decltype(ring_.int_flags)>(ring_.int_flags & ~reg_ring_bits_);
        ring_.enter_ring_fd = ring_.ring_fd;
        reg_ring_bits_ = 0;
    }

    io_uring ring_{};
    bool live_ = false;
    unsigned char reg_ring_bits_ = 0;  // the int_flags bits io_uring_register_ring_fd() set
    pid_t creator_ = 0;
    std::mutex table_lock_;  // cold: creation and teardown, possibly on any thread
    BufferTable table_;      // under table_lock_
};

// What an empty (moved-from) Ring points at: a queue with no entries and no
// fd. liburing's inline helpers read it safely - io_uring_get_sqe() finds it
// full, io_uring_for_each_cqe() finds it empty, and a submit that would enter
// the kernel does so on fd -1 (EBADF) - so push(), submit() and drain() need
// no check of their own on the hot path. Nothing ever writes to it.
inline constinit unsigned empty_ring_word[2] = {0, 0};
[[nodiscard]] consteval io_uring make_empty_ring() noexcept
{
    io_uring r{};
    r.sq.khead = &empty_ring_word[0];
    r.sq.ktail = &empty_ring_word[0];
    r.sq.kflags = &empty_ring_word[1];
    r.sq.kdropped = &empty_ring_word[1];
    r.cq.khead = &empty_ring_word[0];
    r.cq.ktail = &empty_ring_word[0];
    r.cq.koverflow = &empty_ring_word[1];
    r.ring_fd = -1;
    r.enter_ring_fd = -1;
    return r;
}
inline constinit io_uring empty_ring = make_empty_ring();
} // namespace detail

// An owning io_uring. The liburing state lives on the heap, so moving a Ring
// with operations in flight is safe: the kernel and liburing only ever see the
// heap object, and the move transfers it whole.
//
// Lifetime: regions, receivers and fragments made from a Ring co-own its
// state (detail::RingCore). Destroying or move-assigning over the Ring ends
// the handle; the io_uring itself (memory, fd, registrations) is closed when
// the last of them is gone, so they may die in any order.
//
// Threads: a Ring is thread-compatible, not thread-safe. One thread at a
// time may use it (the caller's lock if several share it): its submission
// queue has a single producer, and two threads pushing at once lose or
// duplicate entries. With register_ring_fd (the default) submit and wait only
// on the thread that created the ring - the registered fd is an index in that
// thread's table - or turn it off to hand the Ring between threads; with
// single_issuer or defer_taskrun the kernel itself allows only the creator
// (EEXIST). Distinct Rings on distinct threads need nothing. Regions,
// receivers and fragments co-own the ring's state and may be destroyed on any
// thread (a single-issuer ring's registrations are undone only from its own
// thread; elsewhere they stay until the ring closes).
//
// A moved-from Ring is empty (valid() is false): push() returns false,
// submit() submits nothing, submit_and_wait(), wait() and the registration
// calls fail (errc::empty, or EBADF from the kernel), peek() and drain() find
// nothing, and regions cannot be created on it. Assigning a Ring to it makes
// it usable again.
template <SqeSize Sqe = Sqe64, CqeSize Cqe = Cqe16>
class Ring {
public:
    using sqe_size = Sqe;
    using cqe_size = Cqe;
    using completion = Completion<Cqe>;  // what drain() and peek() hand out

    // A ring with the entry sizes of its type, set up as @opts says; the
    // kernel's errno on failure (ENOMEM when the state cannot be allocated).
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
        std::shared_ptr<detail::RingCore> core;
        try {
            core = std::make_shared<detail::RingCore>();
        } catch (const std::bad_alloc&) {
            return errno_code(ENOMEM);
        }
        if (int ret = core->init(opts.entries, p, opts.register_ring_fd); ret < 0)
            return errno_code(ret);
        return Ring(std::move(core));
    }

    // takes @o's ring; @o is left empty
    Ring(Ring&& o) noexcept : core_(std::move(o.core_)), ring_(std::exchange(o.ring_, &detail::empty_ring)) {}
    // releases this ring (as the destructor does), then takes @o's; @o is left empty
    Ring& operator=(Ring&& o) noexcept
    {
        if (this != &o) {
            release();
            core_ = std::move(o.core_);
            ring_ = std::exchange(o.ring_, &detail::empty_ring);
        }
        return *this;
    }
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;
    ~Ring() { release(); }

    // false once moved from
    [[nodiscard]] bool valid() const noexcept { return core_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }  // valid()

    // Queues @op; false when the submission queue is full (submit, then
    // retry) or the ring is empty.
    template <class Op>
        requires FitsRing<Op, Sqe, Cqe>
    [[nodiscard]] bool push(const Op& op, std::uint64_t user_data = 0) noexcept
    {
        io_uring_sqe* sqe = io_uring_get_sqe(ring_);
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
        io_uring_sqe* sqe = io_uring_get_sqe(ring_);
        if (!sqe) [[unlikely]]
            return false;
        op.prep(sqe);
        sqe->user_data = user_data;
        sqe->flags |= sqe_flags;
        return true;
    }

    // Returns the number of SQEs submitted (0 on an empty ring; waiting on
    // one fails with EBADF).
    [[nodiscard]] Result<unsigned> submit() noexcept { return count(io_uring_submit(ring_)); }
    // submits, then waits for @wait_nr completions; the number of SQEs submitted
    [[nodiscard]] Result<unsigned> submit_and_wait(unsigned wait_nr) noexcept
    {
        return count(io_uring_submit_and_wait(ring_, wait_nr));
    }

    // The next completion if one is ready; mark it seen() when done with it.
    [[nodiscard]] std::optional<completion> peek() noexcept
    {
        io_uring_cqe* cqe = nullptr;
        if (!valid() || io_uring_peek_cqe(ring_, &cqe) != 0)
            return std::nullopt;
        return completion(cqe);
    }

    // Waits for the next completion; mark it seen() when done with it.
    [[nodiscard]] Result<completion> wait() noexcept
    {
        if (!valid())
            return errc::empty;
        io_uring_cqe* cqe = nullptr;
        int ret = io_uring_wait_cqe(ring_, &cqe);
        if (ret < 0)
            return errno_code(ret);
        return completion(cqe);
    }

    // Retires @c, a completion of this ring (a no-op on an empty ring).
    void seen(const completion& c) noexcept
    {
        if (valid())
            io_uring_cqe_seen(ring_, const_cast<io_uring_cqe*>(c.native()));
    }

    // Calls f(completion) for every ready completion and retires them with one
    // store to the CQ head; returns how many there were. If f throws, the
    // completions it was called with (the one it threw on included) are
    // retired before the exception leaves, so none is delivered twice.
    template <class F>
        requires std::invocable<F&, completion>
    unsigned drain(F&& f) noexcept(std::is_nothrow_invocable_v<F&, completion>)
    {
        io_uring_cqe* cqe;
        unsigned head, n = 0;
        if constexpr (std::is_nothrow_invocable_v<F&, completion>) {
            io_uring_for_each_cqe(ring_, head, cqe)
            {
                f(completion(cqe));
                ++n;
            }
            io_uring_cq_advance(ring_, n);
        } else {
            struct Retire {
                io_uring* ring;
                const unsigned& n;
                ~Retire() { io_uring_cq_advance(ring, n); }
            } retire{ring_, n};
            io_uring_for_each_cqe(ring_, head, cqe)
            {
                ++n;
                f(completion(cqe));
            }
        }
        return n;
    }

    // free submission queue entries
    [[nodiscard]] unsigned sq_space_left() const noexcept { return io_uring_sq_space_left(ring_); }

    // what the kernel supports (nothing, for an empty ring)
    [[nodiscard]] Probe probe() const noexcept
    {
        Probe probe;
        if (!valid())
            return probe;
        if (io_uring_probe* p = io_uring_get_probe_ring(ring_)) {
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

    // the io_uring fd (registered rings still have one; -1 when empty) and
    // the liburing state (nullptr when empty)
    [[nodiscard]] int fd() const noexcept { return ring_->ring_fd; }
    // the liburing state (nullptr when empty)
    [[nodiscard]] io_uring* native() noexcept { return core_ ? ring_ : nullptr; }
    // the liburing state, const (nullptr when empty)
    [[nodiscard]] const io_uring* native() const noexcept { return core_ ? ring_ : nullptr; }

    // io_uring_register() on this ring (-EBADF when empty)
    [[nodiscard]] int register_raw(unsigned opcode, void* arg, unsigned nr_args) noexcept
    {
        if (!valid())
            return -EBADF;  // fd -1 would name no ring at all: "blind" registrations
        return core_->reg(opcode, arg, nr_args);
    }

    // Fixed buffers beside regions: @buf in a slot of the table uio keeps
    // for its regions (the lowest free one, or @slot), for READ/WRITE_FIXED
    // with that buf_index. Give it back with unregister_buffer().
    [[nodiscard]] Result<std::uint16_t> register_buffer(std::span<std::byte> buf,
                                                        std::optional<std::uint16_t> slot = {}) noexcept
    {
        if (!valid())
            return errc::empty;
        auto claimed = core_->claim_slot(slot);
        if (!claimed)
            return claimed.error();
        if (int ret = core_->update_slot(*claimed, iovec{buf.data(), buf.size()}); ret < 0) {
            core_->release_slot(*claimed);
            return errno_code(ret);
        }
        return *claimed;
    }
    // empties @slot of register_buffer() and frees it for reuse
    [[nodiscard]] Result<void> unregister_buffer(std::uint16_t slot) noexcept
    {
        if (!valid())
            return errc::empty;
        if (int ret = core_->update_slot(slot, iovec{nullptr, 0}); ret < 0)
            return errno_code(ret);
        core_->release_slot(slot);
        return {};
    }

    // A sparse fixed-buffer table of @nr slots of your own, instead of
    // uio's: regions then cannot be made on this ring
    // (errc::buffer_table_in_use), and nothing of uio touches the table.
    [[nodiscard]] Result<void> register_buffers_sparse(unsigned nr) noexcept
    {
        if (!valid())
            return errc::empty;
        io_uring_rsrc_register rr{};
        rr.nr = nr;
        rr.flags = IORING_RSRC_REGISTER_SPARSE;
        return check(core_->reg(IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)));
    }

private:
    template <SqeSize, CqeSize>
    friend class UnifiedRegion;
    template <SqeSize, CqeSize>
    friend class Receiver;

    explicit Ring(std::shared_ptr<detail::RingCore> core) noexcept : core_(std::move(core)), ring_(core_->ring()) {}

    void release() noexcept
    {
        if (core_)
            core_->handle_gone();
        core_.reset();
        ring_ = &detail::empty_ring;
    }

    static Result<unsigned> count(int ret) noexcept
    {
        if (ret < 0)
            return errno_code(ret);
        return static_cast<unsigned>(ret);
    }

    std::shared_ptr<detail::RingCore> core_;
    io_uring* ring_ = &detail::empty_ring;  // core_'s, or the empty ring: never null
};

// The ring NVMe passthrough needs: 128-byte SQEs and 32-byte CQEs.
using NvmeRing = Ring<Sqe128, Cqe32>;

} // namespace uio
