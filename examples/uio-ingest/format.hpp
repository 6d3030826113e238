// SPDX-License-Identifier: MIT
// uio-ingest's formats: the client's stream (hello, then payload), the
// server's acknowledgements, and the log on the device.
//
// The log, in blocks of block_size (4096) bytes:
//   block 0            the superblock: run id, state (open/closed), where the
//                      log ends, one entry per stream
//   then records       a header block, then the payload padded to a block
//                      multiple; records follow each other without gaps in
//                      the order their space was allocated
// A record header names its run, so a scan stops at the first block that is
// not a header of this run (stale data of an earlier run is not read as
// records).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "crc32c.hpp"

namespace ingest {

inline constexpr std::uint32_t block_size = 4096;
inline constexpr std::uint32_t max_streams = 64;  // entries the superblock holds

[[nodiscard]] constexpr std::uint64_t round_up(std::uint64_t v, std::uint64_t to) noexcept
{
    return (v + to - 1) / to * to;
}

// Byte @i of stream @index of pattern @seed: splitmix64 of (seed, index,
// i / 8), little-endian. Cheap for the sender and the verifier.
[[nodiscard]] inline std::uint64_t pattern_word(std::uint64_t seed, std::uint32_t index, std::uint64_t word) noexcept
{
    std::uint64_t z = seed * 0x9e3779b97f4a7c15ull ^ (std::uint64_t{index} << 48) ^ word;
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
// fills @out with bytes [offset, offset + out.size()) of the stream
inline void pattern_fill(std::uint64_t seed, std::uint32_t index, std::uint64_t offset, std::span<std::byte> out) noexcept
{
    std::size_t i = 0;
    while (i < out.size()) {
        const std::uint64_t pos = offset + i;
        const std::uint64_t w = pattern_word(seed, index, pos / 8);
        const std::size_t in_word = pos % 8;
        const std::size_t n = std::min<std::size_t>(8 - in_word, out.size() - i);
        if (n == 8) {
            std::memcpy(out.data() + i, &w, 8);
        } else {
            for (std::size_t k = 0; k < n; ++k)
                out[i + k] = static_cast<std::byte>(w >> (8 * (in_word + k)));
        }
        i += n;
    }
}
// the first position in @data (stream bytes from @offset) that differs from
// the pattern, or data.size()
[[nodiscard]] inline std::size_t pattern_mismatch(std::uint64_t seed, std::uint32_t index, std::uint64_t offset,
                                                  std::span<const std::byte> data) noexcept
{
    std::byte expect[4096];
    for (std::size_t done = 0; done < data.size();) {
        const std::size_t n = std::min(sizeof(expect), data.size() - done);
        pattern_fill(seed, index, offset + done, {expect, n});
        if (std::memcmp(expect, data.data() + done, n) != 0) {
            for (std::size_t k = 0; k < n; ++k)
                if (expect[k] != data[done + k])
                    return done + k;
        }
        done += n;
    }
    return data.size();
}

// --- the wire ---------------------------------------------------------------

inline constexpr std::uint64_t hello_magic = 0x31484e4f49555547ull;  // "GUUIONH1"
// One block, so that payload fragments keep their page alignment in the
// stream (a NIC that places a page of payload per segment places stream
// offsets 4096 * k at page starts).
inline constexpr std::size_t hello_size = block_size;
struct Hello {
    std::uint64_t magic;
    std::uint32_t version;  // 1
    std::uint32_t stream_index;
    std::uint64_t seed;
    std::uint64_t total_bytes;  // payload the client will send
};
static_assert(sizeof(Hello) == 32);

enum class AckStatus : std::uint32_t {
    progress = 0,  // durable_bytes of the stream are on the device
    complete = 1,  // every byte announced is durable; the server closes
    log_full = 2,  // the device is full: durable_bytes is all there will be
    failed = 3,    // the server failed (I/O error); durable_bytes stand
    rejected = 4,  // a bad hello
    partial = 5,   // the client ended its stream early: durable_bytes are stored, the last record marked
};
struct Ack {
    std::uint64_t durable_bytes;
    AckStatus status;
    std::uint32_t resv;
};
static_assert(sizeof(Ack) == 16);

[[nodiscard]] inline const char* to_string(AckStatus s) noexcept
{
    switch (s) {
    case AckStatus::progress: return "progress";
    case AckStatus::complete: return "complete";
    case AckStatus::log_full: return "log full";
    case AckStatus::failed: return "server failed";
    case AckStatus::rejected: return "rejected";
    case AckStatus::partial: return "partial";
    }
    return "?";
}

// --- the device ---------------------------------------------------------------

inline constexpr std::uint64_t super_magic = 0x474f4c5453474e49ull;  // "INGSTLOG"
inline constexpr std::uint64_t record_magic = 0x4443525453474e49ull;  // "INGSTRCD"

enum : std::uint32_t {
    record_partial = 1u << 0,  // the stream ended here, before the bytes its hello announced
};
enum : std::uint32_t {
    super_closed = 1u << 0,    // the server finished: log_end and the stream table are final
    super_log_full = 1u << 1,  // it stopped because the device was full
    super_interrupted = 1u << 2,  // it was stopped (SIGINT, SIGTERM): streams may be incomplete
};

struct RecordHeader {
    std::uint64_t magic;
    std::uint64_t run_id;
    std::uint64_t seq;            // allocation order, from 0
    std::uint64_t stream_offset;  // payload offset in its stream
    std::uint64_t seed;           // the stream's pattern, as its hello said
    std::uint32_t stream;         // the server's stream number
    std::uint32_t stream_index;   // the client's, as its hello said
    std::uint32_t length;         // payload bytes
    std::uint32_t crc;            // CRC32C of the payload
    std::uint32_t flags;          // record_*
    std::uint32_t header_crc;     // CRC32C of this struct with header_crc 0
};
static_assert(sizeof(RecordHeader) == 64);

struct StreamEntry {
    std::uint64_t seed;
    std::uint64_t announced;  // bytes the hello announced
    std::uint64_t durable;    // bytes stored (contiguous from 0)
    std::uint32_t stream_index;
    std::uint32_t flags;      // record_partial if the stream ended early
};
static_assert(sizeof(StreamEntry) == 32);

struct Superblock {
    std::uint64_t magic;
    std::uint32_t version;  // 1
    std::uint32_t block;    // block_size
    std::uint64_t run_id;
    std::uint64_t capacity;   // device bytes
    std::uint64_t log_end;    // closed: the first byte after the last record
    std::uint64_t records;    // closed: how many
    std::uint32_t flags;      // super_*
    std::uint32_t streams;    // entries in use
    std::uint32_t record_size;
    std::uint32_t header_crc;  // CRC32C of the whole block with this field 0
    StreamEntry stream[max_streams];
};
static_assert(sizeof(Superblock) <= block_size);

// header_crc over @bytes with the field at @field_off taken as 0
[[nodiscard]] inline std::uint32_t crc_without_field(std::span<const std::byte> bytes, std::size_t field_off) noexcept
{
    const std::uint32_t zero = 0;
    std::uint32_t c = crc32c(bytes.first(field_off));
    c = crc32c_extend(c, std::as_bytes(std::span(&zero, 1)));
    return crc32c_extend(c, bytes.subspan(field_off + sizeof(zero)));
}

inline void seal(RecordHeader& h) noexcept
{
    h.header_crc = 0;
    h.header_crc = crc32c(std::as_bytes(std::span(&h, 1)));
}
[[nodiscard]] inline bool sealed(const RecordHeader& h) noexcept
{
    RecordHeader copy = h;
    copy.header_crc = 0;
    return h.magic == record_magic && crc32c(std::as_bytes(std::span(&copy, 1))) == h.header_crc;
}
// the superblock's CRC covers the whole block it is stored in
inline void seal(std::span<std::byte, block_size> blk) noexcept
{
    auto* sb = reinterpret_cast<Superblock*>(blk.data());
    sb->header_crc = 0;
    sb->header_crc = crc32c(blk);
}
[[nodiscard]] inline bool sealed(std::span<const std::byte, block_size> blk) noexcept
{
    Superblock sb;
    std::memcpy(&sb, blk.data(), sizeof(sb));
    return sb.magic == super_magic &&
           crc_without_field(blk, offsetof(Superblock, header_crc)) == sb.header_crc;
}

} // namespace ingest
