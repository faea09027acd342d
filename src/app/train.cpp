#include "stiffness/app/train.hpp"

#include <thread>

#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/disk_rate.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/analysis/metrics.hpp"
#include "stiffness/nn/checkpoint.hpp"
#include "stiffness/nn/device.hpp"
#include "stiffness/nn/measure.hpp"
#include "stiffness/nn/model.hpp"
#include "stiffness/nn/pergrad.hpp"
#include "stiffness/nn/train.hpp"
#include "stiffness/io/run_file.hpp"
#include "stiffness/runtime/progress.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/runtime/provenance.hpp"
#include "stiffness/analysis/schedule.hpp"
#include "stiffness/analysis/tiling.hpp"

namespace stiffness {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string broadcast_string(Communicator& comm, std::string s) {
  int64_t n = static_cast<int64_t>(s.size());
  comm.broadcast(&n, 1, DType::i64, 0);
  s.resize(n);
  comm.broadcast(s.data(), n, DType::u8, 0);
  return s;
}

std::string join_args(const std::vector<std::string>& args) {
  std::string s = "stiffness";
  for (const auto& a : args) s += " " + a;
  return s;
}

// Everything the job needs after setup, built once on every rank.
struct Setup {
  Config c;
  ImageSet train_set, val_set;
  TensorData train, val;
  Sample sample;
};

// Threads per rank: --threads, or the node's cores shared among its ranks.
int configure_threads(const Config& c, int local_ranks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = c.threads > 0 ? c.threads : std::max(1, cores / std::max(1, local_ranks));
  torch::set_num_threads(threads);
  set_blas_threads(threads);
  return threads;
}

}  // namespace

int run_train(MpiComm& world, int argc, const char* const* argv) {
  const auto t_start = std::chrono::steady_clock::now();
  const int P = world.size(), rank = world.rank();
  spdlog::set_pattern("[%H:%M:%S] %v");
  spdlog::set_level(rank == 0 ? spdlog::level::info : spdlog::level::warn);

  Setup s;
  ParsedArgs parsed;
  // Phase 1: options and output path. Same answer on every rank.
  collective_phase(world, [&] {
    parsed = parse_train_args(argc, argv);
    if (parsed.help) return;
    validate(parsed.config);
    const auto& pc = parsed.config;
    if (pc.check_only) return;  // no side effects: the output folder is not created
    // An existing checkpoint means "resume" unless --overwrite starts afresh.
    if (rank == 0) check_output_path(pc.output, pc.overwrite, checkpoint_exists(pc.output));
  });
  if (parsed.help) {
    if (rank == 0) std::printf("%s", parsed.help_text.c_str());
    return 0;
  }
  if (parsed.config.check_only) {
    if (rank == 0) std::printf("options ok\n");
    return 0;
  }
  s.c = parsed.config;
  const Config& c = s.c;
  // The device of every rank, and the communicator for its tensors (NCCL for
  // GPU buffers; host values, the checkpoint and the file stay on MPI).
  RankDevice dev = open_device(world, to_string(c.device), c.gpu_timeout);
  Communicator& comm = dev.comm(world);
  const torch::Device device = dev.choice.device;

  const int threads = configure_threads(c, node_local_size(world.get()));
  spdlog::info("stiffness {} ({}), {} rank{}, {} thread{} per rank, LibTorch {}", STIFFNESS_VERSION,
               STIFFNESS_GIT_HASH, P, P > 1 ? "s" : "", threads, threads > 1 ? "s" : "",
               TORCH_VERSION);
  spdlog::info("BLAS: {}; {}", blas_in_use(), openblas_kernels_note());
  for (const auto& line : dev.per_rank) spdlog::info("device: {}", line);
  spdlog::info("communication: {}; precision: {}",
               device.is_cuda() ? "NCCL (" + gpu_backend_note() + ") for gradients and Gram blocks on a ring, "
                                  "MPI for host values"
                                : std::string("MPI (gradients all-reduced, Gram blocks on a ring)"),
               dev.precision);

  // Phase 2: data and the measured sample.
  collective_phase(comm, [&] {
    DataSpec spec;
    spec.format = to_string(c.data_format);
    spec.path = c.data_dir;
    spec.num_classes = c.num_classes;
    spec.num_coarse = c.num_coarse;
    spec.seed = c.seed;
    spec.synthetic_train_per_class = c.synthetic_train_per_class;
    spec.synthetic_val_per_class = c.synthetic_val_per_class;
    spec.synthetic_size = c.synthetic_size;
    auto sets = load_dataset(spec);
    s.train_set = std::move(sets.train);
    s.val_set = std::move(sets.val);
    s.c.num_classes = s.train_set.num_classes;  // resolves 0 = from the data
    // The recorded dataset name follows the format unless given.
    if (c.data_format != DataFormat::idx && c.dataset == "fashion-mnist") s.c.dataset = to_string(c.data_format);
    s.train = to_tensors(s.train_set, dtype_of(c), c.train_limit, device);
    s.val = to_tensors(s.val_set, dtype_of(c), c.val_limit, device);
    s.sample = make_sample(c, s.train_set, s.val_set, s.train.size(), s.val.size(), dtype_of(c));
    move_to(s.sample, device);
    // The pixels now live in the tensors (and the sample): free the read
    // copies (314 MB for 100000 examples of 28 x 28); the sets keep their
    // shapes, labels and sources.
    std::vector<float>().swap(s.train_set.pixels);
    std::vector<float>().swap(s.val_set.pixels);
    STIFF_CHECK(s.train.size() >= c.batch_size,
                "--batch-size: " + std::to_string(c.batch_size) + " is larger than the training set (" +
                    std::to_string(s.train.size()) + " examples)");
  });
  const int64_t N = s.sample.size();
  spdlog::info("data: {} {} ({} train, {} validation examples, {}x{}x{}, {} classes{}); sample N = {} ({} + {} per class)",
               to_string(c.data_format), c.data_dir, s.train.size(), s.val.size(), s.train_set.channels,
               s.train_set.height, s.train_set.width, c.num_classes,
               s.train_set.num_coarse ? fmt::format(" in {} super-classes", s.train_set.num_coarse) : "",
               N, c.per_class, c.val_per_class);

  // Replicas start identical: same seed everywhere, then rank 0's values.
  torch::manual_seed(c.seed);
  // Built on the CPU from the seed, then moved: the same initial model on any device.
  Net net = build_model(c, s.train_set.channels, s.train_set.height, s.train_set.width, c.num_classes);
  net->to(device);
  broadcast_parameters(net, comm);
  const std::string model_desc = describe_model(net, c, s.train_set.example_size());
  spdlog::info("model: {}", model_desc);
  const GradPlan plan = plan_gradients(net, s.sample.x[0], N, to_string(c.grad_method));
  spdlog::info("per-example gradients: {}", plan.summary());

  const int64_t last = total_steps(c, s.train.size());
  const int64_t per_epoch = std::max<int64_t>(1, s.train.size() / c.batch_size);
  const auto schedule =
      measurement_steps(c.measure_steps, c.measure_log, last, c.measure_epochs ? per_epoch : 0);
  std::string sched;
  for (auto st : schedule) sched += (sched.empty() ? "" : ",") + std::to_string(st);
  spdlog::info("training: {} steps, global batch {} (shards of {} to {} per rank), {} lr {}; measuring at steps {}",
               last, c.batch_size, c.batch_size / P, (c.batch_size + P - 1) / P, to_string(c.optimizer), c.lr, sched);

  Trainer trainer(net, c, comm, s.train);
  install_preemption_handlers();
  const std::string options = to_ini(c, Affects::results);
  const bool resume = checkpoint_exists(c.output) && !c.overwrite;
  if (!resume && c.overwrite && rank == 0 && checkpoint_exists(c.output))
    spdlog::info("--overwrite: discarding the checkpoint in {}", checkpoint_dir(c.output));

  // Phase 3: the output file (fails cleanly on an unwritable path), or the
  // checkpoint and the .partial file of a preempted run.
  std::unique_ptr<OutputFile> out;
  collective_phase(comm, [&] {
    if (!resume) {
      if (c.overwrite && rank == 0) std::filesystem::remove_all(checkpoint_dir(c.output));
      out = std::make_unique<OutputFile>(c.output, world.get(), comm);
      return;
    }
    const auto st = load_checkpoint(c.output, options, net, trainer);
    if (st.ranks != P)
      spdlog::warn("resuming a {}-rank run on {} ranks: results agree to rounding, not bit for bit",
                   st.ranks, P);
    out = std::make_unique<OutputFile>(c.output, world.get(), comm,
                                       OutputFile::Resume{st.measurements});
    spdlog::info("resuming from {} at step {} with {} finished measurements", checkpoint_dir(c.output),
                 st.step, st.measurements);
  });
  // The panel budget must be the same on every rank (the ranks keep in
  // lockstep by tiling maths): the smallest over ranks.
  std::string memory_from;
  const double node_mb = node_memory_mb(&memory_from);
  double panel = -(c.panel_mb > 0 ? c.panel_mb : default_panel_mb(node_mb, node_local_size(world.get())));
  comm.allreduce_max(&panel, 1, DType::f64);
  const double panel_mb = -panel;
  spdlog::info("panels: {} MB of K per rank at a time ({})", panel_mb,
               c.panel_mb > 0 ? std::string("--panel-mb")
                              : fmt::format("default: 1/8 of {:.0f} MB ({}) over {} rank{} on the node, in [64, 256]",
                                            node_mb, memory_from, node_local_size(world.get()),
                                            node_local_size(world.get()) > 1 ? "s" : ""));
  // The disk's sequential rate, to set K's write rate beside it: measured
  // when some K to be stored is large enough for the rate to matter.
  double disk_gbps = -1;
  const double k_bytes =
      static_cast<double>(N) * static_cast<double>(N) * static_cast<double>(dtype_size(element_type(c.k_dtype)));
  if (c.store_k.kind != StoreK::Kind::none && k_bytes >= 256.0 * (1 << 20)) {
    collective_phase(comm, [&] {
      if (rank == 0) disk_gbps = sequential_write_gbps(c.output + ".disk-rate", int64_t{256} << 20);
    });
    comm.broadcast(&disk_gbps, 1, DType::f64, 0);
    spdlog::info("output disk: {:.3f} GB/s sequential write (256 MB with fsync, next to {})", disk_gbps, c.output);
  }

  RunInfo info;
  info.version = STIFFNESS_VERSION;
  info.git_hash = STIFFNESS_GIT_HASH;
  info.torch_version = TORCH_VERSION;
  // Collective attribute writes need the same value on every rank: rank 0's.
  info.blas = broadcast_string(comm, blas_in_use() + "; " + openblas_kernels_note());
  info.hostname = broadcast_string(comm, host_name());
  info.created = broadcast_string(comm, utc_now());
  info.model = model_desc;
  info.grad_plan = plan.summary();
  info.dataset = c.dataset;
  info.data_source = s.train_set.source + "; " + s.val_set.source;
  info.config_ini = to_ini(c);
  info.config_file = c.config_file;
  info.command_line = join_args(c.command_line);
  info.ranks = P;
  info.threads_per_rank = threads;
  info.num_classes = c.num_classes;
  info.n_examples = N;
  info.num_params = net->num_params();
  info.k_dtype = to_string(c.k_dtype);
  info.store_k = to_string(c.store_k);
  if (!resume) {
    out->write_run(info);
    out->write_sample(sample_arrays(s.sample));
  }

  Progress progress("step", last, c.progress_seconds);
  const int64_t first = trainer.steps_done();
  // The schedule's first measurements are in the file (a checkpoint taken
  // right after a measurement resumes at that step without repeating it).
  size_t next = static_cast<size_t>(out->measurements());
  double loss = 0;
  auto last_checkpoint = std::chrono::steady_clock::now();
  const double period = 60 * c.checkpoint_minutes;
  auto checkpoint = [&](int64_t step) {
    save_checkpoint(comm, c.output, {step, out->measurements(), P, options}, net, trainer);
    last_checkpoint = std::chrono::steady_clock::now();
  };
  for (int64_t step = first; step <= last; ++step) {
    // A safe point: every rank between two steps, the file flushed.
    const auto request = checkpoint_request(comm, period > 0 && seconds_since(last_checkpoint) >= period);
    if (request == CheckpointRequest::periodic) checkpoint(step);
    if (request == CheckpointRequest::preempt) {
      checkpoint(step);
      out->suspend();
      spdlog::info("preempted at step {}: checkpoint in {}, finished measurements in {}; "
                   "run again with the same options to resume (exit status {})",
                   step, checkpoint_dir(c.output), out->partial_path(), kExitPreempted);
      return kExitPreempted;
    }
    if (next < schedule.size() && schedule[next] == step) {
      MeasureContext ctx{comm, net, plan, s.sample, s.train, s.val, c, schedule.back(), panel_mb, disk_gbps};
      progress.pause(measure(ctx, step, trainer.epoch(), *out).seconds);
      ++next;
      // Its K is in the file: a crash from here on loses no measurement.
      if (period > 0 && step < last) checkpoint(step);
    }
    if (step == last) break;
    loss = trainer.step();
    progress.update(step + 1, fmt::format("epoch {:.2f} | batch loss {:.4f}", trainer.epoch(), loss));
  }
  out->finish();
  remove_checkpoint(comm, c.output);
  spdlog::info("done in {:.1f} s: {} measurements of a {}x{} Gram matrix in {}", seconds_since(t_start),
               out->measurements(), N, N, c.output);
  return 0;
}

}  // namespace stiffness
