// SPDX-License-Identifier: MIT
// The log's device: a block device (an NVMe namespace) or a file on a block
// device, opened with O_DIRECT; and block-aligned buffers for it.
#pragma once

#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include <cstdlib>
#include <memory>
#include <span>
#include <string>

#include "common.hpp"
#include "format.hpp"

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

class Device {
public:
    // Opens @path for the log (@write) or for reading it back. A char
    // device (NVMe passthrough, /dev/ngXnY) is refused with the block
    // device to use instead.
    static Device open(const std::string& path, bool write)
    {
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0)
            fail(exit_usage, "device %s: %s", path.c_str(), std::strerror(errno));
        if (S_ISCHR(st.st_mode))
            fail(exit_usage, "device %s: a character device (NVMe passthrough) is not supported; use the "
                 "namespace's block device (/dev/nvmeXnY)", path.c_str());
        if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
            fail(exit_usage, "device %s: neither a block device nor a regular file", path.c_str());
        Device d;
        d.path_ = path;
        d.fd_ = UniqueFd(::open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC));
        if (!d.fd_)
            fail(exit_usage, "device %s: %s (O_DIRECT)", path.c_str(), std::strerror(errno));
        if (S_ISBLK(st.st_mode)) {
            d.block_dev_ = true;
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

    void read(std::span<std::byte> out, std::uint64_t off) const
    {
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
        if (::fdatasync(fd_.get()) != 0)
            fail(exit_failed, "%s: flush: %s", path_.c_str(), std::strerror(errno));
    }

private:
    Device() = default;
    std::string path_;
    UniqueFd fd_;
    std::uint64_t capacity_ = 0;
    unsigned logical_block_ = 512;
    bool block_dev_ = false;
};

} // namespace ingest
