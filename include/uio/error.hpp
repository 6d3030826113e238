// SPDX-License-Identifier: MIT
// Errors: std::error_code everywhere, a Result<T> to carry a value or one, and
// a distinct "unsupported by this kernel" condition. Nothing here throws.
#pragma once

#include <cerrno>
#include <string>
#include <concepts>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace uio {

// uio's own error codes; everything else is an errno in std::system_category().
enum class errc {
    unsupported_by_kernel = 1,  // the running kernel lacks the feature (probed)
    out_of_bounds,              // an offset or length outside the region
    wrong_backend,              // asked for a backend that cannot run here
    empty,                      // the object is empty: moved from
    wrong_ring,                 // the object was made on another ring
    buffer_table_in_use,        // the ring has a fixed-buffer table uio did not register
    buffer_slot_unavailable,    // the fixed-buffer slot is taken, or outside uio's table
};

class error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "uio"; }
    [[nodiscard]] std::string message(int ev) const override
    {
        switch (static_cast<errc>(ev)) {
        case errc::unsupported_by_kernel: return "not supported by this kernel";
        case errc::out_of_bounds: return "offset or length outside the region";
        case errc::wrong_backend: return "the requested backend cannot run on this kernel";
        case errc::empty: return "the object is empty (moved from)";
        case errc::wrong_ring: return "the object was made on another ring";
        case errc::buffer_table_in_use:
            return "the ring has a fixed-buffer table uio did not register (uio never touches it)";
        case errc::buffer_slot_unavailable: return "the fixed-buffer slot is taken or outside uio's table";
        }
        return "unknown uio error";
    }
    // unsupported_by_kernel is also std::errc::operation_not_supported, so code
    // written against errno conditions sees it for what it is
    [[nodiscard]] bool equivalent(int ev, const std::error_condition& cond) const noexcept override
    {
        if (static_cast<errc>(ev) == errc::unsupported_by_kernel)
            return cond == std::errc::operation_not_supported;
        if (static_cast<errc>(ev) == errc::out_of_bounds)
            return cond == std::errc::result_out_of_range;
        if (static_cast<errc>(ev) == errc::buffer_table_in_use || static_cast<errc>(ev) == errc::buffer_slot_unavailable)
            return cond == std::errc::device_or_resource_busy;
        return default_error_condition(ev) == cond;
    }
};

[[nodiscard]] inline const std::error_category& category() noexcept
{
    static const error_category instance;
    return instance;
}

[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), category()};
}

// an errno (positive, or the negative value io_uring returns) as an error_code
[[nodiscard]] inline std::error_code errno_code(int err) noexcept
{
    return {err < 0 ? -err : err, std::system_category()};
}

// A value or an error (an error_code unless said otherwise), in the spirit
// of std::expected (C++23).
template <class T, class E = std::error_code>
class [[nodiscard]] Result {
public:
    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : v_(std::move(value)) {}
    Result(E err) noexcept(std::is_nothrow_move_constructible_v<E>) : v_(std::move(err)) {}
    Result(errc e) noexcept
        requires std::same_as<E, std::error_code>
        : v_(make_error_code(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    // precondition: has_value()
    [[nodiscard]] T& value() & noexcept { return *std::get_if<0>(&v_); }
    [[nodiscard]] const T& value() const& noexcept { return *std::get_if<0>(&v_); }
    [[nodiscard]] T&& value() && noexcept { return std::move(*std::get_if<0>(&v_)); }
    T& operator*() & noexcept { return value(); }
    T&& operator*() && noexcept { return std::move(*std::get_if<0>(&v_)); }
    T* operator->() noexcept { return &value(); }
    const T* operator->() const noexcept { return &value(); }

    // the error; a default E when there is a value
    [[nodiscard]] E error() const noexcept(std::is_nothrow_copy_constructible_v<E>)
    {
        const auto* e = std::get_if<1>(&v_);
        return e ? *e : E{};
    }

private:
    std::variant<T, E> v_;
};

// Result<void>: success or an error_code.
template <>
class [[nodiscard]] Result<void> {
public:
    Result() noexcept = default;
    Result(std::error_code ec) noexcept : ec_(ec) {}
    Result(errc e) noexcept : ec_(make_error_code(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return !ec_; }
    explicit operator bool() const noexcept { return has_value(); }
    [[nodiscard]] std::error_code error() const noexcept { return ec_; }

private:
    std::error_code ec_;
};

// a syscall-style return (>= 0 or -errno) as a Result
[[nodiscard]] inline Result<void> check(int ret) noexcept
{
    if (ret < 0)
        return errno_code(ret);
    return {};
}

} // namespace uio

template <>
struct std::is_error_code_enum<uio::errc> : std::true_type {};
