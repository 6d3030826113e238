// SPDX-License-Identifier: MIT
#pragma once

#include <liburing.h>

namespace uio {
inline constexpr int version_major = 0;
inline constexpr int version_minor = 1;
inline constexpr int version_patch = 0;

// The liburing uio is built against. Its io_uring.h supplies the zcrx uAPI
// (io_uring_zcrx_*, ZCRX_REG_NODEV), IORING_REGISTER_QUERY and the memory
// region descriptors the compat backend registers; 2.15 is the oldest
// release tested with them. Gated here by version once, with the reason,
// rather than by failing somewhere inside the headers; CMake and uio.pc ask
// for the same version.
inline constexpr int liburing_major = IO_URING_VERSION_MAJOR;
inline constexpr int liburing_minor = IO_URING_VERSION_MINOR;
static_assert(!IO_URING_CHECK_VERSION(2, 15),
              "uio needs liburing 2.15 or newer: its io_uring.h has the zcrx uAPI (ZCRX_REG_NODEV), "
              "IORING_REGISTER_QUERY and memory-region descriptors that uio uses");
} // namespace uio
