// SPDX-License-Identifier: MIT
// Every public header, with every class template instantiated, built with
// -Wpedantic -Wconversion -Wsign-conversion -Werror (tests/CMakeLists.txt):
// a consumer with strict warnings gets none from uio.
#include <uio/uio.hpp>
#if __has_include(<bpf/libbpf.h>)
#include <uio/bpf.hpp>
#endif

namespace uio {
template class Ring<Sqe64, Cqe16>;
template class Ring<Sqe64, Cqe32>;
template class Ring<Sqe128, Cqe16>;
template class Ring<Sqe128, Cqe32>;
template class Completion<Cqe16>;
template class Completion<Cqe32>;
template class UnifiedRegion<Sqe64, Cqe16>;
template class UnifiedRegion<Sqe64, Cqe32>;
template class UnifiedRegion<Sqe128, Cqe32>;
template class Receiver<Sqe64, Cqe16>;
template class Receiver<Sqe64, Cqe32>;
template class Result<int>;
template class Read<Fd>;
template class Write<Fixed>;
template class ReadFixed<Fd>;
template class WriteFixed<Fixed>;
template class Readv<Fd>;
template class Writev<Fd>;
template class Send<Fd>;
template class Recv<Fixed>;
template class SendZcFixed<Fd>;
template class UnifiedOp<Fd>;
template class RegionIo<Fixed>;
template class RegionSend<Fd>;
template class UnifiedOpVec<Fixed>;
template class WritevFixed<Fd>;
template class RegionVecWrite<Fd>;
template class NetReceive<Fd>;
template class nvme::Io<Fd, nvme::Opcode::read>;
template class nvme::Io<Fixed, nvme::Opcode::write>;
template class nvme::Flush<Fd>;
template class nvme::Identify<Fd>;
} // namespace uio

// the member templates, through a use of each
int main()
{
    auto ring = uio::Ring<uio::Sqe64, uio::Cqe32>::create();
    if (!ring)
        return 1;
    auto region = uio::UnifiedRegion<uio::Sqe64, uio::Cqe32>::create(*ring, {.data_size = 1u << 16});
    if (!region)
        return 1;
    auto io = region->write_to(uio::Fd{0}, 0, 4096, 0);
    auto rd = region->read_then_compute(uio::Fixed{0}, 0, 4096, 0);
    auto wr = region->compute_then_write(uio::Fd{0}, 0, 4096, 0);
    auto snd = region->send(uio::Fd{0}, 0, 4096);
    auto vec = region->write_spans_to(uio::Fd{0}, 0, std::span<const uio::uapi::span>{});
    auto vspan = region->vec_span(0, 4096);
    auto receiver = uio::Receiver<uio::Sqe64, uio::Cqe32>::create(*ring, *region, {.buffer_size = 4096});
    bool ok = io && ring->push(*io, 1) && ring->push(uio::Nop{}, 2, IOSQE_ASYNC);
    (void)rd;
    (void)wr;
    (void)snd;
    (void)vec;
    (void)vspan;
    if (receiver)
        ok = ok && ring->push(receiver->arm(uio::Fd{0}), 3);
    auto nvme_ring = uio::NvmeRing::create();
    if (nvme_ring)
        ok = ok && nvme_ring->push(uio::nvme::Read<uio::Fd>(uio::Fd{0}, 1, 0, 1, region->data()), 4);
    ring->drain([](const uio::Ring<uio::Sqe64, uio::Cqe32>::completion&) {});
    ring->drain([](const uio::Ring<uio::Sqe64, uio::Cqe32>::completion&) noexcept {});
    return ok ? 0 : 1;
}
