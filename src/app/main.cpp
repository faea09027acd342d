// Thin entry point: `stiffness <command> [options]`.
//   train      the main job (src/app/train.cpp, phases in src/app/phases.cpp)
//   aggregate  many runs' files -> one CSV and figures (src/app/aggregate.cpp)
//   summary    a run file's measurements as a table (src/app/summary.cpp)
// Errors reported on every rank end the run with exit code 1; an unexpected
// error after setup aborts all ranks so that none is left hanging.
#include <cstdio>
#include <cstring>
#include <string>

#include "stiffness/app/aggregate.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/runtime/mpi_comm.hpp"
#include "stiffness/app/train.hpp"
#include "stiffness/runtime/collective_phase.hpp"
#include "stiffness/runtime/blas.hpp"
#include "stiffness/app/summary.hpp"

namespace {

const char* kUsage =
    "usage: stiffness <command> [options]\n"
    "commands:\n"
    "  train --config FILE [options]   train data-parallel and measure stiffness (--help lists options)\n"
    "  aggregate [options] RUNS...     collect run files into one CSV and figures (--help lists options)\n"
    "  summary [options] RUN.h5...     print a run's measurements as a table, or CSV / JSON lines\n";

}  // namespace

int main(int argc, char** argv) {
  // Before MPI starts: may re-execute this program once with faster BLAS kernels.
  stiffness::ensure_openblas_kernels(argv);
  stiffness::MpiSession mpi(&argc, &argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    if (rank == 0) std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    stiffness::MpiComm world(MPI_COMM_WORLD);
    if (cmd == "train") return stiffness::run_train(world, argc - 1, argv + 1);
    if (cmd == "aggregate") return stiffness::run_aggregate(world, argc - 1, argv + 1);
    if (cmd == "summary") return stiffness::run_summary(world, argc - 1, argv + 1);
    if (rank == 0) std::fprintf(stderr, "stiffness: error: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const stiffness::ReportedError& e) {
    return e.code;
  } catch (const stiffness::Error& e) {
    std::fprintf(stderr, "stiffness: error (rank %d): %s [%s:%d]\n", rank, e.what(), e.file(), e.line());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stiffness: error (rank %d): %s\n", rank, e.what());
  }
  // An error on some ranks only: the others may be inside a collective.
  MPI_Abort(MPI_COMM_WORLD, 1);
  return 1;
}
