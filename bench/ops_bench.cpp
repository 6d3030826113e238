// SPDX-License-Identifier: MIT
// The hot path of uio against hand-written liburing: the same operations
// queued, submitted and reaped both ways. Run under callgrind (bench/run.sh):
// only the two run_* functions are counted, so setup and the kernel are not.
//
// usage: ops_bench {raw|uio} {nop|read_fixed} BATCH ROUNDS FILE
#include <uio/uio.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

constexpr unsigned block = 4096;

// hand-written liburing, as a user would write it
__attribute__((noinline)) unsigned long run_raw(io_uring* ring, bool fixed, int fd, char* buf, unsigned batch,
                                                unsigned rounds)
{
    unsigned long sum = 0;
    for (unsigned r = 0; r < rounds; ++r) {
        for (unsigned i = 0; i < batch; ++i) {
            io_uring_sqe* sqe = io_uring_get_sqe(ring);
            if (fixed)
                io_uring_prep_read_fixed(sqe, fd, buf + i * block, block, i * block, 0);
            else
                io_uring_prep_nop(sqe);
            sqe->user_data = i;
        }
        io_uring_submit_and_wait(ring, batch);
        io_uring_cqe* cqe;
        unsigned head, n = 0;
        io_uring_for_each_cqe(ring, head, cqe)
        {
            sum += static_cast<unsigned long>(cqe->res);
            ++n;
        }
        io_uring_cq_advance(ring, n);
    }
    return sum;
}

// the same with uio's builders and ring
__attribute__((noinline)) unsigned long run_uio(uio::Ring<>& ring, bool fixed, int fd, char* buf, unsigned batch,
                                                unsigned rounds)
{
    unsigned long sum = 0;
    for (unsigned r = 0; r < rounds; ++r) {
        for (unsigned i = 0; i < batch; ++i) {
            if (fixed) {
                const uio::FixedSpan span{reinterpret_cast<std::uintptr_t>(buf + i * block), block, 0};
                (void)ring.push(uio::ReadFixed(uio::Fd{fd}, span, i * block), i);
            } else {
                (void)ring.push(uio::Nop{}, i);
            }
        }
        (void)ring.submit_and_wait(batch);
        ring.drain([&](const uio::Ring<>::completion& c) noexcept { sum += static_cast<unsigned long>(c.res()); });
    }
    return sum;
}

} // namespace

int main(int argc, char** argv)
{
    if (argc != 6)
        return 2;
    const bool use_uio = !std::strcmp(argv[1], "uio");
    const bool fixed = !std::strcmp(argv[2], "read_fixed");
    const unsigned batch = static_cast<unsigned>(std::atoi(argv[3]));
    const unsigned rounds = static_cast<unsigned>(std::atoi(argv[4]));
    const int fd = open(argv[5], O_RDONLY);
    if (fd < 0)
        return 2;
    std::vector<char> mem(static_cast<std::size_t>(batch) * block);
    iovec iov{mem.data(), mem.size()};

    // identical rings: no registered ring fd for either, so both enter the same way
    auto ring = uio::Ring<>::create({.entries = 256, .register_ring_fd = false});
    if (!ring || io_uring_register_buffers(ring->native(), &iov, 1))
        return 2;
    const unsigned long sum = use_uio ? run_uio(*ring, fixed, fd, mem.data(), batch, rounds)
                                      : run_raw(ring->native(), fixed, fd, mem.data(), batch, rounds);
    std::printf("%lu\n", sum);
    return sum == (fixed ? static_cast<unsigned long>(batch) * block * rounds : 0) ? 0 : 1;
}
