#include "stiffness/app/phases.hpp"

#include <spdlog/spdlog.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "stiffness/analysis/tiling.hpp"
#include "stiffness/nn/checkpoint.hpp"
#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/runtime/disk_rate.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/blas.hpp"
#include "stiffness/runtime/gpu_comm.hpp"
#include "stiffness/runtime/provenance.hpp"

namespace stiffness {

namespace {

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

// Threads per rank: --threads, or the node's cores shared among its ranks.
int configure_threads(const Config& c, int local_ranks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = c.threads > 0 ? c.threads : std::max(1, cores / std::max(1, local_ranks));
  torch::set_num_threads(threads);
  set_blas_threads(threads);
  return threads;
}

}  // namespace

void setup_logging(int rank) {
  spdlog::set_pattern("[%H:%M:%S] %v");
  spdlog::set_level(rank == 0 ? spdlog::level::info : spdlog::level::warn);
}

std::optional<Config> parse_options(MpiComm& world, int argc, const char* const* argv) {
  ParsedArgs parsed;
  collective_phase(world, [&] {
    parsed = parse_train_args(argc, argv);
    if (parsed.help) return;
    validate(parsed.config);
    const auto& pc = parsed.config;
    if (pc.check_only) return;  // no side effects: the output folder is not created
    // An existing checkpoint means "resume" unless --overwrite starts afresh.
    if (world.rank() == 0) check_output_path(pc.output, pc.overwrite, checkpoint_exists(pc.output));
  });
  if (parsed.help) {
    if (world.rank() == 0) std::printf("%s", parsed.help_text.c_str());
    return std::nullopt;
  }
  if (parsed.config.check_only) {
    if (world.rank() == 0) std::printf("options ok\n");
    return std::nullopt;
  }
  return parsed.config;
}

Devices open_devices(MpiComm& world, const Config& c) {
  Devices d;
  d.rank = open_device(world, c.device, c.gpu_timeout);
  d.device = d.rank.choice.device;
  d.threads = configure_threads(c, node_local_size(world.get()));
  const int P = world.size();
  spdlog::info("stiffness {} ({}), {} rank{}, {} thread{} per rank, LibTorch {}", STIFFNESS_VERSION,
               STIFFNESS_GIT_HASH, P, P > 1 ? "s" : "", d.threads, d.threads > 1 ? "s" : "", TORCH_VERSION);
  spdlog::info("BLAS: {}; {}", blas_in_use(), openblas_kernels_note());
  for (const auto& line : d.rank.per_rank) spdlog::info("device: {}", line);
  spdlog::info("communication: {}; precision: {}",
               d.device.is_cuda() ? "NCCL (" + gpu_backend_note() + ") for gradients and Gram blocks on a ring, "
                                    "MPI for host values"
                                  : std::string("MPI (gradients all-reduced, Gram blocks on a ring)"),
               d.rank.precision);
  return d;
}

Data load_data(Communicator& comm, Config& c, torch::Device device) {
  Data d;
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
    d.train_set = std::move(sets.train);
    d.val_set = std::move(sets.val);
    c.num_classes = d.train_set.num_classes;  // resolves 0 = from the data
    // The recorded dataset name follows the format unless given.
    if (c.data_format != DataFormat::idx && c.dataset == "fashion-mnist") c.dataset = to_string(c.data_format);
    d.train = to_tensors(d.train_set, dtype_of(c), c.train_limit, device);
    d.val = to_tensors(d.val_set, dtype_of(c), c.val_limit, device);
    d.sample = make_sample(c, d.train_set, d.val_set, d.train.size(), d.val.size(), dtype_of(c));
    move_to(d.sample, device);
    // The pixels now live in the tensors (and the sample): free the read
    // copies (314 MB for 100000 examples of 28 x 28).
    std::vector<float>().swap(d.train_set.pixels);
    std::vector<float>().swap(d.val_set.pixels);
    STIFF_CHECK(d.train.size() >= c.batch_size,
                "--batch-size: " + std::to_string(c.batch_size) + " is larger than the training set (" +
                    std::to_string(d.train.size()) + " examples)");
  });
  spdlog::info("data: {} {} ({} train, {} validation examples, {}x{}x{}, {} classes{}); sample N = {} ({} + {} per class)",
               to_string(c.data_format), c.data_dir, d.train.size(), d.val.size(), d.train_set.channels,
               d.train_set.height, d.train_set.width, c.num_classes,
               d.train_set.num_coarse ? fmt::format(" in {} super-classes", d.train_set.num_coarse) : "",
               d.sample.size(), c.per_class, c.val_per_class);
  return d;
}

Network build_net(Communicator& comm, const Config& c, const Data& data, torch::Device device) {
  Network m;
  // Replicas start identical: same seed everywhere, then rank 0's values.
  torch::manual_seed(c.seed);
  // Built on the CPU from the seed, then moved: the same initial model on any device.
  m.net = build_model(c, data.train_set.channels, data.train_set.height, data.train_set.width, c.num_classes);
  m.net->to(device);
  broadcast_parameters(m.net, comm);
  m.description = describe_model(m.net, c, data.train_set.example_size());
  m.num_params = m.net->num_params();
  spdlog::info("model: {}", m.description);
  m.plan = plan_gradients(m.net, data.sample.x[0], data.sample.size(), c.grad_method);
  spdlog::info("per-example gradients: {}", m.plan.summary());
  return m;
}

MeasurePlan plan_measurements(MpiComm& world, Communicator& comm, const Config& c, int64_t n_examples) {
  MeasurePlan plan;
  const int local = node_local_size(world.get());
  std::string memory_from;
  const double node_mb = node_memory_mb(&memory_from);
  // The smallest over ranks, as a max of negatives.
  double panel = -(c.panel_mb > 0 ? c.panel_mb : default_panel_mb(node_mb, local));
  comm.allreduce_max(&panel, 1, DType::f64);
  plan.panel_mb = -panel;
  spdlog::info("panels: {} MB of K per rank at a time ({})", plan.panel_mb,
               c.panel_mb > 0 ? std::string("--panel-mb")
                              : fmt::format("default: 1/8 of {:.0f} MB ({}) over {} rank{} on the node, in [64, 256]",
                                            node_mb, memory_from, local, local > 1 ? "s" : ""));
  // The disk's rate sets K's write rate in context; measuring it costs a
  // 256 MB write, worth it only when some stored K is at least as large.
  const double k_bytes = static_cast<double>(n_examples) * static_cast<double>(n_examples) *
                         static_cast<double>(dtype_size(element_type(c.k_dtype)));
  if (c.store_k.kind != StoreK::Kind::none && k_bytes >= 256.0 * (1 << 20)) {
    collective_phase(comm, [&] {
      if (world.rank() == 0) plan.disk_gbps = sequential_write_gbps(c.output + ".disk-rate", int64_t{256} << 20);
    });
    comm.broadcast(&plan.disk_gbps, 1, DType::f64, 0);
    spdlog::info("output disk: {:.3f} GB/s sequential write (256 MB with fsync, next to {})", plan.disk_gbps,
                 c.output);
  }
  return plan;
}

RunInfo describe_run(Communicator& comm, const Config& c, const Data& data, const Network& model, int threads) {
  RunInfo info;
  info.version = STIFFNESS_VERSION;
  info.git_hash = STIFFNESS_GIT_HASH;
  info.torch_version = TORCH_VERSION;
  // Collective attribute writes need the same value on every rank: rank 0's.
  info.blas = broadcast_string(comm, blas_in_use() + "; " + openblas_kernels_note());
  info.hostname = broadcast_string(comm, host_name());
  info.created = broadcast_string(comm, utc_now());
  info.model = model.description;
  info.grad_plan = model.plan.summary();
  info.dataset = c.dataset;
  info.data_source = data.train_set.source + "; " + data.val_set.source;
  info.config_ini = to_ini(c);
  info.config_file = c.config_file;
  info.command_line = join_args(c.command_line);
  info.ranks = comm.size();
  info.threads_per_rank = threads;
  info.num_classes = c.num_classes;
  info.n_examples = data.sample.size();
  info.num_params = model.num_params;
  info.k_dtype = to_string(c.k_dtype);
  info.store_k = to_string(c.store_k);
  return info;
}

}  // namespace stiffness
