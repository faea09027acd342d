// A phase of the job that every rank runs: if it throws on any rank, the
// lowest failing rank prints its one-line message and every rank throws
// ReportedError, so no rank is left waiting in a collective.
#pragma once

#include <cstdio>
#include <exception>
#include <string>

#include "stiffness/runtime/comm.hpp"

namespace stiffness {

// Thrown after an error has been reported (once) on every rank; main exits 1.
struct ReportedError {
  int code = 1;
};

template <class Fn>
void collective_phase(Communicator& comm, Fn&& fn) {
  std::string err;
  try {
    fn();
  } catch (const std::exception& e) {
    err = e.what();
    if (err.empty()) err = "unknown error";
  }
  // Lowest failing rank: max over ranks of (P - 1 - rank) for failures.
  int64_t key = err.empty() ? -1 : comm.size() - 1 - comm.rank();
  comm.allreduce_max(&key, 1, DType::i64);
  if (key < 0) return;
  if (comm.size() - 1 - comm.rank() == key) std::fprintf(stderr, "stiffness: error: %s\n", err.c_str());
  throw ReportedError{1};
}

}  // namespace stiffness
