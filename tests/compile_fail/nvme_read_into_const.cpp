// The device writes into a read's buffer: a span of const bytes must not
// compile.
#include <uio/uio.hpp>

int main()
{
    const std::byte buf[4096]{};
    uio::nvme::Read<uio::Fd> read(uio::Fd{3}, 1, 0, 1, std::span<const std::byte>(buf));
    io_uring_sqe sqe[2]{};
    read.prep(sqe);
    return 0;
}
