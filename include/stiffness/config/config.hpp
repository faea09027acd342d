// The one configuration struct of the `stiffness train` job. Every field is
// an option of the same name (with '-' for '_') in the config file and on the
// command line; the command line wins. The defaults are the initialisers
// below; names, help texts and the rest are in the option table
// (options.hpp, src/config/options.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "stiffness/analysis/schedule.hpp"
#include "stiffness/config/choices.hpp"

namespace stiffness {

// Whether an option changes what a run computes and writes (a checkpoint
// resumes only under the same values of these), or only how it runs.
enum class Affects { results, run_only };

struct Config {
  // ---- data ----
  DataFormat data_format = DataFormat::idx;  // docs/datasets.md
  std::string data_dir = "/usr/share/datasets/fashion-mnist";  // folder (idx, cifar*) or file (hdf5)
  std::string dataset = "fashion-mnist";  // name recorded in the output
  int64_t num_classes = 10;               // labels must lie in [0, num_classes); 0 = from the data
  int64_t num_coarse = 0;                 // synthetic: super-classes (0 = none)
  int64_t synthetic_train_per_class = 200;  // synthetic: training examples per class
  int64_t synthetic_val_per_class = 50;     // synthetic: validation examples per class
  int64_t synthetic_size = 8;               // synthetic: inputs are 1 x size x size
  int64_t train_limit = 0;                // use only the first n training examples (0 = all)
  int64_t val_limit = 0;                  // likewise for the validation (t10k) set

  // ---- model ----
  Model model = Model::mlp;
  std::vector<int64_t> widths{500, 300, 100};  // mlp hidden widths (ReLU between)
  std::vector<int64_t> channels{16, 32, 32};   // cnn: 3x3 conv channels, each + 2x2 max-pool
  Precision dtype = Precision::float32;        // parameters and gradients
  Norm norm = Norm::none;                      // resnet20: none is the paper's
  int64_t norm_groups = 8;                     // GroupNorm groups (at most the channels)
  int64_t vocab_size = 0;                      // transformer: number of token ids
  int64_t embed_dim = 64;                      // transformer width
  int64_t heads = 4;                           // transformer attention heads
  int64_t layers = 2;                          // transformer blocks
  std::string script;                          // torchscript: path of a module saved by torch.jit.save

  // ---- training (data-parallel, replicas identical) ----
  Optimizer optimizer = Optimizer::adam;  // sgd: SGD with momentum
  double lr = 1e-3;                // constant learning rate, > 0
  double momentum = 0.9;           // SGD momentum, in [0, 1)
  int64_t batch_size = 32;         // GLOBAL batch, split over ranks
  double epochs = 1.0;             // training length in epochs (ignored if steps > 0)
  int64_t steps = 0;               // training length in optimiser steps (0 = use epochs)
  uint64_t seed = 0;               // model initialisation and data order
  int64_t eval_examples = 10000;   // train/val examples for loss and accuracy per measurement

  // ---- measurement ----
  std::vector<int64_t> measure_steps;  // explicit steps to measure at (0 = initialisation)
  int64_t measure_log = 6;        // plus this many log-spaced steps in [1, last step]
  bool measure_epochs = true;     // plus every epoch end
  int64_t per_class = 50;         // training examples per class in the sample
  int64_t val_per_class = 50;     // validation examples per class in the sample
  uint64_t sample_seed = 1;       // which examples form the sample
  GradRequest grad_method = GradRequest::automatic;  // see docs/metrics.md
  bool save_params = true;        // store parameters by name at every measurement
  int64_t distance_bins = 40;     // bins over input distance [0, 2] (0 = no distance analysis)
  // Which measurements write K (class matrices, distance curves and xi are
  // always written); auto: every measurement while N <= 10000, i.e. 0.8 GB
  // per float64 K, above that the last one only.
  StoreK store_k;
  Precision k_dtype = Precision::float64;  // stored precision of K (sums stay float64)
  // MB of K a rank holds at a time: its tiles are computed, analysed and
  // written in row panels of this size (plus the input distances beside
  // them). 0 = the default: 1/8 of the node's memory over the ranks on it,
  // within [64, 256] (default_panel_mb). Results do not depend on it.
  double panel_mb = 0;

  // ---- output and run ----
  std::string output = "results/stiffness.h5";  // ONE parallel HDF5 file for the run
  bool overwrite = false;         // replace an existing output file
  int threads = 0;                // intra-op threads per rank (0 = cores on node / ranks on node)
  // cuda: one GPU per rank (node-local rank modulo the visible devices),
  // NCCL for gradients and the ring; auto: cuda when this LibTorch was built
  // with CUDA, the NCCL backend is built and a GPU is visible, else cpu (the
  // log says why).
  DeviceRequest device = DeviceRequest::automatic;
  double gpu_timeout = 600;       // seconds a GPU collective may stall before the job ends (a dead peer)
  double progress_seconds = 10;   // rank 0 progress line interval
  // Crash safety: a checkpoint after every measurement and every this many
  // minutes of training (a run shorter than that only gets the former);
  // 0 = checkpoints on a preemption signal only.
  double checkpoint_minutes = 30;
  bool check_only = false;        // parse and validate the options, then exit (for sweeps)

  // Not options: where the values came from, for provenance.
  std::string config_file;
  std::vector<std::string> command_line;
};

// Result of parsing: either a config to run, or help text to print.
struct ParsedArgs {
  Config config;
  bool help = false;
  std::string help_text;
};

// Parses `stiffness train` arguments (argv[0] is the subcommand name).
// Throws stiffness::Error with a one-line message naming the option or file.
ParsedArgs parse_train_args(int argc, const char* const* argv);

// Checks values for sense (positive rates, sizes, steps). Throws Error. Choice
// names are checked earlier, when parsed.
void validate(const Config& c);

// The effective configuration as `key = value` lines (config-file syntax), in
// the option table's order. Stored in every output file: the text must not
// change for a given Config.
std::string to_ini(const Config& c);
// Only the lines of the options that do (Affects::results) or do not
// (Affects::run_only) change results: a checkpoint resumes only under the
// same results lines.
std::string to_ini(const Config& c, Affects affects);

// The names of the options whose values differ between a and b (empty when
// the configs agree on every option).
std::vector<std::string> differing_options(const Config& a, const Config& b);

}  // namespace stiffness
