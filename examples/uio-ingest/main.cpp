// SPDX-License-Identifier: MIT
// uio-ingest: network streams persisted to a device through one region,
// checksummed by the BPF stage, without CPU copies - and, with --baseline,
// the same job the way it is done without uio, for comparison.
#include <net/if.h>

#include <cstdio>
#include <string>

#include "common.hpp"
#include "ingest.hpp"

namespace {

const char* const usage = R"(usage:
  uio-ingest serve --device DEV [--listen ADDR:PORT] [--streams N] [--durable]
                   [--native | --compat | --baseline] [--ifindex IF --rxq Q]
                   [--record-size BYTES] [--net-area BYTES] [--mss BYTES]
                   [--bpf OBJECT] [--software-crc]
  uio-ingest send --to ADDR:PORT [--to ADDR:PORT ...] --bytes N [--streams N]
                  [--pattern SEED] [--mss BYTES] [--disconnect-after BYTES]
  uio-ingest verify --device DEV [--pattern SEED] [--complete]

serve   accepts N TCP streams (default 1; [::]:7878 takes IPv4 and IPv6) and
        stores each as an append-only log of checksummed records on DEV (a
        block device, a file on one, or an NVMe namespace's char device
        /dev/ngXnY, written with NVMe commands), acknowledging to each client
        how much of its stream is durable; --durable flushes before
        acknowledging.
        Paths: --native (the region's network binding: a NIC queue with
        --ifindex/--rxq, else device-less; BPF checksums; vectored writes from
        the region), --compat (the library's compat backend, stock kernels),
        --baseline (recv() into a buffer, userspace CRC32C, O_DIRECT writes);
        default: native if the kernel has it, else compat. --net-area is the
        region's receive area (default 32M); on a NIC queue the sockets'
        receive buffers are sized so that the streams cannot run it dry.
send    sends N patterned streams of BYTES each (stream i to the i-th --to,
        round robin) and waits until they are durable.
verify  reads the log back and checks every checksum and byte against the
        pattern, and that each stream is stored once, without gaps.
Sizes take K, M, G suffixes. Exit: 0 done, 1 failed, 2 bad input (unknown
device, port in use, device too small), 3 a stream ended mid-record
(serve), 4 the device filled up (serve, send).
)";

struct Args {
    int argc;
    char** argv;
    int i = 2;
    [[nodiscard]] bool more() const { return i < argc; }
    std::string next() { return argv[i++]; }
    std::string value(const std::string& opt)
    {
        if (i >= argc)
            ingest::fail(ingest::exit_usage, "%s needs a value", opt.c_str());
        return argv[i++];
    }
    std::uint64_t size(const std::string& opt)
    {
        const std::string v = value(opt);
        auto n = ingest::parse_size(v);
        if (!n)
            ingest::fail(ingest::exit_usage, "%s %s: not a size", opt.c_str(), v.c_str());
        return *n;
    }
    unsigned number(const std::string& opt)
    {
        const auto n = size(opt);
        if (n > 0xffffffffu)
            ingest::fail(ingest::exit_usage, "%s: too large", opt.c_str());
        return static_cast<unsigned>(n);
    }
};

int run(int argc, char** argv)
{
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        std::fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? ingest::exit_usage : ingest::exit_ok;
    }
    const std::string cmd = argv[1];
    Args a{argc, argv};
    if (cmd == "serve") {
        ingest::ServeOptions o;
        while (a.more()) {
            const std::string opt = a.next();
            if (opt == "--device")
                o.device = a.value(opt);
            else if (opt == "--listen")
                o.listen = a.value(opt);
            else if (opt == "--streams")
                o.streams = a.number(opt);
            else if (opt == "--durable")
                o.durable = true;
            else if (opt == "--native")
                o.path = ingest::Path::native;
            else if (opt == "--compat")
                o.path = ingest::Path::compat;
            else if (opt == "--baseline")
                o.path = ingest::Path::baseline;
            else if (opt == "--ifindex") {
                const std::string v = a.value(opt);
                auto n = ingest::parse_size(v);
                o.ifindex = n ? static_cast<unsigned>(*n) : if_nametoindex(v.c_str());
                if (!o.ifindex)
                    ingest::fail(ingest::exit_usage, "--ifindex %s: no such interface", v.c_str());
            } else if (opt == "--rxq")
                o.rxq = a.number(opt);
            else if (opt == "--record-size")
                o.record_size = a.number(opt);
            else if (opt == "--net-area")
                o.net_area = a.size(opt);
            else if (opt == "--mss")
                o.mss = a.number(opt);
            else if (opt == "--bpf")
                o.bpf_object = a.value(opt);
            else if (opt == "--software-crc")
                o.software_crc = true;
            else
                ingest::fail(ingest::exit_usage, "serve: unknown option %s (--help)", opt.c_str());
        }
        if (o.device.empty())
            ingest::fail(ingest::exit_usage, "serve needs --device DEV");
        if (o.ifindex && o.path != ingest::Path::native && o.path != ingest::Path::probe)
            ingest::fail(ingest::exit_usage, "--ifindex is for the native path");
        return ingest::serve(o);
    }
    if (cmd == "send") {
        ingest::SendOptions o;
        bool have_bytes = false;
        while (a.more()) {
            const std::string opt = a.next();
            if (opt == "--to")
                o.to.push_back(a.value(opt));
            else if (opt == "--bytes")
                o.bytes = a.size(opt), have_bytes = true;
            else if (opt == "--streams")
                o.streams = a.number(opt);
            else if (opt == "--pattern")
                o.seed = a.size(opt);
            else if (opt == "--disconnect-after")
                o.disconnect_after = a.size(opt);
            else if (opt == "--mss")
                o.mss = a.number(opt);
            else
                ingest::fail(ingest::exit_usage, "send: unknown option %s (--help)", opt.c_str());
        }
        if (o.to.empty() || !have_bytes)
            ingest::fail(ingest::exit_usage, "send needs --to ADDR:PORT and --bytes N");
        if (o.streams == 0)
            ingest::fail(ingest::exit_usage, "--streams must be at least 1");
        return ingest::send(o);
    }
    if (cmd == "verify") {
        ingest::VerifyOptions o;
        while (a.more()) {
            const std::string opt = a.next();
            if (opt == "--device")
                o.device = a.value(opt);
            else if (opt == "--pattern")
                o.seed = a.size(opt);
            else if (opt == "--complete")
                o.expect_complete = true;
            else
                ingest::fail(ingest::exit_usage, "verify: unknown option %s (--help)", opt.c_str());
        }
        if (o.device.empty())
            ingest::fail(ingest::exit_usage, "verify needs --device DEV");
        return ingest::verify(o);
    }
    ingest::fail(ingest::exit_usage, "unknown command %s (serve, send, verify; --help)", cmd.c_str());
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const ingest::Fatal& e) {
        std::fprintf(stderr, "uio-ingest %s: %s\n", argc > 1 ? argv[1] : "", e.what());
        return e.code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "uio-ingest %s: %s\n", argc > 1 ? argv[1] : "", e.what());
        return ingest::exit_failed;
    }
}
