// SPDX-License-Identifier: MIT
// uio-ingest in the VM, on the patched kernel and the emulated NVMe disk:
// two linked netdevsim ports in two namespaces (tests/vm/nsim_pair.h), the
// receiving one with header split and an MTU that puts a whole page of
// payload in each segment, `uio-ingest send` in A's namespace, `serve` in
// B's on /dev/nvme0n1, then `verify`.
//
//   ingest_vm [MIB]     the test: MIB (default 32) over 2 streams, the second
//                       over IPv6, on the hardware path (--durable), the
//                       device-less path and the baseline; copies per byte
//                       checked (hardware <= 0.05, device-less and baseline
//                       >= 1); then the bad inputs (unknown device, device
//                       too small, port in use, a peer gone mid-record)
//   ingest_vm main [MIB] [STREAMS [SERVE-ARGS...]]
//                       the README's main job: MIB (default 256) over STREAMS
//                       (default 4, the last over IPv6), native hardware path
//                       then --baseline, both reports side by side with ratios
// Exit 0 pass, 1 fail, 77 skip (no netdevsim or no native path).
#include <net/if.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <csignal>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <uio/uio.hpp>

#include "nsim_pair.h"

namespace {

constexpr const char* bin = "/tests/uio-ingest";
constexpr const char* disk = "/dev/nvme0n1";
constexpr const char* disk_chr = "/dev/ng0n1";  // the same namespace, NVMe commands (passthrough)
constexpr unsigned mtu = 4168;     // 4096 payload + IPv6 (40) + TCP with timestamps (32)
constexpr const char* mss = "4108";  // TCP's MSS for 4096 payload bytes and timestamps, IPv4 too
t_nsim_pair pair{};
int failures = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);        \
            std::printf(__VA_ARGS__);                                          \
            std::printf("\n");                                                 \
            ++failures;                                                        \
        }                                                                      \
    } while (0)

int set_mtu(unsigned ifindex, unsigned value)
{
    ifreq ifr{};
    if (!if_indextoname(ifindex, ifr.ifr_name))
        return -errno;
    ifr.ifr_mtu = static_cast<int>(value);
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int ret = ioctl(fd, SIOCSIFMTU, &ifr) ? -errno : 0;
    close(fd);
    return ret;
}

struct Child {
    pid_t pid = -1;
    std::string out;  // where its stdout and stderr go
};

// runs uio-ingest @args in namespace @ns, output to a file
Child start(int ns, const std::vector<std::string>& args, const std::string& name)
{
    Child c;
    c.out = "/tmp/" + name + ".out";
    std::fflush(stdout);
    c.pid = fork();
    if (c.pid == 0) {
        if (t_netns_enter(ns))
            _exit(120);
        const int fd = open(c.out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        std::vector<char*> argv{const_cast<char*>(bin)};
        for (const auto& a : args)
            argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        execv(bin, argv.data());
        _exit(121);
    }
    return c;
}

std::string slurp(const std::string& path)
{
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// waits for @c; one that is still running after @limit seconds is stopped
// with SIGTERM (serve then closes its log and reports where it stood)
int finish(Child& c, bool show = true, int limit = 600)
{
    int status = 0;
    for (int i = 0; i < limit * 10 && waitpid(c.pid, &status, WNOHANG) == 0; ++i)
        usleep(100000);
    if (waitpid(c.pid, &status, WNOHANG) == 0) {
        std::printf("FAIL: %s still running after %d s: SIGTERM\n", c.out.c_str(), limit);
        ++failures;
        kill(c.pid, SIGTERM);
        waitpid(c.pid, &status, 0);
    }
    if (show)
        std::printf("%s", slurp(c.out).c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run(int ns, const std::vector<std::string>& args, const std::string& name, std::string* output = nullptr)
{
    Child c = start(ns, args, name);
    const int rc = finish(c, output == nullptr);
    if (output)
        *output = slurp(c.out);
    return rc;
}

bool wait_listening(const Child& c)
{
    for (int i = 0; i < 600; ++i) {
        if (slurp(c.out).find("listening on") != std::string::npos)
            return true;
        int status;
        if (waitpid(c.pid, &status, WNOHANG) == c.pid)
            return false;
        usleep(50000);
    }
    return false;
}

// What the network did during a run, for reading a slow one: TCP's
// retransmissions and timeouts on the sending side, packets the ports
// dropped (on receive: no free buffer in the queue's pool; on send: the
// peer's receive ring full), and received packets TCP copied into fresh
// buffers to fit its receive buffer.
struct NetCounters {
    unsigned long long retrans = 0, timeouts = 0, rx_dropped = 0, tx_dropped = 0, collapsed = 0;
};

// one counter of a /proc/net table ("Tcp:" header line, then values)
unsigned long long proc_net_value(const char* file, const std::string& table, const std::string& key)
{
    std::ifstream f(file);
    std::string names, values;
    while (std::getline(f, names) && std::getline(f, values)) {
        if (names.rfind(table + ":", 0) != 0)
            continue;
        std::istringstream n(names), v(values);
        std::string name, value;
        while (n >> name && v >> value)
            if (name == key)
                return std::strtoull(value.c_str(), nullptr, 10);
    }
    return 0;
}

// the counters of the namespace @ns, read from inside it
NetCounters net_counters_in(int ns)
{
    NetCounters c;
    if (t_netns_enter(ns))
        return c;
    c.retrans = proc_net_value("/proc/self/net/snmp", "Tcp", "RetransSegs");
    c.timeouts = proc_net_value("/proc/self/net/netstat", "TcpExt", "TCPTimeouts");
    c.collapsed = proc_net_value("/proc/self/net/netstat", "TcpExt", "TCPRcvCollapsed");
    std::ifstream dev("/proc/self/net/dev");
    std::string line;
    while (std::getline(dev, line)) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || line.find("lo:") != std::string::npos)
            continue;
        std::istringstream v(line.substr(colon + 1));
        unsigned long long f[16] = {};
        for (auto& x : f)
            v >> x;
        // netdevsim counts a receive it had no free buffer (or memory) for as
        // the receiver's rx drop, and a packet its peer's full receive ring
        // refused as the sender's tx drop
        c.rx_dropped += f[3];
        c.tx_dropped += f[11];
    }
    return c;
}

NetCounters net_counters()
{
    const NetCounters a = net_counters_in(pair.ns_a), b = net_counters_in(pair.ns_b);
    return {a.retrans + b.retrans, a.timeouts + b.timeouts, a.rx_dropped + b.rx_dropped, a.tx_dropped + b.tx_dropped,
            a.collapsed + b.collapsed};
}

using Report = std::map<std::string, std::string>;
Report parse_report(const std::string& out)
{
    Report r;
    const auto at = out.find("REPORT ");
    if (at == std::string::npos)
        return r;
    std::istringstream line(out.substr(at + 7, out.find('\n', at) - at - 7));
    std::string kv;
    while (line >> kv)
        if (const auto eq = kv.find('='); eq != std::string::npos)
            r[kv.substr(0, eq)] = kv.substr(eq + 1);
    return r;
}
double num(const Report& r, const char* key)
{
    const auto it = r.find(key);
    return it == r.end() ? -1 : std::strtod(it->second.c_str(), nullptr);
}

// one serve/send/verify run on @device; returns the serve report
Report ingest(const std::string& name, std::vector<std::string> serve_args, unsigned streams, unsigned mib,
              unsigned port, std::uint64_t seed, const char* device = disk)
{
    std::printf("\n=== %s: %u MiB over %u streams (the last over IPv6) ===\n", name.c_str(), mib, streams);
    std::vector<std::string> sargs = {"serve", "--device", device, "--listen", "[::]:" + std::to_string(port),
                                      "--streams", std::to_string(streams), "--mss", mss};
    sargs.insert(sargs.end(), serve_args.begin(), serve_args.end());
    Child srv = start(pair.ns_b, sargs, name + "-serve");
    if (!wait_listening(srv)) {
        CHECK(false, "%s: serve did not start", name.c_str());
        finish(srv);
        return {};
    }
    std::vector<std::string> send = {"send", "--streams", std::to_string(streams), "--bytes",
                                     std::to_string((std::uint64_t{mib} << 20) / streams), "--pattern",
                                     std::to_string(seed), "--mss", mss};
    for (unsigned i = 0; i < streams; ++i) {
        send.push_back("--to");
        send.push_back(i + 1 == streams && streams > 1 ? "[" T_NSIM_ADDR6_B "]:" + std::to_string(port)
                                                       : std::string(T_NSIM_ADDR_B ":") + std::to_string(port));
    }
    const NetCounters net0 = net_counters();
    const int send_rc = run(pair.ns_a, send, name + "-send");
    const int serve_rc = finish(srv, false, send_rc == 0 ? 120 : 5);
    const NetCounters net1 = net_counters();
    const std::string out = slurp(srv.out);
    std::printf("%s", out.c_str());
    std::printf("network: %llu TCP segments retransmitted (%llu retransmission timeouts); packets dropped: %llu "
                "received with no free buffer, %llu sent into a full receive ring; %llu received packets collapsed "
                "(copied) by TCP over a full receive buffer\n",
                net1.retrans - net0.retrans, net1.timeouts - net0.timeouts, net1.rx_dropped - net0.rx_dropped,
                net1.tx_dropped - net0.tx_dropped, net1.collapsed - net0.collapsed);
    CHECK(send_rc == 0, "%s: send exited %d", name.c_str(), send_rc);
    CHECK(serve_rc == 0, "%s: serve exited %d", name.c_str(), serve_rc);
    std::string vout;
    const int verify_rc = run(pair.ns_b, {"verify", "--device", device, "--pattern", std::to_string(seed), "--complete"},
                              name + "-verify", &vout);
    std::printf("%s", vout.c_str());
    CHECK(verify_rc == 0, "%s: verify exited %d", name.c_str(), verify_rc);
    const Report r = parse_report(out);
    CHECK(num(r, "bytes") == static_cast<double>(std::uint64_t{mib} << 20), "%s: %s bytes durable", name.c_str(),
          r.count("bytes") ? r.at("bytes").c_str() : "no");
    return r;
}

void bad_inputs(unsigned port)
{
    std::printf("\n=== bad input ===\n");
    std::string out;
    int rc = run(pair.ns_b, {"serve", "--device", "/dev/nvme9n9", "--listen", "[::]:" + std::to_string(port)},
                 "bad-device", &out);
    CHECK(rc == 2 && out.find("/dev/nvme9n9: No such file or directory") != std::string::npos,
          "unknown device: exit %d, %s", rc, out.c_str());
    rc = run(pair.ns_b, {"serve", "--device", "/dev/null", "--listen", "[::]:" + std::to_string(port)}, "bad-chr",
             &out);
    CHECK(rc == 2 && out.find("not an NVMe namespace") != std::string::npos, "a char device that is not NVMe: exit %d, %s",
          rc, out.c_str());
    {
        const int fd = open("/tmp/small.img", O_RDWR | O_CREAT | O_TRUNC, 0644);
        CHECK(fd >= 0 && ftruncate(fd, 64 << 10) == 0, "/tmp/small.img");
        close(fd);
    }
    rc = run(pair.ns_b, {"serve", "--device", "/tmp/small.img", "--listen", "[::]:" + std::to_string(port)},
             "bad-small", &out);
    CHECK(rc == 2 && out.find("too small") != std::string::npos, "device too small: exit %d, %s", rc, out.c_str());
    {
        t_netns_enter(pair.ns_b);
        const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(static_cast<std::uint16_t>(port));
        CHECK(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 && listen(fd, 1) == 0, "a listener");
        rc = run(pair.ns_b, {"serve", "--device", disk, "--native", "--listen", "[::]:" + std::to_string(port)},
                 "bad-port", &out);
        close(fd);
        CHECK(rc == 2 && out.find("the port is in use") != std::string::npos, "port in use: exit %d, %s", rc,
              out.c_str());
    }
    // a receive area on a NIC queue too small for what the streams may hold (records, backlogs, sockets)
    rc = run(pair.ns_b, {"serve", "--device", disk, "--native", "--ifindex", std::to_string(pair.if_b), "--rxq", "0",
                         "--streams", "8", "--net-area", "8M", "--listen", "[::]:" + std::to_string(port)},
             "bad-area", &out);
    CHECK(rc == 2 && out.find("--net-area 8.0 MiB is too small for 8 streams on a NIC queue") != std::string::npos,
          "area too small: exit %d, %s", rc, out.c_str());
    // a peer gone mid-record, on the hardware path: its last record marked, the other stream whole
    const unsigned cut = (4u << 20) + 100000;
    Child srv = start(pair.ns_b,
                      {"serve", "--device", disk, "--listen", "[::]:" + std::to_string(port + 1), "--streams", "2",
                       "--native", "--ifindex", std::to_string(pair.if_b), "--rxq", "0", "--mss", mss},
                      "partial-serve");
    CHECK(wait_listening(srv), "partial: serve did not start");
    const std::string to = std::string(T_NSIM_ADDR_B ":") + std::to_string(port + 1);
    Child whole = start(pair.ns_a, {"send", "--to", to, "--bytes", "8M", "--pattern", "21", "--mss", mss}, "partial-whole");
    rc = run(pair.ns_a, {"send", "--to", to, "--bytes", "8M", "--pattern", "22", "--mss", mss,
                         "--disconnect-after", std::to_string(cut)},
             "partial-send", &out);
    CHECK(rc == 0 && out.find("disconnected after " + std::to_string(cut)) != std::string::npos, "partial send: %s",
          out.c_str());
    CHECK(finish(whole) == 0, "the other stream");
    rc = finish(srv);
    CHECK(rc == 3, "partial: serve exited %d, not 3", rc);
    CHECK(slurp(srv.out).find("marked partial") != std::string::npos, "partial: no message");
    rc = run(pair.ns_b, {"verify", "--device", disk}, "partial-verify", &out);
    std::printf("%s", out.c_str());
    CHECK(rc == 0 && out.find("partial: the peer disconnected after " + std::to_string(cut)) != std::string::npos,
          "partial verify: exit %d", rc);
}

void print_side_by_side(const Report& n, const Report& b)
{
    auto gb = [](const Report& r) { return num(r, "bytes") / 1e9; };
    auto mbs = [](const Report& r) { return num(r, "bytes") / 1e6 / num(r, "secs"); };
    auto cpu = [&](const Report& r, const char* u, const char* s) { return (num(r, u) + num(r, s)) / gb(r); };
    auto enters = [](const Report& r) { return num(r, "enters") / (num(r, "bytes") / 1e6); };
    std::printf("\n=== uio-ingest: %s native (hardware mode) vs baseline, side by side ===\n",
                n.count("bytes") ? n.at("bytes").c_str() : "?");
    std::printf("%-36s %14s %14s %10s\n", "", "native", "baseline", "ratio");
    auto row = [](const char* what, double a, double b, const char* fmt) {
        char x[32], y[32], r[32];
        std::snprintf(x, sizeof(x), fmt, a);
        std::snprintf(y, sizeof(y), fmt, b);
        if (b != 0)
            std::snprintf(r, sizeof(r), "%.2fx", a / b);
        else
            std::snprintf(r, sizeof(r), "-");
        std::printf("%-36s %14s %14s %10s\n", what, x, y, r);
    };
    row("throughput (MB/s)", mbs(n), mbs(b), "%.1f");
    row("CPU, process (s/GB user+sys)", cpu(n, "user", "sys"), cpu(b, "user", "sys"), "%.2f");
    row("CPU, machine /proc/stat (s/GB)", cpu(n, "machine_user", "machine_sys"),
        cpu(b, "machine_user", "machine_sys"), "%.2f");
    row("CPU copies per payload byte", num(n, "copies"), num(b, "copies"), "%.3f");
    row("pins", num(n, "pins"), num(b, "pins"), "%.0f");
    row("RLIMIT_MEMLOCK pages charged", num(n, "memlock_pages"), num(b, "memlock_pages"), "%.0f");
    row("io_uring_enter per MB", enters(n), enters(b), "%.2f");
    row("receive-to-durable p50 (ms)", num(n, "p50_ms"), num(b, "p50_ms"), "%.2f");
    row("receive-to-durable p99 (ms)", num(n, "p99_ms"), num(b, "p99_ms"), "%.2f");
    std::printf("native: %.0f registration of its %.0f-page data area (costs(): one pin, one charge); the baseline "
                "registers nothing but copies every byte\n",
                num(n, "charges"), num(n, "data_pages"));
    std::printf("BENCH ingest native_mbs=%.1f baseline_mbs=%.1f native_cpu=%.3f baseline_cpu=%.3f "
                "native_machine_cpu=%.3f baseline_machine_cpu=%.3f native_copies=%.4f baseline_copies=%.4f\n",
                mbs(n), mbs(b), cpu(n, "user", "sys"), cpu(b, "user", "sys"), cpu(n, "machine_user", "machine_sys"),
                cpu(b, "machine_user", "machine_sys"), num(n, "copies"), num(b, "copies"));
}

} // namespace

int main(int argc, char** argv)
{
    setvbuf(stdout, nullptr, _IOLBF, 0);
    const bool main_job = argc > 1 && std::strcmp(argv[1], "main") == 0;
    const int first = main_job ? 2 : 1;
    const unsigned mib = argc > first ? static_cast<unsigned>(std::atoi(argv[first])) : (main_job ? 256 : 32);
    const unsigned streams = main_job && argc > first + 1 ? static_cast<unsigned>(std::atoi(argv[first + 1]))
                                                          : (main_job ? 4 : 2);
    if (access("/sys/bus/netdevsim/new_device", W_OK) != 0) {
        std::printf("SKIP: no netdevsim\n");
        return 77;
    }
    const auto q = uio::query_unified();
    if (!q || !(q->op_flags & uio::uapi::op_net)) {
        std::printf("SKIP: the kernel has no unified region network stage\n");
        return 77;
    }
    std::printf("kernel: vectored storage stage %s\n", (q->op_flags & uio::uapi::op_vec) ? "yes" : "no");
    const char* err = nullptr;
    int ret = t_nsim_pair_create(&pair, 40, 1, &err);
    if (ret) {
        std::printf("FAIL: netdevsim pair: %s: %s\n", err, std::strerror(-ret));
        return 1;
    }
    if ((ret = t_netns_enter(pair.ns_a)) || (ret = set_mtu(pair.if_a, mtu)) || (ret = t_netns_enter(pair.ns_b)) ||
        (ret = set_mtu(pair.if_b, mtu))) {
        std::printf("FAIL: MTU %u: %s\n", mtu, std::strerror(-ret));
        return 1;
    }
    const std::vector<std::string> hw = {"--native", "--ifindex", std::to_string(pair.if_b), "--rxq", "0"};
    if (main_job) {
        std::vector<std::string> native = hw;  // arguments after STREAMS go to the native serve
        for (int i = first + 2; i < argc; ++i)
            native.push_back(argv[i]);
        Report n = ingest("native, hardware mode", native, streams, mib, 7000, 101);
        Report b = ingest("baseline", {"--baseline"}, streams, mib, 7001, 102);
        if (!n.empty() && !b.empty())
            print_side_by_side(n, b);
        t_nsim_pair_destroy(&pair);
        return failures ? 1 : 0;
    }

    std::vector<std::string> hw_durable = hw;
    hw_durable.push_back("--durable");
    const Report h = ingest("native, hardware mode, durable", hw_durable, 2, mib, 7100, 1);
    CHECK(h.count("path") && h.at("path") == "native-hw", "path %s", h.count("path") ? h.at("path").c_str() : "?");
    CHECK(num(h, "copies") >= 0 && num(h, "copies") <= 0.05, "hardware path: %.4f copies per byte",
          num(h, "copies"));
    // every payload byte was placed by the device: none reached the region
    // through the kernel's copy fallback (e.g. bytes a connection brought in
    // before the queue was bound to the region)
    CHECK(num(h, "kernel_copies") == 0, "hardware path: the kernel copied %.0f bytes", num(h, "kernel_copies"));
    CHECK(num(h, "pins") == 1, "hardware path: %.0f pins", num(h, "pins"));
    CHECK(num(h, "bpf_fragments") > 0, "hardware path: no fragment checksummed by the BPF stage");
    const Report d = ingest("native, device-less", {"--native"}, 2, mib, 7101, 2);
    CHECK(d.count("path") && d.at("path") == "native-nodev", "path");
    CHECK(num(d, "copies") >= 0.99 && num(d, "copies") < 2.01, "device-less: %.4f copies per byte", num(d, "copies"));
    const Report b = ingest("baseline", {"--baseline"}, 2, mib, 7102, 3);
    CHECK(b.count("path") && b.at("path") == "baseline", "path");
    CHECK(num(b, "copies") >= 0.99, "baseline: %.4f copies per byte", num(b, "copies"));
    CHECK(h.count("storage") && h.at("storage") == "direct", "the block device is written directly");

    // the namespace's char device: NVMe write commands, vectored over the
    // same region spans from the region's fixed buffer; read back through
    // the char device (verify) and through the block device (the same media)
    const Report hp = ingest("native, hardware mode, durable, NVMe char device", hw_durable, 2, 8, 7103, 4, disk_chr);
    CHECK(hp.count("storage") && hp.at("storage") == "passthrough", "storage %s",
          hp.count("storage") ? hp.at("storage").c_str() : "?");
    CHECK(hp.count("path") && hp.at("path") == "native-hw", "path");
    CHECK(num(hp, "copies") >= 0 && num(hp, "copies") <= 0.05, "passthrough: %.4f copies per byte", num(hp, "copies"));
    CHECK(num(hp, "kernel_copies") == 0, "passthrough: the kernel copied %.0f bytes", num(hp, "kernel_copies"));
    CHECK(num(hp, "write_sqes") >= num(hp, "records"), "passthrough: %.0f commands for %.0f records",
          num(hp, "write_sqes"), num(hp, "records"));
    std::string vout;
    int rc = run(pair.ns_b, {"verify", "--device", disk, "--pattern", "4", "--complete"}, "chr-verify-blk", &vout);
    CHECK(rc == 0, "the char device's log read through the block device: exit %d\n%s", rc, vout.c_str());
    const Report bp = ingest("baseline, NVMe char device", {"--baseline"}, 1, 4, 7104, 5, disk_chr);
    CHECK(bp.count("storage") && bp.at("storage") == "passthrough" && bp.count("path") && bp.at("path") == "baseline",
          "baseline on the char device");
    bad_inputs(7200);
    t_nsim_pair_destroy(&pair);
    std::printf("%s\n", failures ? "FAILED" : "PASS: uio-ingest on the hardware path, device-less and baseline");
    return failures ? 1 : 0;
}
