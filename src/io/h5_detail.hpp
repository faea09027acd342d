// Helpers shared by the HDF5 layer's two files (h5.cpp: handles, files,
// groups, attributes; h5_data.cpp: datasets and the N x N matrix). Internal.
#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "stiffness/runtime/error.hpp"
#include "stiffness/io/h5.hpp"

namespace stiffness::h5::detail {

// HDF5 keeps an error stack per thread; each API call clears it on entry, so
// the reason must be read right after the failing call. Returns the innermost
// (most specific) description, e.g. the MPI-IO error of a failed open, on one
// line, then clears the stack.
inline std::string h5_reason() {
  std::string why;
  auto take_first = [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
    auto* s = static_cast<std::string*>(out);
    if (n == 0 && e->desc) *s = e->desc;
    return 0;
  };
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, take_first, &why);
  H5Eclear2(H5E_DEFAULT);
  std::replace(why.begin(), why.end(), '\n', ' ');
  return why.empty() ? std::string() : " (" + why + ")";
}

// Throws with `msg` plus HDF5's reason when `ok` is false. A macro so that the
// reason is read before `msg` is evaluated (describe() calls HDF5 itself) and
// so that the error carries the caller's file and line.
#define H5_CHECK(ok, msg)                      \
  do {                                         \
    if (!(ok)) {                               \
      std::string why_ = h5_reason();          \
      STIFF_THROW(std::string(msg) + why_);    \
    }                                          \
  } while (0)

// The text of an H5?get_name-style call (size query, then fill), "" on error.
template <class Get>
inline std::string get_name(Get get) {
  ssize_t n = get(nullptr, 0);
  if (n <= 0) return "";
  std::string s(static_cast<size_t>(n) + 1, '\0');
  get(s.data(), s.size());
  s.resize(static_cast<size_t>(n));
  return s;
}

// The path of the file that object `id` lives in.
inline std::string file_name(hid_t id) {
  std::string f = get_name([&](char* b, size_t n) { return H5Fget_name(id, b, n); });
  H5Eclear2(H5E_DEFAULT);
  return f.empty() ? "?" : f;
}

// "file.h5:/group/name" for messages, from any object id in the file.
inline std::string describe(hid_t loc, const std::string& name) {
  std::string path = get_name([&](char* b, size_t n) { return H5Iget_name(loc, b, n); });
  H5Eclear2(H5E_DEFAULT);
  if (!path.empty() && path.back() != '/') path += '/';
  return file_name(loc) + ":" + path + name;
}

inline hid_t mem_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u8: return H5T_NATIVE_UINT8;
  }
  STIFF_THROW("h5: unknown dtype");
}

inline Handle plist(hid_t cls) { return Handle(H5Pcreate(cls)); }

// Users should see our one-line error, not HDF5's stack dump on stderr.
inline void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

inline Handle file_access(MPI_Comm comm) {
  Handle fapl = plist(H5P_FILE_ACCESS);
  STIFF_CHECK(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL) >= 0, "h5: H5Pset_fapl_mpio failed");
  // Metadata is read by one rank and broadcast, and written collectively:
  // avoids N ranks hammering the file system for the same small reads.
  STIFF_CHECK(H5Pset_all_coll_metadata_ops(fapl.id(), true) >= 0, "h5: H5Pset_all_coll_metadata_ops failed");
  STIFF_CHECK(H5Pset_coll_metadata_write(fapl.id(), true) >= 0, "h5: H5Pset_coll_metadata_write failed");
  // Objects of 1 MiB and more (K, the sample's inputs) start on a 1 MiB
  // boundary: a parallel file system's stripe (Lustre's default), so that a
  // row panel's runs of K do not straddle stripes owned by other writers.
  STIFF_CHECK(H5Pset_alignment(fapl.id(), hsize_t{1} << 20, hsize_t{1} << 20) >= 0, "h5: H5Pset_alignment failed");
  return fapl;
}

inline Handle collective_dxpl() {
  Handle dxpl = plist(H5P_DATASET_XFER);
  STIFF_CHECK(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE) >= 0, "h5: H5Pset_dxpl_mpio failed");
  return dxpl;
}

// A whole-dataset selection of `space` on the rank that has data, an empty one
// elsewhere: every rank joins the collective write, only one moves bytes.
inline void select_mine(hid_t space, bool mine) {
  herr_t rc = mine ? H5Sselect_all(space) : H5Sselect_none(space);
  STIFF_CHECK(rc >= 0, "h5: dataspace selection failed");
}

// Every rank learns whether any rank failed a local check, so that all of
// them throw together instead of some waiting forever in a collective call.
inline bool all_agree(MPI_Comm comm, bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, comm);
  return all == 1;
}

inline int comm_rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

inline int comm_size(MPI_Comm comm) {
  int s = 0;
  MPI_Comm_size(comm, &s);
  return s;
}

inline hsize_t element_count(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  return n;
}

inline Handle make_space(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return Handle(H5Screate(H5S_SCALAR));
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

// ---- attributes ----

// Replaces any attribute of the same name, so writers may update a value.
inline void put_attr(hid_t loc, const std::string& name, hid_t type, hid_t space, const void* data) {
  if (attr_exists(loc, name)) {
    H5_CHECK(H5Adelete(loc, name.c_str()) >= 0, "h5: cannot replace attribute " + describe(loc, name));
  }
  hid_t id = H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: cannot create attribute " + describe(loc, name));
  Handle a(id);
  H5_CHECK(H5Awrite(a.id(), type, data) >= 0, "h5: cannot write attribute " + describe(loc, name));
}

template <class T>
inline void put_vector_attr(hid_t loc, const std::string& name, hid_t type, const std::vector<T>& v) {
  Handle space = make_space({v.size()});
  // An empty vector may have data() == nullptr, which H5Awrite rejects.
  const T dummy{};
  put_attr(loc, name, type, space.id(), v.empty() ? &dummy : v.data());
}

inline Handle open_attr(hid_t loc, const std::string& name) {
  hid_t id = H5Aopen(loc, name.c_str(), H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: no attribute " + describe(loc, name));
  return Handle(id);
}

inline hssize_t attr_points(hid_t attr) {
  Handle space(H5Aget_space(attr));
  return H5Sget_simple_extent_npoints(space.id());
}

template <class T>
inline T get_scalar_attr(hid_t loc, const std::string& name, hid_t type) {
  Handle a = open_attr(loc, name);
  STIFF_CHECK(attr_points(a.id()) == 1, "h5: attribute " + describe(loc, name) + " is not a scalar");
  T v{};
  H5_CHECK(H5Aread(a.id(), type, &v) >= 0, "h5: cannot read attribute " + describe(loc, name) + " as a number");
  return v;
}

template <class T>
inline std::vector<T> get_vector_attr(hid_t loc, const std::string& name, hid_t type) {
  Handle a = open_attr(loc, name);
  std::vector<T> v(static_cast<size_t>(attr_points(a.id())));
  if (v.empty()) return v;
  H5_CHECK(H5Aread(a.id(), type, v.data()) >= 0, "h5: cannot read attribute " + describe(loc, name) + " as numbers");
  return v;
}

// ---- datasets ----

inline Handle open_dataset(hid_t loc, const std::string& name) {
  hid_t id = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: no dataset " + describe(loc, name));
  return Handle(id);
}

inline Handle create_dataset(hid_t loc, const std::string& name, hid_t type, hid_t space, hid_t dcpl) {
  hid_t id = H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: cannot create dataset " + describe(loc, name));
  return Handle(id);
}

template <class T>
inline std::vector<T> read_all(hid_t loc, const std::string& name, hid_t type, std::vector<hsize_t>* dims) {
  Handle ds = open_dataset(loc, name);
  Handle space(H5Dget_space(ds.id()));
  int rank = H5Sget_simple_extent_ndims(space.id());
  STIFF_CHECK(rank >= 0, "h5: cannot read the shape of " + describe(loc, name));
  std::vector<hsize_t> shape(static_cast<size_t>(rank));
  H5Sget_simple_extent_dims(space.id(), shape.data(), nullptr);
  if (dims) *dims = shape;
  std::vector<T> out(static_cast<size_t>(element_count(shape)));
  if (out.empty()) return out;
  // Independent transfer (the default dxpl): readers need not be collective.
  H5_CHECK(H5Dread(ds.id(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) >= 0,
           "h5: cannot read dataset " + describe(loc, name));
  return out;
}

// Whether block `b` lies inside a rows x cols matrix and has data if non-empty.
inline bool block_ok(const Block2D& b, hsize_t rows, hsize_t cols) {
  bool empty = b.rows == 0 || b.cols == 0;
  return b.row0 + b.rows <= rows && b.col0 + b.cols <= cols && (empty || b.data);
}

}  // namespace stiffness::h5::detail
