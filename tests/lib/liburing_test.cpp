// SPDX-License-Identifier: MIT
// What uio carries for liburing older than 2.15 (uapi.hpp, ops.hpp): the SQEs
// its builders prepare equal what liburing's own helpers prepare where the
// liburing in use has them, and the fields they set are right in any case.
// Built against the installed liburing and, in host.liburing_oldest, 2.9.
#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include <cstring>

namespace {

// an SQE full of a pattern: a helper must set, not assume, what it prepares
io_uring_sqe dirty()
{
    io_uring_sqe sqe;
    std::memset(&sqe, 0xa5, sizeof(sqe));
    return sqe;
}

} // namespace

TEST_CASE("uio is built against a liburing it supports", "[liburing]")
{
    CHECK(uio::liburing_major == IO_URING_VERSION_MAJOR);
    CHECK(uio::liburing_minor == IO_URING_VERSION_MINOR);
    CHECK((uio::liburing_major > 2 || uio::liburing_minor >= 9));
    // the library loaded at run time is at least the one the headers are from
    CHECK((io_uring_major_version() > uio::liburing_major ||
           (io_uring_major_version() == uio::liburing_major && io_uring_minor_version() >= uio::liburing_minor)));
}

TEST_CASE("WritevFixed prepares IORING_OP_WRITEV_FIXED as liburing does", "[liburing]")
{
    const iovec iov[3] = {};
    io_uring_sqe got = dirty();
    uio::WritevFixed<uio::Fd>(uio::Fd{7}, iov, 12288, 5).prep(&got);
    CHECK(got.opcode == uio::uapi::op_writev_fixed);
    CHECK(got.fd == 7);
    CHECK(got.addr == reinterpret_cast<std::uintptr_t>(iov));
    CHECK(got.len == 3);
    CHECK(got.off == 12288);
    CHECK(got.buf_index == 5);
    CHECK(got.rw_flags == 0);
#if !IO_URING_CHECK_VERSION(2, 15)
    io_uring_sqe want = dirty();
    io_uring_prep_writev_fixed(&want, 7, iov, 3, 12288, 0, 5);
    CHECK(std::memcmp(&got, &want, sizeof(got)) == 0);
#endif
}

TEST_CASE("NVMe commands prepare IORING_OP_URING_CMD as liburing does", "[liburing]")
{
    alignas(4096) static std::byte buf[4096];
    io_uring_sqe got[2];
    std::memset(got, 0xa5, sizeof(got));
    uio::nvme::Read<uio::Fd>(uio::Fd{9}, 1, 0, uio::nvme::Blocks(1), std::span<std::byte>(buf)).prep(got);
    CHECK(got[0].opcode == IORING_OP_URING_CMD);
    CHECK(got[0].fd == 9);
    CHECK(got[0].cmd_op == NVME_URING_CMD_IO);
    CHECK(got[0].addr == 0);
    CHECK(got[0].len == 0);
#if !IO_URING_CHECK_VERSION(2, 15)
    io_uring_sqe want[2];
    std::memcpy(want, got, sizeof(want));
    io_uring_prep_uring_cmd(want, NVME_URING_CMD_IO, 9);
    CHECK(std::memcmp(got, want, sizeof(got)) == 0);
#endif
}

TEST_CASE("uio's copies of the zcrx and query uAPI have the kernel's layout", "[liburing]")
{
    CHECK(sizeof(uio::uapi::zcrx_rqe) == 16);
    CHECK(sizeof(uio::uapi::zcrx_ifq_reg) == 96);
    CHECK(sizeof(uio::uapi::zcrx_area_reg) == 48);
    CHECK(sizeof(uio::uapi::zcrx_ctrl) == 72);
    CHECK(sizeof(uio::uapi::query_hdr) == 40);
    CHECK(uio::uapi::zcrx_area_mask == 0xffff000000000000ull);
    // the receive's SQE field: file_index is io_uring.h's zcrx_ifq_idx
    CHECK(offsetof(io_uring_sqe, file_index) == 44);
}
