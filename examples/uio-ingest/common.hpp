// SPDX-License-Identifier: MIT
// What serve, send and verify share: descriptors, addresses, measurements,
// progress lines and errors.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ingest {

// exit codes
inline constexpr int exit_ok = 0;
inline constexpr int exit_failed = 1;     // I/O error, corruption, a lost byte
inline constexpr int exit_usage = 2;      // bad arguments, unknown device, port in use, device too small
inline constexpr int exit_partial = 3;    // a stream ended mid-record (serve)
inline constexpr int exit_log_full = 4;   // the device filled up; clients were told

// A fatal condition with its message and exit code.
struct Fatal : std::runtime_error {
    Fatal(int code, const std::string& what) : std::runtime_error(what), code(code) {}
    int code;
};
[[noreturn]] inline void fail(int code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
inline void fail(int code, const char* fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    throw Fatal(code, buf);
}

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) noexcept : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept
    {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }
    [[nodiscard]] int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    void reset() noexcept
    {
        if (fd_ >= 0)
            ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// "ADDR:PORT", "[V6ADDR]:PORT" or ":PORT"/"PORT" (any address, IPv6 with
// IPv4 mapped); numeric only
struct SockAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    [[nodiscard]] int family() const noexcept { return ss.ss_family; }
    [[nodiscard]] const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&ss); }
};
[[nodiscard]] inline std::optional<SockAddr> parse_addr(const std::string& text, bool passive)
{
    std::string host, port;
    if (!text.empty() && text[0] == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return std::nullopt;
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else if (const auto colon = text.rfind(':'); colon != std::string::npos) {
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string::npos)
            return std::nullopt;  // an IPv6 address needs brackets
    } else {
        port = text;
    }
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
        return std::nullopt;
    const auto p = htons(static_cast<std::uint16_t>(std::stoul(port)));
    (void)passive;  // no host: any address (IPv6, which takes IPv4 too)
    SockAddr a;
    if (host.empty() || host.find(':') != std::string::npos) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = p;
        if (host.empty())
            in6->sin6_addr = in6addr_any;
        else if (inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) != 1)
            return std::nullopt;
        a.len = sizeof(sockaddr_in6);
    } else {
        auto* in = reinterpret_cast<sockaddr_in*>(&a.ss);
        in->sin_family = AF_INET;
        in->sin_port = p;
        if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1)
            return std::nullopt;
        a.len = sizeof(sockaddr_in);
    }
    return a;
}
[[nodiscard]] inline std::string to_string(const sockaddr* sa)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        return std::string(host) + ":" + std::to_string(port);
    }
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    port = ntohs(in6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
}

// "123", "4K", "256M", "1G" (binary units)
[[nodiscard]] inline std::optional<std::uint64_t> parse_size(const std::string& s)
{
    if (s.empty() || !std::isdigit(static_cast<unsigned char>(s[0])))
        return std::nullopt;
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(s.c_str(), &end, 0);
    if (errno)
        return std::nullopt;
    std::string unit(end);
    std::uint64_t mult = 1;
    if (unit == "" || unit == "B")
        mult = 1;
    else if (unit == "K" || unit == "k" || unit == "KiB")
        mult = 1ull << 10;
    else if (unit == "M" || unit == "MiB")
        mult = 1ull << 20;
    else if (unit == "G" || unit == "GiB")
        mult = 1ull << 30;
    else
        return std::nullopt;
    if (v > ~0ull / mult)
        return std::nullopt;
    return v * mult;
}

using Clock = std::chrono::steady_clock;
[[nodiscard]] inline double seconds_since(Clock::time_point t) noexcept
{
    return std::chrono::duration<double>(Clock::now() - t).count();
}

// CPU time: the process's (getrusage) and the whole machine's busy time
// (/proc/stat: every CPU, the guest's when run in the VM)
struct CpuSample {
    double user = 0, sys = 0;  // this process, seconds
    double busy = 0;           // all CPUs: user+nice+system+irq+softirq+steal, seconds
    double machine_user = 0, machine_sys = 0;

    static CpuSample now()
    {
        CpuSample s;
        rusage ru{};
        getrusage(RUSAGE_SELF, &ru);
        s.user = static_cast<double>(ru.ru_utime.tv_sec) + static_cast<double>(ru.ru_utime.tv_usec) / 1e6;
        s.sys = static_cast<double>(ru.ru_stime.tv_sec) + static_cast<double>(ru.ru_stime.tv_usec) / 1e6;
        std::ifstream stat("/proc/stat");
        std::string cpu;
        unsigned long long v[8] = {};
        if (stat >> cpu && cpu == "cpu") {
            for (auto& x : v)
                stat >> x;
            const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
            s.machine_user = static_cast<double>(v[0] + v[1]) / hz;
            s.machine_sys = static_cast<double>(v[2] + v[5] + v[6] + v[7]) / hz;
            s.busy = s.machine_user + s.machine_sys;
        }
        return s;
    }
    [[nodiscard]] CpuSample operator-(const CpuSample& o) const noexcept
    {
        return {user - o.user, sys - o.sys, busy - o.busy, machine_user - o.machine_user, machine_sys - o.machine_sys};
    }
};

// pinned memory of this process (VmPin of /proc/self/status), in pages
[[nodiscard]] inline std::uint64_t pinned_pages()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line))
        if (line.rfind("VmPin:", 0) == 0)
            return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024 / static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
    return 0;
}

// percentile @p (0..100) of @v (reorders it); 0 when empty
[[nodiscard]] inline double percentile(std::vector<double>& v, double p)
{
    if (v.empty())
        return 0;
    const auto k = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k];
}

// Progress: rewritten in place on a terminal, a plain line every interval
// otherwise.
class Progress {
public:
    explicit Progress(double interval_tty = 0.25, double interval_plain = 2.0)
        : tty_(isatty(STDERR_FILENO)), interval_(tty_ ? interval_tty : interval_plain), last_(Clock::now()) {}
    [[nodiscard]] bool due() const noexcept { return seconds_since(last_) >= interval_; }
    void show(const std::string& line)
    {
        last_ = Clock::now();
        if (tty_)
            std::fprintf(stderr, "\r\033[K%s", line.c_str());
        else
            std::fprintf(stderr, "%s\n", line.c_str());
        shown_ = true;
    }
    void done()
    {
        if (tty_ && shown_)
            std::fprintf(stderr, "\n");
        shown_ = false;
    }

private:
    bool tty_;
    double interval_;
    Clock::time_point last_;
    bool shown_ = false;
};

[[nodiscard]] inline std::string mib(std::uint64_t bytes)
{
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
    return buf;
}

} // namespace ingest
