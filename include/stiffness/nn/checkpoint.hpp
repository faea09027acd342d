// Preemption: on SIGUSR1 or SIGTERM the job finishes its current step, saves
// a checkpoint to `<output>.ckpt/` and exits with status 3 (kExitPreempted);
// started again with the same options it resumes from there, and the final
// file equals that of an uninterrupted run on the same number of ranks.
//
// What is saved: the model and optimiser state (rank 0's; replicas are
// identical), the step, the number of finished measurements and the options.
// The data order is a function of (seed, epoch) and the sample a function of
// sample_seed, so they are recomputed, not stored. Finished measurements live
// in `<output>.partial`, which is reopened and appended to.
#pragma once

#include <string>

#include "stiffness/comm.hpp"
#include "stiffness/nn/model.hpp"

namespace stiffness {

constexpr int kExitPreempted = 3;

// Installs the SIGUSR1/SIGTERM handlers (they only set a flag).
void install_preemption_handlers();
// Collective: whether any rank has received a preemption signal.
bool preemption_requested(Communicator& comm);

struct CheckpointState {
  int64_t step = 0;          // optimiser steps taken
  int64_t measurements = 0;  // finished measurement groups in the .partial file
  int64_t ranks = 1;
  std::string options;       // the options that shape results (see job.cpp)
};

std::string checkpoint_dir(const std::string& output);
bool checkpoint_exists(const std::string& output);

class Trainer;
// Rank 0 writes; written to a temporary folder and renamed, so a checkpoint
// is either complete or absent. Collective (ends with a barrier).
void save_checkpoint(Communicator& comm, const std::string& output, const CheckpointState& st,
                     Net& net, Trainer& trainer);
// Every rank reads the same files. Throws Error naming the file on trouble.
CheckpointState load_checkpoint(const std::string& output, Net& net, Trainer& trainer);
void remove_checkpoint(Communicator& comm, const std::string& output);

}  // namespace stiffness
