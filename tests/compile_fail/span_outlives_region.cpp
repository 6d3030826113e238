// A view of a temporary region would dangle as soon as the region is gone:
// asking a temporary for its data must not compile.
#include <uio/uio.hpp>

uio::UnifiedRegion<uio::Sqe64, uio::Cqe16> make_region();

int main()
{
    std::span<std::byte> view = make_region().data();
    return static_cast<int>(view.size());
}
