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
#include <thread>
#include <utility>
#include <vector>

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

namespace {

// WRITE_FIXED of @span to @fd at @offset on @ring: the completion's res
int write_span(Ring& ring, uio::FixedSpan span, int fd, std::uint64_t offset)
{
    REQUIRE(ring.push(uio::WriteFixed(uio::Fd{fd}, span, offset), 99));
    REQUIRE(ring.submit());
    for (;;) {
        auto c = ring.wait();
        REQUIRE(c);
        const bool mine = c->user_data() == 99;
        const int res = c->res();
        ring.seen(*c);
        if (mine)
            return res;
    }
}

// @len bytes of @fd at @offset all equal @b
bool file_holds(int fd, std::uint64_t offset, std::size_t len, std::byte b)
{
    std::vector<std::byte> buf(len);
    return pread(fd, buf.data(), len, static_cast<off_t>(offset)) == static_cast<ssize_t>(len) && all_equal(buf, b);
}

} // namespace

TEST_CASE("two regions on one ring each have a slot of their own", "[buffers]")
{
    // compat on every kernel: natively a ring has one region (EBUSY)
    Ring ring = make_ring();
    auto a = Region::create(ring, {.data_size = region_size, .backend = uio::BackendChoice::compat});
    auto b = Region::create(ring, {.data_size = region_size, .backend = uio::BackendChoice::compat});
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->buf_index() != b->buf_index());
    std::ranges::fill(a->data(), std::byte{0x11});
    std::ranges::fill(b->data(), std::byte{0x22});
    uio_test::MemFile file;
    CHECK(write_span(ring, *a->fixed(0, 4096), file.fd, 0) == 4096);
    CHECK(write_span(ring, *b->fixed(0, 4096), file.fd, 4096) == 4096);
    CHECK(file_holds(file.fd, 0, 4096, std::byte{0x11}));
    CHECK(file_holds(file.fd, 4096, 4096, std::byte{0x22}));

    // a slot that is taken is refused, not shared
    auto c = Region::create(ring, {.data_size = region_size, .buf_index = b->buf_index(),
                                   .backend = uio::BackendChoice::compat});
    REQUIRE_FALSE(c);
    CHECK(c.error() == uio::errc::buffer_slot_unavailable);
    CHECK(c.error() == std::errc::device_or_resource_busy);
    CHECK(write_span(ring, *b->fixed(0, 4096), file.fd, 8192) == 4096);

    // one going leaves the other's slot alone
    { Region gone = std::move(*a); }
    CHECK(write_span(ring, *b->fixed(0, 4096), file.fd, 12288) == 4096);
    CHECK(file_holds(file.fd, 12288, 4096, std::byte{0x22}));
}

TEST_CASE("the application's own fixed buffers are never touched", "[buffers]")
{
    Ring ring = make_ring();
    std::vector<std::byte> mine(8192, std::byte{0x44});
    iovec iov{mine.data(), mine.size()};
    REQUIRE(io_uring_register_buffers(ring.native(), &iov, 1) == 0);
    uio_test::MemFile file;
    const uio::FixedSpan span{reinterpret_cast<std::uintptr_t>(mine.data()), 8192, 0};
    REQUIRE(write_span(ring, span, file.fd, 0) == 8192);

    for (auto backend : {uio::BackendChoice::automatic, uio::BackendChoice::compat}) {
        auto region = Region::create(ring, {.data_size = region_size, .backend = backend});
        REQUIRE_FALSE(region);
        CHECK(region.error() == uio::errc::buffer_table_in_use);
        CHECK(region.error() == std::errc::device_or_resource_busy);
        CHECK(write_span(ring, span, file.fd, 0) == 8192);  // slot 0 is still the application's
    }
    CHECK(ring.register_buffer(mine).error() == uio::errc::buffer_table_in_use);
    CHECK(file_holds(file.fd, 0, 8192, std::byte{0x44}));
}

TEST_CASE("Ring::register_buffer shares uio's table with regions", "[buffers]")
{
    Ring ring = make_ring();
    std::optional<Region> region{make_region(ring)};
    std::ranges::fill(region->data(), std::byte{0x55});
    std::vector<std::byte> mine(4096, std::byte{0x66});
    auto slot = ring.register_buffer(mine);
    REQUIRE(slot);
    CHECK(*slot != region->buf_index());
    uio_test::MemFile file;
    CHECK(write_span(ring, {reinterpret_cast<std::uintptr_t>(mine.data()), 4096, *slot}, file.fd, 0) == 4096);
    CHECK(uio_test::write_fixed(ring, *region, file.fd, 4096) == 4096);
    CHECK(ring.register_buffer(mine, *slot).error() == uio::errc::buffer_slot_unavailable);
    region.reset();
    CHECK(write_span(ring, {reinterpret_cast<std::uintptr_t>(mine.data()), 4096, *slot}, file.fd, 4096) == 4096);
    CHECK(file_holds(file.fd, 4096, 4096, std::byte{0x66}));
    REQUIRE(ring.unregister_buffer(*slot));
    // the last slot gone, so is uio's table: the ring is the application's again
    iovec iov{mine.data(), mine.size()};
    CHECK(io_uring_register_buffers(ring.native(), &iov, 1) == 0);
}

TEST_CASE("fragments may be released on several threads at once", "[threads]")
{
    Ring ring = make_ring();
    Region region = make_region(ring);
    Receiver receiver = make_receiver(ring, region);  // 16 buffers of 64 KiB
    for (int round = 0; round < 20; ++round) {
        // hold every buffer, then let two threads hand them back at once
        std::vector<uio::Fragment> held;
        for (int i = 0; i < 16; ++i)
            held.push_back(uio_test::receive_one(ring, receiver, 100, std::byte{0x21}));
        std::vector<uio::Fragment> other;
        for (int i = 0; i < 8; ++i) {
            other.push_back(std::move(held.back()));
            held.pop_back();
        }
        std::thread a([h = std::move(held)]() mutable { h.clear(); });
        std::thread b([h = std::move(other)]() mutable { h.clear(); });
        a.join();
        b.join();
    }
    // none was lost: all 16 can be held again
    std::vector<uio::Fragment> again;
    for (int i = 0; i < 16; ++i)
        again.push_back(uio_test::receive_one(ring, receiver, 100, std::byte{0x22}));
    CHECK(again.size() == 16);
}

TEST_CASE("the last owner of a ring's state may go on another thread", "[threads]")
{
    std::optional<uio::Fragment> frag;
    {
        Ring ring = make_ring();
        Region region = make_region(ring);
        Receiver receiver = make_receiver(ring, region);
        frag.emplace(uio_test::receive_one(ring, receiver, 500, std::byte{0x31}));
    }
    std::thread t([f = std::move(*frag)]() mutable {
        CHECK(all_equal(f.data(), std::byte{0x31}));
        uio::Fragment last = std::move(f);  // closes the ring, on this thread
    });
    t.join();
    // this thread's rings are unaffected
    Ring ring = make_ring();
    Region region = make_region(ring);
    Receiver receiver = make_receiver(ring, region);
    check_fresh_ring_works(ring, region, receiver);
}
