// SPDX-License-Identifier: MIT
// NVMe passthrough through a unified region: identify the controller, then
// write a pattern from one span of the region to the namespace and read it back
// into another, with IORING_OP_URING_CMD on 128-byte SQEs addressing the
// region's fixed buffer. Needs an NVMe namespace (the test VM has one).
//
// usage: nvme_passthrough [/dev/ngXnY] [/dev/nvmeX]
#include <uio/uio.hpp>

#include <fcntl.h>
#include <linux/nvme_ioctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv)
{
    const char* ns_path = argc > 1 ? argv[1] : "/dev/ng0n1";
    const char* ctrl_path = argc > 2 ? argv[2] : "/dev/nvme0";
    const int ng = open(ns_path, O_RDWR);
    const int ctrl = open(ctrl_path, O_RDWR);
    if (ng < 0 || ctrl < 0) {
        std::perror("open");
        return 1;
    }
    const auto nsid = static_cast<std::uint32_t>(ioctl(ng, NVME_IOCTL_ID));

    // the ring type carries the entry sizes passthrough needs
    auto ring = uio::NvmeRing::create();
    if (!ring)
        return 1;
    auto wait_one = [&]() -> int {
        if (!ring->submit_and_wait(1))
            return -1;
        auto c = ring->wait();
        if (!c)
            return -1;
        const int res = c->res();
        ring->seen(*c);
        return res;
    };

    alignas(4096) static std::array<std::byte, 4096> id{};
    if (!ring->push(uio::nvme::Identify(uio::Fd{ctrl}, 0, 1, std::span<std::byte, 4096>(id)), 1) || wait_one() != 0)
        return 1;
    char model[41] = {};
    std::memcpy(model, id.data() + 24, 40);  // MN: model number
    std::printf("identify: controller model \"%.40s\", namespace %u\n", model, nsid);

    auto region = uio::UnifiedRegion<uio::Sqe128, uio::Cqe32>::create(*ring, {.data_size = 1u << 20});
    if (!region)
        return 1;
    constexpr std::uint32_t len = 256u << 10, blocks = len / 4096;
    auto src = *region->subspan(0, len);
    for (std::size_t i = 0; i < len; ++i)
        src[i] = static_cast<std::byte>(i ^ (i >> 8));
    if (!ring->push(uio::nvme::Write(uio::Fd{ng}, nsid, 100, blocks, *region->fixed(0, len)), 2) || wait_one() != 0)
        return 1;
    if (!ring->push(uio::nvme::Read(uio::Fd{ng}, nsid, 100, blocks, *region->fixed(len, len)), 3) || wait_one() != 0)
        return 1;
    if (!ring->push(uio::nvme::Flush(uio::Fd{ng}, nsid), 4) || wait_one() != 0)
        return 1;
    const bool same = std::memcmp(src.data(), region->subspan(len, len)->data(), len) == 0;
    std::printf("passthrough: %u KiB written from and read back into the region (%s backend): %s\n", len >> 10,
                uio::to_string(region->backend()), same ? "identical" : "DIFFERENT");
    return same ? 0 : 1;
}
