// A block count of 0 would set CDW12's LR/FUA/PRINFO bits: a constant count
// outside 1..65536 must not compile.
#include <uio/uio.hpp>

int main()
{
    std::byte buf[4096];
    uio::nvme::Write<uio::Fd> write(uio::Fd{3}, 1, 0, 0, std::span<const std::byte>(buf));
    io_uring_sqe sqe[2]{};
    write.prep(sqe);
    return 0;
}
