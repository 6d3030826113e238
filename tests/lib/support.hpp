// SPDX-License-Identifier: MIT
// Small helpers shared by the library's host tests.
#pragma once

#include <catch2/catch_test_macros.hpp>

#include <uio/uio.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
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

// An anonymous file (memfd): fixed-buffer writes work on it on any kernel
// and backend, and nothing is left behind.
struct MemFile {
    int fd = memfd_create("uio-test", 0);
    MemFile() { REQUIRE(fd >= 0); }
    ~MemFile() { close(fd); }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
};

template <class Sqe, class Cqe>
uio::Ring<Sqe, Cqe> make_ring(const uio::RingOptions& opts = {})
{
    auto ring = uio::Ring<Sqe, Cqe>::create(opts);
    REQUIRE(ring);
    return std::move(*ring);
}

// One fragment received through @receiver: @bytes bytes of value @fill sent
// on a fresh loopback pair. The sockets are closed; the receive ends later
// (completions of other user_data are skipped).
template <class Sqe, class Cqe>
uio::Fragment receive_one(uio::Ring<Sqe, Cqe>& ring, uio::Receiver<Sqe, Cqe>& receiver, std::size_t bytes,
                          std::byte fill)
{
    auto [w, r] = tcp_pair();
    std::vector<std::byte> buf(bytes, fill);
    REQUIRE(send(w, buf.data(), buf.size(), 0) == static_cast<ssize_t>(buf.size()));
    static std::uint64_t next_user_data = 1u << 20;  // receives of earlier calls may still complete
    const std::uint64_t user_data = next_user_data++;
    REQUIRE(ring.push(receiver.arm(uio::Fd{r}), user_data));
    std::optional<uio::Fragment> frag;
    while (!frag) {
        REQUIRE(ring.submit_and_wait(1));
        auto c = ring.wait();
        REQUIRE(c);
        if (c->user_data() != user_data) {
            ring.seen(*c);
            continue;
        }
        const auto status = receiver.take(*c, frag);
        ring.seen(*c);
        REQUIRE(status == uio::ReceiveStatus::data);
    }
    close(w);
    close(r);
    return std::move(*frag);
}

// Writes @len bytes from the start of @region to @file with WRITE_FIXED on
// @ring and returns the completion's res: the region's slot must still hold
// its buffer (EFAULT otherwise).
template <class Sqe, class Cqe>
int write_fixed(uio::Ring<Sqe, Cqe>& ring, uio::UnifiedRegion<Sqe, Cqe>& region, int file, std::uint32_t len,
                std::uint64_t user_data = 42)
{
    auto span = region.fixed(0, len);
    REQUIRE(span);
    REQUIRE(ring.push(uio::WriteFixed(uio::Fd{file}, *span, 0), user_data));
    REQUIRE(ring.submit());
    for (;;) {
        auto c = ring.wait();
        REQUIRE(c);
        const bool mine = c->user_data() == user_data;
        const int res = c->res();
        ring.seen(*c);
        if (mine)
            return res;
    }
}

} // namespace uio_test
