// SPDX-License-Identifier: GPL-2.0-only
/* Read-only data in two sections: the program's configuration (.rodata) and
 * a string literal (.rodata.str1.1). For uio::BpfOps' host test: configure
 * must see the first, once. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile unsigned int key[4] = {1, 2, 3, 4};

SEC("syscall")
int prog(void *ctx)
{
	bpf_printk("key %u %s", key[0], "a string literal of some length");
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
