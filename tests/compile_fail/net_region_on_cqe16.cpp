// A region a socket receives into names fragments by the second half of a
// 32-byte CQE: asking for one on a ring with 16-byte CQEs must not compile.
#include <uio/uio.hpp>

int main()
{
    auto ring = uio::Ring<uio::Sqe64, uio::Cqe16>::create();
    auto region = uio::make_region(*ring, {.data_size = 1u << 20}, uio::NetOptions{.area_len = 1u << 20});
    return region ? 0 : 1;
}
