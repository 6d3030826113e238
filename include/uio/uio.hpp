// SPDX-License-Identifier: MIT
// uio: one memory region for storage, network and BPF under io_uring.
#pragma once

#include "error.hpp"    // IWYU pragma: export
#include "ops.hpp"      // IWYU pragma: export
#include "receive.hpp"  // IWYU pragma: export
#include "region.hpp"   // IWYU pragma: export
#include "ring.hpp"     // IWYU pragma: export
#include "uapi.hpp"     // IWYU pragma: export
#include "version.hpp"  // IWYU pragma: export
