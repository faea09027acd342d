// The communication interface that training and the ring use. MPI implements
// it for CPU ranks (mpi_comm.hpp); an NCCL backend for GPU ranks implements the
// same calls on device buffers. Nothing here depends on MPI or LibTorch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace stiffness {

enum class DType { f32, f64, i64, u8 };

std::size_t dtype_size(DType t);

// A shift in flight: started by Communicator::start_shift, finished by wait().
class PendingShift {
 public:
  virtual ~PendingShift() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // In-place sum over all ranks.
  virtual void allreduce_sum(void* data, std::size_t count, DType t) = 0;
  // In-place maximum over all ranks.
  virtual void allreduce_max(void* data, std::size_t count, DType t) = 0;
  virtual void broadcast(void* data, std::size_t count, DType t, int root) = 0;
  // Gather `counts[r]` elements from every rank r into `out` (rank order) on all ranks.
  virtual void allgatherv(const void* in, void* out, const std::vector<int64_t>& counts,
                          DType t) = 0;
  // Ring shift: send `send` to rank `dest` and receive into `recv` from rank
  // `src` without blocking; the caller computes meanwhile, then waits. The
  // send buffer must stay untouched until wait() returns.
  virtual std::unique_ptr<PendingShift> start_shift(const void* send, std::size_t send_count,
                                                    int dest, void* recv,
                                                    std::size_t recv_count, int src,
                                                    DType t) = 0;
  virtual void barrier() = 0;
  // Whether every rank passed `ok`; used to agree on success before a rename.
  bool all_ok(bool ok);
};

}  // namespace stiffness
