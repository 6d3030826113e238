// SPDX-License-Identifier: MIT
#pragma once

#include <liburing.h>

namespace uio {
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;

// liburing before 2.4 has no version macros at all
#if !defined(IO_URING_CHECK_VERSION)
#error "uio needs liburing 2.9 or newer (this one predates 2.4): see uio/version.hpp"
#endif

// The liburing uio is built against (IO_URING_VERSION_MAJOR/MINOR of its
// liburing/io_uring_version.h).
inline constexpr int liburing_major = IO_URING_VERSION_MAJOR;
inline constexpr int liburing_minor = IO_URING_VERSION_MINOR;
// uio needs liburing 2.9 or newer: its io_uring.h is the first with the
// memory-region descriptors (struct io_uring_region_desc,
// IORING_REGISTER_MEM_REGION) the regions register. The upstream uAPI uio uses
// that came after 2.9 (zcrx, IORING_OP_WRITEV_FIXED, IORING_REGISTER_QUERY) is
// carried in uapi.hpp, so every feature builds with 2.9; whether the running
// kernel has it is probed at run time. Gated here by version once, with the
// reason, never by liburing's enum totals; CMake and uio.pc ask for the same.
static_assert(!IO_URING_CHECK_VERSION(2, 9),
              "uio needs liburing 2.9 or newer: its io_uring.h has the memory-region descriptors "
              "(io_uring_region_desc, IORING_REGISTER_MEM_REGION) that uio registers");
} // namespace uio
