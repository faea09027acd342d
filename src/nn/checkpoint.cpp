#include "stiffness/nn/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "stiffness/runtime/error.hpp"
#include "stiffness/nn/train.hpp"

namespace fs = std::filesystem;

namespace stiffness {

namespace {

volatile std::sig_atomic_t g_preempt = 0;

extern "C" void on_preempt(int) { g_preempt = 1; }

const char* kAfresh = "pass --overwrite to start afresh (this discards it and the run's .partial file)";

// Flushes a file's (or folder's) data to disk, so that the rename that
// commits a checkpoint never reaches the disk before the data it names
// (a node failure loses the page cache).
void sync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  STIFF_CHECK(fd >= 0, "cannot open '" + p.string() + "' to sync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  STIFF_CHECK(rc == 0, "cannot sync '" + p.string() + "' to disk");
}

// The folder of the committed checkpoint: named by `current`, or the legacy
// layout (state.txt directly inside). Empty when none was committed.
fs::path current_generation(const fs::path& dir) {
  std::error_code ec;
  std::ifstream f(dir / "current");
  if (f.good()) {
    std::string name;
    std::getline(f, name);
    return name.empty() ? fs::path() : dir / name;
  }
  if (fs::exists(dir / "state.txt", ec)) return dir;
  return {};
}

// First line of a (possibly multi-line) library message.
std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::map<std::string, std::string> ini_lines(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return kv;
}

}  // namespace

void install_preemption_handlers() {
  std::signal(SIGUSR1, on_preempt);
  std::signal(SIGTERM, on_preempt);
}

CheckpointRequest checkpoint_request(Communicator& comm, bool periodic_due) {
  int64_t flag = g_preempt ? 2 : periodic_due ? 1 : 0;
  comm.allreduce_max(&flag, 1, DType::i64);
  return static_cast<CheckpointRequest>(flag);
}

std::string checkpoint_dir(const std::string& output) { return output + ".ckpt"; }

bool checkpoint_exists(const std::string& output) {
  std::error_code ec;
  const fs::path dir = checkpoint_dir(output);
  return fs::exists(dir / "current", ec) || fs::exists(dir / "state.txt", ec);
}

std::string options_difference(const std::string& saved, const std::string& now) {
  const auto a = ini_lines(saved), b = ini_lines(now);
  for (const auto& [k, v] : b) {
    auto it = a.find(k);
    const std::string old = it == a.end() ? "(absent)" : it->second;
    if (old != v) return k + " (checkpoint: " + old + ", this run: " + v + ")";
  }
  for (const auto& [k, v] : a)
    if (!b.count(k)) return k + " (checkpoint: " + v + ", this run: (absent))";
  return "";
}

void save_checkpoint(Communicator& comm, const std::string& output, const CheckpointState& st,
                     Net& net, Trainer& trainer) {
  std::string err;
  if (comm.rank() == 0) {
    try {
      const fs::path dir = checkpoint_dir(output);
      fs::create_directories(dir);
      // The next generation's number: one past the committed one.
      const fs::path cur = current_generation(dir);
      int64_t gen = 1;
      if (!cur.empty() && cur != dir) gen = std::stoll(cur.filename().string().substr(1)) + 1;
      const fs::path tmp = dir / ("g" + std::to_string(gen));
      std::error_code ec;
      fs::remove_all(tmp, ec);  // left by a crash during an earlier save
      fs::create_directories(tmp);
      torch::serialize::OutputArchive model;
      net->save(model);
      model.save_to((tmp / "model.pt").string());
      trainer.save((tmp / "optimizer.pt").string());
      {
        std::ofstream f(tmp / "state.txt");
        f << "step " << st.step << "\nmeasurements " << st.measurements << "\nranks " << st.ranks
          << "\n--- options\n"
          << st.options << "--- end\n";
        f.close();
        STIFF_CHECK(f.good(), "cannot write checkpoint '" + (tmp / "state.txt").string() + "'");
      }
      for (const char* name : {"model.pt", "optimizer.pt", "state.txt"}) sync_path(tmp / name);
      sync_path(tmp);
      {
        std::ofstream f(dir / "current.new");
        f << tmp.filename().string() << "\n";
        f.close();
        STIFF_CHECK(f.good(), "cannot write '" + (dir / "current.new").string() + "'");
      }
      sync_path(dir / "current.new");
      fs::rename(dir / "current.new", dir / "current");  // the commit
      sync_path(dir);
      // Older generations (and the legacy layout's files) are no longer needed.
      for (const auto& e : fs::directory_iterator(dir)) {
        const std::string name = e.path().filename().string();
        if (e.path() != tmp && name != "current") fs::remove_all(e.path(), ec);
      }
    } catch (const std::exception& e) {
      err = first_line(e.what());
    }
  }
  STIFF_CHECK(comm.all_ok(err.empty()), "saving the checkpoint failed: " + err);
}

CheckpointState load_checkpoint(const std::string& output, const std::string& options, Net& net,
                                Trainer& trainer) {
  const fs::path dir = checkpoint_dir(output);
  const fs::path gen = current_generation(dir);
  const std::string damaged = "checkpoint '" + dir.string() + "' is damaged or truncated";
  STIFF_CHECK(!gen.empty(), damaged + " (" + (dir / "current").string() + " is empty); " + kAfresh);
  std::ifstream f(gen / "state.txt");
  STIFF_CHECK(f.good(), damaged + " (cannot read " + (gen / "state.txt").string() + "); " + kAfresh);
  CheckpointState st;
  std::string k1, k2, k3, line;
  f >> k1 >> st.step >> k2 >> st.measurements >> k3 >> st.ranks;
  std::getline(f, line);
  std::getline(f, line);
  const bool header_ok = f.good() && k1 == "step" && k2 == "measurements" && k3 == "ranks" &&
                         line == "--- options" && st.step >= 0 && st.measurements >= 0;
  STIFF_CHECK(header_ok, damaged + " (" + (gen / "state.txt").string() + " is malformed); " + kAfresh);
  std::ostringstream rest;
  rest << f.rdbuf();
  st.options = rest.str();
  const std::string end = "--- end\n";
  const bool legacy = gen == dir;  // written before the end marker existed
  if (!legacy) {
    STIFF_CHECK(st.options.size() >= end.size() &&
                    st.options.compare(st.options.size() - end.size(), end.size(), end) == 0,
                damaged + " (" + (gen / "state.txt").string() + " ends early); " + kAfresh);
    st.options.resize(st.options.size() - end.size());
  }
  const std::string diff = options_difference(st.options, options);
  STIFF_CHECK(diff.empty(), "checkpoint '" + dir.string() + "' was made with other options: " + diff +
                                "; rerun with the same options, or " + kAfresh);
  try {
    torch::serialize::InputArchive model;
    // Straight onto the device the model lives on (a GPU rank's).
    model.load_from((gen / "model.pt").string(), net->parameters().front().device());
    net->load(model);
  } catch (const std::exception& e) {
    STIFF_THROW(damaged + " (" + (gen / "model.pt").string() + ": " + first_line(e.what()) + "); " +
                kAfresh);
  }
  try {
    trainer.load((gen / "optimizer.pt").string(), st.step);
  } catch (const std::exception& e) {
    STIFF_THROW(damaged + " (" + (gen / "optimizer.pt").string() + ": " + first_line(e.what()) + "); " +
                kAfresh);
  }
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
