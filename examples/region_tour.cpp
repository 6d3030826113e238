// SPDX-License-Identifier: MIT
// A tour of a unified region: register it, fill it through spans, persist it to
// storage, read it back into another part of the region, and say what each step
// did and which backend ran it. The same program runs on a stock kernel (compat
// backend) and on a kernel with the uio series (native backend).
//
// usage: region_tour [FILE]   (default: /dev/nvme0n1 if present, else /var/tmp/uio-tour)
// FILE is opened with O_DIRECT: a block device or a file on one.
#include <uio/uio.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

int main(int argc, char** argv)
{
    const std::string path = argc > 1 ? argv[1] : access("/dev/nvme0n1", F_OK) == 0 ? "/dev/nvme0n1" : "/var/tmp/uio-tour";
    constexpr std::size_t size = 1u << 20, half = size / 2;

    auto ring = uio::Ring<>::create();
    if (!ring) {
        std::fprintf(stderr, "ring: %s\n", ring.error().message().c_str());
        return 1;
    }
    const uio::Probe probe = ring->probe();
    std::printf("kernel: unified region %s\n", probe.unified_region ? "supported" : "not supported");

    auto region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>::create(*ring, {.data_size = size});
    if (!region) {
        std::fprintf(stderr, "region: %s\n", region.error().message().c_str());
        return 1;
    }
    const uio::RegionCosts costs = region->costs();
    std::printf("region: %zu bytes, %s backend, %u pin, %u memlock charge, fixed buffer %u\n", size,
                uio::to_string(region->backend()), costs.pins, costs.memlock_charges, region->buf_index());

    // fill the first half through a span: the application's view of the region
    std::span<std::byte> first = *region->subspan(0, half);
    for (std::size_t i = 0; i < first.size(); ++i)
        first[i] = static_cast<std::byte>(i * 31 + (i >> 9));
    std::printf("fill:   wrote %zu bytes through a std::span\n", first.size());

    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0600);
    if (fd < 0) {
        std::perror(path.c_str());
        return 1;
    }
    auto step = [&](auto io, const char* what) -> bool {
        if (!io || !ring->push(*io, 0) || !ring->submit_and_wait(1))
            return false;
        auto c = ring->wait();
        if (!c)
            return false;
        const int res = c->res();
        ring->seen(*c);
        std::printf("%s %d bytes (%s)\n", what, res,
                    region->backend() == uio::Backend::native ? "IORING_OP_UNIFIED" : "READ/WRITE_FIXED");
        return res == static_cast<int>(half);
    };
    if (!step(region->write_to(uio::Fd{fd}, 0, half, 0), "store:  region -> " ) ||
        !step(region->read_from(uio::Fd{fd}, half, half, 0), "load:   region <- ")) {
        std::fprintf(stderr, "storage step failed\n");
        return 1;
    }
    const bool same = std::memcmp(region->data().data(), region->data().data() + half, half) == 0;
    std::printf("verify: second half %s the first (%s)\n", same ? "equals" : "DIFFERS FROM", path.c_str());
    close(fd);
    return same ? 0 : 1;
}
