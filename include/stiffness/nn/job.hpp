// The `stiffness train` job: load data, fix the sample, train data-parallel
// and measure the Gram matrix and class stiffness at the scheduled steps.
#pragma once

#include "stiffness/collective_phase.hpp"
#include "stiffness/comm.hpp"
#include "stiffness/mpi_comm.hpp"
#include "stiffness/config.hpp"

namespace stiffness {

// Returns the process exit code. Collective over `comm`.
int run_train(MpiComm& world, int argc, const char* const* argv);

}  // namespace stiffness
