// MPI implementation of Communicator plus RAII ownership of MPI itself.
// Style after LLNL/Aluminum: the communicator is duplicated on creation and
// freed on destruction; no copies; a move leaves the source null.
#pragma once

#include <mpi.h>

#include "stiffness/runtime/comm.hpp"

namespace stiffness {

// Initialises MPI on construction and finalises it on destruction.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
};

// Throws stiffness::Error (with the caller's file and line) when an MPI call fails.
void mpi_check(int rc, const char* what, const char* file, int line);
#define STIFF_MPI(call) ::stiffness::mpi_check((call), #call, __FILE__, __LINE__)

class MpiComm final : public Communicator {
 public:
  explicit MpiComm(MPI_Comm parent = MPI_COMM_WORLD);  // duplicates parent
  ~MpiComm() override;
  MpiComm(const MpiComm&) = delete;
  MpiComm& operator=(const MpiComm&) = delete;
  MpiComm(MpiComm&& o) noexcept;
  MpiComm& operator=(MpiComm&& o) noexcept;

  MPI_Comm get() const { return comm_; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(void* data, std::size_t count, DType t) override;
  void allreduce_max(void* data, std::size_t count, DType t) override;
  void broadcast(void* data, std::size_t count, DType t, int root) override;
  void allgatherv(const void* in, void* out, const std::vector<int64_t>& counts,
                  DType t) override;
  std::unique_ptr<PendingShift> start_shift(const void* send, std::size_t send_count, int dest,
                                            void* recv, std::size_t recv_count, int src,
                                            DType t) override;
  void barrier() override;

 private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0;
  int size_ = 1;
};

// Ranks on this node (for picking threads per rank and, on GPUs, a device).
int node_local_size(MPI_Comm comm);
int node_local_rank(MPI_Comm comm);

}  // namespace stiffness
