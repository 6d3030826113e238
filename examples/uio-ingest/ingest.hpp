// SPDX-License-Identifier: MIT
// uio-ingest's three commands and their options.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ingest {

enum class Path { probe, native, compat, baseline };

struct ServeOptions {
    std::string device;
    std::string listen = "[::]:7878";
    unsigned streams = 1;          // connections to take, then finish
    bool durable = false;          // a flush before each acknowledgement
    Path path = Path::probe;
    unsigned ifindex = 0;          // native: a NIC queue (hardware mode); 0: device-less
    unsigned rxq = 0;
    std::uint32_t record_size = 256u << 10;  // payload bytes per record (a block multiple)
    std::uint64_t net_area = 32u << 20;      // receive area of the region
    unsigned mss = 0;              // TCP_MAXSEG on the listening socket (0: the kernel's)
    std::string bpf_object;        // native: the checksum program (empty: look next to the binary)
    bool software_crc = false;     // native: CRC32C in userspace even where BPF could
};

struct SendOptions {
    std::vector<std::string> to;   // stream i connects to to[i % to.size()]
    std::uint64_t bytes = 0;       // per stream
    unsigned streams = 1;
    std::uint64_t seed = 1;
    std::optional<std::uint64_t> disconnect_after;  // per stream: close after this many bytes
    unsigned mss = 0;              // TCP_MAXSEG (0: the kernel's)
    std::uint32_t chunk = 256u << 10;
};

struct VerifyOptions {
    std::string device;
    std::optional<std::uint64_t> seed;
    bool expect_complete = false;  // --complete: a partial stream is a failure too
};

int serve(const ServeOptions& o);
int send(const SendOptions& o);
int verify(const VerifyOptions& o);

} // namespace ingest
