#include "stiffness/runtime/disk_rate.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <vector>

#include "stiffness/runtime/error.hpp"

namespace stiffness {

double sequential_write_gbps(const std::string& path, int64_t bytes) {
  STIFF_CHECK(bytes > 0, "disk rate: nothing to write");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  STIFF_CHECK(fd >= 0, "disk rate: cannot create '" + path + "': " + std::strerror(errno));
  // Non-zero bytes, so that no file system can store the file sparse.
  std::vector<char> piece(size_t{8} << 20, 'k');
  const auto t0 = std::chrono::steady_clock::now();
  int64_t left = bytes;
  std::string failure;
  while (left > 0 && failure.empty()) {
    const auto n = static_cast<size_t>(std::min<int64_t>(left, static_cast<int64_t>(piece.size())));
    const ssize_t w = ::write(fd, piece.data(), n);
    if (w <= 0)
      failure = std::strerror(errno);
    else
      left -= w;
  }
  if (failure.empty() && ::fsync(fd) != 0) failure = std::strerror(errno);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ::close(fd);
  ::unlink(path.c_str());
  STIFF_CHECK(failure.empty(), "disk rate: cannot write '" + path + "': " + failure);
  return static_cast<double>(bytes) / std::max(seconds, 1e-9) / 1e9;
}

}  // namespace stiffness
