// SPDX-License-Identifier: MIT
// uio-ingest serve: TCP streams persisted to a device as an append-only log
// of records, acknowledged per connection once durable.
//
// Three paths, one event loop on one io_uring:
//  - native: the region's own network binding receives (hardware mode on a
//    NIC queue, or device-less); the BPF stage checksums each fragment
//    (NET|BPF); a record is written from the region offsets where its
//    payload landed by one vectored storage-stage op: the header block the
//    CPU wrote, the fragments, and - only for bytes that are not whole
//    aligned blocks in place - a staging span they were copied to;
//  - compat: the same code on the library's compat backend (provided
//    buffers in the region, IORING_OP_WRITEV_FIXED from its fixed buffer),
//    CRC32C in userspace;
//  - baseline: what is done without uio: a receive into an aligned buffer,
//    CRC32C in userspace, an O_DIRECT write from that buffer.
// On an NVMe char device (/dev/ngXnY) every path writes with NVMe commands
// instead (IORING_OP_URING_CMD): the region paths one vectored command over
// the same region spans from its fixed buffer, the baseline from its buffer.
#include <liburing.h>
#include <netinet/tcp.h>
#include <net/if.h>

#include <bit>
#include <climits>
#include <csignal>
#include <deque>
#include <memory>
#include <optional>
#include <random>

#include <uio/uio.hpp>
#if UIO_INGEST_HAVE_BPF
#include <uio/bpf.hpp>
#endif

#include "common.hpp"
#include "crc32c.hpp"
#include "device.hpp"
#include "format.hpp"
#include "ingest.hpp"

namespace ingest {
namespace {

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) { interrupted = 1; }

// 128-byte SQEs for NVMe passthrough (the char device), on every path so
// that the paths compare on one ring shape
using IngestRing = uio::Ring<uio::Sqe128, uio::Cqe32>;
using IngestRegion = uio::UnifiedRegion<uio::Sqe128, uio::Cqe32>;
using IngestReceiver = uio::Receiver<uio::Sqe128, uio::Cqe32>;

// operations the library has no builder for
struct Accept {
    static constexpr std::uint8_t opcode = IORING_OP_ACCEPT;
    using sqe_size = uio::Sqe64;
    using cqe_size = uio::Cqe16;
    int fd;
    void prep(io_uring_sqe* sqe) const noexcept { io_uring_prep_accept(sqe, fd, nullptr, nullptr, SOCK_CLOEXEC); }
};
// cancels the request whose user_data is @target (a connection's receive)
struct CancelReceive {
    static constexpr std::uint8_t opcode = IORING_OP_ASYNC_CANCEL;
    using sqe_size = uio::Sqe64;
    using cqe_size = uio::Cqe16;
    std::uint64_t target;
    void prep(io_uring_sqe* sqe) const noexcept { io_uring_prep_cancel64(sqe, target, 0); }
};
struct Fdatasync {
    static constexpr std::uint8_t opcode = IORING_OP_FSYNC;
    using sqe_size = uio::Sqe64;
    using cqe_size = uio::Cqe16;
    int fd;
    void prep(io_uring_sqe* sqe) const noexcept { io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC); }
};

enum Kind : std::uint64_t { k_accept = 1, k_recv, k_write, k_flush, k_cancel };

// the event loop's wait: for this many completions, or what came within min_wait_us
constexpr unsigned batch_cqes = 64;
constexpr unsigned min_wait_us = 500;
constexpr std::uint64_t ud(Kind k, std::uint64_t id) noexcept { return (std::uint64_t{k} << 56) | id; }

// records are cut short after a fragment that ends mid-block once they hold this much
constexpr std::uint32_t min_record_cut = 16384;

// the BPF program's table (ingest_crc.bpf.c)
constexpr std::uint32_t crc_slots = 8192;
struct BpfCrcSlot {
    std::uint64_t region_off;
    std::uint32_t len;
    std::uint32_t crc;
    std::uint32_t seq;
    std::uint32_t resv;
};
struct BpfCrcTable {
    std::uint32_t seq;
    std::uint32_t resv;
    BpfCrcSlot slot[crc_slots];
};
static_assert(sizeof(BpfCrcSlot) == 24 && sizeof(BpfCrcTable) == 8 + 24 * crc_slots);

struct Conn;

// received bytes not yet in a record: a fragment (shared: a fragment that
// straddles two records is held by both until both are written) from @pos
struct Piece {
    std::shared_ptr<uio::Fragment> frag;
    std::uint32_t pos = 0;
    std::optional<std::uint32_t> crc;  // the whole fragment's CRC32C, from the BPF stage
};

// One record being assembled or written: its header block, and (region
// paths) a staging area for bytes that cannot be written in place, or
// (baseline) the buffer its payload is received into.
struct Slot {
    enum class State { free, assembling, writing, durable_wait, durable };
    unsigned index = 0;
    std::byte* base = nullptr;         // the header block; staging / payload follows
    std::uint64_t region_off = 0;      // region paths: where base is in the region
    State state = State::free;
    Conn* conn = nullptr;
    std::uint64_t stream_offset = 0;
    std::uint32_t expect = 0;          // payload bytes this record takes
    std::uint32_t fill = 0;            // payload bytes it has
    std::uint32_t crc = 0;
    std::uint32_t flags = 0;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> parts;  // region spans, header first
    std::vector<uio::uapi::span> spans;                          // the same as the write takes them
    std::vector<iovec> iovs;                                     // passthrough: the same, until completion
    std::vector<std::shared_ptr<uio::Fragment>> frags;           // held until written
    std::uint32_t stage_fill = 0;      // bytes of the staging area used
    bool run_open = false;             // staging bytes not yet a block multiple
    std::uint32_t run_start = 0;
    std::uint64_t dev_off = 0;
    std::uint64_t seq = 0;
    unsigned writes = 0;               // SQEs in flight
    std::uint64_t written = 0;         // bytes their completions reported
    Clock::time_point received_at;     // its last byte arrived
};

struct Conn {
    unsigned id = 0;
    UniqueFd fd;
    std::string peer;
    Hello hello{};
    std::uint32_t hello_got = 0;       // bytes of the hello block consumed
    bool streaming = false;            // the hello was valid
    std::uint64_t received = 0;        // payload bytes taken into records
    Slot* cur = nullptr;
    std::deque<Slot*> inflight;        // submitted records, stream order
    std::deque<Piece> backlog;         // waiting for a slot
    std::uint64_t durable = 0, acked = 0;
    bool armed = false;                // a receive is armed
    bool rearm = false;                // arm again in the next round
    bool wait_buffers = false;         // arm again once a record frees its buffers or slot
    bool stopping = false;             // hardware mode: the receive is being cancelled (backlog full)
    bool wait_backlog = false;         // hardware mode: arm again once the backlog is down to half
    Clock::time_point retry_at{};      // region paths: or at this time
    Clock::time_point starved_since{}; // the receive has found no buffer since (reset by data)
    int stop_errno = 0;                // why the receive last stopped
    bool eof = false;                  // the peer closed its side
    bool partial = false;              // it ended before the bytes announced
    bool dropping = false;             // log full or failed: received bytes are dropped
    bool final_sent = false;
    bool closed = false;
    std::string failure;
    std::vector<std::byte> hello_buf;  // baseline: the hello is received here
};

class Server {
public:
    explicit Server(const ServeOptions& o) : o_(o) {}

    int run()
    {
        setup();
        loop();
        return finish();
    }

private:
    // --- setup -----------------------------------------------------------------

    void setup()
    {
        if (o_.record_size == 0 || o_.record_size % block_size || o_.record_size > (64u << 20))
            fail(exit_usage, "--record-size must be a multiple of %u up to 64 MiB", block_size);
        if (o_.streams == 0 || o_.streams > max_streams)
            fail(exit_usage, "--streams must be 1 to %u", max_streams);
        dev_.emplace(Device::open(o_.device, true));
        const std::uint64_t min_size = block_size + block_size + o_.record_size;
        if (dev_->capacity() < min_size)
            fail(exit_usage, "device %s: %llu bytes, too small for a log of %u-byte records (needs at least %llu)",
                 o_.device.c_str(), static_cast<unsigned long long>(dev_->capacity()), o_.record_size,
                 static_cast<unsigned long long>(min_size));
        nslots_ = std::max(8u, o_.streams * 4);
        bind_listener();
        auto ring = IngestRing::create({.entries = 256, .cq_entries = 4096, .defer_taskrun = true});
        if (!ring)
            fail(exit_failed, "io_uring: %s", ring.error().message().c_str());
        ring_.emplace(std::move(*ring));
        if (o_.path == Path::baseline)
            setup_baseline();
        else
            setup_region();
        for (unsigned i = nslots_; i-- > 0;)
            free_.push_back(&slots_[i]);
        if (hardware_mode())  // before listen(): accepted sockets take the listener's buffer sizes
            bound_socket_buffers();
        // Only now: a connection the kernel accepted before the region's
        // binding had its first bytes received through the queue's old,
        // CPU-readable buffers, which the receive must then copy.
        start_listening();
        run_id_ = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}() ^
                  static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
        write_superblock(false);
        log_tail_ = block_size;
    }

    // the port is taken at once, so a port in use fails before any setup
    void bind_listener()
    {
        auto addr = parse_addr(o_.listen, true);
        if (!addr)
            fail(exit_usage, "--listen %s: not ADDR:PORT, [IPV6]:PORT or PORT", o_.listen.c_str());
        listen_fd_ = UniqueFd(socket(addr->family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!listen_fd_)
            fail(exit_usage, "socket: %s", std::strerror(errno));
        const int one = 1, zero = 0;
        (void)setsockopt(listen_fd_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (addr->family() == AF_INET6)  // [::] takes IPv4 too
            (void)setsockopt(listen_fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        if (o_.mss) {
            const int mss = static_cast<int>(o_.mss);
            (void)setsockopt(listen_fd_.get(), IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof(mss));
        }
        if (bind(listen_fd_.get(), addr->get(), addr->len) != 0)
            listen_failed();
    }

    [[noreturn]] void listen_failed() const
    {
        fail(exit_usage, "cannot listen on %s: %s", o_.listen.c_str(),
             errno == EADDRINUSE ? "the port is in use" : std::strerror(errno));
    }

    void start_listening()
    {
        if (::listen(listen_fd_.get(), 64) != 0)  // EADDRINUSE: another socket bound it without listening
            listen_failed();
        sockaddr_storage ss{};
        socklen_t len = sizeof(ss);
        getsockname(listen_fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len);
        std::printf("serve: listening on %s, log on %s (%s), %u stream%s\n",
                    to_string(reinterpret_cast<sockaddr*>(&ss)).c_str(), o_.device.c_str(),
                    mib(dev_->capacity()).c_str(), o_.streams, o_.streams == 1 ? "" : "s");
        std::fflush(stdout);
    }

    // Receive flow control on a NIC queue. The NIC fills the area's buffers
    // whether or not the server is ready for the bytes, and drops packets
    // when none is free (as a NIC does when its fill ring is empty): TCP
    // then retransmits, after a timeout at worst (5 of them, 3640 segments
    // retransmitted in one 256 MiB run without flow control). So what holds
    // buffers is bounded to fit the area, with a quarter of it left to the
    // page pool's caches and packets on their way up the stack:
    // - records: nslots_ of record_size;
    // - each connection's backlog: at rx_backlog_limit_ its receive is
    //   cancelled and armed again at half of it. The cancel lands late: the
    //   completions of one wait already hold all the receive took from the
    //   socket while the peer kept refilling it: up to 4.2 socket buffers
    //   in 256 MiB runs in the VM, hence rx_late_buffers;
    // - each socket's queue (SO_RCVBUF: TCP closes the window instead of the
    //   NIC dropping).
    // A connection's share of the rest is split between its socket buffer
    // and those late bytes.
    void bound_socket_buffers()
    {
        const std::uint64_t area = round_up(o_.net_area, 1u << 20);
        const std::uint64_t held =
            std::uint64_t{nslots_} * o_.record_size + std::uint64_t{o_.streams} * rx_backlog_limit_;
        const std::uint64_t min_socket = 256u << 10;
        const std::uint64_t need = held + std::uint64_t{o_.streams} * (1 + rx_late_buffers) * min_socket;
        if (area - area / 4 < need)
            fail(exit_usage, "--net-area %s is too small for %u stream%s on a NIC queue: records and backlogs hold up "
                 "to %s and each connection needs %s (its socket buffer and what a stopped receive still brings), "
                 "with a quarter left to the NIC (at least %s)",
                 mib(area).c_str(), o_.streams, o_.streams == 1 ? "" : "s", mib(held).c_str(),
                 mib((1 + rx_late_buffers) * min_socket).c_str(), mib(round_up(need * 4 / 3 + 1, 1u << 20)).c_str());
        const std::uint64_t per_socket = (area - area / 4 - held) / o_.streams / (1 + rx_late_buffers);
        // the kernel doubles the value (half for its bookkeeping); FORCE
        // passes net.core.rmem_max where the server may (CAP_NET_ADMIN)
        const int value = static_cast<int>(std::min<std::uint64_t>(per_socket / 2, INT_MAX / 2));
        if (setsockopt(listen_fd_.get(), SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0)
            (void)setsockopt(listen_fd_.get(), SOL_SOCKET, SO_RCVBUF, &value, sizeof(value));
        int got = 0;
        socklen_t len = sizeof(got);
        if (getsockopt(listen_fd_.get(), SOL_SOCKET, SO_RCVBUF, &got, &len) == 0)
            socket_buffer_ = static_cast<std::uint64_t>(got);
    }

    void setup_baseline()
    {
        path_name_ = "baseline";
        // per slot: header block, payload, padding
        baseline_mem_.emplace(std::size_t{nslots_} * (block_size + o_.record_size + block_size));
        slots_.resize(nslots_);
        for (unsigned i = 0; i < nslots_; ++i) {
            slots_[i].index = i;
            slots_[i].base = baseline_mem_->data() + std::size_t{i} * (block_size + o_.record_size + block_size);
        }
    }

    [[nodiscard]] std::uint64_t slot_bytes() const noexcept
    {
        return block_size + o_.record_size + block_size;  // header, staging (payload + padding)
    }

    void setup_region()
    {
        const bool want_native = o_.path == Path::native ||
                                 (o_.path == Path::probe && native_available());
        const std::uint64_t net_area = round_up(o_.net_area, 1u << 20);
        uio::RegionOptions ro{};
        ro.data_size = net_area + nslots_ * slot_bytes();
        ro.data_size = round_up(ro.data_size, static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)));
        if (want_native) {
            ro.backend = uio::BackendChoice::native;
            ro.net = {.enabled = true,
                      .ifindex = o_.ifindex,
                      .rxq = o_.rxq,
                      .area_len = net_area,
                      .refill_entries = static_cast<unsigned>(std::bit_ceil(net_area / 4096))};
        } else {
            ro.backend = uio::BackendChoice::compat;
        }
        auto region = IngestRegion::create(*ring_, ro);
        if (!region && o_.path == Path::probe && want_native) {
            std::printf("serve: the native path is there but not usable (%s): compat\n",
                        region.error().message().c_str());
            ro.backend = uio::BackendChoice::compat;
            ro.net = {};
            region = IngestRegion::create(*ring_, ro);
        }
        if (!region)
            fail(o_.path == Path::native ? exit_usage : exit_failed, "the %s region: %s",
                 want_native ? "native" : "compat", region.error().message().c_str());
        region_.emplace(std::move(*region));
        native_ = region_->backend() == uio::Backend::native;
        const uio::ReceiveOptions rx{.area_offset = 0, .area_len = net_area, .buffer_size = 16384, .group = 7};
        auto receiver = uio::make_receiver(*ring_, *region_, rx);
        if (!receiver)
            fail(exit_failed, "receiver: %s", receiver.error().message().c_str());
        receiver_.emplace(std::move(*receiver));
        slots_.resize(nslots_);
        const auto data = region_->data();
        for (unsigned i = 0; i < nslots_; ++i) {
            slots_[i].index = i;
            slots_[i].region_off = net_area + i * slot_bytes();
            slots_[i].base = data.data() + slots_[i].region_off;
        }
        vectored_ = region_->vectored_writes();
        if (native_) {
            path_name_ = o_.ifindex ? "native (hardware mode)" : "native (device-less)";
            attach_bpf();
        } else {
            path_name_ = "compat";
        }
        pinned_ = pinned_pages();
    }

    static bool native_available()
    {
        const auto q = uio::query_unified();
        return q && (q->op_flags & uio::uapi::op_net);
    }

    void attach_bpf()
    {
        if (o_.software_crc) {
            crc_note_ = "userspace (--software-crc)";
            return;
        }
#if UIO_INGEST_HAVE_BPF
        std::string path = o_.bpf_object;
        if (path.empty()) {
            char exe[4096];
            const ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
            std::string dir = n > 0 ? std::string(exe, static_cast<std::size_t>(n)) : std::string();
            dir = dir.substr(0, dir.rfind('/') + 1);
            for (const std::string& cand : {dir + "ingest_crc.bpf.o", std::string(UIO_INGEST_BPF_DIR "/ingest_crc.bpf.o")})
                if (access(cand.c_str(), R_OK) == 0) {
                    path = cand;
                    break;
                }
        }
        if (path.empty()) {
            crc_note_ = "userspace (ingest_crc.bpf.o not found: --bpf PATH)";
            return;
        }
        auto ops = uio::BpfOps::attach(*ring_, path.c_str(), [](std::span<std::byte> ro) {
            const auto& t = crc32c_tables();  // the program's only read-only data
            static_assert(sizeof(t) == 8 * 256 * sizeof(std::uint32_t));
            if (ro.size() >= sizeof(t))
                std::memcpy(ro.data(), t.data(), sizeof(t));
        });
        if (!ops) {
            crc_note_ = "userspace (the BPF program did not attach: " + ops.error().code.message() + ")";
            if (!ops.error().verifier_log.empty())
                std::fprintf(stderr, "%s\n", ops.error().verifier_log.c_str());
            return;
        }
        bpf_.emplace(std::move(*ops));
        const auto bss = bpf_->global_data(".bss");
        if (bss.size() < sizeof(BpfCrcTable)) {
            bpf_.reset();
            crc_note_ = "userspace (the BPF program's table is not mapped)";
            return;
        }
        bpf_table_ = reinterpret_cast<const BpfCrcTable*>(bss.data());
        crc_note_ = "BPF stage per fragment (NET|BPF), combined per record";
#else
        crc_note_ = "userspace (built without libbpf)";
#endif
    }

    // --- the loop ----------------------------------------------------------------

    template <class Op>
    void push(const Op& op, std::uint64_t user_data)
    {
        while (!ring_->push(op, user_data)) {
            ++enters_;
            if (auto r = ring_->submit(); !r)
                fail(exit_failed, "io_uring submit: %s", r.error().message().c_str());
        }
    }

    void loop()
    {
        push(Accept{listen_fd_.get()}, ud(k_accept, 0));
        accept_armed_ = true;
        while (!done()) {
            if (interrupted) {
                interrupted_ = true;
                std::fprintf(stderr, "uio-ingest serve: interrupted: finishing the writes in flight\n");
                settle();
                break;
            }
            rearm_waiting();
            io_uring_cqe* cqe = nullptr;
            bool retrying = false;
            for (const auto& c : conns_)
                retrying = retrying || (c->wait_buffers && o_.path != Path::baseline);
            __kernel_timespec ts{0, retrying ? 10'000'000 : 200'000'000};
            ++enters_;
            // Waiting for one completion at a time woke the server for every few
            // fragments whenever it kept up with the network (up to 9 enters per MB
            // on the native path, one CQE per 4 KiB fragment): with the kernel's
            // minimum wait (Linux 6.12) completions gather, up to batch_cqes or
            // what came within min_wait_us, for every path alike.
            const int ret = ring_->native()->features & IORING_FEAT_MIN_TIMEOUT
                                ? io_uring_submit_and_wait_min_timeout(ring_->native(), &cqe, batch_cqes, &ts,
                                                                       min_wait_us, nullptr)
                                : io_uring_submit_and_wait_timeout(ring_->native(), &cqe, 1, &ts, nullptr);
            if (ret < 0 && ret != -ETIME && ret != -EINTR)
                fail(exit_failed, "io_uring wait: %s", std::strerror(-ret));
            ring_->drain([this](const IngestRing::completion& c) { complete(c); });
            if (progress_.due())
                show_progress();
        }
        progress_.done();
    }

    // interrupted: waits (up to 10 s) for the writes and flush in flight
    void settle()
    {
        const auto until = Clock::now() + std::chrono::seconds(10);
        while ((writes_inflight_ || flush_inflight_) && Clock::now() < until) {
            io_uring_cqe* cqe = nullptr;
            __kernel_timespec ts{0, 100'000'000};
            ++enters_;
            (void)io_uring_submit_and_wait_timeout(ring_->native(), &cqe, 1, &ts, nullptr);
            ring_->drain([this](const IngestRing::completion& c) {
                const auto kind = static_cast<Kind>(c.user_data() >> 56);
                if (kind == k_write || kind == k_flush)
                    complete(c);
                else if (kind == k_recv && !c.more())
                    conns_.at(c.user_data() & ((1ull << 56) - 1))->armed = false;
            });
        }
    }

    [[nodiscard]] bool done() const noexcept
    {
        if (accepted_ < o_.streams && !log_full_)
            return false;
        for (const auto& c : conns_)
            if (!c->closed)
                return false;
        return writes_inflight_ == 0 && !flush_inflight_;
    }

    void complete(const IngestRing::completion& c)
    {
        const auto kind = static_cast<Kind>(c.user_data() >> 56);
        const std::uint64_t id = c.user_data() & ((1ull << 56) - 1);
        switch (kind) {
        case k_accept: on_accept(c.res()); break;
        case k_recv: on_recv(*conns_.at(id), c); break;
        case k_write: on_write(slots_.at(id), c.res()); break;
        case k_flush: on_flush(c.res()); break;
        case k_cancel: break;  // the receive's own end says what happened
        }
    }

    void on_accept(int res)
    {
        accept_armed_ = false;
        if (res < 0) {
            if (res != -EINTR && res != -ECONNABORTED)
                fail(exit_failed, "accept: %s", std::strerror(-res));
        } else if (log_full_ || accepted_ >= o_.streams) {
            ::close(res);
        } else {
            auto conn = std::make_unique<Conn>();
            conn->id = accepted_++;
            conn->fd = UniqueFd(res);
            sockaddr_storage ss{};
            socklen_t len = sizeof(ss);
            getpeername(res, reinterpret_cast<sockaddr*>(&ss), &len);
            conn->peer = to_string(reinterpret_cast<sockaddr*>(&ss));
            if (!started_) {
                started_ = true;
                start_ = Clock::now();
                cpu_start_ = CpuSample::now();
            }
            conns_.push_back(std::move(conn));
            arm(*conns_.back());
        }
        if (accepted_ < o_.streams && !log_full_) {
            push(Accept{listen_fd_.get()}, ud(k_accept, 0));
            accept_armed_ = true;
        }
    }

    // a receive for @c: the region's multishot receive, or (baseline) one
    // receive into the hello or the current record's buffer
    void arm(Conn& c)
    {
        c.rearm = false;
        if (c.armed || c.eof || c.closed)
            return;
        if (o_.path != Path::baseline) {
            if (bpf_table_)
                push(uio::UnifiedOp<uio::Fd>(uio::Fd{c.fd.get()}, uio::uapi::op_net | uio::uapi::op_bpf, 0, 0),
                     ud(k_recv, c.id));
            else
                push(receiver_->arm(uio::Fd{c.fd.get()}), ud(k_recv, c.id));
            c.armed = true;
            return;
        }
        std::span<std::byte> into;
        if (c.hello_got < hello_size) {
            c.hello_buf.resize(hello_size);
            into = std::span(c.hello_buf).subspan(c.hello_got);
        } else if (!c.dropping) {
            if (c.received >= c.hello.total_bytes) {
                drop_buf_.resize(1u << 16);  // only the peer's close is expected now
                into = drop_buf_;
            } else if (!c.cur && !(c.cur = start_record(c))) {
                c.wait_buffers = true;  // no buffer free: once a record is written
                return;
            } else {
                into = {c.cur->base + block_size + c.cur->fill, c.cur->expect - c.cur->fill};
            }
        } else {
            drop_buf_.resize(1u << 16);
            into = drop_buf_;
        }
        push(uio::Recv<uio::Fd>(uio::Fd{c.fd.get()}, into), ud(k_recv, c.id));
        c.armed = true;
    }

    void rearm_waiting()
    {
        for (auto& c : conns_) {
            if (!c->backlog.empty() || (c->eof && !c->final_sent && !c->closed))
                consume(*c);
            if (c->wait_backlog && backlog_bytes(*c) <= rx_backlog_limit_ / 2) {
                c->wait_backlog = false;
                c->rearm = true;
            }
            if (c->wait_buffers && o_.path != Path::baseline && Clock::now() >= c->retry_at) {
                c->wait_buffers = false;
                c->rearm = true;
                // Nothing of ours holds buffers and none came for 5 s: the
                // kernel has none for this socket (in hardware mode the NIC's
                // page pool holds the area and zcrx's copy fallback, which
                // data outside its buffers needs, finds its free list empty).
                // A clear failure instead of a hang.
                if (writes_inflight_ == 0 && c->backlog.empty() && !c->cur &&
                    c->starved_since != Clock::time_point{} &&
                    Clock::now() - c->starved_since > std::chrono::seconds(5)) {
                    c->rearm = false;
                    conn_failed(*c, "the receive found no buffer for 5 s (" +
                                        std::error_code(c->stop_errno, std::generic_category()).message() +
                                        ") while the server held none: the kernel's receive area is exhausted");
                }
            }
            if (c->rearm)
                arm(*c);
        }
    }

    // --- receiving -------------------------------------------------------------

    void on_recv(Conn& c, const IngestRing::completion& cqe)
    {
        if (o_.path == Path::baseline) {
            c.armed = false;
            on_recv_baseline(c, cqe.res());
            return;
        }
        std::optional<uio::Fragment> frag;
        const auto status = receiver_->take(cqe, frag);
        const bool was_stopping = c.stopping;
        if (!cqe.more())
            c.armed = false, c.stopping = false;
        switch (status) {
        case uio::ReceiveStatus::data: {
            received_bytes_ += frag->data().size();
            ++fragments_;
            if (frag->data().size() % block_size == 0 && frag->region_offset() % block_size == 0)
                ++page_fragments_;
            c.starved_since = {};
            Piece p{std::make_shared<uio::Fragment>(std::move(*frag)), 0, std::nullopt};
            if (bpf_table_)
                p.crc = bpf_crc(cqe.bpf_result(), *p.frag);
            c.backlog.push_back(std::move(p));
            consume(c);
            // the NIC keeps filling the area: stop taking from the socket
            // while this much waits for a record (see bound_socket_buffers())
            if (hardware_mode() && c.armed && !c.stopping && backlog_bytes(c) >= rx_backlog_limit_) {
                push(CancelReceive{ud(k_recv, c.id)}, ud(k_cancel, c.id));
                c.stopping = true;
            }
            break;
        }
        case uio::ReceiveStatus::end:
            on_eof(c);
            break;
        case uio::ReceiveStatus::stopped: {
            const std::error_code why = receiver_->error();
            if (why == std::errc::no_space_on_device) {
                ++rearms_;
                c.rearm = true;  // the CQ was full; nothing lost
            } else if (why == std::errc::no_buffer_space || why == std::errc::not_enough_memory) {
                // every buffer is held - by records (armed again when one is
                // written) or by the NIC's page pool (armed again shortly)
                ++rearms_;
                c.wait_buffers = true;
                c.retry_at = Clock::now() + std::chrono::milliseconds(10);
                c.stop_errno = why.value();
                if (c.starved_since == Clock::time_point{})
                    c.starved_since = Clock::now();
            } else if (why == std::errc::connection_reset || why == std::errc::broken_pipe) {
                on_eof(c);
            } else if (why == std::errc::operation_canceled && was_stopping) {
                ++backlog_stops_;
                c.wait_backlog = true;  // the unread bytes wait in the socket
            } else {
                conn_failed(c, "receive: " + why.message());
            }
            break;
        }
        }
    }

    [[nodiscard]] bool hardware_mode() const noexcept { return native_ && o_.ifindex; }

    // received bytes of @c not yet in a record
    static std::uint64_t backlog_bytes(const Conn& c) noexcept
    {
        std::uint64_t n = 0;
        for (const Piece& p : c.backlog)
            n += p.frag->data().size() - p.pos;
        return n;
    }

    // the full CRC32C of @f from the BPF program's table, checked against
    // the fragment; empty (userspace computes it) if it does not match
    std::optional<std::uint32_t> bpf_crc(std::int32_t result, const uio::Fragment& f)
    {
        if (result < 0) {
            ++bpf_misses_;
            return std::nullopt;
        }
        const auto seq = static_cast<std::uint32_t>(result);
        const BpfCrcSlot& s = bpf_table_->slot[seq & (crc_slots - 1)];
        const std::uint32_t s_seq = __atomic_load_n(&s.seq, __ATOMIC_ACQUIRE);
        if ((s_seq & 0x7fffffffu) != seq || s.region_off != f.region_offset() || s.len != f.data().size()) {
            if (!bpf_misses_++)
                std::fprintf(stderr, "uio-ingest serve: the BPF stage's entry %u does not match its fragment (entry: "
                             "seq %u, offset %llu, %u bytes; fragment: offset %llu, %zu bytes): CRC32C in userspace "
                             "where that happens\n",
                             seq, s_seq, static_cast<unsigned long long>(s.region_off), s.len,
                             static_cast<unsigned long long>(f.region_offset()), f.data().size());
            return std::nullopt;
        }
        ++bpf_fragments_;
        return s.crc;
    }

    void on_recv_baseline(Conn& c, int res)
    {
        if (res < 0) {
            if (res == -ECONNRESET || res == -EPIPE)
                on_eof(c);
            else
                conn_failed(c, std::string("receive: ") + std::strerror(-res));
            return;
        }
        if (res == 0) {
            on_eof(c);
            return;
        }
        const auto n = static_cast<std::uint32_t>(res);
        received_bytes_ += n;
        if (c.hello_got < hello_size) {
            c.hello_got += n;
            if (c.hello_got == hello_size)
                take_hello(c, c.hello_buf);
        } else if (!c.dropping && c.cur) {
            Slot& s = *c.cur;
            s.crc = crc32c_extend(s.crc, {s.base + block_size + s.fill, n});
            s.fill += n;
            c.received += n;
            if (s.fill == s.expect)
                finish_record(s);
        } else if (!c.dropping) {
            conn_failed(c, "sent more bytes than its hello announced");
            return;
        }
        arm(c);
    }

    void take_hello(Conn& c, std::span<const std::byte> block)
    {
        std::memcpy(&c.hello, block.data(), sizeof(c.hello));
        if (c.hello.magic != hello_magic || c.hello.version != 1) {
            conn_failed(c, "not a uio-ingest client (bad hello)");
            return;
        }
        c.streaming = true;
        if (c.hello.total_bytes == 0)
            check_conn(c);
    }

    // Moves received bytes of @c into records, as far as slots allow.
    void consume(Conn& c)
    {
        while (!c.backlog.empty()) {
            Piece& p = c.backlog.front();
            const auto data = p.frag->data();
            if (c.dropping) {
                c.backlog.pop_front();
                continue;
            }
            if (c.hello_got < hello_size) {
                const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(data.size() - p.pos, hello_size - c.hello_got));
                if (c.hello_got < sizeof(Hello)) {
                    const auto k = std::min<std::size_t>(n, sizeof(Hello) - c.hello_got);
                    std::memcpy(reinterpret_cast<std::byte*>(&c.hello) + c.hello_got, data.data() + p.pos, k);
                }
                c.hello_got += n;
                p.pos += n;
                if (p.pos == data.size())
                    c.backlog.pop_front();  // before take_hello(), which may drop the backlog
                if (c.hello_got == hello_size) {
                    Hello h = c.hello;
                    take_hello(c, std::as_bytes(std::span(&h, 1)));
                }
                continue;
            } else if (!c.streaming) {
                c.backlog.pop_front();  // rejected
                continue;
            } else {
                if (!c.cur && !(c.cur = start_record(c)))
                    return;  // no slot: the fragment waits (and receive stops once buffers run out)
                if (c.received >= c.hello.total_bytes) {
                    conn_failed(c, "sent more bytes than its hello announced");
                    return;
                }
                Slot& s = *c.cur;
                const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(data.size() - p.pos, s.expect - s.fill));
                const bool whole = p.pos == 0 && n == data.size();
                add_piece(s, p, n, whole);
                p.pos += n;
                c.received += n;
                const bool fragment_done = p.pos == data.size();
                if (fragment_done)
                    c.backlog.pop_front();  // before finish_record(), which may drop the backlog (log full)
                // A fragment that left the record's device position mid-block
                // (a short segment) ends the record early: the next fragment
                // starts a record at a block boundary and goes in place again,
                // instead of every byte after the short one being copied.
                if (s.fill == s.expect || (fragment_done && s.run_open && s.fill >= min_record_cut))
                    finish_record(s);
            }
        }
        if (c.eof)
            end_stream(c);
    }

    Slot* start_record(Conn& c)
    {
        if (free_.empty() || log_full_)
            return nullptr;
        Slot* s = free_.back();
        free_.pop_back();
        s->state = Slot::State::assembling;
        s->conn = &c;
        s->stream_offset = c.received;
        s->expect = static_cast<std::uint32_t>(std::min<std::uint64_t>(o_.record_size, c.hello.total_bytes - c.received));
        s->fill = 0;
        s->written = 0;
        s->crc = 0;
        s->flags = 0;
        s->stage_fill = 0;
        s->run_open = false;
        s->parts.assign(1, {s->region_off, block_size});  // the header block
        return s;
    }

    // @n bytes of @p from p.pos into record @s: in place where they are
    // whole aligned blocks of the region, else copied once into the slot's
    // staging area (counted)
    void add_piece(Slot& s, const Piece& p, std::uint32_t n, bool whole)
    {
        const auto data = p.frag->data().subspan(p.pos, n);
        if (whole && p.crc)
            s.crc = combiner_.combine(s.crc, *p.crc, n);
        else
            s.crc = crc32c_extend(s.crc, data), userspace_crc_bytes_ += n;
        s.fill += n;
        s.frags.push_back(p.frag);
        std::uint64_t off = p.frag->region_offset() + p.pos;
        std::size_t at = 0;
        while (at < n) {
            const std::uint32_t left = n - static_cast<std::uint32_t>(at);
            if (!s.run_open && off % block_size == 0 && left >= block_size) {
                const std::uint32_t k = left - left % block_size;
                add_part(s, off, k);
                off += k;
                at += k;
                continue;
            }
            if (!s.run_open) {
                s.run_open = true;
                s.run_start = s.stage_fill;
            }
            const std::uint32_t k = std::min(left, block_size - s.stage_fill % block_size);
            std::memcpy(s.base + block_size + s.stage_fill, data.data() + at, k);
            staged_bytes_ += k;
            s.stage_fill += k;
            off += k;
            at += k;
            if (s.stage_fill % block_size == 0)
                close_run(s);
        }
    }

    void close_run(Slot& s)
    {
        s.run_open = false;
        add_part(s, s.region_off + block_size + s.run_start, s.stage_fill - s.run_start);
    }

    static void add_part(Slot& s, std::uint64_t off, std::uint32_t len)
    {
        auto& last = s.parts.back();
        if (last.first + last.second == off)
            last.second += len;
        else
            s.parts.emplace_back(off, len);
    }

    // the record has its bytes (or its stream ended): header, space on the
    // device, the write
    void finish_record(Slot& s)
    {
        Conn& c = *s.conn;
        if (c.cur == &s)
            c.cur = nullptr;
        s.received_at = Clock::now();
        const std::uint64_t payload = round_up(s.fill, block_size);
        const std::uint64_t need = block_size + payload;
        if (log_tail_ + need > dev_->capacity()) {
            log_full(s);
            return;
        }
        s.dev_off = log_tail_;
        log_tail_ += need;
        s.seq = records_++;
        RecordHeader h{};
        h.magic = record_magic;
        h.run_id = run_id_;
        h.seq = s.seq;
        h.stream_offset = s.stream_offset;
        h.seed = c.hello.seed;
        h.stream = c.id;
        h.stream_index = c.hello.stream_index;
        h.length = s.fill;
        h.crc = s.crc;
        h.flags = s.flags;
        seal(h);
        std::memset(s.base, 0, block_size);
        std::memcpy(s.base, &h, sizeof(h));
        s.state = Slot::State::writing;
        c.inflight.push_back(&s);
        payload_bytes_ += s.fill;
        if (o_.path == Path::baseline) {
            std::memset(s.base + block_size + s.fill, 0, payload - s.fill);
            if (dev_->passthrough()) {
                s.iovs.assign(1, iovec{s.base, static_cast<std::size_t>(need)});
                submit_passthrough(s, std::nullopt);
                return;
            }
            push(uio::Write<uio::Fd>(uio::Fd{dev_->fd()}, {s.base, static_cast<std::size_t>(need)}, s.dev_off),
                 ud(k_write, s.index));
            s.writes = 1;
            ++writes_inflight_;
            ++write_sqes_;
            return;
        }
        if (s.run_open) {  // the tail: pad the staging run to a block
            const std::uint32_t pad = block_size - s.stage_fill % block_size;
            std::memset(s.base + block_size + s.stage_fill, 0, pad);
            s.stage_fill += pad;
            close_run(s);
        }
        submit_spans(s);
    }

    void submit_spans(Slot& s)
    {
        std::uint64_t total = 0;
        for (const auto& [off, len] : s.parts)
            total += len;
        if (total != block_size + round_up(s.fill, block_size))
            fail(exit_failed, "internal: record %llu has %llu bytes of spans for %u payload bytes",
                 static_cast<unsigned long long>(s.seq), static_cast<unsigned long long>(total), s.fill);
        const uio::Fd file{dev_->fd()};
        if (dev_->passthrough() || vectored_) {
            s.spans.clear();
            for (const auto& [off, len] : s.parts) {
                auto sp = region_->vec_span(off, len);
                if (!sp)
                    fail(exit_failed, "internal: span %llu+%u: %s", static_cast<unsigned long long>(off), len,
                         sp.error().message().c_str());
                s.spans.push_back(*sp);
            }
        }
        if (dev_->passthrough()) {
            s.iovs.clear();
            for (const uio::uapi::span& sp : s.spans)
                s.iovs.push_back(iovec{reinterpret_cast<void*>(static_cast<std::uintptr_t>(sp.addr)), sp.len});
            submit_passthrough(s, region_->buf_index());
            return;
        }
        if (vectored_) {
            // one SQE while the record has at most vec_max_spans spans
            for (std::size_t i = 0; i < s.spans.size(); i += uio::uapi::vec_max_spans) {
                const auto part = std::span<const uio::uapi::span>(s.spans).subspan(
                    i, std::min<std::size_t>(uio::uapi::vec_max_spans, s.spans.size() - i));
                std::uint64_t at = s.dev_off;
                for (std::size_t k = 0; k < i; ++k)
                    at += s.spans[k].len;
                auto w = region_->write_spans_to(file, at, part);
                if (!w)
                    fail(exit_failed, "vectored write: %s", w.error().message().c_str());
                push(*w, ud(k_write, s.index));
                ++s.writes;
                ++writes_inflight_;
                ++write_sqes_;
            }
            return;
        }
        // a native kernel without the vectored stage: one direct write per span, still from the region
        std::uint64_t at = s.dev_off;
        for (const auto& [off, len] : s.parts) {
            auto w = region_->write_to(file, off, len, at);
            if (!w)
                fail(exit_failed, "write: %s", w.error().message().c_str());
            push(*w, ud(k_write, s.index));
            at += len;
            ++s.writes;
            ++writes_inflight_;
            ++write_sqes_;
        }
    }

    // NVMe write commands for s.iovs (from the region's fixed buffer
    // @buf_index, or plain memory), each within the namespace's transfer and
    // segment limits: the block layer splits nothing for passthrough. Spans
    // are block multiples, so every command is too.
    void submit_passthrough(Slot& s, std::optional<std::uint16_t> buf_index)
    {
        const std::size_t max_bytes = dev_->max_transfer();
        const std::size_t max_iovs = std::min<std::size_t>(dev_->max_segments(), uio::uapi::vec_max_spans);
        // split iovecs longer than one command first: s.iovs stays as the commands use it
        std::vector<iovec> split;
        for (const iovec& v : s.iovs)
            for (std::size_t at = 0; at < v.iov_len; at += max_bytes)
                split.push_back(iovec{static_cast<std::byte*>(v.iov_base) + at, std::min(max_bytes, v.iov_len - at)});
        s.iovs = std::move(split);
        const uio::Fd file{dev_->fd()};
        std::uint64_t at = s.dev_off;
        for (std::size_t first = 0; first < s.iovs.size();) {
            std::size_t n = 0, bytes = 0;
            while (first + n < s.iovs.size() && n < max_iovs && bytes + s.iovs[first + n].iov_len <= max_bytes)
                bytes += s.iovs[first + n++].iov_len;
            const auto blocks = uio::nvme::Blocks::of(bytes / dev_->logical_block());
            if (!blocks)
                fail(exit_failed, "internal: a command of %zu bytes", bytes);
            const std::span<const iovec> iov(s.iovs.data() + first, n);
            if (buf_index)
                push(uio::nvme::WriteVec<uio::Fd>(file, dev_->nsid(), dev_->lba(at), *blocks, iov, *buf_index),
                     ud(k_write, s.index));
            else
                push(uio::nvme::WriteVec<uio::Fd>(file, dev_->nsid(), dev_->lba(at), *blocks, iov),
                     ud(k_write, s.index));
            at += bytes;
            first += n;
            ++s.writes;
            ++writes_inflight_;
            ++write_sqes_;
        }
    }

    // a write's or flush's failure: an errno, or for an NVMe command a
    // positive status from the device; empty on success
    [[nodiscard]] std::string device_error(int res) const
    {
        if (res < 0)
            return std::strerror(-res);
        if (res > 0 && dev_->passthrough())
            return "NVMe status " + std::to_string(res);
        return {};
    }

    void on_write(Slot& s, int res)
    {
        --writes_inflight_;
        if (const std::string err = device_error(res); !err.empty())
            fail(exit_failed, "write of record %llu (%u bytes of stream %u at %llu) to %s: %s",
                 static_cast<unsigned long long>(s.seq), s.fill, s.conn->id,
                 static_cast<unsigned long long>(s.stream_offset), o_.device.c_str(), err.c_str());
        s.written += static_cast<std::uint64_t>(res);
        if (--s.writes)
            return;
        // a passthrough command completes with 0, having moved all its blocks
        if (!dev_->passthrough() && s.written != block_size + round_up(s.fill, block_size))
            fail(exit_failed, "record %llu: %llu bytes written of %llu", static_cast<unsigned long long>(s.seq),
                 static_cast<unsigned long long>(s.written),
                 static_cast<unsigned long long>(block_size + round_up(s.fill, block_size)));
        s.frags.clear();  // the payload is on the device: its buffers go back
        if (o_.durable) {
            s.state = Slot::State::durable_wait;
            flush_wait_.push_back(&s);
            kick_flush();
        } else {
            made_durable(s);
        }
    }

    void kick_flush()
    {
        if (flush_inflight_ || flush_wait_.empty())
            return;
        flush_covers_ = std::move(flush_wait_);
        flush_wait_.clear();
        if (dev_->passthrough())
            push(uio::nvme::Flush<uio::Fd>(uio::Fd{dev_->fd()}, dev_->nsid()), ud(k_flush, 0));
        else
            push(Fdatasync{dev_->fd()}, ud(k_flush, 0));
        flush_inflight_ = true;
        ++flushes_;
    }

    void on_flush(int res)
    {
        flush_inflight_ = false;
        if (const std::string err = device_error(res); !err.empty())
            fail(exit_failed, "flush of %s: %s", o_.device.c_str(), err.c_str());
        auto covered = std::move(flush_covers_);
        flush_covers_.clear();
        for (Slot* s : covered)
            made_durable(*s);
        kick_flush();
    }

    void made_durable(Slot& s)
    {
        s.state = Slot::State::durable;
        latencies_.push_back(std::chrono::duration<double>(Clock::now() - s.received_at).count());
        Conn& c = *s.conn;
        while (!c.inflight.empty() && c.inflight.front()->state == Slot::State::durable) {
            Slot* f = c.inflight.front();
            c.inflight.pop_front();
            c.durable = f->stream_offset + f->fill;
            release(*f);
        }
        check_conn(c);
    }

    void release(Slot& s)
    {
        s.frags.clear();
        s.parts.clear();
        s.spans.clear();
        s.state = Slot::State::free;
        s.conn = nullptr;
        free_.push_back(&s);
        // a connection waiting for a slot or for buffers goes on
        for (auto& c : conns_)
            if (c->wait_buffers) {
                c->wait_buffers = false;
                c->rearm = true;
            }
    }

    // --- stream ends, acknowledgements -------------------------------------

    void on_eof(Conn& c)
    {
        c.eof = true;
        c.armed = false;
        consume(c);
    }

    // the peer closed: once every received byte is in a record, the
    // stream's end is decided
    void end_stream(Conn& c)
    {
        if (!c.backlog.empty() || c.dropping || c.final_sent)
            return check_conn(c);
        if (!c.streaming) {
            if (c.failure.empty())
                c.failure = c.hello_got ? "disconnected in the middle of its hello" : "disconnected before its hello";
            return check_conn(c);
        }
        if (c.received < c.hello.total_bytes && !c.partial) {
            c.partial = true;
            std::fprintf(stderr, "uio-ingest serve: stream %u from %s: the peer disconnected after %llu of %llu "
                         "bytes, mid-record: its last record is marked partial\n",
                         c.id, c.peer.c_str(), static_cast<unsigned long long>(c.received),
                         static_cast<unsigned long long>(c.hello.total_bytes));
            Slot* s = c.cur ? c.cur : start_record(c);
            if (!s) {
                c.partial = false;  // no slot now: consume() ends it once one is free
                return;
            }
            s->flags |= record_partial;
            finish_record(*s);
        }
        check_conn(c);
    }

    void send_ack(Conn& c, AckStatus st)
    {
        if (c.final_sent || c.closed)
            return;
        const Ack a{c.durable, st, 0};
        ++ack_sends_;
        // 16 bytes to a peer that reads them: the socket buffer has room;
        // a peer that does not read loses progress acks, never the last
        if (::send(c.fd.get(), &a, sizeof(a), MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof(a))
            c.acked = c.durable;
        if (st != AckStatus::progress) {
            c.final_sent = true;
            shutdown(c.fd.get(), SHUT_RDWR);  // ends the armed receive too
        }
    }

    // acknowledges what became durable; ends the connection when its
    // stream is decided
    void check_conn(Conn& c)
    {
        if (c.closed)
            return;
        if (!c.final_sent) {
            const bool settled = c.inflight.empty() && !c.cur;
            if (!c.failure.empty() && settled) {
                send_ack(c, c.streaming ? AckStatus::failed : AckStatus::rejected);
                c.final_sent = true;
            } else if (log_full_ && settled) {
                send_ack(c, AckStatus::log_full);
            } else if (c.streaming && c.durable == c.hello.total_bytes && settled) {
                send_ack(c, AckStatus::complete);
            } else if (c.partial && settled && c.backlog.empty()) {
                send_ack(c, AckStatus::partial);  // if the peer still reads
            } else if (c.durable > c.acked) {
                send_ack(c, AckStatus::progress);
            }
        }
        if (c.final_sent && !c.armed && c.inflight.empty() && !c.cur) {
            if (!c.eof && o_.path == Path::baseline && c.failure.empty() && !log_full_) {
                // wait for the peer's close, as the region path's armed receive does
                c.dropping = true;
                arm(c);
                if (c.armed)
                    return;
            }
            c.backlog.clear();
            c.fd.reset();
            c.closed = true;
        }
    }

    void conn_failed(Conn& c, const std::string& why)
    {
        if (c.failure.empty()) {
            c.failure = why;
            std::fprintf(stderr, "uio-ingest serve: stream %u from %s: %s\n", c.id, c.peer.c_str(), why.c_str());
        }
        c.dropping = true;
        c.backlog.clear();
        if (c.cur) {  // its bytes will not be stored
            Slot* s = c.cur;
            c.cur = nullptr;
            release(*s);
        }
        check_conn(c);
    }

    // the log has no room for @s: nothing more is stored; every client is told
    void log_full(Slot& s)
    {
        if (!log_full_)
            std::fprintf(stderr, "uio-ingest serve: %s is full: %llu of %llu bytes used, a record of %u bytes does "
                         "not fit; stopping, clients are told how much of their stream is durable\n",
                         o_.device.c_str(), static_cast<unsigned long long>(log_tail_),
                         static_cast<unsigned long long>(dev_->capacity()), s.fill);
        log_full_ = true;
        release(s);
        for (auto& c : conns_) {
            c->dropping = true;
            c->backlog.clear();
            if (c->cur) {
                Slot* cur = c->cur;
                c->cur = nullptr;
                release(*cur);
            }
        }
        for (auto& c : conns_)
            check_conn(*c);
    }

    // --- the end ---------------------------------------------------------------

    void write_superblock(bool closed)
    {
        AlignedBuffer blk(block_size);
        auto* sb = reinterpret_cast<Superblock*>(blk.data());
        sb->magic = super_magic;
        sb->version = 1;
        sb->block = block_size;
        sb->run_id = run_id_;
        sb->capacity = dev_->capacity();
        sb->record_size = o_.record_size;
        if (closed) {
            sb->flags = super_closed | (log_full_ ? super_log_full : 0u) | (interrupted_ ? super_interrupted : 0u);
            sb->log_end = log_tail_;
            sb->records = records_;
            sb->streams = static_cast<std::uint32_t>(conns_.size());
            for (const auto& c : conns_) {
                StreamEntry& e = sb->stream[c->id];
                e.seed = c->hello.seed;
                e.announced = c->hello.total_bytes;
                e.durable = c->durable;
                e.stream_index = c->hello.stream_index;
                e.flags = c->partial ? record_partial : 0u;
            }
        }
        seal(std::span<std::byte, block_size>(blk.data(), block_size));
        dev_->write(blk.span(0, block_size), 0);
        dev_->sync();
    }

    int finish()
    {
        const double secs = started_ ? seconds_since(start_) : 0;
        const CpuSample cpu = started_ ? CpuSample::now() - cpu_start_ : CpuSample{};
        write_superblock(true);
        if (interrupted_) {
            for (const auto& c : conns_)
                std::fprintf(stderr, "  stream %u from %s: %llu of %llu bytes received, %llu durable; receive %s%s, "
                             "%zu fragments waiting, %u bytes in the record being assembled, %zu records in flight%s%s\n",
                             c->id, c->peer.c_str(), static_cast<unsigned long long>(c->received),
                             static_cast<unsigned long long>(c->hello.total_bytes),
                             static_cast<unsigned long long>(c->durable), c->armed ? "armed" : "not armed",
                             c->wait_buffers ? " (waiting for buffers)" : "", c->backlog.size(),
                             c->cur ? c->cur->fill : 0u, c->inflight.size(), c->eof ? ", peer closed" : "",
                             c->stop_errno ? (", last receive stop: " + std::error_code(c->stop_errno, std::generic_category()).message()).c_str() : "");
            std::fprintf(stderr, "  %u of %u streams accepted, %u of %zu record slots free, %u writes in flight\n",
                         accepted_, o_.streams, static_cast<unsigned>(free_.size()), slots_.size(), writes_inflight_);
        }
        report(secs, cpu);
        int rc = interrupted_ ? exit_failed : exit_ok;
        for (const auto& c : conns_) {
            if (!c->failure.empty())
                rc = std::max(rc, exit_failed);
            else if (c->partial)
                rc = std::max(rc, exit_partial);
        }
        if (log_full_)
            rc = std::max(rc, exit_log_full);
        if (rc == exit_partial)
            std::fprintf(stderr, "uio-ingest serve: not every stream was complete (see above); the rest is stored\n");
        return rc;
    }

    void show_progress()
    {
        std::uint64_t durable = 0;
        for (const auto& c : conns_)
            durable += c->durable;
        const double s = started_ ? seconds_since(start_) : 0;
        char line[200];
        std::snprintf(line, sizeof(line), "serve: %u/%u streams, %s received, %s durable, %.1f MB/s", accepted_,
                      o_.streams, mib(received_bytes_).c_str(), mib(durable).c_str(),
                      s > 0 ? static_cast<double>(durable) / 1e6 / s : 0.0);
        progress_.show(line);
    }

    void report(double secs, const CpuSample& cpu)
    {
        std::uint64_t durable = 0;
        for (const auto& c : conns_)
            durable += c->durable;
        const double gb = static_cast<double>(durable) / 1e9;
        std::uint64_t kernel_copies = 0;
        std::string receive = "recv() into aligned buffers (the kernel copies)";
        uio::RegionCosts costs{};
        if (o_.path == Path::baseline) {
            kernel_copies = received_bytes_;
        } else {
            costs = region_->costs();
            if (native_) {
                kernel_copies = region_->received_bytes_copied();
                receive = o_.ifindex ? "the region's binding on a NIC queue (the device writes the region)"
                                     : "the region's device-less binding (the kernel copies into the region)";
            } else {
                kernel_copies = received_bytes_ * costs.receive_copies_per_byte;
                receive = region_->receive_path() == uio::ReceivePath::zero_copy
                              ? "compat zcrx instance on the region"
                              : "provided buffers in the region (the kernel copies)";
            }
        }
        // per byte the server received (what it stored, and what it dropped after the log filled)
        const double payload = static_cast<double>(std::max<std::uint64_t>(received_bytes_, 1));
        const double copies = static_cast<double>(kernel_copies + staged_bytes_) / payload;
        std::vector<double> lat = latencies_;
        const double p50 = percentile(lat, 50) * 1e3, p99 = percentile(lat, 99) * 1e3;
        const double enters_mb = static_cast<double>(enters_) / std::max(static_cast<double>(durable) / 1e6, 1e-9);
        const std::uint64_t data_pages = region_ ? region_->size() / static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
        const std::string storage =
            dev_->passthrough()
                ? (o_.path == Path::baseline ? "NVMe write commands from the buffer (passthrough)"
                                             : "vectored NVMe write commands from the region's fixed buffer (passthrough)")
            : o_.path == Path::baseline ? "O_DIRECT writes from the buffer (IORING_OP_WRITE)"
            : !native_                  ? "IORING_OP_WRITEV_FIXED from the region's fixed buffer"
            : vectored_                 ? "IORING_OP_UNIFIED vectored storage stage from the region"
                                        : "IORING_OP_UNIFIED storage stage, one op per span (no vectored stage)";
        std::printf("\nuio-ingest serve report: path %s%s\n", path_name_.c_str(), o_.durable ? ", durable (flush)" : "");
        std::printf("  receive          %s\n", receive.c_str());
        std::printf("  checksum         %s\n",
                    o_.path == Path::baseline || !native_ ? "userspace CRC32C" : crc_note_.c_str());
        std::printf("  storage          %s, %llu records, %llu SQEs\n", storage.c_str(),
                    static_cast<unsigned long long>(records_),
                    static_cast<unsigned long long>(write_sqes_));
        std::printf("  bytes            %llu payload bytes durable of %llu received, in %u stream%s\n",
                    static_cast<unsigned long long>(durable), static_cast<unsigned long long>(received_bytes_),
                    static_cast<unsigned>(conns_.size()), conns_.size() == 1 ? "" : "s");
        std::printf("  throughput       %.1f MB/s (%.2f s)\n", static_cast<double>(durable) / 1e6 / std::max(secs, 1e-9),
                    secs);
        std::printf("  CPU              process %.2f user + %.2f sys s/GB; machine (/proc/stat) %.2f user + %.2f sys "
                    "s/GB\n",
                    cpu.user / std::max(gb, 1e-12), cpu.sys / std::max(gb, 1e-12),
                    cpu.machine_user / std::max(gb, 1e-12), cpu.machine_sys / std::max(gb, 1e-12));
        std::printf("  copies/byte      %.3f (kernel receive copies %llu bytes, staging copies %llu bytes)\n", copies,
                    static_cast<unsigned long long>(kernel_copies), static_cast<unsigned long long>(staged_bytes_));
        if (hardware_mode())
            std::printf("  flow control     receives stopped %llu times at a backlog of %llu KiB; SO_RCVBUF %s per "
                        "connection\n",
                        static_cast<unsigned long long>(backlog_stops_),
                        static_cast<unsigned long long>(rx_backlog_limit_ >> 10), mib(socket_buffer_).c_str());
        if (fragments_)
            std::printf("  fragments        %llu received, %llu of them whole aligned blocks; %llu bytes written in "
                        "place\n",
                        static_cast<unsigned long long>(fragments_), static_cast<unsigned long long>(page_fragments_),
                        static_cast<unsigned long long>(received_bytes_ - staged_bytes_));
        if (region_)
            std::printf("  memory           %u pin%s, %u RLIMIT_MEMLOCK charge%s of the %llu-page data area "
                        "(costs()): %llu pages charged; VmPin %llu pages\n",
                        costs.pins, costs.pins == 1 ? "" : "s", costs.memlock_charges,
                        costs.memlock_charges == 1 ? "" : "s", static_cast<unsigned long long>(data_pages),
                        static_cast<unsigned long long>(costs.memlock_charges * data_pages),
                        static_cast<unsigned long long>(pinned_));
        else
            std::printf("  memory           no registered memory (0 pins, 0 pages)\n");
        std::printf("  io_uring_enter   %.2f per MB (%llu calls), %llu acknowledgement send()s, %llu receives "
                    "re-armed\n",
                    enters_mb, static_cast<unsigned long long>(enters_), static_cast<unsigned long long>(ack_sends_),
                    static_cast<unsigned long long>(rearms_));
        std::printf("  latency          receive-to-durable p50 %.2f ms, p99 %.2f ms (%zu records: last byte "
                    "received -> written%s)\n",
                    p50, p99, latencies_.size(), o_.durable ? " and flushed" : "");
        if (bpf_table_)
            std::printf("  BPF              %llu fragments checksummed in the BPF stage, %llu by userspace (%llu "
                        "bytes: split fragments)\n",
                        static_cast<unsigned long long>(bpf_fragments_), static_cast<unsigned long long>(bpf_misses_),
                        static_cast<unsigned long long>(userspace_crc_bytes_));
        // one line for scripts (scripts/run-main.sh, the tests)
        std::printf("REPORT path=%s bytes=%llu secs=%.4f user=%.4f sys=%.4f machine_user=%.4f machine_sys=%.4f "
                    "copies=%.4f kernel_copies=%llu staged=%llu pins=%u charges=%u memlock_pages=%llu "
                    "pinned_pages=%llu data_pages=%llu enters=%llu p50_ms=%.3f p99_ms=%.3f records=%llu bpf_fragments=%llu "
                    "storage=%s write_sqes=%llu\n",
                    o_.path == Path::baseline ? "baseline" : native_ ? (o_.ifindex ? "native-hw" : "native-nodev")
                                                                     : "compat",
                    static_cast<unsigned long long>(durable), secs, cpu.user, cpu.sys, cpu.machine_user,
                    cpu.machine_sys, copies, static_cast<unsigned long long>(kernel_copies),
                    static_cast<unsigned long long>(staged_bytes_), costs.pins, costs.memlock_charges,
                    static_cast<unsigned long long>(costs.memlock_charges * data_pages),
                    static_cast<unsigned long long>(pinned_), static_cast<unsigned long long>(data_pages),
                    static_cast<unsigned long long>(enters_), p50, p99, static_cast<unsigned long long>(records_),
                    static_cast<unsigned long long>(bpf_fragments_), dev_->passthrough() ? "passthrough" : "direct",
                    static_cast<unsigned long long>(write_sqes_));
        std::fflush(stdout);
    }

    const ServeOptions o_;
    std::optional<Device> dev_;
    UniqueFd listen_fd_;
    // destroyed in reverse: connections and slots (fragments) first, the ring last
    std::optional<IngestRing> ring_;
    std::optional<IngestRegion> region_;
    std::optional<IngestReceiver> receiver_;
#if UIO_INGEST_HAVE_BPF
    std::optional<uio::BpfOps> bpf_;
#endif
    std::optional<AlignedBuffer> baseline_mem_;
    std::vector<Slot> slots_;
    std::vector<Slot*> free_;
    std::vector<std::unique_ptr<Conn>> conns_;
    const BpfCrcTable* bpf_table_ = nullptr;
    Combiner combiner_;
    std::vector<std::byte> drop_buf_;

    unsigned nslots_ = 0;
    bool native_ = false, vectored_ = false;
    // hardware mode: a connection's backlog that stops its receive (see bound_socket_buffers())
    static constexpr std::uint64_t rx_backlog_limit_ = 512u << 10;
    // socket buffers of bytes a cancelled receive still brings (measured, see bound_socket_buffers())
    static constexpr unsigned rx_late_buffers = 4;
    std::uint64_t socket_buffer_ = 0;  // hardware mode: each connection's SO_RCVBUF as the kernel took it
    std::uint64_t backlog_stops_ = 0;
    std::string path_name_, crc_note_ = "userspace";
    std::uint64_t run_id_ = 0, log_tail_ = 0, records_ = 0;
    unsigned accepted_ = 0;
    bool accept_armed_ = false, log_full_ = false, interrupted_ = false;
    unsigned writes_inflight_ = 0;
    bool flush_inflight_ = false;
    std::vector<Slot*> flush_wait_, flush_covers_;

    bool started_ = false;
    Clock::time_point start_;
    CpuSample cpu_start_;
    Progress progress_;
    std::vector<double> latencies_;
    std::uint64_t received_bytes_ = 0, payload_bytes_ = 0, staged_bytes_ = 0;
    std::uint64_t userspace_crc_bytes_ = 0, bpf_fragments_ = 0, bpf_misses_ = 0;
    std::uint64_t fragments_ = 0, page_fragments_ = 0;
    std::uint64_t enters_ = 0, ack_sends_ = 0, write_sqes_ = 0, flushes_ = 0, rearms_ = 0, pinned_ = 0;
};

} // namespace

int serve(const ServeOptions& o)
{
    // SIGINT, SIGTERM: finish what is in flight, close the log, report
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    Server server(o);
    return server.run();
}

} // namespace ingest
