// SPDX-License-Identifier: MIT
// Operation builders: one value type per operation, required arguments in the
// constructor, optional ones as chained setters, prep() fills an SQE exactly
// as the liburing helper it wraps does.
//
// Setters return a new builder by value (as tokio-rs/io-uring's do), so
// `const auto& op = Send(fd, buf).flags(MSG_MORE);` holds its own copy
// rather than a reference into a destroyed temporary; they are
// [[nodiscard]], so a setter called for its effect alone does not compile
// under -Werror.
#pragma once

#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <sys/uio.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "error.hpp"
#include "ring.hpp"
#include "uapi.hpp"

namespace uio {

// File references: a plain descriptor or an index into the registered file
// table. IOSQE_FIXED_FILE follows from the type, never from a flag by hand.
struct Fd {
    int fd;  // the descriptor
    static constexpr std::uint8_t sqe_flags = 0;  // no IOSQE_FIXED_FILE
    [[nodiscard]] constexpr int raw() const noexcept { return fd; }  // what goes in sqe->fd
};
// An index into the ring's registered file table (IOSQE_FIXED_FILE).
struct Fixed {
    unsigned index;  // the registered file's index
    static constexpr std::uint8_t sqe_flags = IOSQE_FIXED_FILE;  // set on every SQE that names it
    [[nodiscard]] constexpr int raw() const noexcept { return static_cast<int>(index); }  // what goes in sqe->fd
};
template <class T>
concept FileRef = std::same_as<T, Fd> || std::same_as<T, Fixed>;

// A span of a registered buffer as fixed-buffer SQEs address it: a pointer
// for ordinary buffers, a region offset for a unified region's data area.
struct FixedSpan {
    std::uint64_t addr;  // the address (a region offset for a region's data area)
    std::uint32_t len;  // bytes
    std::uint16_t buf_index;  // the registered buffer's slot
};

// IORING_OP_NOP: completes with res 0, moving nothing.
struct Nop {
    static constexpr std::uint8_t opcode = IORING_OP_NOP;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    void prep(io_uring_sqe* sqe) const noexcept { io_uring_prep_nop(sqe); }
};

template <FileRef F>
// IORING_OP_READ: @buf from @offset of the file (-1: its current position).
class Read {
public:
    static constexpr std::uint8_t opcode = IORING_OP_READ;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // reads into @buf, which must stay alive until the operation completes
    Read(F file, std::span<std::byte> buf, std::uint64_t offset) noexcept
        : file_(file), buf_(buf), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_read(sqe, file_.raw(), buf_.data(), static_cast<unsigned>(buf_.size()), offset_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::span<std::byte> buf_;
    std::uint64_t offset_;
};

template <FileRef F>
// IORING_OP_WRITE: @buf to @offset of the file (-1: its current position).
class Write {
public:
    static constexpr std::uint8_t opcode = IORING_OP_WRITE;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // writes @buf, which must stay alive until the operation completes
    Write(F file, std::span<const std::byte> buf, std::uint64_t offset) noexcept
        : file_(file), buf_(buf), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_write(sqe, file_.raw(), buf_.data(), static_cast<unsigned>(buf_.size()), offset_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::span<const std::byte> buf_;
    std::uint64_t offset_;
};

template <FileRef F>
// IORING_OP_READ_FIXED: into a span of a registered buffer, from @offset of the file.
class ReadFixed {
public:
    static constexpr std::uint8_t opcode = IORING_OP_READ_FIXED;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // reads into @span (registered buffer span.buf_index)
    ReadFixed(F file, FixedSpan span, std::uint64_t offset) noexcept : file_(file), span_(span), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_read_fixed(sqe, file_.raw(), reinterpret_cast<void*>(span_.addr), span_.len, offset_,
                                 span_.buf_index);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    FixedSpan span_;
    std::uint64_t offset_;
};

template <FileRef F>
// IORING_OP_WRITE_FIXED: a span of a registered buffer to @offset of the file.
class WriteFixed {
public:
    static constexpr std::uint8_t opcode = IORING_OP_WRITE_FIXED;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // writes @span (registered buffer span.buf_index)
    WriteFixed(F file, FixedSpan span, std::uint64_t offset) noexcept : file_(file), span_(span), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_write_fixed(sqe, file_.raw(), reinterpret_cast<const void*>(span_.addr), span_.len,
                                  offset_, span_.buf_index);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    FixedSpan span_;
    std::uint64_t offset_;
};

template <FileRef F>
// IORING_OP_READV: a vectored read from @offset of the file.
class Readv {
public:
    static constexpr std::uint8_t opcode = IORING_OP_READV;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // the iovecs must stay alive until the operation completes
    Readv(F file, std::span<const iovec> iov, std::uint64_t offset) noexcept : file_(file), iov_(iov), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_readv(sqe, file_.raw(), iov_.data(), static_cast<unsigned>(iov_.size()), offset_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::span<const iovec> iov_;
    std::uint64_t offset_;
};

template <FileRef F>
// IORING_OP_WRITEV: a vectored write to @offset of the file.
class Writev {
public:
    static constexpr std::uint8_t opcode = IORING_OP_WRITEV;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // the iovecs must stay alive until the operation completes
    Writev(F file, std::span<const iovec> iov, std::uint64_t offset) noexcept : file_(file), iov_(iov), offset_(offset) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_writev(sqe, file_.raw(), iov_.data(), static_cast<unsigned>(iov_.size()), offset_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::span<const iovec> iov_;
    std::uint64_t offset_;
};

// A vectored write from spans of one registered buffer (IORING_OP_WRITEV_FIXED,
// Linux 6.15): each iovec lies in buffer @buf_index. The kernel copies the
// iovecs when the SQE is submitted: they must stay valid until then.
template <FileRef F>
class WritevFixed {
public:
    static constexpr std::uint8_t opcode = uapi::op_writev_fixed;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // writes the spans @iov of buffer @buf_index to @offset of the file
    WritevFixed(F file, std::span<const iovec> iov, std::uint64_t offset, std::uint16_t buf_index) noexcept
        : file_(file), iov_(iov), offset_(offset), buf_index_(buf_index) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        // io_uring_prep_writev_fixed() of liburing >= 2.10, spelled out
        io_uring_prep_writev2(sqe, file_.raw(), iov_.data(), static_cast<unsigned>(iov_.size()), offset_, 0);
        sqe->opcode = opcode;
        sqe->buf_index = buf_index_;
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::span<const iovec> iov_;
    std::uint64_t offset_;
    std::uint16_t buf_index_;
};

template <FileRef F>
// IORING_OP_SEND: @buf on a connected socket.
class Send {
public:
    static constexpr std::uint8_t opcode = IORING_OP_SEND;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // sends @buf, which must stay alive until the operation completes
    Send(F socket, std::span<const std::byte> buf) noexcept : sock_(socket), buf_(buf) {}
    // a copy with send(2)'s MSG_* @msg_flags
    [[nodiscard]] constexpr Send flags(int msg_flags) const noexcept
    {
        Send op = *this;
        op.flags_ = msg_flags;
        return op;
    }
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_send(sqe, sock_.raw(), buf_.data(), buf_.size(), flags_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F sock_;
    std::span<const std::byte> buf_;
    int flags_ = 0;
};

template <FileRef F>
// IORING_OP_RECV: into @buf from a socket.
class Recv {
public:
    static constexpr std::uint8_t opcode = IORING_OP_RECV;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // receives into @buf, which must stay alive until the operation completes
    Recv(F socket, std::span<std::byte> buf) noexcept : sock_(socket), buf_(buf) {}
    // a copy with recv(2)'s MSG_* @msg_flags
    [[nodiscard]] constexpr Recv flags(int msg_flags) const noexcept
    {
        Recv op = *this;
        op.flags_ = msg_flags;
        return op;
    }
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_recv(sqe, sock_.raw(), buf_.data(), buf_.size(), flags_);
        sqe->flags |= F::sqe_flags;
    }

private:
    F sock_;
    std::span<std::byte> buf_;
    int flags_ = 0;
};

// Zero-copy send from a registered buffer: one CQE for the send (with
// IORING_CQE_F_MORE) and a notification CQE when the buffer may be reused.
template <FileRef F>
class SendZcFixed {
public:
    static constexpr std::uint8_t opcode = IORING_OP_SEND_ZC;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // sends @span of a registered buffer; it must not change until the notification
    SendZcFixed(F socket, FixedSpan span) noexcept : sock_(socket), span_(span) {}
    // a copy with send(2)'s MSG_* @msg_flags
    [[nodiscard]] constexpr SendZcFixed flags(int msg_flags) const noexcept
    {
        SendZcFixed op = *this;
        op.flags_ = msg_flags;
        return op;
    }
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_send_zc_fixed(sqe, sock_.raw(), reinterpret_cast<const void*>(span_.addr), span_.len,
                                    flags_, 0, span_.buf_index);
        sqe->flags |= F::sqe_flags;
    }

private:
    F sock_;
    FixedSpan span_;
    int flags_ = 0;
};

// NVMe passthrough: IORING_OP_URING_CMD on /dev/ngXnY (I/O) or /dev/nvmeX
// (admin). The command lives in the second half of a 128-byte SQE and the
// result dword comes back in a 32-byte CQE, so these build only for
// Ring<Sqe128, Cqe32>.
namespace nvme {

// NVMe command opcodes: NVM command set (flush, write, read) and admin (identify)
enum class Opcode : std::uint8_t { flush = 0x00, write = 0x01, read = 0x02, identify = 0x06 };

namespace detail {
inline nvme_uring_cmd* cmd_of(io_uring_sqe* sqe) noexcept
{
    return reinterpret_cast<nvme_uring_cmd*>(sqe->cmd);
}
// the passthrough ioctl numbers as io_uring_prep_uring_cmd() takes them (int)
inline constexpr int cmd_io = static_cast<int>(NVME_URING_CMD_IO);
inline constexpr int cmd_io_vec = static_cast<int>(NVME_URING_CMD_IO_VEC);
inline constexpr int cmd_admin = static_cast<int>(NVME_URING_CMD_ADMIN);
// io_uring_prep_uring_cmd() of liburing >= 2.10, spelled out for older ones
inline void prep_uring_cmd(io_uring_sqe* sqe, int cmd_op, int fd) noexcept
{
    sqe->opcode = IORING_OP_URING_CMD;
    sqe->fd = fd;
    sqe->cmd_op = static_cast<std::uint32_t>(cmd_op);
    sqe->__pad1 = 0;
    sqe->addr = 0;
    sqe->len = 0;
}
// not constexpr: reaching it in a constant expression is the diagnostic
inline void block_count_must_be_1_to_65536() noexcept {}
} // namespace detail

// A block count of a read or write: 1 to 65536 (CDW12's 16-bit, 0-based NLB;
// the bits above it are LR, FUA and PRINFO, which a count must not reach).
// A constant is checked at compile time; a run-time count goes through of().
class Blocks {
public:
    static constexpr std::uint32_t max = 65536;  // the most blocks one command moves

    // @n blocks, a constant: outside 1..65536 it does not compile
    consteval Blocks(std::uint64_t n) : n_(static_cast<std::uint32_t>(n))  // NOLINT: implicit on purpose
    {
        if (n == 0 || n > max)
            detail::block_count_must_be_1_to_65536();
    }
    // @n checked at run time: EINVAL outside 1..65536
    [[nodiscard]] static Result<Blocks> of(std::uint64_t n) noexcept
    {
        if (n == 0 || n > max)
            return errno_code(EINVAL);
        return Blocks(checked, static_cast<std::uint32_t>(n));
    }
    [[nodiscard]] constexpr std::uint32_t count() const noexcept { return n_; }  // the number of blocks
    // CDW12's number of logical blocks, 0-based
    [[nodiscard]] constexpr std::uint32_t nlb() const noexcept { return n_ - 1; }

private:
    struct checked_t {};
    static constexpr checked_t checked{};
    constexpr Blocks(checked_t, std::uint32_t n) noexcept : n_(n) {}

    std::uint32_t n_;
};

namespace detail {
// The SQE of a read or write command (@cmd_op: plain or vectored) on char
// device @fd: @addr/@len as the command form takes them, a registered buffer
// (@fixed, @buf_index) or not, @blocks at @slba of namespace @nsid.
inline void prep_rw(io_uring_sqe* sqe, int cmd_op, int fd, std::uint8_t sqe_flags, bool fixed,
                    std::uint16_t buf_index, Opcode op, std::uint32_t nsid, std::uint64_t addr, std::uint32_t len,
                    std::uint64_t slba, Blocks blocks) noexcept
{
    prep_uring_cmd(sqe, cmd_op, fd);
    sqe->flags |= sqe_flags;
    if (fixed) {
        sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
        sqe->buf_index = buf_index;
    }
    nvme_uring_cmd* cmd = cmd_of(sqe);
    *cmd = {};
    cmd->opcode = static_cast<std::uint8_t>(op);
    cmd->nsid = nsid;
    cmd->addr = addr;
    cmd->data_len = len;
    cmd->cdw10 = static_cast<std::uint32_t>(slba);
    cmd->cdw11 = static_cast<std::uint32_t>(slba >> 32);
    cmd->cdw12 = blocks.nlb();  // 0-based, below the LR/FUA/PRINFO bits
}
} // namespace detail

template <FileRef F, Opcode Op>
// An NVMe read or write (nvme::Read, nvme::Write) through the passthrough
// character device /dev/ngXnY, into or from a plain buffer or a registered one.
class Io {
public:
    static constexpr std::uint8_t opcode = IORING_OP_URING_CMD;
    using sqe_size = Sqe128;
    using cqe_size = Cqe32;
    // what the device writes into (read) or reads from (write)
    using buffer = std::conditional_t<Op == Opcode::read, std::span<std::byte>, std::span<const std::byte>>;

    // @blocks of the namespace's LBA format, starting at @slba, to or from
    // @buf (which must hold @blocks blocks: the device moves that many)
    Io(F ng, std::uint32_t nsid, std::uint64_t slba, Blocks blocks, buffer buf) noexcept
        : file_(ng), nsid_(nsid), slba_(slba), blocks_(blocks),
          addr_(reinterpret_cast<std::uintptr_t>(buf.data())), len_(static_cast<std::uint32_t>(buf.size())) {}
    // the data buffer is a span of registered buffer @span.buf_index
    Io(F ng, std::uint32_t nsid, std::uint64_t slba, Blocks blocks, FixedSpan span) noexcept
        : file_(ng), nsid_(nsid), slba_(slba), blocks_(blocks), addr_(span.addr), len_(span.len),
          buf_index_(span.buf_index), fixed_(true) {}

    void prep(io_uring_sqe* sqe) const noexcept
    {
        detail::prep_rw(sqe, detail::cmd_io, file_.raw(), F::sqe_flags, fixed_, buf_index_, Op, nsid_, addr_, len_,
                        slba_, blocks_);
    }

private:
    F file_;
    std::uint32_t nsid_;
    std::uint64_t slba_;
    Blocks blocks_;
    std::uint64_t addr_;
    std::uint32_t len_;
    std::uint16_t buf_index_ = 0;
    bool fixed_ = false;
};

template <FileRef F>
// NVMe read: @blocks from @slba into the buffer
using Read = Io<F, Opcode::read>;
template <FileRef F>
// NVMe write: @blocks from the buffer to @slba
using Write = Io<F, Opcode::write>;

template <FileRef F, Opcode Op>
// A vectored NVMe read or write (nvme::ReadVec, nvme::WriteVec): one command
// over the iovecs in order (NVME_URING_CMD_IO_VEC), each a span of plain
// memory or, with a buffer index, of that registered buffer (addressed as
// fixed() gives it: a region's data area by region offset). Fixed iovecs
// need Linux >= 6.16; older kernels fail the completion with EINVAL. The
// kernel reads the iovec array again if it retries the command, so the
// array must stay valid until the completion, not only until submission.
class IoVec {
public:
    static constexpr std::uint8_t opcode = IORING_OP_URING_CMD;
    using sqe_size = Sqe128;
    using cqe_size = Cqe32;

    // @blocks at @slba to or from plain memory @iov (which must hold @blocks blocks in all)
    IoVec(F ng, std::uint32_t nsid, std::uint64_t slba, Blocks blocks, std::span<const iovec> iov) noexcept
        : file_(ng), nsid_(nsid), slba_(slba), blocks_(blocks), iov_(iov) {}
    // the same, each iovec a span of registered buffer @buf_index
    IoVec(F ng, std::uint32_t nsid, std::uint64_t slba, Blocks blocks, std::span<const iovec> iov,
          std::uint16_t buf_index) noexcept
        : file_(ng), nsid_(nsid), slba_(slba), blocks_(blocks), iov_(iov), buf_index_(buf_index), fixed_(true) {}

    void prep(io_uring_sqe* sqe) const noexcept
    {
        // the vectored form counts iovecs in data_len
        detail::prep_rw(sqe, detail::cmd_io_vec, file_.raw(), F::sqe_flags, fixed_, buf_index_, Op, nsid_,
                        reinterpret_cast<std::uintptr_t>(iov_.data()), static_cast<std::uint32_t>(iov_.size()), slba_,
                        blocks_);
    }

private:
    F file_;
    std::uint32_t nsid_;
    std::uint64_t slba_;
    Blocks blocks_;
    std::span<const iovec> iov_;
    std::uint16_t buf_index_ = 0;
    bool fixed_ = false;
};

template <FileRef F>
// vectored NVMe read: @blocks from @slba into the iovecs
using ReadVec = IoVec<F, Opcode::read>;
template <FileRef F>
// vectored NVMe write: @blocks from the iovecs to @slba
using WriteVec = IoVec<F, Opcode::write>;

template <FileRef F>
// NVMe flush: namespace @nsid's volatile write cache to media.
class Flush {
public:
    static constexpr std::uint8_t opcode = IORING_OP_URING_CMD;
    using sqe_size = Sqe128;
    using cqe_size = Cqe32;
    // flushes namespace @nsid through its /dev/ngXnY @ng
    Flush(F ng, std::uint32_t nsid) noexcept : file_(ng), nsid_(nsid) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        detail::prep_uring_cmd(sqe, detail::cmd_io, file_.raw());
        sqe->flags |= F::sqe_flags;
        nvme_uring_cmd* cmd = detail::cmd_of(sqe);
        *cmd = {};
        cmd->opcode = static_cast<std::uint8_t>(Opcode::flush);
        cmd->nsid = nsid_;
    }

private:
    F file_;
    std::uint32_t nsid_;
};

// Identify (admin, on the controller's char device /dev/nvmeX): 4 KiB of
// data structure @cns for namespace @nsid (0 for the controller).
template <FileRef F>
class Identify {
public:
    static constexpr std::uint8_t opcode = IORING_OP_URING_CMD;
    using sqe_size = Sqe128;
    using cqe_size = Cqe32;
    // the data structure arrives in @out, which must stay alive until completion
    Identify(F ctrl, std::uint32_t nsid, std::uint8_t cns, std::span<std::byte, 4096> out) noexcept
        : file_(ctrl), nsid_(nsid), cns_(cns), out_(out.data()) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        detail::prep_uring_cmd(sqe, detail::cmd_admin, file_.raw());
        sqe->flags |= F::sqe_flags;
        nvme_uring_cmd* cmd = detail::cmd_of(sqe);
        *cmd = {};
        cmd->opcode = static_cast<std::uint8_t>(Opcode::identify);
        cmd->nsid = nsid_;
        cmd->addr = reinterpret_cast<std::uintptr_t>(out_);
        cmd->data_len = 4096;
        cmd->cdw10 = cns_;
    }

private:
    F file_;
    std::uint32_t nsid_;
    std::uint8_t cns_;
    std::byte* out_;
};

} // namespace nvme

// IORING_OP_UNIFIED, direct: one span of a unified region's data area and its
// stages (uapi::op_nvme, op_write, op_net, op_bpf). On a Ring<..., Cqe32> the
// completion's extra1() is the region offset and extra2() the stages.
template <FileRef F>
class UnifiedOp {
public:
    static constexpr std::uint8_t opcode = uapi::op_unified;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // @len bytes at @region_offset of the data area through @stages; @file is the
    // device or socket of the storage or network stage
    UnifiedOp(F file, std::uint32_t stages, std::uint64_t region_offset, std::uint32_t len) noexcept
        : file_(file), stages_(stages), addr_(region_offset), len_(len) {}
    // byte offset on the device, for the storage stage
    [[nodiscard]] constexpr UnifiedOp device_offset(std::uint64_t off) const noexcept
    {
        UnifiedOp op = *this;
        op.dev_off_ = off;
        return op;
    }
    // adds the BPF stage: the ring's program (uio::BpfOps) runs after inbound
    // data lands, or before outbound data leaves
    [[nodiscard]] constexpr UnifiedOp bpf() const noexcept
    {
        UnifiedOp op = *this;
        op.stages_ |= uapi::op_bpf;
        return op;
    }
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_rw(opcode, sqe, file_.raw(), nullptr, len_, stages_);
        sqe->addr = addr_;
        sqe->addr3 = dev_off_;
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::uint32_t stages_;
    std::uint64_t addr_;
    std::uint32_t len_;
    std::uint64_t dev_off_ = 0;
};

// IORING_OP_UNIFIED, vectored storage stage (uapi::op_vec): the spans of
// the data area, in order, go to one device range from device_offset() on
// (@stages: uapi::op_nvme | uapi::op_write for a write; op_vec is added
// here). Each span must lie in the data area (EFAULT), have a length > 0
// and an offset and length aligned to the device's logical block size, and
// not overlap another (EINVAL); 1 to uapi::vec_max_spans spans (EINVAL);
// no network or BPF stage (EINVAL). The completion's res() is the bytes
// moved. The kernel copies the span array when the SQE is submitted: it
// must stay valid until then (not until completion).
template <FileRef F>
class UnifiedOpVec {
public:
    static constexpr std::uint8_t opcode = uapi::op_unified;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // @spans of the data area through @stages, to device @file
    UnifiedOpVec(F file, std::uint32_t stages, std::span<const uapi::span> spans) noexcept
        : file_(file), stages_(stages | uapi::op_vec), spans_(spans) {}
    // byte offset on the device where the first span goes
    [[nodiscard]] constexpr UnifiedOpVec device_offset(std::uint64_t off) const noexcept
    {
        UnifiedOpVec op = *this;
        op.dev_off_ = off;
        return op;
    }
    void prep(io_uring_sqe* sqe) const noexcept
    {
        // a count beyond 32 bits is refused by the kernel as any count > 1024
        const auto n = spans_.size() > 0xffffffffu ? 0xffffffffu : static_cast<unsigned>(spans_.size());
        io_uring_prep_rw(opcode, sqe, file_.raw(), spans_.data(), n, stages_);
        sqe->addr3 = dev_off_;
        sqe->flags |= F::sqe_flags;
    }

private:
    F file_;
    std::uint32_t stages_;
    std::span<const uapi::span> spans_;
    std::uint64_t dev_off_ = 0;
};

// IORING_OP_UNIFIED with the BPF stage alone: the ring's program computes
// over [region_offset, region_offset + len) of the data area, which is
// already there. The completion's res() is len; Completion<Cqe32>::
// bpf_result() what the program returned.
class UnifiedCompute {
public:
    static constexpr std::uint8_t opcode = uapi::op_unified;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // the program runs over @len bytes at @region_offset
    UnifiedCompute(std::uint64_t region_offset, std::uint32_t len) noexcept : addr_(region_offset), len_(len) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_rw(opcode, sqe, -1, nullptr, len_, uapi::op_bpf);
        sqe->addr = addr_;
    }

private:
    std::uint64_t addr_;
    std::uint32_t len_;
};

// IORING_OP_UNIFIED, batch: consume up to @max_descs descriptors of the
// region's submission ring; the completion's res() is how many.
class UnifiedBatch {
public:
    static constexpr std::uint8_t opcode = uapi::op_unified;
    using sqe_size = Sqe64;
    using cqe_size = Cqe16;
    // consumes up to @max_descs descriptors
    explicit UnifiedBatch(std::uint32_t max_descs) noexcept : max_(max_descs) {}
    void prep(io_uring_sqe* sqe) const noexcept
    {
        io_uring_prep_rw(opcode, sqe, -1, nullptr, max_, uapi::op_batch);
    }

private:
    std::uint32_t max_;
};

} // namespace uio
