// SPDX-License-Identifier: MIT
// The README's receive example, compiled by CI with -Wall -Wextra -Werror
// (tests/readme_snippets.py checks the README shows this file's body): a TCP
// stream received into a region, on whichever path the kernel offers.
//
// usage: readme_receive PORT   (receives one connection on 127.0.0.1:PORT)
#include <uio/uio.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

namespace {
int accept_one(std::uint16_t port)
{
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (listener < 0 || bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listener, 1) != 0)
        return -1;
    const int conn = accept(listener, nullptr, nullptr);
    close(listener);
    return conn;
}
} // namespace

int main(int argc, char** argv)
{
    const int sock = argc > 1 ? accept_one(static_cast<std::uint16_t>(std::atoi(argv[1]))) : -1;
    if (sock < 0)
        return std::perror("accept"), 1;
// [snippet]
    // 32-byte CQEs and defer_taskrun: what zero-copy receive needs (provided
    // buffers, the fallback, need neither)
    auto ring = uio::Ring<uio::Sqe64, uio::Cqe32>::create({.defer_taskrun = true});
    if (!ring)
        return 1;
    auto region = uio::make_region(*ring, {.data_size = 2 << 20, .net = {.enabled = true, .area_len = 1 << 20}});
    if (!region)  // e.g. EPERM: zcrx and the native binding need CAP_NET_ADMIN
        return std::fprintf(stderr, "region: %s\n", region.error().message().c_str()), 1;
    // the provided-buffer path's buffers, if the region has no zero-copy path
    auto receiver = uio::make_receiver(*ring, *region, {.area_offset = 1 << 20, .buffer_size = 16384});
    if (!receiver || !ring->push(receiver->arm(uio::Fd{sock}), /*user_data*/ 7))
        return 1;
    std::size_t total = 0;
    for (bool ended = false; !ended;) {
        if (!ring->submit_and_wait(1))
            return 1;
        ring->drain([&](const auto& c) {
            std::optional<uio::Fragment> frag;
            const uio::ReceiveStatus status = receiver->take(c, frag);
            if (status == uio::ReceiveStatus::data)  // a view of the region; the buffer goes back when frag dies
                total += frag->data().size();
            const std::error_code why = receiver->error();  // after stopped: nothing lost on these, re-arm
            const bool rearm = why == std::errc::no_buffer_space || why == std::errc::not_enough_memory ||
                               why == std::errc::no_space_on_device || status == uio::ReceiveStatus::data;
            if (status == uio::ReceiveStatus::end || !rearm)
                ended = true;
            else if (!c.more())  // the receive is no longer armed
                ended = !ring->push(receiver->arm(uio::Fd{sock}), 7);
        });
    }
    std::printf("%zu bytes received, %s\n", total,
                region->receive_path() == uio::ReceivePath::zero_copy ? "zero copy" : "provided buffers");
// [snippet]
    close(sock);
    return 0;
}
