// SPDX-License-Identifier: MIT
// The README's first example, compiled by CI with -Wall -Wextra -Werror
// (tests/readme_snippets.py checks the README shows this file's body).
//
// usage: readme_quickstart [FILE]   (default /dev/nvme0n1; FILE is opened with O_DIRECT)
#include <uio/uio.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstdio>

// [snippet]
int main(int argc, char** argv)
{
    const char* path = argc > 1 ? argv[1] : "/dev/nvme0n1";
    auto ring = uio::Ring<>::create();                                  // Result<Ring<Sqe64, Cqe16>>
    if (!ring)
        return std::fprintf(stderr, "ring: %s\n", ring.error().message().c_str()), 1;
    auto region = uio::make_region(*ring, {.data_size = 1 << 20});     // the ring's entry sizes
    if (!region)
        return std::fprintf(stderr, "region: %s\n", region.error().message().c_str()), 1;
    std::span<std::byte> data = region->data();                         // the mapped data area
    std::ranges::fill(data.first(4096), std::byte{42});

    const int fd = open(path, O_RDWR | O_DIRECT);                       // a block device, or a file on one
    if (fd < 0)
        return std::perror(path), 1;
    auto store = region->write_to(uio::Fd{fd}, /*region offset*/ 0, 4096, /*device offset*/ 0);
    if (!store || !ring->push(*store, /*user_data*/ 1) || !ring->submit_and_wait(1))
        return std::fprintf(stderr, "submit failed\n"), 1;
    auto done = ring->wait();                                           // Result<Completion>
    if (!done)
        return std::fprintf(stderr, "wait: %s\n", done.error().message().c_str()), 1;
    const int res = done->res();                                        // 4096, or -errno
    ring->seen(*done);
    std::printf("%s: %d\n", path, res);
    return res == 4096 ? 0 : 1;
}
// [snippet]
