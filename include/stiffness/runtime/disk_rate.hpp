// The sequential write rate of the disk the output goes to, measured once
// at start, so that the log can set K's write rate beside it.
#pragma once

#include <cstdint>
#include <string>

namespace stiffness {

// Writes `bytes` (in 8 MB pieces) to `path`, fsyncs, removes it; returns
// GB/s including the fsync. Throws with the path when the file cannot be
// written (a full disk, a missing folder).
double sequential_write_gbps(const std::string& path, int64_t bytes);

}  // namespace stiffness
