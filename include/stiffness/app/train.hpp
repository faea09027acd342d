// The `stiffness train` job: load data, fix the sample, train data-parallel
// and measure the Gram matrix and class stiffness at the scheduled steps.
#pragma once

#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/runtime/comm.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/config/config.hpp"

namespace stiffness {

// Returns the process exit code. Collective over `comm`.
int run_train(MpiComm& world, int argc, const char* const* argv);

}  // namespace stiffness
