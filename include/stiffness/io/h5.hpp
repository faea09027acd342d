// A thin RAII layer over the parallel HDF5 C API (Debian's HDF5 C++ API does
// not wrap MPI-IO, and HighFive/h5cpp are not packaged). Every handle closes
// itself; every failing call throws stiffness::Error with file and line.
//
// Collective rules (parallel HDF5): creating files, groups, datasets and
// attributes, and writing attributes, are collective: EVERY rank calls them
// with the same arguments. Dataset writes here are collective transfers
// (H5FD_MPIO_COLLECTIVE); a rank with nothing to write selects none.
//
// Files are opened with collective metadata reads, so even reading (opening
// groups/datasets, reading attributes, exists, list, read_*) must be done by
// every rank of the file's communicator together. To read on one rank only,
// open the file on that rank with MPI_COMM_SELF.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "stiffness/runtime/comm.hpp"

namespace stiffness::h5 {

// Owns one hid_t and closes it with the matching H5?close on destruction.
// Move-only; a moved-from handle is invalid (-1) and closes nothing.
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id);  // takes ownership; throws if id < 0
  ~Handle();
  Handle(Handle&& o) noexcept;
  Handle& operator=(Handle&& o) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  hid_t id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void close();  // explicit close that throws on failure

 private:
  hid_t id_ = -1;
};

// A file opened on every rank of `comm` through the MPI-IO driver, with
// collective metadata reads and writes.
class File {
 public:
  File() = default;  // no file; assign from create/open_*
  // Creates (truncating) `path`. Collective. Throws with the path on failure.
  static File create(const std::string& path, MPI_Comm comm);
  // Opens an existing file read-only. Collective over `comm`.
  static File open_read(const std::string& path, MPI_Comm comm);
  // Opens an existing file read-write. Collective over `comm`.
  static File open_rw(const std::string& path, MPI_Comm comm);
  hid_t id() const { return h_.id(); }
  MPI_Comm comm() const { return comm_; }
  void flush();  // collective
  // Collective; throws on failure. The MPI-IO driver refuses to close a file
  // while its groups/datasets/attributes are still open: close those first.
  void close();

 private:
  File(Handle h, MPI_Comm comm) : h_(std::move(h)), comm_(comm) {}
  static File open(const std::string& path, MPI_Comm comm, unsigned flags, const char* what);
  Handle h_;
  MPI_Comm comm_ = MPI_COMM_NULL;
};

// Group creation / opening (collective for creation).
Handle create_group(hid_t loc, const std::string& name);
Handle open_group(hid_t loc, const std::string& name);
bool exists(hid_t loc, const std::string& name);  // link exists (paths with '/' allowed)

// Scalar / string / 1-D attributes. Writing is collective: all ranks, same value.
void write_attr(hid_t loc, const std::string& name, int64_t v);
void write_attr(hid_t loc, const std::string& name, double v);
void write_attr(hid_t loc, const std::string& name, const std::string& v);
void write_attr(hid_t loc, const std::string& name, const std::vector<double>& v);
void write_attr(hid_t loc, const std::string& name, const std::vector<int64_t>& v);
int64_t read_attr_i64(hid_t loc, const std::string& name);
double read_attr_f64(hid_t loc, const std::string& name);
std::vector<int64_t> read_attr_i64s(hid_t loc, const std::string& name);  // 1-D attributes
std::vector<double> read_attr_f64s(hid_t loc, const std::string& name);
std::string read_attr_str(hid_t loc, const std::string& name);
bool attr_exists(hid_t loc, const std::string& name);

// A whole (small) dataset whose contents one rank holds. Collective: every
// rank calls it; only `writer` rank's `data` is read (others may pass nullptr).
// Element type from `t`; `dims` is the shape (row-major).
void write_dataset(const File& f, hid_t loc, const std::string& name,
                   const std::vector<hsize_t>& dims, const void* data, DType t, int writer = 0);

// One dense row-major 2-D block of a 2-D dataset.
struct Block2D {
  hsize_t row0 = 0, col0 = 0, rows = 0, cols = 0;
  const void* data = nullptr;  // rows*cols elements, row-major
};

// A large 2-D dataset that all ranks fill with blocks (the N x N matrix).
class Matrix {
 public:
  // Collective creation of a rows x cols dataset of type `t`: contiguous,
  // or in `chunk` x `chunk` chunks when chunk > 0.
  static Matrix create(const File& f, hid_t loc, const std::string& name, hsize_t rows,
                       hsize_t cols, DType t, hsize_t chunk = 0);
  // Collective: each rank passes its own blocks (any number, possibly none).
  // Internally every rank takes part in the same number of collective
  // H5Dwrite calls (the maximum block count over ranks), selecting none when
  // it has no block left. Throws if a transfer was not collective.
  void write_blocks(const std::vector<Block2D>& blocks);
  // Why the last write was not collective (H5Pget_mpio_no_collective_cause),
  // 0 when it was. For tests.
  uint32_t last_no_collective_cause() const { return last_cause_; }

 private:
  void write_slot(const Block2D* b, hid_t dxpl);
  Handle ds_;
  MPI_Comm comm_ = MPI_COMM_NULL;
  DType t_ = DType::f64;
  hsize_t rows_ = 0, cols_ = 0;
  uint32_t last_cause_ = 0;
};

// Whole-dataset reads (independent data transfer, collective metadata: see
// the top of this file) for post-processing and tests; `dims` gets the shape.
std::vector<double> read_f64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::vector<float> read_f32(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
std::vector<int64_t> read_i64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims = nullptr);
// Names of the members of a group, in name order.
std::vector<std::string> list(hid_t loc);

}  // namespace stiffness::h5
