// SPDX-License-Identifier: MIT
// The library against whatever kernel it runs on: the compat backend on a
// stock kernel (host), the native backend on the patched kernel (VM). The
// same source; the backend is whatever the probe selects.
//
// Storage target: $UIO_TEST_FILE, else /dev/nvme0n1 when it exists (the VM),
// else a file in /var/tmp. All of them are opened with O_DIRECT.
#include <catch2/catch_test_macros.hpp>
#include <catch2/generators/catch_generators.hpp>

#include <uio/uio.hpp>

#include "stream.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <grp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <string>
#include <thread>
#include <vector>

namespace {

using Region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe16>;
constexpr std::size_t region_size = 4u << 20;

struct Target {
    std::string path;
    int fd = -1;
    bool temporary = false;

    Target()
    {
        if (const char* p = std::getenv("UIO_TEST_FILE"))
            path = p;
        else if (access("/dev/nvme0n1", F_OK) == 0)
            path = "/dev/nvme0n1";
        else {
            path = "/var/tmp/uio-region-test-" + std::to_string(getpid());
            temporary = true;
        }
        fd = open(path.c_str(), O_RDWR | O_CREAT | O_DIRECT, 0600);
        REQUIRE(fd >= 0);
        if (temporary)
            REQUIRE(ftruncate(fd, 16 << 20) == 0);
    }
    ~Target()
    {
        close(fd);
        if (temporary)
            unlink(path.c_str());
    }
};

using uio_test::pattern;
using uio_test::send_pattern;

void fill(std::span<std::byte> s, std::uint64_t seed)
{
    for (std::size_t i = 0; i < s.size(); ++i)
        s[i] = pattern(seed, i);
}

bool matches(std::span<const std::byte> s, std::uint64_t seed)
{
    for (std::size_t i = 0; i < s.size(); ++i)
        if (s[i] != pattern(seed, i))
            return false;
    return true;
}

// a connected TCP pair on loopback: {writer, reader}
std::pair<int, int> tcp_pair()
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

// submits everything queued and returns the completion of @user_data's op
int run(uio::Ring<>& ring, std::uint64_t user_data)
{
    REQUIRE(ring.submit_and_wait(1));
    auto c = ring.wait();
    REQUIRE(c);
    const int res = c->res();
    REQUIRE(c->user_data() == user_data);
    ring.seen(*c);
    return res;
}

uio::Ring<> make_ring()
{
    auto ring = uio::Ring<>::create({.entries = 64});
    REQUIRE(ring);
    return std::move(*ring);
}

Region make_region(uio::Ring<>& ring, uio::BackendChoice choice = uio::BackendChoice::automatic)
{
    auto region = Region::create(ring, {.data_size = region_size, .backend = choice});
    REQUIRE(region);
    return std::move(*region);
}

} // namespace

TEST_CASE("the probe and the chosen backend agree")
{
    auto ring = make_ring();
    const uio::Probe probe = ring.probe();
    CHECK(probe.supports<uio::Nop>());
    CHECK(probe.supports<uio::ReadFixed<uio::Fd>>());
    auto region = make_region(ring);
    const bool native = probe.supports_stages(uio::uapi::op_nvme | uio::uapi::op_batch);
    CHECK(region.backend() == (native ? uio::Backend::native : uio::Backend::compat));
    CHECK(region.costs().pins == 1);
    CHECK(region.costs().memlock_charges == 1);
    CHECK(region.costs().storage_copies_per_byte == 0);
    std::printf("backend: %s (unified region %s by this kernel)\n", uio::to_string(region.backend()),
                probe.unified_region ? "supported" : "not supported");
}

namespace {
constexpr std::size_t page = 4096;

// RLIMIT_MEMLOCK pages io_uring can still charge to this user: the largest
// fixed buffer of @scratch that registers on @ring (charges are per user,
// shared by all rings)
std::size_t memlock_headroom(uio::Ring<>& ring, std::span<std::byte> scratch)
{
    std::size_t lo = 0, hi = scratch.size() / page + 1;
    while (hi - lo > 1) {
        const std::size_t mid = (lo + hi) / 2;
        iovec iov{scratch.data(), mid * page};
        const int ret = io_uring_register_buffers(ring.native(), &iov, 1);
        if (ret == 0) {
            io_uring_unregister_buffers(ring.native());
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return lo;
}

// what a region charged, counted by the kernel in a child process without
// CAP_IPC_LOCK (only then does io_uring charge RLIMIT_MEMLOCK); the child
// reports costs().memlock_charges and the pages charged
struct Charged {
    unsigned charges = 0;
    std::size_t pages = 0;
};
Charged measure_charge(std::size_t data_size, bool compat_mem_region)
{
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct caps[2];
        constexpr unsigned bit = 1u << (CAP_IPC_LOCK % 32);
        // the limit as it is (lowered to 64 MiB if unlimited): raising it may be refused
        rlimit lim{};
        Charged out{~0u, 0};
        if (getrlimit(RLIMIT_MEMLOCK, &lim) == 0 && lim.rlim_cur > (64u << 20)) {
            lim.rlim_cur = 64u << 20;
            setrlimit(RLIMIT_MEMLOCK, &lim);
        }
        // RLIMIT_MEMLOCK charges are counted per user: as root, the child
        // becomes a user of its own, whose count no test running beside this
        // one (ctest -j) moves; leaving root drops every capability,
        // CAP_IPC_LOCK included. Otherwise it only drops CAP_IPC_LOCK.
        const auto own = static_cast<uid_t>(100000 + getpid());
        const bool own_user = geteuid() == 0 && setgroups(0, nullptr) == 0 &&
                              setresgid(own, own, own) == 0 && setresuid(own, own, own) == 0;
        if ((own_user || syscall(SYS_capget, &hdr, caps) == 0) && lim.rlim_cur >= 4 * data_size) {
            caps[CAP_IPC_LOCK / 32].effective &= ~bit;
            caps[CAP_IPC_LOCK / 32].permitted &= ~bit;
            if (own_user || syscall(SYS_capset, &hdr, caps) == 0) {
                std::vector<std::byte> scratch(lim.rlim_cur);
                // both rings exist before the first count, so their own
                // pages are in it; rings closed earlier (another child's)
                // return their charges from a kernel worker: wait until the
                // count stands still
                auto probe = make_ring();
                auto ring = make_ring();
                std::size_t before = memlock_headroom(probe, scratch);
                for (int i = 0; i < 100; ++i) {
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                    const std::size_t again = memlock_headroom(probe, scratch);
                    if (again == before)
                        break;
                    before = again;
                }
                auto region = Region::create(ring, {.data_size = data_size, .compat_mem_region = compat_mem_region});
                if (region) {
                    out.charges = region->costs().memlock_charges;
                    out.pages = before - memlock_headroom(probe, scratch);
                }
            }
        }
        const ssize_t n = write(fds[1], &out, sizeof(out));
        _exit(n == sizeof(out) ? 0 : 1);
    }
    close(fds[1]);
    Charged got;
    const ssize_t n = read(fds[0], &got, sizeof(got));
    close(fds[0]);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    REQUIRE(n == sizeof(got));
    REQUIRE(got.charges != ~0u);
    return got;
}
} // namespace

TEST_CASE("costs() counts the RLIMIT_MEMLOCK charges the kernel made")
{
    // the compat backend registers the memory once more, as the ring's memory
    // region, when asked to; the native backend ignores the option
    const bool native = make_ring().probe().supports_stages(uio::uapi::op_nvme | uio::uapi::op_batch);
    for (const bool mem_region : {false, true}) {
        // small enough that two charges fit the default 8 MiB limit
        constexpr std::size_t data_size = 1u << 20;
        const Charged c = measure_charge(data_size, mem_region);
        const std::size_t data_pages = data_size / page;
        std::printf("%s backend%s: costs() says %u charges, the kernel charged %zu pages for %zu data pages\n",
                    native ? "native" : "compat", mem_region ? " + memory region" : "", c.charges, c.pages,
                    data_pages);
        CHECK(c.charges == (native || !mem_region ? 1u : 2u));
        // the native region also charges its ring pages: less than a data area
        CHECK(c.pages >= c.charges * data_pages);
        CHECK(c.pages < (c.charges + 1) * data_pages);
    }
}

TEST_CASE("spans of the region are bounds-checked")
{
    auto ring = make_ring();
    auto region = make_region(ring);
    CHECK(region.data().size() == region_size);
    CHECK(region.subspan(0, region_size));
    CHECK(region.subspan(region_size - 1, 1));
    for (auto [off, len] : {std::pair<std::uint64_t, std::uint64_t>{region_size, 1},
                            {region_size - 1, 2},
                            {0, 0},
                            {~0ull, 2},
                            {1, ~0ull}}) {
        auto s = region.subspan(off, len);
        REQUIRE_FALSE(s);
        CHECK(s.error() == uio::errc::out_of_bounds);
        CHECK(s.error() == std::errc::result_out_of_range);
        CHECK_FALSE(region.fixed(off, static_cast<std::uint32_t>(len)));
    }
    auto f = region.fixed(8192, 4096);
    REQUIRE(f);
    CHECK(f->buf_index == region.buf_index());
    if (region.backend() == uio::Backend::native)
        CHECK(f->addr == 8192);  // region offsets, not pointers
    else
        CHECK(f->addr == reinterpret_cast<std::uintptr_t>(region.data().data()) + 8192);
}

TEST_CASE("storage round trip through the region")
{
    Target target;
    auto ring = make_ring();
    auto region = make_region(ring);
    for (std::uint32_t len : {4096u, 65536u, 1u << 20}) {
        auto src = *region.subspan(0, len);
        auto dst = *region.subspan(2u << 20, len);
        fill(src, len);
        std::fill(dst.begin(), dst.end(), std::byte{0});
        auto w = region.write_to(uio::Fd{target.fd}, 0, len, 1u << 20);
        REQUIRE(w);
        REQUIRE(ring.push(*w, 1));
        CHECK(run(ring, 1) == static_cast<int>(len));
        auto r = region.read_from(uio::Fd{target.fd}, 2u << 20, len, 1u << 20);
        REQUIRE(r);
        REQUIRE(ring.push(*r, 2));
        CHECK(run(ring, 2) == static_cast<int>(len));
        CHECK(matches(dst, len));
    }
    // outside the region: refused before anything is queued
    CHECK_FALSE(region.write_to(uio::Fd{target.fd}, region_size - 4096, 8192, 0));
}

TEST_CASE("fixed-buffer ops address the region through fixed()")
{
    Target target;
    auto ring = make_ring();
    auto region = make_region(ring);
    fill(*region.subspan(4096, 8192), 42);
    REQUIRE(ring.push(uio::WriteFixed(uio::Fd{target.fd}, *region.fixed(4096, 8192), 0), 7));
    CHECK(run(ring, 7) == 8192);
    std::fill(region.data().begin(), region.data().begin() + 16384, std::byte{0});
    REQUIRE(ring.push(uio::ReadFixed(uio::Fd{target.fd}, *region.fixed(0, 8192), 0), 8));
    CHECK(run(ring, 8) == 8192);
    CHECK(matches(*region.subspan(0, 8192), 42));
}

TEST_CASE("a batch of 200 mixed operations, results per user_data")
{
    // plain SQEs by default; the descriptor rings where the kernel has them
    const auto path = GENERATE(uio::BatchPath::sqes, uio::BatchPath::descriptor_ring);
    Target target;
    auto ring = make_ring();
    auto region = make_region(ring);
    if (path == uio::BatchPath::descriptor_ring && region.backend() != uio::Backend::native) {
        uio::BatchOp op{.user_data = 1, .region_offset = 0, .len = 4096, .device_offset = 0,
                        .fd = target.fd, .write = false};
        CHECK(region.run_batch(ring, std::span(&op, 1), path).error() == uio::errc::unsupported_by_kernel);
        return;
    }
    std::vector<uio::BatchOp> ops;
    for (std::uint64_t i = 0; i < 100; ++i) {
        fill(*region.subspan(i * 8192, 8192), i);
        ops.push_back({.user_data = 2 * i, .region_offset = i * 8192, .len = 8192,
                       .device_offset = (4u << 20) + i * 8192, .fd = target.fd, .write = true});
    }
    for (std::uint64_t i = 0; i < 100; ++i)
        ops.push_back({.user_data = 2 * i + 1, .region_offset = (2u << 20) + i * 8192, .len = 8192,
                       .device_offset = (4u << 20) + i * 8192, .fd = target.fd, .write = false,
                       .drain = i == 0});  // the reads after all the writes
    auto results = region.run_batch(ring, ops, path);
    REQUIRE(results);
    REQUIRE(results->size() == ops.size());
    std::vector<int> by_user_data(ops.size(), -1);
    for (const auto& r : *results)
        by_user_data.at(r.user_data) = r.res;
    for (int res : by_user_data)
        CHECK(res == 8192);
    for (std::uint64_t i = 0; i < 100; ++i)
        CHECK(matches(*region.subspan((2u << 20) + i * 8192, 8192), i));
}

TEST_CASE("rings and regions move with operations in flight")
{
    Target target;
    auto ring = make_ring();
    auto region = make_region(ring);
    fill(*region.subspan(0, 4096), 5);
    REQUIRE(ring.push(*region.write_to(uio::Fd{target.fd}, 0, 4096, 0), 11));
    REQUIRE(ring.submit());
    uio::Ring<> moved = std::move(ring);  // the operation is still in flight
    Region moved_region = std::move(region);
    auto c = moved.wait();
    REQUIRE(c);
    CHECK(c->user_data() == 11);
    CHECK(c->res() == 4096);
    moved.seen(*c);
    CHECK(moved_region.data().size() == region_size);
}

TEST_CASE("receive over loopback TCP into the region")
{
    auto ring = make_ring();
    auto region = make_region(ring);
    constexpr std::size_t total = 1u << 20;
    auto [wfd, conn] = tcp_pair();
    std::thread sender(send_pattern, wfd, 99, total, total);
    std::size_t got = 0;
    while (got < total) {
        auto dst = region.subspan(got, std::min<std::size_t>(64u << 10, total - got));
        REQUIRE(dst);
        REQUIRE(ring.push(uio::Recv(uio::Fd{conn}, *dst), 3));
        const int n = run(ring, 3);
        REQUIRE(n > 0);
        got += static_cast<std::size_t>(n);
    }
    sender.join();
    CHECK(matches(*region.subspan(0, total), 99));
    close(conn);
}

TEST_CASE("errors of the region API")
{
    auto ring = make_ring();
    SECTION("sizes")
    {
        CHECK(Region::create(ring, {.data_size = 0}).error() == std::errc::invalid_argument);
        CHECK(Region::create(ring, {.data_size = 4096 + 1}).error() == std::errc::invalid_argument);
    }
    SECTION("a backend the kernel lacks")
    {
        if (!ring.probe().supports_stages(uio::uapi::op_nvme)) {
            auto r = Region::create(ring, {.data_size = 4096, .backend = uio::BackendChoice::native});
            REQUIRE_FALSE(r);
            CHECK(r.error() == uio::errc::unsupported_by_kernel);
            CHECK(r.error() == std::errc::operation_not_supported);
        } else {
            auto r = Region::create(ring, {.data_size = 4096, .backend = uio::BackendChoice::compat});
            REQUIRE(r);
            CHECK(r->backend() == uio::Backend::compat);
        }
    }
    SECTION("a second native region on one ring")
    {
        if (ring.probe().supports_stages(uio::uapi::op_nvme)) {
            auto first = make_region(ring);
            auto second = Region::create(ring, {.data_size = 4096, .buf_index = 1});
            REQUIRE_FALSE(second);
            CHECK(second.error() == std::errc::device_or_resource_busy);
        }
    }
    SECTION("a failing operation maps to std::errc")
    {
        auto region = make_region(ring);
        REQUIRE(ring.push(uio::WriteFixed(uio::Fd{-1}, *region.fixed(0, 4096), 0), 9));
        REQUIRE(ring.submit_and_wait(1));
        auto c = ring.wait();
        REQUIRE(c);
        CHECK_FALSE(c->ok());
        CHECK(c->errc() == std::errc::bad_file_descriptor);
        ring.seen(*c);
    }
}

TEST_CASE("a TCP stream received into region buffers, fragments recycled")
{
    auto ring = make_ring();
    auto region = make_region(ring);
    constexpr std::uint64_t area_offset = 1u << 20, area_len = 256u << 10;
    auto receiver = uio::Receiver<uio::Sqe64, uio::Cqe16>::create(
        ring, region, {.area_offset = area_offset, .area_len = area_len, .buffer_size = 16384, .group = 1});
    REQUIRE(receiver);
    CHECK(receiver->buffers() == 16);

    constexpr std::size_t total = 8u << 20;  // 32 times the area: buffers must be recycled
    auto [wfd, conn] = tcp_pair();
    std::thread sender(send_pattern, wfd, 7, total, 100000);

    std::size_t got = 0, rearms = 0, fragments = 0;
    bool ok = true, ended = false;
    std::deque<uio::Fragment> held;  // hold up to 12 of 16 buffers to run short now and then
    REQUIRE(ring.push(receiver->arm(uio::Fd{conn}), 5));
    while (!ended) {
        REQUIRE(ring.submit_and_wait(1));
        bool armed = true;
        ring.drain([&](const uio::Ring<>::completion& c) {
            std::optional<uio::Fragment> frag;
            switch (receiver->take(c, frag)) {
            case uio::ReceiveStatus::data: {
                const auto d = frag->data();
                for (std::size_t i = 0; i < d.size() && ok; ++i)
                    ok = d[i] == pattern(7, got + i);
                ok = ok && frag->region_offset() >= area_offset &&
                     frag->region_offset() + d.size() <= area_offset + area_len;
                got += d.size();
                ++fragments;
                held.push_back(std::move(*frag));
                if (held.size() > 12)
                    held.pop_front();  // the buffer goes back to the kernel here
                break;
            }
            case uio::ReceiveStatus::end:
                ended = true;
                break;
            case uio::ReceiveStatus::stopped:
                ok = ok && receiver->error() == std::errc::no_buffer_space;
                break;
            }
            armed = armed && c.more();
        });
        REQUIRE(ok);
        if (!armed && !ended) {
            held.clear();
            REQUIRE(ring.push(receiver->arm(uio::Fd{conn}), 5));
            ++rearms;
        }
    }
    sender.join();
    CHECK(got == total);
    CHECK(receiver->path() == uio::ReceivePath::provided_buffers);
    std::printf("received %zu bytes in %zu fragments through 16 region buffers, %zu re-arms, %u CPU copy per byte\n",
                got, fragments, rearms, region.costs().receive_copies_per_byte);
    held.clear();
    close(conn);
}

namespace {
using NetRing = uio::Ring<uio::Sqe64, uio::Cqe32>;
using NetRegion = uio::UnifiedRegion<uio::Sqe64, uio::Cqe32>;

// Receives an 8 MiB stream into the region and sends every fragment on from
// where it landed; the peer checks every byte. The same program whatever the
// path: the native binding, a compat zcrx instance, or provided buffers.
void receive_and_echo(uio::BackendChoice backend)
{
    auto ring = NetRing::create({.entries = 64, .defer_taskrun = true});
    REQUIRE(ring);
    auto region = NetRegion::create(*ring, {.data_size = 2u << 20, .backend = backend,
                                            .net = {.enabled = true, .area_len = 1u << 20}});
    REQUIRE(region);
    auto receiver = uio::Receiver<uio::Sqe64, uio::Cqe32>::create(
        *ring, *region, {.area_offset = 1u << 20, .area_len = 1u << 20, .buffer_size = 16384, .group = 3});
    REQUIRE(receiver);
    CHECK(receiver->path() == region->receive_path());

    constexpr std::size_t total = 8u << 20;
    auto [wfd, rfd] = tcp_pair();
    auto [efd, peer_fd] = tcp_pair();
    std::thread sender(send_pattern, wfd, 17, total, 200000);
    std::size_t peer_got = 0;
    bool peer_ok = true;
    std::thread peer([&, pfd = peer_fd] {
        std::vector<std::byte> buf(65536);
        while (peer_got < total) {
            ssize_t n = read(pfd, buf.data(), buf.size());
            if (n <= 0)
                break;
            for (ssize_t i = 0; i < n && peer_ok; ++i)
                peer_ok = buf[static_cast<std::size_t>(i)] == pattern(17, peer_got + static_cast<std::size_t>(i));
            peer_got += static_cast<std::size_t>(n);
        }
    });

    // fragments wait here, by send user_data, until their send's notification
    std::vector<std::optional<uio::Fragment>> in_flight(4096);
    std::size_t got = 0, sends = 0, notifications = 0, rearms = 0, slot = 0;
    bool ok = true, ended = false, armed = true;
    auto push = [&](const auto& op, std::uint64_t user_data) {  // submits first when the SQ is full
        return ring->push(op, user_data) || (ring->submit() && ring->push(op, user_data));
    };
    REQUIRE(push(receiver->arm(uio::Fd{rfd}), 0));
    while (!ended || notifications < sends) {
        REQUIRE(ring->submit_and_wait(1));
        ring->drain([&](const NetRing::completion& c) {
            if (c.user_data() != 0) {  // a send: the completion, then its notification
                if (c.notification()) {
                    in_flight[c.user_data() - 1].reset();  // the stack is done: hand the buffer back
                    ++notifications;
                } else {
                    ok = ok && c.res() > 0 && c.more();
                }
                return;
            }
            std::optional<uio::Fragment> frag;
            switch (receiver->take(c, frag)) {
            case uio::ReceiveStatus::data: {
                const auto d = frag->data();
                for (std::size_t i = 0; i < d.size() && ok; ++i)
                    ok = d[i] == pattern(17, got + i);
                got += d.size();
                auto op = region->send(uio::Fd{efd}, frag->region_offset(), static_cast<std::uint32_t>(d.size()));
                ok = ok && op.has_value() && !in_flight[slot];
                in_flight[slot] = std::move(frag);
                ok = ok && push(*op, slot + 1);
                slot = (slot + 1) % in_flight.size();
                ++sends;
                break;
            }
            case uio::ReceiveStatus::end:
                ended = true;
                break;
            case uio::ReceiveStatus::stopped:
                // every buffer held (ENOBUFS, ENOMEM) or the CQ full (ENOSPC): re-arm
                ok = ok && (receiver->error() == std::errc::no_buffer_space ||
                            receiver->error() == std::errc::not_enough_memory ||
                            receiver->error() == std::errc::no_space_on_device);
                if (!ok)
                    std::printf("receive stopped: %s\n", receiver->error().message().c_str());
                break;
            }
            if (!c.more())
                armed = false;
        });
        REQUIRE(ok);
        if (!armed && !ended) {
            REQUIRE(push(receiver->arm(uio::Fd{rfd}), 0));
            armed = true;
            ++rearms;
        }
    }
    sender.join();
    close(efd);
    peer.join();
    CHECK(got == total);
    CHECK(peer_got == total);
    CHECK(peer_ok);

    const uio::RegionCosts costs = region->costs();
    const bool zero_copy = region->receive_path() == uio::ReceivePath::zero_copy;
    const bool native = region->backend() == uio::Backend::native;
    // a zcrx area next to the fixed buffer is the compat backend's second pin
    CHECK(costs.pins == (zero_copy && !native ? 2u : 1u));
    CHECK(costs.receive_copies_per_byte == 1);  // device-less or provided buffers: one copy
    if (zero_copy && native)
        CHECK(region->received_bytes_copied() == total);
    std::printf("%s backend, %s receive: %zu bytes received and echoed from the region (%zu sends, %zu re-arms); "
                "%u pins, %u copy per received byte\n",
                uio::to_string(region->backend()), zero_copy ? "zero-copy" : "provided-buffer", got, sends, rearms,
                costs.pins, costs.receive_copies_per_byte);
    close(rfd);
    close(peer_fd);
}
} // namespace

TEST_CASE("receive into the region and echo from it, on every path the kernel offers")
{
    // natively (the patched kernel) the region's own binding; forced compat, a
    // zcrx instance on the same memory where the kernel has ZCRX_REG_NODEV
    // (7.3), else provided buffers in the region (6.18)
    SECTION("automatic backend") { receive_and_echo(uio::BackendChoice::automatic); }
    SECTION("compat backend") { receive_and_echo(uio::BackendChoice::compat); }
}
