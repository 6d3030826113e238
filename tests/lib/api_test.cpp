// SPDX-License-Identifier: MIT
// The library's API contracts on the host: moved-from objects, Result,
// builders, drain(), NVMe commands. Nothing here needs a device.
#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include "support.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Ring = uio::Ring<uio::Sqe64, uio::Cqe16>;
using Region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>;
using Receiver = uio::Receiver<uio::Sqe64, uio::Cqe16>;

Region make_region(Ring& ring, std::size_t size = 1u << 20)
{
    auto region = Region::create(ring, {.data_size = size});
    REQUIRE(region);
    return std::move(*region);
}

} // namespace

TEST_CASE("a moved-from Ring is empty and every call on it is defined", "[moved-from]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    CHECK(ring.valid());
    CHECK(static_cast<bool>(ring));
    Ring other = std::move(ring);
    CHECK(other);
    CHECK_FALSE(ring.valid());  // NOLINT(bugprone-use-after-move): the state under test
    CHECK_FALSE(ring);
    CHECK(ring.native() == nullptr);
    CHECK(ring.fd() == -1);
    CHECK(ring.sq_space_left() == 0);
    CHECK_FALSE(ring.push(uio::Nop{}, 1));
    CHECK_FALSE(ring.push(uio::Nop{}, 1, IOSQE_ASYNC));
    auto submitted = ring.submit();
    CHECK((!submitted || *submitted == 0));
    CHECK_FALSE(ring.submit_and_wait(1));
    CHECK_FALSE(ring.peek());
    auto waited = ring.wait();
    REQUIRE_FALSE(waited);
    CHECK(waited.error() == uio::errc::empty);
    CHECK(ring.drain([](const Ring::completion&) {}) == 0);
    CHECK(ring.probe().opcodes.none());
    CHECK(ring.register_raw(IORING_UNREGISTER_BUFFERS, nullptr, 0) == -EBADF);
    CHECK(ring.register_buffers_sparse(4).error() == uio::errc::empty);
    auto region = Region::create(ring, {.data_size = 1u << 20});
    REQUIRE_FALSE(region);
    CHECK(region.error() == uio::errc::empty);

    // the moved-to ring works, and assigning makes the empty one usable again
    REQUIRE(other.push(uio::Nop{}, 5));
    REQUIRE(other.submit_and_wait(1));
    auto c = other.wait();
    REQUIRE(c);
    CHECK(c->user_data() == 5);
    other.seen(*c);
    ring = std::move(other);
    CHECK(ring);
    CHECK_FALSE(other);  // NOLINT(bugprone-use-after-move)
    REQUIRE(ring.push(uio::Nop{}, 6));
    CHECK(ring.submit_and_wait(1));
    CHECK(ring.drain([](const Ring::completion& done) { CHECK(done.user_data() == 6); }) == 1);
}

TEST_CASE("a moved-from UnifiedRegion is empty", "[moved-from]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = make_region(ring);
    CHECK(region.valid());
    Region moved = std::move(region);
    CHECK(moved);
    CHECK_FALSE(region);  // NOLINT(bugprone-use-after-move)
    CHECK(region.data().empty());
    CHECK(region.data().data() == nullptr);
    CHECK(region.size() == 0);
    CHECK(region.subspan(0, 4096).error() == uio::errc::empty);
    CHECK(region.fixed(0, 4096).error() == uio::errc::empty);
    CHECK(region.write_to(uio::Fd{0}, 0, 4096, 0).error() == uio::errc::empty);
    CHECK(region.read_from(uio::Fd{0}, 0, 4096, 0).error() == uio::errc::empty);
    CHECK(region.send(uio::Fd{0}, 0, 4096).error() == uio::errc::empty);
    const uio::BatchOp op{.user_data = 1, .region_offset = 0, .len = 4096, .device_offset = 0, .fd = 0, .write = false};
    CHECK(region.run_batch(ring, std::span(&op, 1)).error() == uio::errc::empty);
    CHECK(region.costs().pins == 0);
    // the moved-to region still has its memory
    CHECK(moved.data().size() == (1u << 20));
    moved.data()[0] = std::byte{1};
    region = std::move(moved);
    CHECK(region);
    CHECK(region.data()[0] == std::byte{1});
}

TEST_CASE("moved-from Fragments and Receivers are empty", "[moved-from]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = make_region(ring);
    auto receiver = Receiver::create(ring, region, {.buffer_size = 65536, .group = 2});
    REQUIRE(receiver);
    CHECK(receiver->valid());
    uio::Fragment frag = uio_test::receive_one(ring, *receiver, 100, std::byte{0x5a});
    REQUIRE(frag);
    REQUIRE(frag.data().size() == 100);
    uio::Fragment moved = std::move(frag);
    CHECK_FALSE(frag);  // NOLINT(bugprone-use-after-move)
    CHECK(frag.data().empty());
    CHECK(moved.data().size() == 100);
    CHECK(moved.data()[99] == std::byte{0x5a});

    Receiver taken = std::move(*receiver);
    CHECK_FALSE(*receiver);
    CHECK(receiver->buffers() == 0);
    CHECK(taken.buffers() == 16);
    // an empty receiver's receive completes with EBADF; take() reports it stopped
    REQUIRE(ring.push(receiver->arm(uio::Fd{0}), 9));
    REQUIRE(ring.submit());
    bool seen = false;
    while (!seen) {
        auto c = ring.wait();
        REQUIRE(c);
        if (c->user_data() == 9) {
            CHECK(c->errc() == std::errc::bad_file_descriptor);
            std::optional<uio::Fragment> out;
            CHECK(receiver->take(*c, out) == uio::ReceiveStatus::stopped);
            CHECK(receiver->error() == uio::errc::empty);
            CHECK_FALSE(out);
            seen = true;
        }
        ring.seen(*c);
    }
    Region gone = std::move(region);
    CHECK(Receiver::create(ring, region, {}).error() == uio::errc::empty);
}

namespace {
// runs @f in a child process: how it ended (the signal, or 0) and what it said on stderr
template <class F>
std::pair<int, std::string> in_child(F f)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        f();
        _exit(0);
    }
    close(fds[1]);
    std::string said;
    char buf[256];
    for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;)
        said.append(buf, static_cast<std::size_t>(n));
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return {WIFSIGNALED(status) ? WTERMSIG(status) : 0, said};
}
} // namespace

TEST_CASE("Result access is checked", "[result]")
{
    const uio::Result<int> good = 5;
    const uio::Result<int> bad = uio::errc::out_of_bounds;
    CHECK(*good == 5);  // const operator*
    CHECK(good.value() == 5);
    CHECK(good.value_or(7) == 5);
    CHECK(bad.value_or(7) == 7);
    CHECK(good.error() == std::error_code{});

    // value() throws, as std::expected::value() does
    try {
        (void)bad.value();
        FAIL("value() of an error returned");
    } catch (const uio::bad_result_access<std::error_code>& e) {
        CHECK(e.error() == uio::errc::out_of_bounds);
        CHECK(std::string(e.what()).find("outside the region") != std::string::npos);
    }
    uio::Result<std::string> moved_out = std::string("abc");
    CHECK(std::move(moved_out).value() == "abc");
    uio::Result<std::string> bad_string = uio::errc::empty;
    CHECK_THROWS_AS(std::move(bad_string).value(), uio::bad_result_access<std::error_code>);

    // operator* and -> on an error stop the program with the error's message
    auto [sig, said] = in_child([&] { std::printf("%d\n", *bad); });
    CHECK(sig == SIGABRT);
    CHECK(said.find("operator* or -> on a Result that holds an error: offset or length outside the region") !=
          std::string::npos);
    auto [sig2, said2] = in_child([] {
        uio::Result<std::string> r = uio::errno_code(EINVAL);
        std::printf("%zu\n", r->size());
    });
    CHECK(sig2 == SIGABRT);
    CHECK(said2.find("Invalid argument") != std::string::npos);
}

TEST_CASE("Result<void> carries success or an error", "[result]")
{
    uio::Result<void> ok;
    CHECK(ok);
    CHECK_NOTHROW(ok.value());
    uio::Result<void> failed = uio::errno_code(-EBUSY);
    CHECK_FALSE(failed);
    CHECK(failed.error() == std::errc::device_or_resource_busy);
    CHECK_THROWS_AS(failed.value(), uio::bad_result_access<std::error_code>);
    CHECK(uio::check(-ENOENT).error() == std::errc::no_such_file_or_directory);
    CHECK(uio::check(3));
}

TEST_CASE("Result with an error type of its own", "[result]")
{
    struct Failure {
        std::error_code code;
        std::string detail;
    };
    uio::Result<int, Failure> r = Failure{uio::errno_code(EPERM), "no"};
    CHECK_FALSE(r);
    CHECK(r.error().detail == "no");
    try {
        (void)r.value();
        FAIL("value() of an error returned");
    } catch (const uio::bad_result_access<Failure>& e) {
        CHECK(e.error().code == std::errc::operation_not_permitted);
        CHECK(std::string(e.what()).find("not permitted") != std::string::npos);
    }
}

TEST_CASE("chained setters return a builder, not a reference into a temporary", "[builders]")
{
    static_assert(std::is_same_v<decltype(uio::Send(uio::Fd{0}, {}).flags(0)), uio::Send<uio::Fd>>);
    static_assert(std::is_same_v<decltype(uio::Recv(uio::Fd{0}, {}).flags(0)), uio::Recv<uio::Fd>>);
    static_assert(std::is_same_v<decltype(uio::SendZcFixed(uio::Fd{0}, {}).flags(0)), uio::SendZcFixed<uio::Fd>>);
    static_assert(std::is_same_v<decltype(uio::UnifiedOp(uio::Fd{0}, 0, 0, 0).bpf()), uio::UnifiedOp<uio::Fd>>);

    std::array<std::byte, 64> buf{};
    // the form that dangled (ASan: stack-use-after-scope) when setters returned Op&
    const auto& send = uio::Send(uio::Fd{3}, buf).flags(MSG_NOSIGNAL | MSG_MORE);
    const auto& unified = uio::UnifiedOp(uio::Fixed{2}, uio::uapi::op_nvme, 4096, 512).device_offset(1u << 20).bpf();
    io_uring_sqe sqe{};
    send.prep(&sqe);
    CHECK(sqe.opcode == IORING_OP_SEND);
    CHECK(sqe.fd == 3);
    CHECK(sqe.msg_flags == (MSG_NOSIGNAL | MSG_MORE));
    CHECK(sqe.len == buf.size());
    sqe = {};
    unified.prep(&sqe);
    CHECK(sqe.opcode == uio::uapi::op_unified);
    CHECK(sqe.addr3 == (1u << 20));
    CHECK(sqe.addr == 4096);
    CHECK(sqe.off == (uio::uapi::op_nvme | uio::uapi::op_bpf));
    CHECK((sqe.flags & IOSQE_FIXED_FILE));

    // the original is untouched by a setter
    const uio::Recv<uio::Fd> plain(uio::Fd{4}, buf);
    const auto peeking = plain.flags(MSG_PEEK);
    sqe = {};
    plain.prep(&sqe);
    CHECK(sqe.msg_flags == 0);
    sqe = {};
    peeking.prep(&sqe);
    CHECK(sqe.msg_flags == MSG_PEEK);
}

TEST_CASE("drain() retires what it delivered when the callback throws", "[drain]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    for (std::uint64_t i = 1; i <= 5; ++i)
        REQUIRE(ring.push(uio::Nop{}, i));
    REQUIRE(ring.submit_and_wait(5));
    std::vector<std::uint64_t> seen;
    auto handle = [&](const Ring::completion& c) {
        seen.push_back(c.user_data());
        if (c.user_data() == 3)
            throw std::runtime_error("handler failed");
    };
    CHECK_THROWS_AS(ring.drain(handle), std::runtime_error);
    CHECK(seen == std::vector<std::uint64_t>{1, 2, 3});
    // the rest, and only the rest
    CHECK(ring.drain(handle) == 2);
    CHECK(seen == std::vector<std::uint64_t>{1, 2, 3, 4, 5});
    CHECK(ring.drain(handle) == 0);
    CHECK_FALSE(ring.peek());
}

TEST_CASE("NVMe read and write commands refuse bad block counts", "[nvme]")
{
    namespace nvme = uio::nvme;
    // run-time counts are checked where they become Blocks
    CHECK(nvme::Blocks::of(0).error() == std::errc::invalid_argument);
    CHECK(nvme::Blocks::of(65537).error() == std::errc::invalid_argument);
    CHECK(nvme::Blocks::of(1ull << 32).error() == std::errc::invalid_argument);
    REQUIRE(nvme::Blocks::of(65536));
    CHECK(nvme::Blocks::of(65536)->nlb() == 0xffff);
    // constants at compile time (tests/compile_fail/nvme_zero_blocks.cpp)
    static_assert(nvme::Blocks(1).nlb() == 0);
    static_assert(nvme::Blocks(65536).count() == 65536);

    // reads write into the buffer: a const span is refused
    static_assert(std::is_constructible_v<nvme::Read<uio::Fd>, uio::Fd, std::uint32_t, std::uint64_t, nvme::Blocks,
                                          std::span<std::byte>>);
    static_assert(!std::is_constructible_v<nvme::Read<uio::Fd>, uio::Fd, std::uint32_t, std::uint64_t,
                                           nvme::Blocks, std::span<const std::byte>>);
    static_assert(std::is_constructible_v<nvme::Write<uio::Fd>, uio::Fd, std::uint32_t, std::uint64_t, nvme::Blocks,
                                          std::span<const std::byte>>);

    std::array<std::byte, 8192> buf{};
    io_uring_sqe sqe[2]{};
    nvme::Read<uio::Fd>(uio::Fd{3}, 1, 0x1'0000'0002, *nvme::Blocks::of(65536), buf).prep(sqe);
    const auto* cmd = reinterpret_cast<const nvme_uring_cmd*>(sqe[0].cmd);
    CHECK(cmd->opcode == 0x02);
    CHECK(cmd->cdw12 == 0xffff);  // no LR, FUA or PRINFO bit
    CHECK(cmd->cdw10 == 2);
    CHECK(cmd->cdw11 == 1);
    CHECK(cmd->data_len == buf.size());
    std::memset(sqe, 0, sizeof(sqe));
    nvme::Write<uio::Fd>(uio::Fd{3}, 1, 0, 2, std::span<const std::byte>(buf)).prep(sqe);
    CHECK(cmd->opcode == 0x01);
    CHECK(cmd->cdw12 == 1);
}

TEST_CASE("vectored NVMe commands name their iovec array and count, fixed or not", "[nvme]")
{
    namespace nvme = uio::nvme;
    const std::array<iovec, 3> iov{};
    io_uring_sqe sqe[2]{};
    const auto* cmd = reinterpret_cast<const nvme_uring_cmd*>(sqe[0].cmd);
    nvme::WriteVec<uio::Fd>(uio::Fd{5}, 2, 0x2'0000'0010, 3, iov, 7).prep(sqe);
    CHECK(sqe[0].opcode == IORING_OP_URING_CMD);
    CHECK(sqe[0].cmd_op == NVME_URING_CMD_IO_VEC);
    CHECK(sqe[0].fd == 5);
    CHECK(sqe[0].uring_cmd_flags == IORING_URING_CMD_FIXED);
    CHECK(sqe[0].buf_index == 7);
    CHECK(cmd->opcode == 0x01);
    CHECK(cmd->nsid == 2);
    CHECK(cmd->addr == reinterpret_cast<std::uintptr_t>(iov.data()));
    CHECK(cmd->data_len == 3);  // iovecs, not bytes
    CHECK(cmd->cdw10 == 0x10);
    CHECK(cmd->cdw11 == 2);
    CHECK(cmd->cdw12 == 2);
    std::memset(sqe, 0, sizeof(sqe));
    nvme::ReadVec<uio::Fixed>(uio::Fixed{1}, 1, 0, 1, std::span<const iovec>(iov).first(1)).prep(sqe);
    CHECK(cmd->opcode == 0x02);
    CHECK(sqe[0].uring_cmd_flags == 0);
    CHECK(sqe[0].buf_index == 0);
    CHECK((sqe[0].flags & IOSQE_FIXED_FILE) != 0);
    CHECK(cmd->data_len == 1);
}

TEST_CASE("a kernel's EOPNOTSUPP and errc::unsupported_by_kernel compare equal both ways", "[errors]")
{
    const std::error_code kernel = uio::errno_code(-EOPNOTSUPP);
    const std::error_code ours = uio::make_error_code(uio::errc::unsupported_by_kernel);
    CHECK(kernel == uio::errc::unsupported_by_kernel);
    CHECK(ours == uio::errc::unsupported_by_kernel);
    CHECK(ours == std::errc::operation_not_supported);
    CHECK(kernel == std::errc::operation_not_supported);
    CHECK_FALSE(uio::errno_code(EINVAL) == uio::errc::unsupported_by_kernel);
    CHECK_FALSE(ours == uio::errc::out_of_bounds);
    CHECK(uio::make_error_code(uio::errc::empty) == uio::errc::empty);
    CHECK(uio::make_error_code(uio::errc::buffer_slot_unavailable) == std::errc::device_or_resource_busy);
    CHECK(ours.message() == "not supported by this kernel");
}

TEST_CASE("batches take registered files too", "[batch]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = make_region(ring);
    uio_test::MemFile file;
    REQUIRE(io_uring_register_files(ring.native(), &file.fd, 1) == 0);
    std::ranges::fill(region.data().first(8192), std::byte{0x77});
    const std::array<uio::BatchOp, 2> ops{{
        {.user_data = 1, .region_offset = 0, .len = 4096, .device_offset = 0, .fd = 0, .write = true, .fixed_file = true},
        {.user_data = 2, .region_offset = 4096, .len = 4096, .device_offset = 4096, .fd = file.fd, .write = true},
    }};
    auto results = region.run_batch(ring, ops);
    REQUIRE(results);
    REQUIRE(results->size() == 2);
    for (const auto& r : *results)
        CHECK(r.res == 4096);
    std::vector<std::byte> back(8192);
    REQUIRE(pread(file.fd, back.data(), back.size(), 0) == 8192);
    CHECK(std::ranges::all_of(back, [](std::byte b) { return b == std::byte{0x77}; }));
}

TEST_CASE("a receiving region is asked for on a 32-byte-CQE ring", "[net]")
{
    auto ring = uio::Ring<uio::Sqe64, uio::Cqe32>::create({.defer_taskrun = true});
    REQUIRE(ring);
    // the typed form (tests/compile_fail/net_region_on_cqe16.cpp: not on Cqe16)
    auto region = uio::make_region(*ring, {.data_size = 2u << 20}, uio::NetOptions{.area_len = 1u << 20});
    REQUIRE(region);
    auto receiver = uio::make_receiver(*ring, *region, {.area_offset = 1u << 20, .buffer_size = 65536});
    REQUIRE(receiver);
    CHECK(receiver->path() == region->receive_path());
    // the options form on a 16-byte-CQE ring: refused at run time
    Ring small = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    CHECK(Region::create(small, {.data_size = 1u << 20, .net = {.enabled = true}}).error() ==
          std::errc::invalid_argument);
}
