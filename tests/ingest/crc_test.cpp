// SPDX-License-Identifier: MIT
// uio-ingest's CRC32C (examples/uio-ingest/crc32c.hpp): the check value, the
// SSE4.2 and portable paths against a bit-at-a-time reference, the GF(2)
// matrix combine against the CRC of the concatenation, and the formats'
// pattern and seals.
#include <catch2/catch_test_macros.hpp>

#include "crc32c.hpp"
#include "format.hpp"

#include <cstring>
#include <random>
#include <string_view>
#include <vector>

namespace {

std::uint32_t reference(std::span<const std::byte> data)
{
    std::uint32_t crc = ~0u;
    for (std::byte b : data) {
        crc ^= static_cast<std::uint8_t>(b);
        for (int k = 0; k < 8; ++k)
            crc = (crc & 1) ? (crc >> 1) ^ ingest::crc32c_poly : crc >> 1;
    }
    return ~crc;
}

std::vector<std::byte> random_bytes(std::size_t n, std::uint32_t seed)
{
    std::mt19937 rng(seed);
    std::vector<std::byte> v(n);
    for (auto& b : v)
        b = static_cast<std::byte>(rng() & 0xff);
    return v;
}

} // namespace

TEST_CASE("CRC32C: the check value and every path agree with the reference")
{
    constexpr std::string_view check = "123456789";
    const auto bytes = std::as_bytes(std::span(check.data(), check.size()));
    CHECK(ingest::crc32c(bytes) == 0xe3069283u);
    CHECK(ingest::crc32c_portable(bytes) == 0xe3069283u);
    CHECK(ingest::crc32c({}) == 0);
    for (std::size_t n : {1u, 7u, 8u, 9u, 63u, 64u, 4095u, 4096u, 65537u}) {
        const auto data = random_bytes(n, static_cast<std::uint32_t>(n));
        const std::uint32_t want = reference(data);
        CHECK(ingest::crc32c(data) == want);
        CHECK(ingest::crc32c_portable(data) == want);
        // extending piece by piece is the same CRC
        const std::size_t cut = n / 3;
        CHECK(ingest::crc32c_extend(ingest::crc32c(std::span(data).first(cut)), std::span(data).subspan(cut)) == want);
    }
}

TEST_CASE("CRC32C combine: crc(A || B) from crc(A), crc(B) and |B|")
{
    ingest::Combiner combiner;
    const auto data = random_bytes(300000, 7);
    const std::uint32_t whole = ingest::crc32c(data);
    std::mt19937 rng(1);
    for (int round = 0; round < 200; ++round) {
        // random cut points, as fragments of a record
        std::vector<std::size_t> cuts = {0, data.size()};
        for (int i = 0; i < round % 9; ++i)
            cuts.push_back(rng() % data.size());
        std::sort(cuts.begin(), cuts.end());
        std::uint32_t crc = 0;
        for (std::size_t i = 0; i + 1 < cuts.size(); ++i) {
            const auto piece = std::span(data).subspan(cuts[i], cuts[i + 1] - cuts[i]);
            crc = combiner.combine(crc, ingest::crc32c(piece), piece.size());
        }
        REQUIRE(crc == whole);
    }
    // page-sized fragments, as the hardware path has them
    std::uint32_t crc = 0;
    for (std::size_t at = 0; at + 4096 <= data.size(); at += 4096)
        crc = combiner.combine(crc, ingest::crc32c(std::span(data).subspan(at, 4096)), 4096);
    CHECK(crc == ingest::crc32c(std::span(data).first(data.size() / 4096 * 4096)));
    CHECK(combiner.combine(0x12345678u, 0, 0) == 0x12345678u);
}

TEST_CASE("the stream pattern is the same however it is cut, and a changed byte is found")
{
    std::vector<std::byte> whole(10000), part(10000);
    ingest::pattern_fill(42, 3, 5, whole);
    for (std::size_t at = 0; at < part.size();) {
        const std::size_t n = std::min<std::size_t>(part.size() - at, 1 + at % 13);
        ingest::pattern_fill(42, 3, 5 + at, std::span(part).subspan(at, n));
        at += n;
    }
    CHECK(whole == part);
    CHECK(ingest::pattern_mismatch(42, 3, 5, whole) == whole.size());
    CHECK(ingest::pattern_mismatch(42, 4, 5, whole) == 0);  // another stream's bytes
    whole[9000] ^= std::byte{1};
    CHECK(ingest::pattern_mismatch(42, 3, 5, whole) == 9000);
}

TEST_CASE("record headers and superblocks are sealed by their CRC")
{
    ingest::RecordHeader h{};
    h.magic = ingest::record_magic;
    h.length = 4096;
    ingest::seal(h);
    CHECK(ingest::sealed(h));
    h.stream_offset ^= 1;
    CHECK_FALSE(ingest::sealed(h));

    alignas(8) std::byte blk[ingest::block_size] = {};
    auto* sb = reinterpret_cast<ingest::Superblock*>(blk);
    sb->magic = ingest::super_magic;
    sb->log_end = 8192;
    ingest::seal(std::span<std::byte, ingest::block_size>(blk));
    CHECK(ingest::sealed(std::span<const std::byte, ingest::block_size>(blk)));
    blk[ingest::block_size - 1] ^= std::byte{1};  // past the struct, still covered
    CHECK_FALSE(ingest::sealed(std::span<const std::byte, ingest::block_size>(blk)));
}
