// SPDX-License-Identifier: MIT
// The library's receive in hardware mode, on the patched kernel in the VM:
// the region's binding names a netdevsim queue (NetOptions::ifindex, rxq)
// and the same Receiver code as everywhere else gets the stream that
// netdevsim's page pool placed in the region. Two linked netdevsim ports in
// two namespaces stand in for a NIC (tests/vm/nsim_pair.h).
#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include "../vm/nsim_pair.h"
#include "stream.hpp"

#include <cstdio>
#include <cstring>
#include <deque>
#include <thread>

namespace {

using NetRing = uio::Ring<uio::Sqe64, uio::Cqe32>;
using NetRegion = uio::UnifiedRegion<uio::Sqe64, uio::Cqe32>;

// the pair, deleted at the end of the test case
struct NsimPair {
    t_nsim_pair pair{};

    NsimPair()
    {
        const char* err = nullptr;
        const int ret = t_nsim_pair_create(&pair, 30, 1, &err);
        INFO((err ? err : "") << ": " << std::strerror(-ret));
        REQUIRE(ret == 0);
    }
    ~NsimPair() { t_nsim_pair_destroy(&pair); }
    NsimPair(const NsimPair&) = delete;
    NsimPair& operator=(const NsimPair&) = delete;
};

} // namespace

TEST_CASE("hardware-mode receive on a netdevsim queue, with the library's unchanged receive code")
{
    NsimPair nsim;
    auto ring = NetRing::create({.entries = 64, .defer_taskrun = true});
    REQUIRE(ring);
    // the binding is looked up in the caller's namespace: B's, where the pair left us
    auto region = NetRegion::create(*ring, {.data_size = 2u << 20,
                                            .net = {.enabled = true,
                                                    .ifindex = nsim.pair.if_b,
                                                    .rxq = 0,
                                                    .area_len = 1u << 20}});
    REQUIRE(region);
    REQUIRE(region->backend() == uio::Backend::native);
    REQUIRE(region->receive_path() == uio::ReceivePath::zero_copy);
    auto receiver = uio::Receiver<uio::Sqe64, uio::Cqe32>::create(*ring, *region, {});
    REQUIRE(receiver);

    int wfd = -1, rfd = -1;
    const char* err = nullptr;
    REQUIRE(t_nsim_pair_connect(&nsim.pair, &wfd, &rfd, &err) == 0);
    constexpr std::size_t total = 16u << 20;  // 16 times the area
    std::thread sender(uio_test::send_pattern, wfd, 23, total, 256u << 10);

    std::size_t got = 0, rearms = 0;
    bool ok = true, ended = false;
    std::deque<uio::Fragment> held;  // a few fragments held at any time
    REQUIRE(ring->push(receiver->arm(uio::Fd{rfd}), 1));
    while (!ended) {
        REQUIRE(ring->submit_and_wait(1));
        bool armed = true;
        ring->drain([&](const NetRing::completion& c) {
            std::optional<uio::Fragment> frag;
            switch (receiver->take(c, frag)) {
            case uio::ReceiveStatus::data: {
                const auto d = frag->data();
                for (std::size_t i = 0; i < d.size() && ok; ++i)
                    ok = d[i] == uio_test::pattern(23, got + i);
                ok = ok && frag->region_offset() + d.size() <= (1u << 20);
                got += d.size();
                held.push_back(std::move(*frag));
                if (held.size() > 16)
                    held.pop_front();  // back to the kernel through the refill ring
                break;
            }
            case uio::ReceiveStatus::end:
                ended = true;
                break;
            case uio::ReceiveStatus::stopped:
                ok = ok && (receiver->error() == std::errc::not_enough_memory ||
                            receiver->error() == std::errc::no_space_on_device);
                break;
            }
            armed = armed && c.more();
        });
        REQUIRE(ok);
        if (!armed && !ended) {
            REQUIRE(ring->push(receiver->arm(uio::Fd{rfd}), 1));
            ++rearms;
        }
    }
    sender.join();
    CHECK(got == total);
    // the device placed every byte: nothing came through the kernel's copy
    CHECK(region->received_bytes_copied() == 0);
    CHECK(region->costs().receive_copies_per_byte == 0);
    CHECK(region->costs().pins == 1);
    CHECK_FALSE(region->device_gone());
    std::printf("hardware mode on netdevsim: %zu bytes received by the library's Receiver, %zu re-arms, "
                "%llu bytes copied by the kernel, %u pin\n",
                got, rearms, static_cast<unsigned long long>(region->received_bytes_copied()),
                region->costs().pins);

    // the device goes: the region says so; held fragments keep their bytes
    const std::uint64_t first = held.empty() ? 0 : held.front().region_offset();
    const auto before = held.empty() ? std::byte{} : held.front().data()[0];
    REQUIRE(t_nsim_del(nsim.pair.id_b) == 0);
    CHECK(region->device_gone());
    if (!held.empty())
        CHECK((held.front().region_offset() == first && held.front().data()[0] == before));
    held.clear();
    close(rfd);
}
