#include "stiffness/nn/checkpoint.hpp"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "stiffness/error.hpp"
#include "stiffness/nn/train.hpp"

namespace fs = std::filesystem;

namespace stiffness {

namespace {

volatile std::sig_atomic_t g_preempt = 0;

extern "C" void on_preempt(int) { g_preempt = 1; }

}  // namespace

void install_preemption_handlers() {
  std::signal(SIGUSR1, on_preempt);
  std::signal(SIGTERM, on_preempt);
}

bool preemption_requested(Communicator& comm) {
  int64_t flag = g_preempt ? 1 : 0;
  comm.allreduce_max(&flag, 1, DType::i64);
  return flag != 0;
}

std::string checkpoint_dir(const std::string& output) { return output + ".ckpt"; }

bool checkpoint_exists(const std::string& output) {
  std::error_code ec;
  return fs::exists(fs::path(checkpoint_dir(output)) / "state.txt", ec);
}

void save_checkpoint(Communicator& comm, const std::string& output, const CheckpointState& st,
                     Net& net, Trainer& trainer) {
  std::string err;
  if (comm.rank() == 0) {
    try {
      const fs::path dir = checkpoint_dir(output), tmp = dir.string() + ".tmp";
      std::error_code ec;
      fs::remove_all(tmp, ec);
      fs::create_directories(tmp);
      torch::serialize::OutputArchive model;
      net->save(model);
      model.save_to((tmp / "model.pt").string());
      trainer.save((tmp / "optimizer.pt").string());
      std::ofstream f(tmp / "state.txt");
      f << "step " << st.step << "\nmeasurements " << st.measurements << "\nranks " << st.ranks
        << "\n--- options\n"
        << st.options;
      f.close();
      STIFF_CHECK(f.good(), "cannot write checkpoint '" + (tmp / "state.txt").string() + "'");
      fs::remove_all(dir, ec);
      fs::rename(tmp, dir);
    } catch (const std::exception& e) {
      err = e.what();
    }
  }
  STIFF_CHECK(comm.all_ok(err.empty()), "saving the checkpoint failed: " + err);
}

CheckpointState load_checkpoint(const std::string& output, Net& net, Trainer& trainer) {
  const fs::path dir = checkpoint_dir(output);
  std::ifstream f(dir / "state.txt");
  STIFF_CHECK(f.good(), "cannot read checkpoint '" + (dir / "state.txt").string() + "'");
  CheckpointState st;
  std::string key, line;
  f >> key >> st.step >> key >> st.measurements >> key >> st.ranks;
  std::getline(f, line);
  std::getline(f, line);
  STIFF_CHECK(f.good() && line == "--- options",
              "checkpoint '" + (dir / "state.txt").string() + "' is malformed");
  std::ostringstream rest;
  rest << f.rdbuf();
  st.options = rest.str();
  torch::serialize::InputArchive model;
  // Straight onto the device the model lives on (a GPU rank's).
  model.load_from((dir / "model.pt").string(), net->parameters().front().device());
  net->load(model);
  trainer.load((dir / "optimizer.pt").string(), st.step);
  return st;
}

void remove_checkpoint(Communicator& comm, const std::string& output) {
  comm.barrier();
  if (comm.rank() == 0) {
    std::error_code ec;
    fs::remove_all(checkpoint_dir(output), ec);
  }
}

}  // namespace stiffness
