// SPDX-License-Identifier: MIT
// The vectored storage write of region spans (UnifiedRegion::vec_span(),
// write_spans_to(), UnifiedOpVec, WritevFixed): on the host the compat
// backend's IORING_OP_WRITEV_FIXED from the region's fixed buffer to an
// O_DIRECT file, byte for byte; the builders' SQEs; every refusal.
#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include "support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Ring = uio::Ring<uio::Sqe64, uio::Cqe16>;
using Region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>;
constexpr std::uint32_t blk = 4096;

// an O_DIRECT file of 4 MiB in /var/tmp (a file on a block device), removed at the end
struct DirectFile {
    std::string path = "/var/tmp/uio-vec-test-" + std::to_string(getpid());
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0600);
    DirectFile()
    {
        REQUIRE(fd >= 0);
        REQUIRE(ftruncate(fd, 4 << 20) == 0);
    }
    ~DirectFile()
    {
        close(fd);
        unlink(path.c_str());
    }
    DirectFile(const DirectFile&) = delete;
    DirectFile& operator=(const DirectFile&) = delete;
    [[nodiscard]] std::vector<std::byte> read(std::uint64_t off, std::size_t len) const
    {
        std::vector<std::byte> out(len);
        const int plain = open(path.c_str(), O_RDONLY);  // after O_DIRECT writes: what the file holds
        REQUIRE(plain >= 0);
        REQUIRE(pread(plain, out.data(), len, static_cast<off_t>(off)) == static_cast<ssize_t>(len));
        close(plain);
        return out;
    }
};

Region compat_region(Ring& ring, std::size_t size = 1u << 20)
{
    auto region = Region::create(ring, {.data_size = size, .backend = uio::BackendChoice::compat});
    REQUIRE(region);
    return std::move(*region);
}

int run_one(Ring& ring)
{
    REQUIRE(ring.submit_and_wait(1));
    auto c = ring.wait();
    REQUIRE(c);
    const int res = c->res();
    ring.seen(*c);
    return res;
}

} // namespace

TEST_CASE("write_spans_to() writes scattered region spans to one device range, in order", "[vec]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = compat_region(ring);
    REQUIRE(region.vectored_writes());
    DirectFile file;
    auto data = region.data();
    for (std::size_t i = 0; i < data.size(); ++i)
        data[i] = static_cast<std::byte>((i * 131 + i / blk) & 0xff);

    // out of order in the region, adjacent on the device: a block at the
    // end, two in the middle, the first one, the region's last block
    const std::vector<std::pair<std::uint64_t, std::uint32_t>> parts = {
        {100 * blk, blk}, {7 * blk, 2 * blk}, {0, blk}, {region.size() - blk, blk}};
    std::vector<uio::uapi::span> spans;
    std::uint32_t total = 0;
    for (const auto& [off, len] : parts) {
        auto sp = region.vec_span(off, len);
        REQUIRE(sp);
        CHECK(sp->len == len);
        CHECK(sp->resv == 0);
        spans.push_back(*sp);
        total += len;
    }
    constexpr std::uint64_t dev_off = 64 * blk;
    auto w = region.write_spans_to(uio::Fd{file.fd}, dev_off, spans);
    REQUIRE(w);
    REQUIRE(ring.push(*w, 1));
    // submitted: the kernel has copied the iovecs, the array may go
    REQUIRE(ring.submit());
    spans.assign(spans.size(), uio::uapi::span{0xdead, 1, 0});
    auto c = ring.wait();
    REQUIRE(c);
    INFO("WRITEV_FIXED needs Linux 6.15: " << c->error().message());
    REQUIRE(c->res() == static_cast<int>(total));
    ring.seen(*c);

    const auto got = file.read(dev_off, total);
    std::size_t at = 0;
    for (const auto& [off, len] : parts) {
        CHECK(std::memcmp(got.data() + at, data.data() + off, len) == 0);
        at += len;
    }
    // nothing before or after the range
    const auto before = file.read(dev_off - blk, blk);
    const auto after = file.read(dev_off + total, blk);
    CHECK(std::all_of(before.begin(), before.end(), [](std::byte b) { return b == std::byte{0}; }));
    CHECK(std::all_of(after.begin(), after.end(), [](std::byte b) { return b == std::byte{0}; }));
}

TEST_CASE("a span list of the maximum length works; one more is refused", "[vec]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = compat_region(ring, 4u << 20);
    DirectFile file;
    auto data = region.data();
    std::vector<uio::uapi::span> spans;
    // 1024 single blocks, each the reverse of its place: block i of the device range is region block 1023 - i
    for (std::uint32_t i = 0; i < uio::uapi::vec_max_spans; ++i) {
        const std::uint64_t off = std::uint64_t{uio::uapi::vec_max_spans - 1 - i} * blk;
        std::memset(data.data() + off, static_cast<int>(i & 0xff), blk);
        spans.push_back(*region.vec_span(off, blk));
    }
    auto w = region.write_spans_to(uio::Fd{file.fd}, 0, spans);
    REQUIRE(w);
    REQUIRE(ring.push(*w, 1));
    REQUIRE(run_one(ring) == static_cast<int>(uio::uapi::vec_max_spans * blk));
    const auto got = file.read(0, std::size_t{uio::uapi::vec_max_spans} * blk);
    for (std::uint32_t i = 0; i < uio::uapi::vec_max_spans; i += 97)
        CHECK(got[std::size_t{i} * blk + 5] == static_cast<std::byte>(i & 0xff));

    spans.push_back(spans.front());
    auto too_many = region.write_spans_to(uio::Fd{file.fd}, 0, spans);
    REQUIRE_FALSE(too_many);
    CHECK(too_many.error() == std::errc::invalid_argument);
}

TEST_CASE("write_spans_to() refuses bad spans before anything is submitted", "[vec]")
{
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = compat_region(ring);
    const uio::Fd file{-1};

    // bounds: a span past the end, across it, of length 0
    CHECK(region.vec_span(region.size(), blk).error() == uio::errc::out_of_bounds);
    CHECK(region.vec_span(region.size() - blk, 2 * blk).error() == uio::errc::out_of_bounds);
    CHECK(region.vec_span(0, 0).error() == uio::errc::out_of_bounds);

    const uio::uapi::span good = *region.vec_span(0, blk);
    // an empty list
    CHECK(region.write_spans_to(file, 0, std::span<const uio::uapi::span>{}).error() == std::errc::invalid_argument);
    // resv set
    uio::uapi::span bad = good;
    bad.resv = 1;
    CHECK(region.write_spans_to(file, 0, std::span(&bad, 1)).error() == std::errc::invalid_argument);
    // length 0
    bad = good;
    bad.len = 0;
    CHECK(region.write_spans_to(file, 0, std::span(&bad, 1)).error() == std::errc::invalid_argument);
    // a region offset where the compat backend takes an address (not from vec_span())
    bad = uio::uapi::span{0, blk, 0};
    CHECK(region.write_spans_to(file, 0, std::span(&bad, 1)).error() == uio::errc::out_of_bounds);
    // past the end by one byte
    bad = good;
    bad.addr += region.size() - blk + 1;
    CHECK(region.write_spans_to(file, 0, std::span(&bad, 1)).error() == uio::errc::out_of_bounds);
    // a total the completion could not report (int): 1024 spans of 2 MiB
    Region big = compat_region(ring, 2u << 20);
    const std::vector<uio::uapi::span> huge(uio::uapi::vec_max_spans, *big.vec_span(0, 2u << 20));
    CHECK(big.write_spans_to(file, 0, huge).error() == std::errc::value_too_large);

    // a moved-from region: empty everywhere
    Region moved = std::move(region);
    CHECK_FALSE(region.vectored_writes());  // NOLINT(bugprone-use-after-move): the state under test
    CHECK(region.vec_span(0, blk).error() == uio::errc::empty);
    CHECK(region.write_spans_to(file, 0, std::span(&good, 1)).error() == uio::errc::empty);
    CHECK(moved.write_spans_to(file, 0, std::span(&good, 1)));
}

TEST_CASE("the vectored builders fill the SQE the kernel reads", "[vec]")
{
    std::vector<uio::uapi::span> spans(3, uio::uapi::span{blk, blk, 0});
    io_uring_sqe sqe{};
    uio::UnifiedOpVec<uio::Fd>(uio::Fd{9}, uio::uapi::op_nvme | uio::uapi::op_write, spans)
        .device_offset(1u << 20)
        .prep(&sqe);
    CHECK(sqe.opcode == uio::uapi::op_unified);
    CHECK(sqe.fd == 9);
    CHECK(sqe.off == (uio::uapi::op_nvme | uio::uapi::op_write | uio::uapi::op_vec));
    CHECK(sqe.addr == reinterpret_cast<std::uintptr_t>(spans.data()));
    CHECK(sqe.len == 3);
    CHECK(sqe.addr3 == (1u << 20));
    CHECK(sqe.flags == 0);

    io_uring_sqe fixed{};
    uio::UnifiedOpVec<uio::Fixed>(uio::Fixed{2}, uio::uapi::op_nvme | uio::uapi::op_write, spans).prep(&fixed);
    CHECK(fixed.flags == IOSQE_FIXED_FILE);
    CHECK(fixed.fd == 2);
    CHECK(fixed.addr3 == 0);

    const iovec iov[2] = {{nullptr, blk}, {nullptr, blk}};
    io_uring_sqe wv{};
    uio::WritevFixed<uio::Fd>(uio::Fd{4}, iov, 8192, 3).prep(&wv);
    CHECK(wv.opcode == uio::uapi::op_writev_fixed);  // IORING_OP_WRITEV_FIXED (uapi.hpp checks the value)
    CHECK(wv.buf_index == 3);
    CHECK(wv.len == 2);
    CHECK(wv.off == 8192);
    CHECK(wv.addr == reinterpret_cast<std::uintptr_t>(iov));

    // the compat region's write is a WRITEV_FIXED on its own buffer slot
    Ring ring = uio_test::make_ring<uio::Sqe64, uio::Cqe16>();
    Region region = compat_region(ring);
    const uio::uapi::span sp = *region.vec_span(blk, blk);
    io_uring_sqe rw{};
    region.write_spans_to(uio::Fd{5}, 0, std::span(&sp, 1))->prep(&rw);
    CHECK(rw.opcode == uio::uapi::op_writev_fixed);
    CHECK(rw.buf_index == region.buf_index());
    CHECK(rw.addr == reinterpret_cast<std::uintptr_t>(&sp));
}
