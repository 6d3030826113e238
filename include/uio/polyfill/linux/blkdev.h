/* SPDX-License-Identifier: MIT */
/*
 * liburing >= 2.8 includes <linux/blkdev.h>, a uAPI header that first shipped
 * with Linux 6.5; Debian 12's linux-libc-dev (6.1) lacks it. uio's CMake adds
 * this directory to the include path only when the system has no such header.
 * The values are the kernel's (include/uapi/linux/blkdev.h).
 */
#ifndef _UAPI_LINUX_BLKDEV_H
#define _UAPI_LINUX_BLKDEV_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define BLOCK_URING_CMD_DISCARD			_IO(0x12, 0)
#define BLOCK_URING_CMD_ZONE_RESET_ALL		_IO(0x12, 1)

#endif
