// SPDX-License-Identifier: MIT
// Small helpers shared by the library's host tests.
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <utility>

namespace uio_test {

// a connected TCP pair on loopback: {writer, reader}
inline std::pair<int, int> tcp_pair()
{
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(addr);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(listener, 1) == 0);
    REQUIRE(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &alen) == 0);
    int w = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(connect(w, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    int r = accept(listener, nullptr, nullptr);
    REQUIRE(r >= 0);
    close(listener);
    return {w, r};
}

template <class Sqe, class Cqe>
uio::Ring<Sqe, Cqe> make_ring(const uio::RingOptions& opts = {})
{
    auto ring = uio::Ring<Sqe, Cqe>::create(opts);
    REQUIRE(ring);
    return std::move(*ring);
}

// One fragment received into @region's provided buffers (group @group):
// @bytes bytes of value @fill sent on a fresh loopback pair. The receive is
// left armed; the sockets are closed.
template <class Sqe, class Cqe>
uio::Fragment receive_one(uio::Ring<Sqe, Cqe>& ring, uio::Receiver<Sqe, Cqe>& receiver, std::size_t bytes,
                          std::byte fill)
{
    auto [w, r] = tcp_pair();
    std::vector<std::byte> buf(bytes, fill);
    REQUIRE(send(w, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()));
    REQUIRE(ring.push(receiver.arm(uio::Fd{r}), 77));
    std::optional<uio::Fragment> frag;
    while (!frag) {
        REQUIRE(ring.submit_and_wait(1));
        auto c = ring.wait();
        REQUIRE(c);
        REQUIRE(c->user_data() == 77);
        const auto status = receiver.take(*c, frag);
        ring.seen(*c);
        REQUIRE(status == uio::ReceiveStatus::data);
    }
    close(w);
    close(r);
    return std::move(*frag);
}

} // namespace uio_test
