// Facts about the run's environment, for logs and the output file; those
// about the BLAS are in stiffness/runtime/blas.hpp.
#pragma once

#include <string>

namespace stiffness {

std::string host_name();
// This process's high-water mark of resident memory (getrusage), in MiB.
double peak_rss_mb();
// The memory this process may use on its node, in MB: the smallest of the
// physical memory, the cgroup limit (a Slurm job's --mem) and
// SLURM_MEM_PER_NODE. `why` says which one it was.
double node_memory_mb(std::string* why = nullptr);
std::string utc_now();  // ISO 8601

}  // namespace stiffness
