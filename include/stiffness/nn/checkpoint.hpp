// Checkpoints: the job writes `<output>.ckpt/` after every measurement whose
// K was written, every --checkpoint-minutes of training, and on SIGUSR1 or
// SIGTERM (preemption; it then exits with status 3, kExitPreempted). Started
// again with the same options -- after a preemption, a killed rank or a node
// failure -- it resumes from the last checkpoint, and the final file equals
// that of an uninterrupted run on the same number of ranks (timings aside).
//
// What is saved: the model and optimiser state (rank 0's; replicas are
// identical), the step, the number of finished measurements and the options.
// The data order is a function of (seed, epoch) and the sample a function of
// sample_seed, so they are recomputed, not stored. Finished measurements live
// in `<output>.partial`, which is reopened, cut back to the checkpoint's
// measurements, and appended to.
//
// Layout (atomic: a crash at any moment leaves the previous checkpoint
// whole): `<output>.ckpt/g<n>/` holds one complete checkpoint (state.txt,
// model.pt, optimizer.pt); `<output>.ckpt/current` names the newest one. A
// new one is written as g<n+1>/, synced to disk, and only then `current` is
// replaced by renaming a new file over it; older folders are removed after.
#pragma once

#include <string>

#include "stiffness/runtime/comm.hpp"
#include "stiffness/nn/model.hpp"

namespace stiffness {

constexpr int kExitPreempted = 3;

// Installs the SIGUSR1/SIGTERM handlers (they only set a flag).
void install_preemption_handlers();

// What the safe point between two steps must do; the same on every rank.
enum class CheckpointRequest { none = 0, periodic = 1, preempt = 2 };
// Collective: preempt if any rank has received a preemption signal, else
// periodic if `periodic_due` on any rank.
CheckpointRequest checkpoint_request(Communicator& comm, bool periodic_due);

struct CheckpointState {
  int64_t step = 0;          // optimiser steps taken
  int64_t measurements = 0;  // finished measurement groups in the .partial file
  int64_t ranks = 1;
  std::string options;       // the options that shape results (to_ini(c, Affects::results))
};

std::string checkpoint_dir(const std::string& output);
// Whether a committed checkpoint (or a damaged one that must not be ignored)
// exists for `output`.
bool checkpoint_exists(const std::string& output);

// "" when equal, else the first differing option, e.g.
// "lr (checkpoint: 0.001, this run: 0.01)". Both are `key = value` lines.
std::string options_difference(const std::string& saved, const std::string& now);

class Trainer;
// Rank 0 writes (atomically, see above). Collective.
void save_checkpoint(Communicator& comm, const std::string& output, const CheckpointState& st,
                     Net& net, Trainer& trainer);
// Every rank reads the same files. Throws a one-line Error naming the
// checkpoint and --overwrite when it is damaged or truncated, or made with
// options other than `options` (naming the option).
CheckpointState load_checkpoint(const std::string& output, const std::string& options, Net& net,
                                Trainer& trainer);
void remove_checkpoint(Communicator& comm, const std::string& output);

}  // namespace stiffness
