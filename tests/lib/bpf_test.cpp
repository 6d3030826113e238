// SPDX-License-Identifier: MIT
// uio::BpfOps and the BPF stage through the library. Cases tagged [vm] need
// the patched kernel and the programs of bpf/ (built against its BTF, in
// $UIO_BPF_DIR, /tests in the VM); the host runs the others.
#include <catch2/catch_test_macros.hpp>

#include <uio/bpf.hpp>
#include <uio/uio.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

using NetRing = uio::Ring<uio::Sqe64, uio::Cqe32>;
using Region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe32>;

std::string program(const char* name)
{
    const char* dir = std::getenv("UIO_BPF_DIR");
    return std::string(dir ? dir : "/tests") + "/" + name + ".bpf.o";
}

NetRing make_ring()
{
    auto ring = NetRing::create({.entries = 64, .defer_taskrun = true});
    REQUIRE(ring);
    return std::move(*ring);
}

std::vector<std::uint32_t> crc_table()
{
    std::vector<std::uint32_t> t(256);
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
        t[i] = c;
    }
    return t;
}

// what bpf/checksum.bpf.c reports: CRC32C, low 31 bits
std::int32_t crc31(std::span<const std::byte> s)
{
    static const auto table = crc_table();
    std::uint32_t crc = ~0u;
    for (std::byte b : s)
        crc = table[(crc ^ static_cast<std::uint8_t>(b)) & 0xff] ^ (crc >> 8);
    return static_cast<std::int32_t>(~crc & 0x7fffffffu);
}

auto checksum_config = [](std::span<std::byte> rodata) {
    const auto table = crc_table();
    REQUIRE(rodata.size() >= table.size() * sizeof(std::uint32_t));
    std::memcpy(rodata.data(), table.data(), table.size() * sizeof(std::uint32_t));
};

// submits @op and returns its completion's res and BPF result
template <class Op>
std::pair<int, std::int32_t> run(NetRing& ring, const Op& op)
{
    REQUIRE(ring.push(op, 7));
    REQUIRE(ring.submit_and_wait(1));
    auto c = ring.wait();
    REQUIRE(c);
    const std::pair<int, std::int32_t> out{c->res(), c->bpf_result()};
    ring.seen(*c);
    return out;
}

} // namespace

TEST_CASE("BpfOps reports what went wrong")
{
    auto ring = make_ring();
    auto missing = uio::BpfOps::attach(ring, "/nonexistent/program.bpf.o");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == std::errc::no_such_file_or_directory);
    CHECK(missing.error().verifier_log.empty());
}

TEST_CASE("the BPF stage through the library", "[vm]")
{
    auto ring = make_ring();
    auto region = Region::create(ring, {.data_size = 2u << 20});
    REQUIRE(region);
    REQUIRE(region->backend() == uio::Backend::native);
    int disk = open("/dev/nvme0n1", O_RDWR | O_DIRECT);
    REQUIRE(disk >= 0);

    SECTION("read from the disk, then a checksum in the kernel")
    {
        auto ops = uio::BpfOps::attach(ring, program("checksum").c_str(), checksum_config);
        REQUIRE(ops);
        auto data = region->data();
        for (std::size_t i = 0; i < (1u << 20); ++i)
            data[i] = static_cast<std::byte>(i * 13 + (i >> 10));
        auto [written, unused] = run(ring, *region->write_to(uio::Fd{disk}, 0, 1u << 20, 4u << 20));
        REQUIRE(written == (1 << 20));
        std::fill(data.begin(), data.begin() + (1u << 20), std::byte{0});
        auto [res, crc] = run(ring, *region->read_then_compute(uio::Fd{disk}, 0, 1u << 20, 4u << 20));
        CHECK(res == (1 << 20));
        CHECK(crc == crc31(data.first(1u << 20)));
        auto [len, crc2] = run(ring, *region->compute(12345, 777));
        CHECK(len == 777);
        CHECK(crc2 == crc31(data.subspan(12345, 777)));
        std::printf("library: CRC32C of 1 MiB read from the disk, in the kernel %#x, in userspace %#x\n", crc,
                    crc31(data.first(1u << 20)));
    }
    SECTION("a transform before the write, and a veto")
    {
        {
            auto ops = uio::BpfOps::attach(ring, program("xor").c_str(), [](std::span<std::byte> rodata) {
                REQUIRE(rodata.size() >= 1);
                rodata[0] = std::byte{0x3c};  // the key
            });
            REQUIRE(ops);
            auto data = region->data();
            std::fill(data.begin(), data.begin() + 8192, std::byte{0x11});
            auto [res, r] = run(ring, *region->compute_then_write(uio::Fd{disk}, 0, 8192, 8u << 20));
            CHECK(res == 8192);
            CHECK(r == 0);
            CHECK(data[0] == std::byte{0x11 ^ 0x3c});  // transformed in place
        }
        auto ops = uio::BpfOps::attach(ring, program("validate").c_str());
        REQUIRE(ops);
        auto [res, r] = run(ring, *region->compute_then_write(uio::Fd{disk}, 0, 8192, 8u << 20));
        CHECK(res == -EBADMSG);  // no magic at the block starts: vetoed
        (void)r;
    }
    SECTION("the verifier's words reach the caller")
    {
        auto bad = uio::BpfOps::attach(ring, program("overread").c_str());
        REQUIRE_FALSE(bad);
        CHECK(bad.error().code == std::errc::permission_denied);
        CHECK(bad.error().verifier_log.find("invalid access to memory") != std::string::npos);
    }
    SECTION("no program: the op fails, nothing else does")
    {
        auto [res, r] = run(ring, *region->compute(0, 64));
        CHECK(res == -ENOENT);
        (void)r;
    }
    close(disk);
}

TEST_CASE("the compat backend has no BPF stage")
{
    auto ring = make_ring();
    auto region = Region::create(ring, {.data_size = 1u << 20, .backend = uio::BackendChoice::compat});
    REQUIRE(region);
    CHECK(region->compute(0, 64).error() == uio::errc::unsupported_by_kernel);
    CHECK(region->read_then_compute(uio::Fd{0}, 0, 4096, 0).error() == uio::errc::unsupported_by_kernel);
}

TEST_CASE("configure sees the object's .rodata section, once")
{
    const std::string path = program("rodata");
    if (access(path.c_str(), R_OK) != 0)
        SKIP("no " << path << " (built with clang on the host)");
    auto ring = make_ring();
    int calls = 0;
    std::vector<std::uint32_t> key;
    auto ops = uio::BpfOps::attach(ring, path.c_str(), [&](std::span<std::byte> rodata) {
        ++calls;
        for (std::size_t i = 0; i + 4 <= rodata.size() && key.size() < 4; i += 4) {
            std::uint32_t v;
            std::memcpy(&v, rodata.data() + i, 4);
            key.push_back(v);
        }
    });
    CHECK(calls == 1);  // not once more for .rodata.str1.1
    CHECK(key == std::vector<std::uint32_t>{1, 2, 3, 4});
    REQUIRE_FALSE(ops);  // no io_uring_bpf_ops in it
    CHECK(ops.error().code == std::errc::invalid_argument);
}
