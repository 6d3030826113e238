// SPDX-License-Identifier: MIT
// uio::BpfOps: a BPF program for the BPF stage of IORING_OP_UNIFIED, attached
// to a ring as its io_uring_bpf_ops for as long as the value lives.
//
// Programs are struct_ops objects built from bpf/*.bpf.c (see bpf/uio_bpf.h
// and cmake/uioBpf.cmake). Link uio::bpf (uio::uio plus libbpf) to use this.
#pragma once

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "error.hpp"
#include "ring.hpp"

namespace uio {

// Why a program did not attach: an errno, and what the verifier said if it
// refused the program.
struct BpfError {
    std::error_code code;  // the errno (or uio::errc) of the failure
    std::string verifier_log;  // the verifier's log when it refused the program, else empty
};

// A BPF program attached to a ring as its io_uring_bpf_ops: the BPF stage of
// IORING_OP_UNIFIED runs it. Detached when the value dies; movable, not copyable.
class BpfOps {
public:
    // Opens the object at @path, lets @configure write its read-only data
    // (`const volatile` globals: a std::span<std::byte> of the .rodata
    // section, empty if it has none), points its io_uring_bpf_ops at @ring,
    // loads it and attaches it. One program per ring; the ring must be set
    // up with defer_taskrun.
    template <SqeSize Sqe, CqeSize Cqe, class Configure>
    [[nodiscard]] static Result<BpfOps, BpfError> attach(Ring<Sqe, Cqe>& ring, const char* path,
                                                         Configure&& configure)
    {
        if (!ring)
            return BpfError{make_error_code(errc::empty), {}};
        BpfOps ops;
        ops.log_ = std::make_unique<char[]>(log_size);
        bpf_object_open_opts opts{};  // what LIBBPF_OPTS() does, without its GNU extensions
        opts.sz = sizeof(opts);
        opts.kernel_log_buf = ops.log_.get();
        opts.kernel_log_size = log_size;
        // 0: no log while loading (a large program's log at level 1 can
        // overflow any fixed buffer and fail a good load with ENOSPC, and
        // costs verification time); libbpf retries a failed load at level 1
        // into this buffer, so a refusal still comes with the verifier's words.
        opts.kernel_log_level = 0;
        ops.obj_ = bpf_object__open_file(path, &opts);
        if (!ops.obj_)
            return BpfError{errno_code(errno), {}};

        bpf_map* struct_ops = nullptr;
        bpf_map* rodata = nullptr;
        bpf_map* map = nullptr;
        bpf_object__for_each_map(map, ops.obj_)
        {
            if (bpf_map__type(map) == BPF_MAP_TYPE_STRUCT_OPS)
                struct_ops = map;
            else if (is_rodata(map))
                rodata = map;
        }
        // once: the .rodata section's initial value, or an empty span
        std::size_t size = 0;
        auto* data = rodata ? static_cast<std::byte*>(bpf_map__initial_value(rodata, &size)) : nullptr;
        configure(std::span<std::byte>(data, data ? size : 0));
        if (!struct_ops)
            return BpfError{errno_code(EINVAL), {}};
        if (auto err = set_ring_fd(ops.obj_, struct_ops, ring.fd()); err)
            return BpfError{err, {}};

        if (int ret = bpf_object__load(ops.obj_); ret)
            return BpfError{errno_code(ret), std::string(ops.log_.get())};
        ops.link_ = bpf_map__attach_struct_ops(struct_ops);
        if (!ops.link_)
            return BpfError{errno_code(errno), {}};
        ops.log_.reset();
        return ops;
    }

    // As above, for programs with nothing to configure.
    template <SqeSize Sqe, CqeSize Cqe>
    [[nodiscard]] static Result<BpfOps, BpfError> attach(Ring<Sqe, Cqe>& ring, const char* path)
    {
        return attach(ring, path, [](std::span<std::byte>) {});
    }

    // takes @o's attachment; @o is left empty
    BpfOps(BpfOps&& o) noexcept
        : obj_(std::exchange(o.obj_, nullptr)), link_(std::exchange(o.link_, nullptr)), log_(std::move(o.log_)),
          mapped_(std::exchange(o.mapped_, {})), mapped_count_(std::exchange(o.mapped_count_, 0))
    {
    }
    // detaches this program, then takes @o's attachment; @o is left empty
    BpfOps& operator=(BpfOps&& o) noexcept
    {
        if (this != &o) {
            release();
            obj_ = std::exchange(o.obj_, nullptr);
            link_ = std::exchange(o.link_, nullptr);
            log_ = std::move(o.log_);
            mapped_ = std::exchange(o.mapped_, {});
            mapped_count_ = std::exchange(o.mapped_count_, 0);
        }
        return *this;
    }
    BpfOps(const BpfOps&) = delete;
    BpfOps& operator=(const BpfOps&) = delete;
    // Detaches: an op running the program finishes; later ones fail with ENOENT.
    ~BpfOps() { release(); }

    // false once moved from (nothing attached)
    [[nodiscard]] bool valid() const noexcept { return link_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }  // valid()

    // The attached program's global data section @section (".bss" or
    // ".data"): the kernel's map of it, mapped into this process (shared,
    // read-write) as a skeleton's ->bss is, so what the program writes is
    // read here without a system call. Empty if the object has no such
    // section or the kernel cannot map it (maps need BPF_F_MMAPABLE, which
    // libbpf sets for global data). The mapping lives as long as this
    // BpfOps (or the one it moves to); a second call maps the section again.
    [[nodiscard]] std::span<std::byte> global_data(std::string_view section) noexcept
    {
        if (!link_)
            return {};
        bpf_map* map = nullptr;
        bpf_object__for_each_map(map, obj_)
        {
            const std::string_view name = bpf_map__name(map);
            if (!bpf_map__is_internal(map) || name.size() < section.size() ||
                name.substr(name.size() - section.size()) != section)
                continue;
            // libbpf before 1.5 maps global data into the kernel's map only
            // for skeletons: map it here, from the map's fd
            const std::size_t size = bpf_map__value_size(map);
            const auto page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
            const std::size_t len = (size + page - 1) / page * page;
            if (!size || bpf_map__fd(map) < 0 || mapped_count_ == mapped_.size())
                return {};
            void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(map), 0);
            if (p == MAP_FAILED)
                return {};
            mapped_[mapped_count_++] = {p, len};
            return {static_cast<std::byte*>(p), size};
        }
        return {};
    }

private:
    static constexpr std::size_t log_size = 1 << 20;

    BpfOps() = default;

    // The map of the object's .rodata section (its `const volatile`
    // globals): libbpf names it "<object>.rodata"; sections such as
    // .rodata.str1.1 (string literals) are other maps
    [[nodiscard]] static bool is_rodata(const bpf_map* map) noexcept
    {
        constexpr std::string_view suffix = ".rodata";
        const std::string_view name = bpf_map__name(map);
        return bpf_map__is_internal(map) && name.size() >= suffix.size() &&
               name.substr(name.size() - suffix.size()) == suffix;
    }

    // io_uring_bpf_ops::ring_fd, found by name in the map's BTF
    static std::error_code set_ring_fd(bpf_object* obj, bpf_map* map, int ring_fd) noexcept
    {
        const btf* types = bpf_object__btf(obj);
        const btf_type* t = types ? btf__type_by_id(types, bpf_map__btf_value_type_id(map)) : nullptr;
        std::size_t size = 0;
        auto* data = static_cast<std::byte*>(bpf_map__initial_value(map, &size));
        if (!t || !data || !btf_is_struct(t))
            return errno_code(EINVAL);
        const btf_member* m = btf_members(t);
        for (unsigned i = 0; i < btf_vlen(t); ++i, ++m) {
            const char* name = btf__name_by_offset(types, m->name_off);
            const std::size_t off = btf_member_bit_offset(t, i) / 8;
            if (name && std::strcmp(name, "ring_fd") == 0 && off + sizeof(std::uint32_t) <= size) {
                const auto fd = static_cast<std::uint32_t>(ring_fd);
                std::memcpy(data + off, &fd, sizeof(fd));
                return {};
            }
        }
        return errno_code(EINVAL);
    }

    void release() noexcept
    {
        for (std::size_t i = 0; i < mapped_count_; ++i)
            munmap(mapped_[i].first, mapped_[i].second);
        mapped_count_ = 0;
        if (link_)
            bpf_link__destroy(link_);
        if (obj_)
            bpf_object__close(obj_);
        link_ = nullptr;
        obj_ = nullptr;
    }

    bpf_object* obj_ = nullptr;
    bpf_link* link_ = nullptr;
    std::unique_ptr<char[]> log_;  // the verifier's words, until loaded
    std::array<std::pair<void*, std::size_t>, 4> mapped_{};  // global_data() mappings
    std::size_t mapped_count_ = 0;
};

} // namespace uio
