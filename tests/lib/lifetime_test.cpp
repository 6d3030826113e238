// SPDX-License-Identifier: MIT
// Lifetimes across objects: a Ring, the regions, receivers and fragments made
// from it may die in any order, and none of them ever acts on another ring.
// The same source runs on the host (compat backend) and in the VM (native).
#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include "support.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace {

using Ring = uio::Ring<uio::Sqe64, uio::Cqe16>;
using Region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>;
using Receiver = uio::Receiver<uio::Sqe64, uio::Cqe16>;
constexpr std::size_t region_size = 1u << 20;

Ring make_ring() { return uio_test::make_ring<uio::Sqe64, uio::Cqe16>(); }

Region make_region(Ring& ring)
{
    auto region = Region::create(ring, {.data_size = region_size});
    REQUIRE(region);
    return std::move(*region);
}

Receiver make_receiver(Ring& ring, Region& region)
{
    auto receiver = Receiver::create(ring, region, {.buffer_size = 65536, .group = 4});
    REQUIRE(receiver);
    return std::move(*receiver);
}

bool all_equal(std::span<const std::byte> s, std::byte b)
{
    return std::ranges::all_of(s, [b](std::byte x) { return x == b; });
}

// A fresh ring works in full: its region's slot holds its buffer and its
// receive gets every buffer it provided.
void check_fresh_ring_works(Ring& ring, Region& region, Receiver& receiver)
{
    uio_test::MemFile file;
    CHECK(uio_test::write_fixed(ring, region, file.fd, 4096) == 4096);
    for (int i = 0; i < 20; ++i) {  // more than the 16 buffers: each goes back
        uio::Fragment f = uio_test::receive_one(ring, receiver, 1000, std::byte{0x33});
        CHECK(f.data().size() == 1000);
        CHECK(all_equal(f.data(), std::byte{0x33}));
    }
}

} // namespace

TEST_CASE("a region that outlives its ring unregisters from its own ring only", "[lifetime]")
{
    std::optional<Region> stale;
    {
        Ring a = make_ring();
        stale.emplace(make_region(a));
    }  // the Ring handle is gone; the region keeps the io_uring alive
    REQUIRE(*stale);
    stale->data()[0] = std::byte{7};  // its memory is still there
    CHECK(stale->data()[0] == std::byte{7});

    // a new ring, very likely on the freed ring's heap block and fd number
    Ring b = make_ring();
    Region fresh = make_region(b);
    uio_test::MemFile file;
    CHECK(uio_test::write_fixed(b, fresh, file.fd, 4096) == 4096);
    stale.reset();  // must not touch b's buffer table
    CHECK(uio_test::write_fixed(b, fresh, file.fd, 4096) == 4096);
}

TEST_CASE("move-assigning a Ring over one in use leaves the old io_uring to its region", "[lifetime]")
{
    Ring ring = make_ring();
    Region old_region = make_region(ring);
    ring = make_ring();  // the old ring now lives only through old_region
    CHECK(old_region);
    CHECK_FALSE(old_region.belongs_to(ring));
    const uio::BatchOp op{.user_data = 1, .region_offset = 0, .len = 4096, .device_offset = 0, .fd = 0, .write = true};
    CHECK(old_region.run_batch(ring, std::span(&op, 1)).error() == uio::errc::wrong_ring);

    Region region = make_region(ring);
    uio_test::MemFile file;
    CHECK(uio_test::write_fixed(ring, region, file.fd, 8192) == 8192);
    old_region = Region(std::move(region));  // the old io_uring closes here
    CHECK(old_region.belongs_to(ring));
    CHECK(uio_test::write_fixed(ring, old_region, file.fd, 8192) == 8192);
}

TEST_CASE("objects made on one ring are refused on another", "[lifetime]")
{
    Ring a = make_ring();
    Ring b = make_ring();
    Region region = make_region(a);
    CHECK(region.belongs_to(a));
    CHECK_FALSE(region.belongs_to(b));
    CHECK(Receiver::create(b, region, {.buffer_size = 65536}).error() == uio::errc::wrong_ring);
    const uio::BatchOp op{.user_data = 1, .region_offset = 0, .len = 4096, .device_offset = 0, .fd = 0, .write = true};
    CHECK(region.run_batch(b, std::span(&op, 1)).error() == uio::errc::wrong_ring);
}

TEST_CASE("ring, region, receiver and fragment die in every order", "[lifetime]")
{
    std::array<int, 4> order{0, 1, 2, 3};  // ring, region, receiver, fragment
    int orders = 0;
    do {
        CAPTURE(order);
        std::optional<Ring> ring{make_ring()};
        std::optional<Region> region{make_region(*ring)};
        std::optional<Receiver> receiver{make_receiver(*ring, *region)};
        std::optional<uio::Fragment> frag{uio_test::receive_one(*ring, *receiver, 3000, std::byte{0x6b})};
        REQUIRE(frag->data().size() == 3000);

        auto destroy = [&](int what) {
            switch (what) {
            case 0: ring.reset(); break;
            case 1: region.reset(); break;
            case 2: receiver.reset(); break;
            case 3: frag.reset(); break;
            }
            if (frag)  // the bytes stay readable while the fragment lives
                CHECK(all_equal(frag->data(), std::byte{0x6b}));
        };
        for (int i = 0; i < 3; ++i)
            destroy(order[static_cast<std::size_t>(i)]);

        // a new ring, then the last of the old objects dies
        Ring fresh = make_ring();
        Region fresh_region = make_region(fresh);
        Receiver fresh_receiver = make_receiver(fresh, fresh_region);
        destroy(order[3]);
        check_fresh_ring_works(fresh, fresh_region, fresh_receiver);
        ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    CHECK(orders == 24);
}
