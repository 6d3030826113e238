/* SPDX-License-Identifier: MIT */
/*
 * The booted kernel carries the uio series: IO_URING_QUERY_UNIFIED answers,
 * with the sizes of the uAPI structures this test was compiled against.
 * An unpatched kernel answers -EOPNOTSUPP.
 */
#include "uio_test.h"

int main(void)
{
	struct io_uring_query_unified q;
	struct io_uring_query_opcode ops;
	int ret;

	memset(&ops, 0, sizeof(ops));
	ret = t_query(IO_URING_QUERY_OPCODES, &ops, sizeof(ops));
	if (ret)
		t_fail("opcode query: %d", ret);
	if (ops.nr_request_opcodes != IORING_OP_LAST)
		t_fail("kernel has %u opcodes, uAPI says %u",
		       ops.nr_request_opcodes, IORING_OP_LAST);
	if (ops.nr_register_opcodes != IORING_REGISTER_LAST)
		t_fail("kernel has %u register opcodes, uAPI says %u",
		       ops.nr_register_opcodes, IORING_REGISTER_LAST);
	if (ops.nr_query_opcodes <= IO_URING_QUERY_UNIFIED)
		t_fail("no unified query: %u query opcodes", ops.nr_query_opcodes);

	memset(&q, 0xff, sizeof(q));
	ret = t_query(IO_URING_QUERY_UNIFIED, &q, sizeof(q));
	if (ret)
		t_fail("unified query: %d (%s)", ret, strerror(-ret));
	if (q.reg_size != sizeof(struct io_uring_unified_region_reg))
		t_fail("reg_size %u != %zu", q.reg_size,
		       sizeof(struct io_uring_unified_region_reg));
	if (q.desc_size != sizeof(struct io_unified_desc))
		t_fail("desc_size %u != %zu", q.desc_size, sizeof(struct io_unified_desc));
	if (!q.max_ring_entries || (q.max_ring_entries & (q.max_ring_entries - 1)))
		t_fail("max_ring_entries %u is not a power of two", q.max_ring_entries);
	/* what this series implements so far */
	if ((q.op_flags & (IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE |
			   IORING_UNIFIED_OP_BATCH)) !=
	    (IORING_UNIFIED_OP_NVME | IORING_UNIFIED_OP_NET | IORING_UNIFIED_OP_WRITE |
	     IORING_UNIFIED_OP_BATCH) ||
	    !(q.register_flags & IORING_UNIFIED_REG_NET_NODEV))
		t_fail("stages %#llx, registration flags %#llx", (unsigned long long)q.op_flags,
		       (unsigned long long)q.register_flags);
	if (q.__resv1 || q.__resv2[0] || q.__resv2[1])
		t_fail("reserved query fields not zeroed");

	printf("unified query: register_flags %#llx op_flags %#llx reg_size %u desc_size %u max_ring_entries %u\n",
	       (unsigned long long)q.register_flags, (unsigned long long)q.op_flags,
	       q.reg_size, q.desc_size, q.max_ring_entries);

	/* a short buffer gets the prefix, the rest of the caller's bytes untouched */
	memset(&q, 0xff, sizeof(q));
	ret = t_query(IO_URING_QUERY_UNIFIED, &q, 8);
	if (ret || q.reg_size != 0xffffffffu)
		t_fail("short query: ret %d, reg_size overwritten with %#x", ret, q.reg_size);

	return T_EXIT_PASS;
}
