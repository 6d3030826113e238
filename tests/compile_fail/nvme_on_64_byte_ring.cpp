// An NVMe passthrough command needs 128-byte SQEs: pushing it into a ring
// with 64-byte SQEs must not compile.
#include <uio/uio.hpp>

int main()
{
    auto ring = uio::Ring<uio::Sqe64, uio::Cqe32>::create();
    std::byte buf[4096];
    return ring->push(uio::nvme::Read<uio::Fd>(uio::Fd{3}, 1, 0, 1, std::span<std::byte>(buf)), 1);
}
