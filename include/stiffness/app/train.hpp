// `stiffness train`: the phases of phases.hpp, then data-parallel training
// that measures the Gram matrix and class stiffness at the scheduled steps,
// with checkpoints and resume.
#pragma once

#include "stiffness/runtime/mpi_comm.hpp"

namespace stiffness {

// Returns the process exit code. Collective over `world`.
int run_train(MpiComm& world, int argc, const char* const* argv);

}  // namespace stiffness
