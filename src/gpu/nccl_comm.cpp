// NCCL implementation of Communicator for GPU ranks (the CUDA-only backend;
// built with STIFFNESS_NCCL). Style after LLNL/Aluminum: one owner of each
// handle, no copies, errors as stiffness::Error with file and line.
//
// Streams: torch queues its kernels on the default (legacy) stream. Every
// NCCL call here goes on the communicator's own non-blocking stream, after an
// event recorded on the legacy stream, so it sees the finished gradients or
// Gram block; the caller then waits on an event of the NCCL stream. A ring
// shift returns at once, so the next block moves while torch computes the
// current tile on the legacy stream.
//
// Waiting polls the event and ncclCommGetAsyncError: a dead peer or a network
// error ends the job with an Error (and ncclCommAbort) instead of a hang.
#include <mpi.h>

#include <chrono>
#include <exception>
#include <memory>
#include <string>
#include <thread>

#include "nccl_detail.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"

namespace stiffness {

namespace gpu {

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i64: return ncclInt64;
    case DType::u8: return ncclUint8;
  }
  STIFF_THROW("nccl_type: unknown dtype");
}

MemoryKind memory_kind(const void* p) {
  if (!p) return MemoryKind::host;
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free error so later calls are unaffected
    return MemoryKind::host;
  }
  return a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged ? MemoryKind::device
                                                                            : MemoryKind::host;
}

void throw_cuda(cudaError_t e, const char* what, const char* file, int line) {
  throw Error(std::string("CUDA call failed: ") + what + ": " + cudaGetErrorName(e) + " (" +
                  cudaGetErrorString(e) + ")",
              file, line);
}

void throw_nccl(ncclResult_t r, ncclComm_t comm, const char* what, const char* file, int line) {
  std::string msg = std::string("NCCL call failed: ") + what + ": " + ncclGetErrorString(r);
  const char* last = ncclGetLastError(comm);
  if (last && *last) msg += std::string(" (") + last + ")";
  throw Error(msg, file, line);
}

}  // namespace gpu

namespace {

using gpu::MemoryKind;

#define STIFF_NCCL(comm, call)                                                              \
  do {                                                                                      \
    const ncclResult_t stiff_r_ = (call);                                                   \
    if (stiff_r_ != ncclSuccess) ::stiffness::gpu::throw_nccl(stiff_r_, comm, #call, __FILE__, __LINE__); \
  } while (0)

// An event owned for its lifetime.
class Event {
 public:
  Event() { STIFF_CUDA(cudaEventCreateWithFlags(&e_, cudaEventDisableTiming)); }
  ~Event() {
    if (e_) cudaEventDestroy(e_);
  }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  cudaEvent_t get() const { return e_; }

 private:
  cudaEvent_t e_ = nullptr;
};

class NcclComm;

class NcclShift final : public PendingShift {
 public:
  NcclShift(NcclComm& c, std::unique_ptr<Event> done) : comm_(c), done_(std::move(done)) {}
  void wait() override;

 private:
  NcclComm& comm_;
  std::unique_ptr<Event> done_;
};

class NcclComm final : public Communicator {
 public:
  NcclComm(MpiComm& world, const GpuCommOptions& o)
      : world_(world), device_(o.device), timeout_(o.timeout_seconds) {
    int count = 0;
    STIFF_CUDA(cudaGetDeviceCount(&count));
    STIFF_CHECK(device_ >= 0 && device_ < count, "CUDA device " + std::to_string(device_) + " does not exist (" +
                                                     std::to_string(count) + " visible)");
    STIFF_CUDA(cudaSetDevice(device_));
    STIFF_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ready_ = std::make_unique<Event>();
    ncclUniqueId id{};
    if (world_.rank() == 0) STIFF_NCCL(nullptr, ncclGetUniqueId(&id));
    STIFF_MPI(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, world_.get()));
    STIFF_NCCL(nullptr, ncclCommInitRank(&comm_, world_.size(), id, world_.rank()));
  }

  ~NcclComm() override {
    if (comm_) {
      // Unwinding (some rank failed) or after an error: a peer may never
      // arrive, and ncclCommDestroy could block forever. Abort instead.
      if (failed_ || std::uncaught_exceptions() > 0) {
        ncclCommAbort(comm_);
      } else if (ncclCommFinalize(comm_) == ncclSuccess) {
        ncclCommDestroy(comm_);
      } else {
        ncclCommAbort(comm_);
      }
    }
    ready_.reset();
    if (stream_) cudaStreamDestroy(stream_);
  }
  NcclComm(const NcclComm&) = delete;
  NcclComm& operator=(const NcclComm&) = delete;

  int rank() const override { return world_.rank(); }
  int size() const override { return world_.size(); }

  void allreduce_sum(void* data, std::size_t count, DType t) override { reduce(data, count, t, ncclSum); }
  void allreduce_max(void* data, std::size_t count, DType t) override { reduce(data, count, t, ncclMax); }

  void broadcast(void* data, std::size_t count, DType t, int root) override {
    if (count == 0) return;
    if (gpu::memory_kind(data) == MemoryKind::host) return world_.broadcast(data, count, t, root);
    after_compute();
    STIFF_NCCL(comm_, ncclBroadcast(data, data, count, gpu::nccl_type(t), root, comm_, stream_));
    Event done;
    STIFF_CUDA(cudaEventRecord(done.get(), stream_));
    wait_for(done.get(), "broadcast");
  }

  // Only host buffers reach this (the gathered diagonal of K); NCCL has no
  // allgatherv.
  void allgatherv(const void* in, void* out, const std::vector<int64_t>& counts, DType t) override {
    STIFF_CHECK(gpu::memory_kind(in) == MemoryKind::host && gpu::memory_kind(out) == MemoryKind::host,
                "allgatherv: GPU ranks gather host buffers only");
    world_.allgatherv(in, out, counts, t);
  }

  std::unique_ptr<PendingShift> start_shift(const void* send, std::size_t send_count, int dest, void* recv,
                                            std::size_t recv_count, int src, DType t) override {
    const bool dev = (send_count && gpu::memory_kind(send) == MemoryKind::device) ||
                     (recv_count && gpu::memory_kind(recv) == MemoryKind::device);
    if (!dev) return world_.start_shift(send, send_count, dest, recv, recv_count, src, t);
    after_compute();
    // Send and receive in ONE group: each would wait for its peer's other half.
    STIFF_NCCL(comm_, ncclGroupStart());
    if (send_count) STIFF_NCCL(comm_, ncclSend(send, send_count, gpu::nccl_type(t), dest, comm_, stream_));
    if (recv_count) STIFF_NCCL(comm_, ncclRecv(recv, recv_count, gpu::nccl_type(t), src, comm_, stream_));
    STIFF_NCCL(comm_, ncclGroupEnd());
    auto done = std::make_unique<Event>();
    STIFF_CUDA(cudaEventRecord(done->get(), stream_));
    return std::make_unique<NcclShift>(*this, std::move(done));
  }

  void barrier() override { world_.barrier(); }

  // Polls `ev` until it completes, NCCL reports an asynchronous error, or the
  // timeout passes; the last two abort the communicator and throw.
  void wait_for(cudaEvent_t ev, const char* what) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int spins = 0;; ++spins) {
      const cudaError_t q = cudaEventQuery(ev);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) fail(std::string(what) + ": " + cudaGetErrorString(q));
      ncclResult_t async = ncclSuccess;
      ncclCommGetAsyncError(comm_, &async);
      if (async != ncclSuccess && async != ncclInProgress)
        fail(std::string(what) + ": " + ncclGetErrorString(async) + " (a peer may have died)");
      const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (waited > timeout_)
        fail(std::string(what) + ": no progress in " + std::to_string(static_cast<int>(timeout_)) +
             " s (a peer may have died or stalled)");
      if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
  }

 private:
  void reduce(void* data, std::size_t count, DType t, ncclRedOp_t op) {
    if (count == 0) return;
    if (gpu::memory_kind(data) == MemoryKind::host) {
      if (op == ncclSum) return world_.allreduce_sum(data, count, t);
      return world_.allreduce_max(data, count, t);
    }
    after_compute();
    STIFF_NCCL(comm_, ncclAllReduce(data, data, count, gpu::nccl_type(t), op, comm_, stream_));
    Event done;
    STIFF_CUDA(cudaEventRecord(done.get(), stream_));
    wait_for(done.get(), "all-reduce");
  }

  // The NCCL stream waits for everything queued so far on the legacy stream
  // (where torch computed the buffer).
  void after_compute() {
    STIFF_CUDA(cudaSetDevice(device_));
    STIFF_CUDA(cudaEventRecord(ready_->get(), cudaStreamLegacy));
    STIFF_CUDA(cudaStreamWaitEvent(stream_, ready_->get(), 0));
  }

  [[noreturn]] void fail(const std::string& msg) {
    failed_ = true;
    ncclCommAbort(comm_);
    comm_ = nullptr;
    STIFF_THROW("NCCL " + msg);
  }

  MpiComm& world_;
  int device_;
  double timeout_;
  cudaStream_t stream_ = nullptr;
  ncclComm_t comm_ = nullptr;
  std::unique_ptr<Event> ready_;  // recorded on the legacy stream before each call
  bool failed_ = false;
};

void NcclShift::wait() {
  if (!done_) return;
  comm_.wait_for(done_->get(), "ring shift");
  done_.reset();
}

}  // namespace

bool gpu_backend_built() { return true; }

std::string gpu_backend_note() {
  int nccl = 0, rt = 0;
  ncclGetVersion(&nccl);
  cudaRuntimeGetVersion(&rt);
  return "NCCL " + std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." +
         std::to_string(nccl % 100) + ", CUDA runtime " + std::to_string(rt / 1000) + "." +
         std::to_string(rt % 1000 / 10);
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return n;
}

double gpu_memory_used_mb() {
  std::size_t free = 0, total = 0;
  if (cudaMemGetInfo(&free, &total) != cudaSuccess) {
    cudaGetLastError();
    return -1;
  }
  return static_cast<double>(total - free) / (1024.0 * 1024.0);
}

std::unique_ptr<Communicator> make_gpu_comm(MpiComm& world, const GpuCommOptions& o) {
  return std::make_unique<NcclComm>(world, o);
}

}  // namespace stiffness
