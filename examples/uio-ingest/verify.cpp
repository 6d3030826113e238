// SPDX-License-Identifier: MIT
// uio-ingest verify: reads the log back (O_DIRECT) and checks every record's
// header and CRC32C, every payload byte against the pattern, and that each
// stream's records cover it from 0 without a gap or an overlap: nothing
// lost, nothing corrupted, nothing written twice.
#include <sys/stat.h>

#include <map>
#include <memory>
#include <set>

#include "common.hpp"
#include "device.hpp"
#include "format.hpp"
#include "ingest.hpp"

namespace ingest {
namespace {

struct StreamCheck {
    std::uint64_t next = 0;  // the stream offset the next record must start at
    std::uint64_t records = 0;
    std::uint32_t stream_index = 0;
    std::uint64_t seed = 0;
    bool partial = false;
};

} // namespace

int verify(const VerifyOptions& o)
{
    Device dev = Device::open(o.device, false);
    AlignedBuffer buf(block_size + (64u << 20));
    dev.read(buf.span(0, block_size), 0);
    if (!sealed(std::span<const std::byte, block_size>(buf.data(), block_size)))
        fail(exit_failed, "%s: no uio-ingest log (block 0 is not a sealed superblock)", o.device.c_str());
    Superblock sb;
    std::memcpy(&sb, buf.data(), sizeof(sb));
    const bool closed = sb.flags & super_closed;
    if (!closed)
        std::printf("verify: the superblock says the server did not finish: scanning to the last valid record\n");
    if (sb.streams > max_streams)
        fail(exit_failed, "superblock: %u streams", sb.streams);

    std::map<std::uint32_t, StreamCheck> streams;
    std::set<std::pair<std::uint64_t, std::uint32_t>> client_streams;  // (seed, index): each once
    std::uint64_t pos = block_size, records = 0, bytes = 0;
    std::vector<std::string> errors;
    auto error = [&](std::string e) {
        if (errors.size() < 20)
            std::fprintf(stderr, "uio-ingest verify: %s\n", e.c_str());
        errors.push_back(std::move(e));
    };
    while (pos + block_size <= dev.capacity()) {
        if (closed && pos >= sb.log_end)
            break;
        dev.read(buf.span(0, block_size), pos);
        RecordHeader h;
        std::memcpy(&h, buf.data(), sizeof(h));
        if (!sealed(h) || h.run_id != sb.run_id) {
            if (closed)
                error("record at device offset " + std::to_string(pos) + " is not a valid header of this run "
                      "(the superblock says the log ends at " + std::to_string(sb.log_end) + ")");
            break;
        }
        if (h.seq != records)
            error("record at " + std::to_string(pos) + " has sequence number " + std::to_string(h.seq) +
                  ", expected " + std::to_string(records));
        const std::uint64_t padded = round_up(h.length, block_size);
        if (pos + block_size + padded > dev.capacity()) {
            error("record at " + std::to_string(pos) + " runs past the device's end");
            break;
        }
        if (padded > buf.size() - block_size)
            fail(exit_failed, "record at %llu: %u bytes, more than verify reads at once",
                 static_cast<unsigned long long>(pos), h.length);
        if (padded)
            dev.read(buf.span(block_size, padded), pos + block_size);
        const auto payload = std::span<const std::byte>(buf.data() + block_size, h.length);
        const std::string where = "stream " + std::to_string(h.stream) + " (client stream " +
                                  std::to_string(h.stream_index) + ") record at stream offset " +
                                  std::to_string(h.stream_offset);
        if (crc32c(payload) != h.crc)
            error(where + ": CRC32C mismatch");
        if (o.seed && h.seed != *o.seed)
            error(where + ": written with pattern " + std::to_string(h.seed) + ", not " + std::to_string(*o.seed));
        if (const auto bad = pattern_mismatch(h.seed, h.stream_index, h.stream_offset, payload); bad < payload.size())
            error(where + ": byte " + std::to_string(h.stream_offset + bad) + " differs from the pattern");
        auto [it, fresh] = streams.try_emplace(h.stream);
        StreamCheck& s = it->second;
        if (fresh) {
            s.stream_index = h.stream_index;
            s.seed = h.seed;
            if (!client_streams.emplace(h.seed, h.stream_index).second)
                error(where + ": client stream " + std::to_string(h.stream_index) + " of pattern " +
                      std::to_string(h.seed) + " was stored twice, by two connections");
        }
        if (s.partial)
            error(where + ": a record after the stream's partial last record");
        if (h.stream_offset != s.next)
            error(where + (h.stream_offset < s.next ? ": overlaps the previous record (bytes written twice)"
                                                    : ": a gap before it (bytes lost)"));
        s.next = std::max(s.next, h.stream_offset + h.length);
        s.partial = h.flags & record_partial;
        ++s.records;
        ++records;
        bytes += h.length;
        pos += block_size + padded;
    }
    if (closed && records != sb.records)
        error(std::to_string(records) + " records found, the superblock says " + std::to_string(sb.records));
    if (closed && pos != sb.log_end)
        error("the log ends at " + std::to_string(pos) + ", the superblock says " + std::to_string(sb.log_end));

    unsigned partial = 0;
    for (std::uint32_t i = 0; closed && i < sb.streams; ++i) {
        const StreamEntry& e = sb.stream[i];
        const auto it = streams.find(i);
        const std::uint64_t stored = it == streams.end() ? 0 : it->second.next;
        if (stored != e.durable)
            error("stream " + std::to_string(i) + ": the superblock says " + std::to_string(e.durable) +
                  " bytes are durable, the records hold " + std::to_string(stored));
        if (e.flags & record_partial) {
            ++partial;
            std::printf("verify: stream %u (client stream %u): partial: the peer disconnected after %llu of %llu "
                        "bytes, the last record marked\n",
                        i, e.stream_index, static_cast<unsigned long long>(stored),
                        static_cast<unsigned long long>(e.announced));
            if (o.expect_complete)
                error("stream " + std::to_string(i) + " is partial");
        } else if (stored != e.announced && !(sb.flags & (super_log_full | super_interrupted))) {
            error("stream " + std::to_string(i) + ": " + std::to_string(stored) + " of " +
                  std::to_string(e.announced) + " bytes stored and the stream is not marked partial");
        }
    }
    if (sb.flags & super_log_full)
        std::printf("verify: the server stopped because the device was full\n");
    if (sb.flags & super_interrupted)
        std::printf("verify: the server was interrupted: streams may end before their announced length\n");
    if (!errors.empty()) {
        std::fprintf(stderr, "uio-ingest verify: %s: FAILED, %zu error%s in %llu records\n", o.device.c_str(),
                     errors.size(), errors.size() == 1 ? "" : "s", static_cast<unsigned long long>(records));
        return exit_failed;
    }
    std::printf("verify: %s: %llu records, %llu payload bytes in %zu streams%s: every checksum and every byte "
                "correct, each stream stored once, without gaps\n",
                o.device.c_str(), static_cast<unsigned long long>(records), static_cast<unsigned long long>(bytes),
                streams.size(), partial ? " (partial streams as marked)" : "");
    return exit_ok;
}

} // namespace ingest
