// SPDX-License-Identifier: MIT
// uio-ingest send: patterned streams to a server, one thread per stream,
// each reading the server's acknowledgements while it sends.
#include <netinet/tcp.h>
#include <poll.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

#include "common.hpp"
#include "format.hpp"
#include "ingest.hpp"

namespace ingest {
namespace {

struct StreamResult {
    std::uint64_t sent = 0;
    std::uint64_t durable = 0;
    AckStatus status = AckStatus::progress;
    bool disconnected = false;  // on purpose (--disconnect-after)
    std::string error;          // empty: no local error
    std::string peer;
};

std::atomic<std::uint64_t> total_sent{0}, total_durable{0};

void run_stream(const SendOptions& o, unsigned index, const SockAddr& addr, StreamResult& r)
{
    r.peer = to_string(addr.get());
    UniqueFd fd(socket(addr.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        r.error = std::string("socket: ") + std::strerror(errno);
        return;
    }
    if (o.mss) {
        const int mss = static_cast<int>(o.mss);
        (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
    }
    if (connect(fd.get(), addr.get(), addr.len) != 0) {
        r.error = "connect to " + r.peer + ": " + std::strerror(errno);
        return;
    }
    const std::uint64_t limit = o.disconnect_after ? std::min(*o.disconnect_after, o.bytes) : o.bytes;
    // the hello, then the payload, from one buffer refilled per chunk
    std::vector<std::byte> hello(hello_size);
    const Hello h{hello_magic, 1, index, o.seed, o.bytes};
    std::memcpy(hello.data(), &h, sizeof(h));
    std::vector<std::byte> chunk(o.chunk);
    std::size_t chunk_len = 0, chunk_pos = 0;
    std::uint64_t hello_sent = 0;
    (void)fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK);

    Ack ack{};
    std::size_t ack_got = 0;
    bool finished = false, sending = true;
    std::string send_error;
    while (!finished) {
        pollfd p{fd.get(), static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
        if (poll(&p, 1, 60000) <= 0) {
            r.error = "no progress from the server for 60 s";
            return;
        }
        if (p.revents & (POLLOUT | POLLERR | POLLHUP) && sending) {
            ssize_t n = 0;
            if (hello_sent < hello_size) {
                n = ::send(fd.get(), hello.data() + hello_sent, hello_size - hello_sent, MSG_NOSIGNAL);
                if (n > 0)
                    hello_sent += static_cast<std::uint64_t>(n);
            } else {
                if (chunk_pos == chunk_len) {
                    chunk_len = static_cast<std::size_t>(std::min<std::uint64_t>(chunk.size(), limit - r.sent));
                    pattern_fill(o.seed, index, r.sent, {chunk.data(), chunk_len});
                    chunk_pos = 0;
                }
                n = ::send(fd.get(), chunk.data() + chunk_pos, chunk_len - chunk_pos, MSG_NOSIGNAL);
                if (n > 0) {
                    chunk_pos += static_cast<std::size_t>(n);
                    r.sent += static_cast<std::uint64_t>(n);
                    total_sent += static_cast<std::uint64_t>(n);
                }
            }
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                // the server may have said why before it closed: read that first
                send_error = std::string("send: ") + std::strerror(errno);
                sending = false;
                continue;
            }
            if (hello_sent == hello_size && r.sent == limit) {
                sending = false;
                if (limit < o.bytes) {
                    // --disconnect-after: end the stream here, mid-record, with
                    // every byte sent delivered (a close with acks unread would
                    // reset the connection and drop what is still in flight);
                    // the server's last acknowledgement says what it stored
                    r.disconnected = true;
                    shutdown(fd.get(), SHUT_WR);
                }
            }
        }
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
            const ssize_t n = ::recv(fd.get(), reinterpret_cast<char*>(&ack) + ack_got, sizeof(ack) - ack_got, 0);
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                if (r.status == AckStatus::progress && !r.disconnected)
                    r.error = !send_error.empty() ? send_error
                              : n == 0 ? "the server closed the connection before everything was durable"
                                       : std::string("recv: ") + std::strerror(errno);
                return;
            }
            if (n < 0)
                continue;
            ack_got += static_cast<std::size_t>(n);
            if (ack_got < sizeof(ack))
                continue;
            ack_got = 0;
            if (ack.durable_bytes > r.sent || ack.durable_bytes < r.durable) {
                r.error = "the server acknowledged " + std::to_string(ack.durable_bytes) + " bytes after " +
                          std::to_string(r.durable) + " with " + std::to_string(r.sent) + " sent";
                return;
            }
            total_durable += ack.durable_bytes - r.durable;
            r.durable = ack.durable_bytes;
            r.status = ack.status;
            if (ack.status != AckStatus::progress && !r.disconnected)
                finished = true;
        }
    }
}

} // namespace

int send(const SendOptions& o)
{
    std::vector<SockAddr> addrs;
    for (const auto& t : o.to) {
        auto a = parse_addr(t, false);
        if (!a)
            fail(exit_usage, "--to %s: not ADDR:PORT or [IPV6]:PORT", t.c_str());
        addrs.push_back(*a);
    }
    if (addrs.empty())
        fail(exit_usage, "send needs --to ADDR:PORT");
    std::vector<StreamResult> results(o.streams);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < o.streams; ++i)
        threads.emplace_back(run_stream, std::cref(o), i, std::cref(addrs[i % addrs.size()]), std::ref(results[i]));
    Progress progress;
    std::atomic<bool> running = true;
    std::thread ticker([&] {
        while (running.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (progress.due() && running.load()) {
                const double s = seconds_since(start);
                char line[160];
                std::snprintf(line, sizeof(line), "send: %s sent, %s durable, %.1f MB/s", mib(total_sent).c_str(),
                              mib(total_durable).c_str(), static_cast<double>(total_sent) / 1e6 / std::max(s, 1e-9));
                progress.show(line);
            }
        }
    });
    for (auto& t : threads)
        t.join();
    running = false;
    ticker.join();
    progress.done();
    const double secs = seconds_since(start);

    int rc = exit_ok;
    std::uint64_t sent = 0, durable = 0;
    for (unsigned i = 0; i < o.streams; ++i) {
        const StreamResult& r = results[i];
        sent += r.sent;
        durable += r.durable;
        if (r.disconnected) {
            std::printf("send: stream %u to %s: disconnected after %llu of %llu bytes, as asked "
                        "(%llu acknowledged durable)\n",
                        i, r.peer.c_str(), static_cast<unsigned long long>(r.sent),
                        static_cast<unsigned long long>(o.bytes), static_cast<unsigned long long>(r.durable));
        } else if (!r.error.empty()) {
            std::fprintf(stderr, "uio-ingest send: stream %u to %s: %s (%llu of %llu bytes durable)\n", i,
                         r.peer.c_str(), r.error.c_str(), static_cast<unsigned long long>(r.durable),
                         static_cast<unsigned long long>(o.bytes));
            rc = std::max(rc, exit_failed);
        } else if (r.status == AckStatus::log_full) {
            std::fprintf(stderr, "uio-ingest send: stream %u to %s: the server's log is full: %llu of %llu bytes "
                         "durable, the rest was not stored\n",
                         i, r.peer.c_str(), static_cast<unsigned long long>(r.durable),
                         static_cast<unsigned long long>(o.bytes));
            rc = std::max(rc, exit_log_full);
        } else if (r.status != AckStatus::complete || r.durable != o.bytes) {
            std::fprintf(stderr, "uio-ingest send: stream %u to %s: the server said \"%s\" with %llu of %llu bytes "
                         "durable\n",
                         i, r.peer.c_str(), to_string(r.status), static_cast<unsigned long long>(r.durable),
                         static_cast<unsigned long long>(o.bytes));
            rc = std::max(rc, exit_failed);
        }
    }
    std::printf("send: %u stream%s, %llu bytes sent, %llu acknowledged durable, %.2f s, %.1f MB/s\n", o.streams,
                o.streams == 1 ? "" : "s", static_cast<unsigned long long>(sent),
                static_cast<unsigned long long>(durable), secs, static_cast<double>(durable) / 1e6 / std::max(secs, 1e-9));
    return rc;
}

} // namespace ingest
