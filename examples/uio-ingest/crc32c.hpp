// SPDX-License-Identifier: MIT
// CRC32C (Castagnoli, reflected polynomial 0x82f63b78), the one
// implementation uio-ingest and its tests use:
//  - table(): the byte table bpf/checksum.bpf.c and ingest_crc.bpf.c take as
//    read-only data, so userspace and the BPF stage compute the same thing;
//  - crc32c(): SSE4.2's crc32 instruction where the CPU has it (what an
//    ingest server written today uses), slicing-by-8 elsewhere;
//  - Combiner: crc32c(A || B) from crc32c(A), crc32c(B) and |B|, by the
//    GF(2) matrix method (as zlib's crc32_combine): the operator "append
//    |B| zero bytes" is a 32x32 bit matrix, built by squaring the one-zero-
//    bit operator, cached per length (received fragments have few distinct
//    lengths, mostly a page), and applied in 32 XORs.
// Values are the finished CRC (initial ~0, final xor ~0): crc32c("123456789")
// is 0xe3069283.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <unordered_map>

namespace ingest {

inline constexpr std::uint32_t crc32c_poly = 0x82f63b78u;

namespace detail {
consteval std::array<std::array<std::uint32_t, 256>, 8> make_tables()
{
    std::array<std::array<std::uint32_t, 256>, 8> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (c >> 1) ^ crc32c_poly : c >> 1;
        t[0][i] = c;
    }
    for (std::size_t s = 1; s < 8; ++s)
        for (std::size_t i = 0; i < 256; ++i)
            t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    return t;
}
inline constexpr auto tables = make_tables();

// the running (non-inverted) state over @p..@p+n, slicing by 8
inline std::uint32_t update_sliced(std::uint32_t crc, const unsigned char* p, std::size_t n) noexcept
{
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);  // little-endian load (x86, arm64)
        w ^= crc;
        crc = tables[7][w & 0xff] ^ tables[6][(w >> 8) & 0xff] ^ tables[5][(w >> 16) & 0xff] ^
              tables[4][(w >> 24) & 0xff] ^ tables[3][(w >> 32) & 0xff] ^ tables[2][(w >> 40) & 0xff] ^
              tables[1][(w >> 48) & 0xff] ^ tables[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) inline std::uint32_t update_sse42(std::uint32_t crc, const unsigned char* p,
                                                                    std::size_t n) noexcept
{
    std::uint64_t c = crc;
    while (n >= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        n -= 8;
    }
    auto c32 = static_cast<std::uint32_t>(c);
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
inline bool have_sse42() noexcept
{
    static const bool yes = __builtin_cpu_supports("sse4.2");
    return yes;
}
#endif
} // namespace detail

// the byte table (what the BPF programs' crc32c_table holds)
[[nodiscard]] inline const std::array<std::uint32_t, 256>& crc32c_table() noexcept
{
    return detail::tables[0];
}
// the eight slicing tables (ingest_crc.bpf.c's crc32c_tables)
[[nodiscard]] inline const std::array<std::array<std::uint32_t, 256>, 8>& crc32c_tables() noexcept
{
    return detail::tables;
}

// Extends the finished CRC @crc of some bytes by @data: crc32c(data) is
// crc32c_extend(0, data).
[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, std::span<const std::byte> data) noexcept
{
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    std::uint32_t state = ~crc;
#if defined(__x86_64__)
    if (detail::have_sse42())
        return ~detail::update_sse42(state, p, data.size());
#endif
    return ~detail::update_sliced(state, p, data.size());
}
[[nodiscard]] inline std::uint32_t crc32c(std::span<const std::byte> data) noexcept
{
    return crc32c_extend(0, data);
}
// the portable path alone (tests compare both)
[[nodiscard]] inline std::uint32_t crc32c_portable(std::span<const std::byte> data) noexcept
{
    return ~detail::update_sliced(~0u, reinterpret_cast<const unsigned char*>(data.data()), data.size());
}

// crc32c(A || B) from crc32c(A), crc32c(B) and |B|.
class Combiner {
public:
    using Matrix = std::array<std::uint32_t, 32>;  // column i: the image of bit i

    [[nodiscard]] std::uint32_t combine(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t len_b)
    {
        if (len_b == 0)
            return crc_a;
        return times(zeros_op(len_b), crc_a) ^ crc_b;
    }

    // the operator that appends @len zero bytes to a CRC (cached)
    [[nodiscard]] const Matrix& zeros_op(std::uint64_t len)
    {
        if (auto it = cache_.find(len); it != cache_.end())
            return it->second;
        if (cache_.size() > 4096)
            cache_.clear();  // a stream of ever new lengths: bounded memory
        return cache_.emplace(len, build(len)).first->second;
    }

    [[nodiscard]] static std::uint32_t times(const Matrix& m, std::uint32_t v) noexcept
    {
        std::uint32_t sum = 0;
        for (unsigned i = 0; v; ++i, v >>= 1)
            if (v & 1)
                sum ^= m[i];
        return sum;
    }

private:
    static Matrix square(const Matrix& m) noexcept
    {
        Matrix r{};
        for (unsigned i = 0; i < 32; ++i)
            r[i] = times(m, m[i]);
        return r;
    }

    // zlib's crc32_combine, with the operator kept instead of applied: odd
    // is "one zero bit", squared to 2, 4, 8... zero bits; the factors of
    // @len's binary expansion (in bytes, so from 8 bits up) are multiplied in
    static Matrix build(std::uint64_t len) noexcept
    {
        Matrix odd{};
        odd[0] = crc32c_poly;
        for (unsigned i = 1; i < 32; ++i)
            odd[i] = 1u << (i - 1);
        Matrix even = square(odd);  // 2 zero bits
        odd = square(even);         // 4 zero bits
        Matrix result{};
        for (unsigned i = 0; i < 32; ++i)
            result[i] = 1u << i;  // identity
        // from here each step squares: 8 bits (1 byte), 16, ...
        for (Matrix op = square(odd); len; len >>= 1, op = square(op))
            if (len & 1) {
                Matrix r{};
                for (unsigned i = 0; i < 32; ++i)
                    r[i] = times(op, result[i]);
                result = r;
            }
        return result;
    }

    std::unordered_map<std::uint64_t, Matrix> cache_;
};

} // namespace ingest
