// A Communicator for one process without MPI: reductions over one rank leave
// the data as it is. For unit tests of code that takes a Communicator.
#pragma once

#include <memory>
#include <vector>

#include "stiffness/runtime/comm.hpp"

namespace stiffness::test_support {

struct OneRank final : Communicator {
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(void*, std::size_t, DType) override {}
  void allreduce_max(void*, std::size_t, DType) override {}
  void broadcast(void*, std::size_t, DType, int) override {}
  void allgatherv(const void*, void*, const std::vector<int64_t>&, DType) override {}
  std::unique_ptr<PendingShift> start_shift(const void*, std::size_t, int, void*, std::size_t, int,
                                            DType) override {
    return nullptr;
  }
  void barrier() override {}
};

}  // namespace stiffness::test_support
