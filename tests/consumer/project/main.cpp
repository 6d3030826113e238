#include <uio/uio.hpp>

#include <cstdio>

// registers a region and reports the backend: enough to prove headers,
// include paths and liburing all reach a consumer
int main()
{
    auto ring = uio::Ring<>::create();
    if (!ring)
        return 1;
    auto region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>::create(*ring, {.data_size = 1u << 16});
    if (!region)
        return 2;
    std::printf("consumer: %zu-byte region, %s backend\n", region->data().size(),
                uio::to_string(region->backend()));
    return 0;
}
