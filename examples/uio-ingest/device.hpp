// SPDX-License-Identifier: MIT
// The log's device: a block device (an NVMe namespace), its NVMe char device
// or a file on a block device; and block-aligned buffers for it.
#pragma once

#include <linux/fs.h>
#include <linux/nvme_ioctl.h>
#include <sys/sysmacros.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>

#include "common.hpp"
#include "format.hpp"

#include <uio/ops.hpp>

namespace ingest {

class AlignedBuffer {
public:
    explicit AlignedBuffer(std::size_t size) : size_(round_up(size, block_size))
    {
        void* p = nullptr;
        if (posix_memalign(&p, block_size, size_) != 0)
            throw std::bad_alloc();
        mem_.reset(static_cast<std::byte*>(p));
        std::memset(p, 0, size_);
    }
    [[nodiscard]] std::byte* data() const noexcept { return mem_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] std::span<std::byte> span(std::size_t off, std::size_t len) const noexcept
    {
        return {mem_.get() + off, len};
    }

private:
    struct Free {
        void operator()(std::byte* p) const noexcept { std::free(p); }
    };
    std::size_t size_;
    std::unique_ptr<std::byte, Free> mem_;
};

// The log's device. A block device or a regular file is written with
// O_DIRECT; a namespace's generic char device (/dev/ngXnY) with NVMe
// commands (passthrough: no block layer, no page cache, no file system), its
// size and block size from Identify Namespace.
class Device {
public:
    // Opens @path for the log (@write) or for reading it back.
    static Device open(const std::string& path, bool write)
    {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            fail(exit_usage, "device %s: %s", path.c_str(), std::strerror(errno));
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
            fail(exit_usage, "device %s: neither a block device, an NVMe char device nor a regular file",
                 path.c_str());
        Device d;
        d.path_ = path;
        const int flags = (write ? O_RDWR : O_RDONLY) | O_CLOEXEC | (S_ISCHR(st.st_mode) ? 0 : O_DIRECT);
        d.fd_ = UniqueFd(::open(path.c_str(), flags));
        if (!d.fd_)
            fail(exit_usage, "device %s: %s%s", path.c_str(), std::strerror(errno),
                 S_ISCHR(st.st_mode) ? "" : " (O_DIRECT)");
        if (S_ISCHR(st.st_mode)) {
            d.open_passthrough(st);
        } else if (S_ISBLK(st.st_mode)) {
            std::uint64_t size = 0;
            int lbs = 0;
            if (ioctl(d.fd_.get(), BLKGETSIZE64, &size) != 0 || ioctl(d.fd_.get(), BLKSSZGET, &lbs) != 0)
                fail(exit_usage, "device %s: size: %s", path.c_str(), std::strerror(errno));
            d.capacity_ = size;
            d.logical_block_ = static_cast<unsigned>(lbs);
        } else {
            d.capacity_ = static_cast<std::uint64_t>(st.st_size);
            d.logical_block_ = 512;
        }
        if (d.logical_block_ == 0 || block_size % d.logical_block_ != 0)
            fail(exit_usage, "device %s: logical block size %u does not divide %u", path.c_str(), d.logical_block_,
                 block_size);
        d.capacity_ -= d.capacity_ % block_size;
        return d;
    }

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] std::uint64_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] unsigned logical_block() const noexcept { return logical_block_; }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    // an NVMe generic char device: I/O through NVMe commands (nsid(), lba())
    [[nodiscard]] bool passthrough() const noexcept { return nsid_ != 0; }
    [[nodiscard]] std::uint32_t nsid() const noexcept { return nsid_; }
    // @byte_off (a logical-block multiple) as a passthrough command's LBA
    [[nodiscard]] std::uint64_t lba(std::uint64_t byte_off) const noexcept { return byte_off / logical_block_; }
    // passthrough: the most bytes one command moves, and iovecs one vectored command takes
    [[nodiscard]] std::uint32_t max_transfer() const noexcept { return max_transfer_; }
    [[nodiscard]] std::uint32_t max_segments() const noexcept { return max_segments_; }

    void read(std::span<std::byte> out, std::uint64_t off) const
    {
        if (passthrough()) {
            transfer(uio::nvme::Opcode::read, out.data(), out.size(), off);
            return;
        }
        for (std::size_t done = 0; done < out.size();) {
            const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done, static_cast<off_t>(off + done));
            if (n <= 0)
                fail(exit_failed, "%s: read at %llu: %s", path_.c_str(), static_cast<unsigned long long>(off + done),
                     n == 0 ? "end of device" : std::strerror(errno));
            done += static_cast<std::size_t>(n);
        }
    }
    void write(std::span<const std::byte> in, std::uint64_t off) const
    {
        if (passthrough()) {
            transfer(uio::nvme::Opcode::write, const_cast<std::byte*>(in.data()), in.size(), off);
            return;
        }
        for (std::size_t done = 0; done < in.size();) {
            const ssize_t n = ::pwrite(fd_.get(), in.data() + done, in.size() - done, static_cast<off_t>(off + done));
            if (n <= 0)
                fail(exit_failed, "%s: write at %llu: %s", path_.c_str(), static_cast<unsigned long long>(off + done),
                     n == 0 ? "no progress" : std::strerror(errno));
            done += static_cast<std::size_t>(n);
        }
    }
    void sync() const
    {
        if (passthrough()) {
            nvme_passthru_cmd64 cmd{};
            cmd.opcode = static_cast<std::uint8_t>(uio::nvme::Opcode::flush);
            cmd.nsid = nsid_;
            command(NVME_IOCTL_IO64_CMD, cmd, "flush");
            return;
        }
        if (::fdatasync(fd_.get()) != 0)
            fail(exit_failed, "%s: flush: %s", path_.c_str(), std::strerror(errno));
    }

private:
    Device() = default;

    void open_passthrough(const struct stat& st)
    {
        const int nsid = ioctl(fd_.get(), NVME_IOCTL_ID);
        if (nsid <= 0)
            fail(exit_usage, "device %s: a character device but not an NVMe namespace (NVME_IOCTL_ID: %s)",
                 path_.c_str(), std::strerror(errno));
        nsid_ = static_cast<std::uint32_t>(nsid);
        // Identify Namespace (CNS 0): NSZE (bytes 0-7), FLBAS (26) and the
        // LBA formats from byte 128, each with its size as a power of 2 in byte 2
        AlignedBuffer id(4096);
        nvme_passthru_cmd cmd{};
        cmd.opcode = static_cast<std::uint8_t>(uio::nvme::Opcode::identify);
        cmd.nsid = nsid_;
        cmd.addr = reinterpret_cast<std::uintptr_t>(id.data());
        cmd.data_len = 4096;
        if (const int ret = ioctl(fd_.get(), NVME_IOCTL_ADMIN_CMD, &cmd); ret != 0)
            fail(exit_usage, "device %s: Identify Namespace: %s", path_.c_str(),
                 ret < 0 ? std::strerror(errno) : ("NVMe status " + std::to_string(ret)).c_str());
        const auto* b = reinterpret_cast<const std::uint8_t*>(id.data());
        std::uint64_t nsze = 0;
        std::memcpy(&nsze, b, sizeof(nsze));  // little-endian, as is every machine uio builds for
        const unsigned format = (b[26] & 0x0f) | ((b[26] >> 1) & 0x30);
        const unsigned lbads = b[128 + 4 * format + 2];
        if (format >= 64 || lbads < 9 || lbads > 16)
            fail(exit_usage, "device %s: LBA format %u has data size 2^%u", path_.c_str(), format, lbads);
        logical_block_ = 1u << lbads;
        capacity_ = nsze << lbads;
        // The namespace's queue limits (sysfs of its block device; the char
        // device ngXnY belongs to nvmeXnY): passthrough commands are not
        // split, so one that exceeds them fails
        const std::string queue =
            "/sys/dev/char/" + std::to_string(major(st.st_rdev)) + ":" + std::to_string(minor(st.st_rdev));
        std::error_code ec;
        std::string name = std::filesystem::weakly_canonical(queue, ec).filename().string();
        if (name.rfind("ng", 0) == 0)
            name = "nvme" + name.substr(2);
        max_transfer_ = read_limit("/sys/block/" + name + "/queue/max_hw_sectors_kb", 128) << 10;
        max_transfer_ -= max_transfer_ % block_size;
        max_segments_ = read_limit("/sys/block/" + name + "/queue/max_segments", 32);
        if (max_transfer_ == 0 || max_segments_ == 0)
            fail(exit_usage, "device %s: a transfer limit of 0", path_.c_str());
    }

    // a queue limit, or @fallback (deliberately small) where sysfs has none
    static std::uint32_t read_limit(const std::string& file, std::uint32_t fallback)
    {
        std::ifstream in(file);
        std::uint32_t v = 0;
        return in >> v && v ? v : fallback;
    }

    // @len bytes at @off of the namespace to or from @buf, in commands of at
    // most max_transfer() bytes
    void transfer(uio::nvme::Opcode op, std::byte* buf, std::size_t len, std::uint64_t off) const
    {
        for (std::size_t done = 0; done < len;) {
            const std::size_t n = std::min<std::size_t>(len - done, max_transfer_);
            nvme_passthru_cmd64 cmd{};
            cmd.opcode = static_cast<std::uint8_t>(op);
            cmd.nsid = nsid_;
            cmd.addr = reinterpret_cast<std::uintptr_t>(buf + done);
            cmd.data_len = static_cast<std::uint32_t>(n);
            cmd.cdw10 = static_cast<std::uint32_t>(lba(off + done));
            cmd.cdw11 = static_cast<std::uint32_t>(lba(off + done) >> 32);
            cmd.cdw12 = static_cast<std::uint32_t>(n / logical_block_ - 1);
            command(NVME_IOCTL_IO64_CMD, cmd, op == uio::nvme::Opcode::read ? "read" : "write");
            done += n;
        }
    }
    void command(unsigned long req, nvme_passthru_cmd64& cmd, const char* what) const
    {
        const int ret = ioctl(fd_.get(), req, &cmd);
        if (ret != 0)
            fail(exit_failed, "%s: %s at LBA %llu: %s", path_.c_str(), what,
                 static_cast<unsigned long long>(cmd.cdw10 | std::uint64_t{cmd.cdw11} << 32),
                 ret < 0 ? std::strerror(errno) : ("NVMe status " + std::to_string(ret)).c_str());
    }

    std::string path_;
    UniqueFd fd_;
    std::uint64_t capacity_ = 0;
    unsigned logical_block_ = 512;
    std::uint32_t nsid_ = 0;
    std::uint32_t max_transfer_ = 0;
    std::uint32_t max_segments_ = 0;
};

} // namespace ingest
