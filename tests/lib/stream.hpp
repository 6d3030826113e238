// SPDX-License-Identifier: MIT
// The patterned byte streams the library's receive tests send and check.
#pragma once

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace uio_test {

// byte @i of stream @seed
inline std::byte pattern(std::uint64_t seed, std::uint64_t i)
{
    return static_cast<std::byte>((seed * 131 + i * 7 + (i >> 12)) & 0xff);
}

// writes @total bytes of pattern @seed to @fd, at most @chunk per send, then closes it
inline void send_pattern(int fd, std::uint64_t seed, std::size_t total, std::size_t chunk)
{
    std::vector<std::byte> buf(total);
    for (std::size_t i = 0; i < total; ++i)
        buf[i] = pattern(seed, i);
    for (std::size_t sent = 0; sent < total;) {
        ssize_t n = send(fd, buf.data() + sent, std::min(total - sent, chunk), MSG_NOSIGNAL);
        if (n <= 0)
            break;
        sent += static_cast<std::size_t>(n);
    }
    close(fd);
}

} // namespace uio_test
