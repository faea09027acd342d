// The NCCL communicator (src/gpu/nccl_comm.cpp), run under mpiexec with 1 and
// 2 ranks. Without a GPU (CI) it checks the pure helpers and that creating
// the communicator fails with an Error naming the CUDA problem; with a GPU
// (tests/gpu/run.sh) it checks every collective and the ring shift on device
// buffers against values each rank can compute itself (nccl-tests style).
#include <gtest/gtest.h>

#include <cuda_runtime_api.h>

#include <numeric>
#include <vector>

#include "../../src/gpu/nccl_detail.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"

using namespace stiffness;

namespace {

// A device copy of a host vector, freed on scope exit.
template <typename T>
struct DeviceBuf {
  T* p = nullptr;
  std::size_t n = 0;
  explicit DeviceBuf(const std::vector<T>& h) : n(h.size()) {
    STIFF_CUDA(cudaMalloc(&p, n * sizeof(T)));
    STIFF_CUDA(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~DeviceBuf() { cudaFree(p); }
  std::vector<T> host() const {
    std::vector<T> h(n);
    STIFF_CUDA(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

GpuCommOptions options(MpiComm& world) {
  GpuCommOptions o;
  o.device = node_local_rank(world.get()) % std::max(1, cuda_device_count());
  o.timeout_seconds = 60;
  return o;
}

}  // namespace

TEST(GpuBackend, NcclTypesMatchDTypes) {
  EXPECT_EQ(gpu::nccl_type(DType::f32), ncclFloat32);
  EXPECT_EQ(gpu::nccl_type(DType::f64), ncclFloat64);
  EXPECT_EQ(gpu::nccl_type(DType::i64), ncclInt64);
  EXPECT_EQ(gpu::nccl_type(DType::u8), ncclUint8);
}

TEST(GpuBackend, HostMemoryIsHost) {
  std::vector<double> v(16, 1.0);
  EXPECT_EQ(gpu::memory_kind(v.data()), gpu::MemoryKind::host);
  EXPECT_EQ(gpu::memory_kind(nullptr), gpu::MemoryKind::host);
  int on_stack = 0;
  EXPECT_EQ(gpu::memory_kind(&on_stack), gpu::MemoryKind::host);
  EXPECT_TRUE(gpu_backend_built());
  EXPECT_NE(gpu_backend_note().find("NCCL 2."), std::string::npos) << gpu_backend_note();
}

TEST(GpuBackend, WithoutGpuCreationFailsWithCudaError) {
  if (cuda_device_count() > 0) {
    SUCCEED() << "a GPU is visible: the collective tests below run instead";
    return;
  }
  MpiComm world(MPI_COMM_WORLD);
  try {
    make_gpu_comm(world, options(world));
    FAIL() << "creating an NCCL communicator without a GPU must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA"), std::string::npos) << e.what();
  }
}

// Without a GPU the collective tests can only check that no communicator is
// made (and that no rank hangs on the way).
#define GPU_COMM_OR_RETURN(comm, world)                                 \
  if (cuda_device_count() == 0) {                                       \
    EXPECT_THROW(make_gpu_comm(world, options(world)), Error);          \
    return;                                                             \
  }                                                                     \
  auto comm = make_gpu_comm(world, options(world))

TEST(GpuCollectives, AllReduceBroadcastAndHostFallback) {
  MpiComm world(MPI_COMM_WORLD);
  GPU_COMM_OR_RETURN(comm, world);
  const int P = comm->size(), r = comm->rank();
  const std::size_t n = 1000;
  std::vector<double> h(n);
  for (std::size_t i = 0; i < n; ++i) h[i] = (r + 1) * 1000.0 + i;
  DeviceBuf<double> d(h);
  comm->allreduce_sum(d.p, n, DType::f64);
  auto sum = d.host();
  for (std::size_t i = 0; i < n; ++i) ASSERT_DOUBLE_EQ(sum[i], 1000.0 * P * (P + 1) / 2 + P * double(i));

  DeviceBuf<float> m(std::vector<float>(n, float(r)));
  comm->allreduce_max(m.p, n, DType::f32);
  for (float v : m.host()) ASSERT_EQ(v, float(P - 1));

  DeviceBuf<int64_t> b(std::vector<int64_t>(n, r == P - 1 ? 42 : -1));
  comm->broadcast(b.p, n, DType::i64, P - 1);
  for (auto v : b.host()) ASSERT_EQ(v, 42);

  // Host scalars take the MPI path of the same communicator.
  double host = r + 1.0;
  comm->allreduce_sum(&host, 1, DType::f64);
  EXPECT_DOUBLE_EQ(host, P * (P + 1) / 2.0);
  EXPECT_TRUE(comm->all_ok(true));
}

TEST(GpuCollectives, RingShiftDeliversUnequalBlocks) {
  MpiComm world(MPI_COMM_WORLD);
  GPU_COMM_OR_RETURN(comm, world);
  const int P = comm->size(), r = comm->rank();
  // Block sizes differ per rank (like block_range's), so counts must pair up.
  auto count_of = [](int q) { return std::size_t(100 + 7 * q); };
  std::vector<float> mine(count_of(r));
  std::iota(mine.begin(), mine.end(), float(r * 10000));
  DeviceBuf<float> send(mine);
  const int src = (r - 1 + P) % P;
  DeviceBuf<float> recv(std::vector<float>(count_of(src), -1.f));
  auto shift = comm->start_shift(send.p, send.n, (r + 1) % P, recv.p, recv.n, src, DType::f32);
  shift->wait();
  auto got = recv.host();
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], float(src * 10000 + i));
}
