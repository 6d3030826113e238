// SPDX-License-Identifier: MIT
// Errors: std::error_code everywhere, a Result<T> to carry a value or one, and
// a distinct "unsupported by this kernel" condition. Nothing here throws but
// Result::value() on an error, as std::expected::value() does.
#pragma once

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <concepts>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace uio {

// uio's own errors; everything else is an errno in std::system_category().
// uio::errc is an error *condition* enum, so a comparison such as
// `ec == uio::errc::unsupported_by_kernel` asks what the error means: it
// holds for uio's own code and for a kernel's EOPNOTSUPP alike, and
// uio's code equals std::errc::operation_not_supported too - both ways. uio
// makes its error_codes with make_error_code(errc).
enum class errc {
    unsupported_by_kernel = 1,  // the running kernel lacks the feature (probed)
    out_of_bounds,              // an offset or length outside the region
    wrong_backend,              // asked for a backend that cannot run here
    empty,                      // the object is empty: moved from
    wrong_ring,                 // the object was made on another ring
    buffer_table_in_use,        // the ring has a fixed-buffer table uio did not register
    buffer_slot_unavailable,    // the fixed-buffer slot is taken, or outside uio's table
};

// The std::error_category of uio::errc (named "uio"): describes each code and
// relates them to the errno conditions, both ways (see equivalent()).
class error_category final : public std::error_category {
public:
    [[nodiscard]] const char* name() const noexcept override { return "uio"; }  // "uio"
    // the description of uio::errc value @ev
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
    // uio's codes against errno conditions: unsupported_by_kernel is also
    // std::errc::operation_not_supported, out_of_bounds result_out_of_range,
    // the buffer-table errors device_or_resource_busy
    [[nodiscard]] bool equivalent(int ev, const std::error_condition& cond) const noexcept override
    {
        if (default_error_condition(ev) == cond)
            return true;
        switch (static_cast<errc>(ev)) {
        case errc::unsupported_by_kernel: return cond == std::errc::operation_not_supported;
        case errc::out_of_bounds: return cond == std::errc::result_out_of_range;
        case errc::buffer_table_in_use:
        case errc::buffer_slot_unavailable: return cond == std::errc::device_or_resource_busy;
        default: return false;
        }
    }
    // other categories' codes against uio's conditions: the kernel's
    // EOPNOTSUPP is unsupported_by_kernel
    [[nodiscard]] bool equivalent(const std::error_code& code, int condition) const noexcept override
    {
        if (code.category() == *this)
            return code.value() == condition;
        return static_cast<errc>(condition) == errc::unsupported_by_kernel &&
               code == std::errc::operation_not_supported;
    }
};

// uio's error category (one instance)
[[nodiscard]] inline const std::error_category& category() noexcept
{
    static const error_category instance;
    return instance;
}

// @e as an error_code of uio's category
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept
{
    return {static_cast<int>(e), category()};
}
// @e as an error_condition: what `code == uio::errc::...` compares with
// (uio::errc is an error-condition enum)
[[nodiscard]] inline std::error_condition make_error_condition(errc e) noexcept
{
    return {static_cast<int>(e), category()};
}

// an errno (positive, or the negative value io_uring returns) as an error_code
[[nodiscard]] inline std::error_code errno_code(int err) noexcept
{
    return {err < 0 ? -err : err, std::system_category()};
}

namespace detail {
template <class E>
[[nodiscard]] std::string describe(const E& e)
{
    if constexpr (requires { e.message(); })
        return e.message();
    else if constexpr (requires { e.code.message(); })
        return e.code.message();
    else
        return "an error";
}
} // namespace detail

// What Result::value() throws when there is no value (std::expected's
// bad_expected_access): the error, and its message in what().
template <class E>
class bad_result_access : public std::exception {
public:
    // holds @e; what() is its message
    explicit bad_result_access(E e) : e_(std::move(e)), what_("uio::Result holds no value: " + detail::describe(e_)) {}
    // "uio::Result holds no value: " and the error's message
    [[nodiscard]] const char* what() const noexcept override { return what_.c_str(); }
    [[nodiscard]] const E& error() const noexcept { return e_; }  // the error the Result held

private:
    E e_;
    std::string what_;
};

namespace detail {
// operator* and -> on an error: a bug in the caller, stopped with a message
// rather than undefined behaviour (noexcept accessors cannot throw)
template <class E>
[[noreturn]] __attribute__((cold, noinline)) void result_has_no_value(const E& e) noexcept
{
    std::fprintf(stderr, "uio: operator* or -> on a Result that holds an error: %s\n", describe(e).c_str());
    std::abort();
}
template <class E>
[[noreturn]] __attribute__((cold, noinline)) void throw_bad_result_access(const E& e)
{
#if defined(__cpp_exceptions)
    throw bad_result_access<E>(e);
#else
    result_has_no_value(e);
#endif
}
} // namespace detail

// A value or an error (an error_code unless said otherwise), in the spirit
// of std::expected (C++23), which the C++20 this library targets lacks.
//
// Access is checked: value() throws bad_result_access<E> on an error (it
// aborts with the message when exceptions are off); operator* and -> are
// noexcept and abort with the error's message. Check has_value() or
// operator bool first, or use value_or().
template <class T, class E = std::error_code>
class [[nodiscard]] Result {
public:
    using value_type = T;  // the value's type (as std::expected names it)
    using error_type = E;  // the error's type

    Result(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : v_(std::move(value)) {}  // a value
    Result(E err) noexcept(std::is_nothrow_move_constructible_v<E>) : v_(std::move(err)) {}  // an error
    // one of uio's codes, as an error_code
    Result(errc e) noexcept
        requires std::same_as<E, std::error_code>
        : v_(make_error_code(e)) {}

    [[nodiscard]] bool has_value() const noexcept { return v_.index() == 0; }  // true: a value, false: an error
    explicit operator bool() const noexcept { return has_value(); }  // has_value()

    // The value; throws bad_result_access<E> holding the error when there is none
    // (all four reference qualifications).
    [[nodiscard]] T& value() & { return checked_value(); }
    [[nodiscard]] const T& value() const& { return checked_value(); }  // value(), on a const Result
    [[nodiscard]] T&& value() && { return std::move(checked_value()); }  // value(), moved out of an rvalue
    [[nodiscard]] const T&& value() const&& { return std::move(checked_value()); }  // value(), of a const rvalue

    // The value without a throw: on an error these abort with its message (a bug in
    // the caller, never undefined behaviour).
    [[nodiscard]] T& operator*() & noexcept { return get(); }
    [[nodiscard]] const T& operator*() const& noexcept { return get(); }  // operator*, on a const Result
    [[nodiscard]] T&& operator*() && noexcept { return std::move(get()); }  // operator*, moved out of an rvalue
    [[nodiscard]] const T&& operator*() const&& noexcept { return std::move(get()); }  // operator*, of a const rvalue
    [[nodiscard]] T* operator->() noexcept { return &get(); }  // the value's members; aborts on an error
    // the value's members, const; aborts on an error
    [[nodiscard]] const T* operator->() const noexcept { return &get(); }

    // the value, or @fallback when there is an error
    template <class U>
    [[nodiscard]] T value_or(U&& fallback) const&
    {
        return has_value() ? *std::get_if<0>(&v_) : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U>
    // the value moved out, or @fallback when there is an error
    [[nodiscard]] T value_or(U&& fallback) &&
    {
        return has_value() ? std::move(*std::get_if<0>(&v_)) : static_cast<T>(std::forward<U>(fallback));
    }

    // the error; a default E when there is a value
    [[nodiscard]] E error() const noexcept(std::is_nothrow_copy_constructible_v<E>)
    {
        const auto* e = std::get_if<1>(&v_);
        return e ? *e : E{};
    }

private:
    T& get() noexcept
    {
        if (auto* v = std::get_if<0>(&v_)) [[likely]]
            return *v;
        detail::result_has_no_value(*std::get_if<1>(&v_));
    }
    const T& get() const noexcept
    {
        if (const auto* v = std::get_if<0>(&v_)) [[likely]]
            return *v;
        detail::result_has_no_value(*std::get_if<1>(&v_));
    }
    T& checked_value()
    {
        if (auto* v = std::get_if<0>(&v_)) [[likely]]
            return *v;
        detail::throw_bad_result_access(*std::get_if<1>(&v_));
    }
    const T& checked_value() const
    {
        if (const auto* v = std::get_if<0>(&v_)) [[likely]]
            return *v;
        detail::throw_bad_result_access(*std::get_if<1>(&v_));
    }

    std::variant<T, E> v_;
};

// Result<void>: success or an error_code.
template <>
class [[nodiscard]] Result<void> {
public:
    using value_type = void;  // no value
    using error_type = std::error_code;  // the error's type

    Result() noexcept = default;  // success
    Result(std::error_code ec) noexcept : ec_(ec) {}  // an error (success if @ec is empty)
    Result(errc e) noexcept : ec_(make_error_code(e)) {}  // one of uio's codes

    [[nodiscard]] bool has_value() const noexcept { return !ec_; }  // true on success
    explicit operator bool() const noexcept { return has_value(); }  // has_value()
    // throws bad_result_access<std::error_code> on an error
    void value() const
    {
        if (ec_) [[unlikely]]
            detail::throw_bad_result_access(ec_);
    }
    [[nodiscard]] std::error_code error() const noexcept { return ec_; }  // the error; empty on success

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
struct std::is_error_condition_enum<uio::errc> : std::true_type {};
