#include "stiffness/app/train.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <memory>

#include "stiffness/analysis/schedule.hpp"
#include "stiffness/app/phases.hpp"
#include "stiffness/nn/checkpoint.hpp"
#include "stiffness/nn/measure.hpp"
#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/runtime/progress.hpp"

namespace stiffness {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The training length and the steps measured at, logged.
struct TrainingPlan {
  int64_t last = 0;                // the last optimiser step
  std::vector<int64_t> schedule;   // the steps measured at, ascending
};
TrainingPlan plan_training(const Config& c, int64_t train_size, int ranks) {
  TrainingPlan t;
  t.last = total_steps(c, train_size);
  const int64_t per_epoch = std::max<int64_t>(1, train_size / c.batch_size);
  t.schedule = measurement_steps(c.measure_steps, c.measure_log, t.last, c.measure_epochs ? per_epoch : 0);
  std::string sched;
  for (auto st : t.schedule) sched += (sched.empty() ? "" : ",") + std::to_string(st);
  spdlog::info("training: {} steps, global batch {} (shards of {} to {} per rank), {} lr {}; measuring at steps {}",
               t.last, c.batch_size, c.batch_size / ranks, (c.batch_size + ranks - 1) / ranks, to_string(c.optimizer), c.lr,
               sched);
  return t;
}

// The output file: a new one, or the .partial file and the checkpoint of a
// preempted run (the model and optimiser restored from it). Fails cleanly on
// an unwritable path or a checkpoint made with other options.
struct RunFile {
  std::unique_ptr<OutputFile> out;
  bool resumed = false;
};
RunFile open_run_file(MpiComm& world, Communicator& comm, const Config& c, const std::string& options, Net& net,
                      Trainer& trainer) {
  RunFile f;
  f.resumed = checkpoint_exists(c.output) && !c.overwrite;
  if (!f.resumed && c.overwrite && world.rank() == 0 && checkpoint_exists(c.output))
    spdlog::info("--overwrite: discarding the checkpoint in {}", checkpoint_dir(c.output));
  collective_phase(comm, [&] {
    if (!f.resumed) {
      if (c.overwrite && world.rank() == 0) std::filesystem::remove_all(checkpoint_dir(c.output));
      f.out = std::make_unique<OutputFile>(c.output, world.get(), comm);
      return;
    }
    const auto st = load_checkpoint(c.output, options, net, trainer);
    if (st.ranks != world.size())
      spdlog::warn("resuming a {}-rank run on {} ranks: results agree to rounding, not bit for bit", st.ranks,
                   world.size());
    f.out = std::make_unique<OutputFile>(c.output, world.get(), comm, OutputFile::Resume{st.measurements});
    spdlog::info("resuming from {} at step {} with {} finished measurements", checkpoint_dir(c.output), st.step,
                 st.measurements);
  });
  return f;
}

}  // namespace

int run_train(MpiComm& world, int argc, const char* const* argv) {
  const auto t_start = std::chrono::steady_clock::now();
  setup_logging(world.rank());

  // Options, devices, data, model: the phases every command shares.
  std::optional<Config> parsed = parse_options(world, argc, argv);
  if (!parsed) return 0;
  Config c = *parsed;
  Devices dev = open_devices(world, c);
  Communicator& comm = dev.comm(world);
  Data data = load_data(comm, c, dev.device);
  Network model = build_net(comm, c, data, dev.device);
  const int64_t N = data.sample.size();

  // Training: the schedule, the optimiser, the output file (new or resumed).
  const TrainingPlan training = plan_training(c, data.train.size(), world.size());
  Trainer trainer(model.net, c, comm, data.train);
  install_preemption_handlers();
  // The options that shape results: a checkpoint only resumes under these.
  const std::string options = to_ini(c, Affects::results);
  RunFile run = open_run_file(world, comm, c, options, model.net, trainer);
  OutputFile& out = *run.out;
  const MeasurePlan plan = plan_measurements(world, comm, c, N);
  const RunInfo info = describe_run(comm, c, data, model, dev.threads);
  if (!run.resumed) {
    out.write_run(info);
    out.write_sample(sample_arrays(data.sample));
  }

  // The loop: train, measure at the scheduled steps, checkpoint.
  Progress progress("step", training.last, c.progress_seconds);
  const int64_t first = trainer.steps_done();
  // The schedule's first measurements are in the file (a checkpoint taken
  // right after a measurement resumes at that step without repeating it).
  size_t next = static_cast<size_t>(out.measurements());
  auto last_checkpoint = std::chrono::steady_clock::now();
  const double period = 60 * c.checkpoint_minutes;
  auto checkpoint = [&](int64_t step) {
    save_checkpoint(comm, c.output, {step, out.measurements(), world.size(), options}, model.net, trainer);
    last_checkpoint = std::chrono::steady_clock::now();
  };
  for (int64_t step = first; step <= training.last; ++step) {
    // A safe point: every rank between two steps, the file flushed.
    const auto request = checkpoint_request(comm, period > 0 && seconds_since(last_checkpoint) >= period);
    if (request == CheckpointRequest::periodic) checkpoint(step);
    if (request == CheckpointRequest::preempt) {
      checkpoint(step);
      out.suspend();
      spdlog::info("preempted at step {}: checkpoint in {}, finished measurements in {}; "
                   "run again with the same options to resume (exit status {})",
                   step, checkpoint_dir(c.output), out.partial_path(), kExitPreempted);
      return kExitPreempted;
    }
    if (next < training.schedule.size() && training.schedule[next] == step) {
      MeasureContext ctx{comm,     model.net, model.plan, data.sample,
                         data.train, data.val, c,          training.schedule.back(),
                         plan.panel_mb, plan.disk_gbps};
      progress.pause(measure(ctx, step, trainer.epoch(), out).seconds);
      ++next;
      // Its K is in the file: a crash from here on loses no measurement.
      if (period > 0 && step < training.last) checkpoint(step);
    }
    if (step == training.last) break;
    const double loss = trainer.step();
    progress.update(step + 1, fmt::format("epoch {:.2f} | batch loss {:.4f}", trainer.epoch(), loss));
  }
  out.finish();
  remove_checkpoint(comm, c.output);
  spdlog::info("done in {:.1f} s: {} measurements of a {}x{} Gram matrix in {}", seconds_since(t_start),
               out.measurements(), N, N, c.output);
  return 0;
}

}  // namespace stiffness
