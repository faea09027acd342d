#include "stiffness/h5.hpp"

#include <algorithm>
#include <array>

#include "stiffness/error.hpp"

namespace stiffness::h5 {
namespace {

// HDF5 keeps an error stack per thread; each API call clears it on entry, so
// the reason must be read right after the failing call. Returns the innermost
// (most specific) description, e.g. the MPI-IO error of a failed open, on one
// line, then clears the stack.
std::string h5_reason() {
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
std::string get_name(Get get) {
  ssize_t n = get(nullptr, 0);
  if (n <= 0) return "";
  std::string s(static_cast<size_t>(n) + 1, '\0');
  get(s.data(), s.size());
  s.resize(static_cast<size_t>(n));
  return s;
}

// The path of the file that object `id` lives in.
std::string file_name(hid_t id) {
  std::string f = get_name([&](char* b, size_t n) { return H5Fget_name(id, b, n); });
  H5Eclear2(H5E_DEFAULT);
  return f.empty() ? "?" : f;
}

// "file.h5:/group/name" for messages, from any object id in the file.
std::string describe(hid_t loc, const std::string& name) {
  std::string path = get_name([&](char* b, size_t n) { return H5Iget_name(loc, b, n); });
  H5Eclear2(H5E_DEFAULT);
  if (!path.empty() && path.back() != '/') path += '/';
  return file_name(loc) + ":" + path + name;
}

hid_t mem_type(DType t) {
  switch (t) {
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u8: return H5T_NATIVE_UINT8;
  }
  STIFF_THROW("h5: unknown dtype");
}

Handle plist(hid_t cls) { return Handle(H5Pcreate(cls)); }

// Users should see our one-line error, not HDF5's stack dump on stderr.
void silence_hdf5() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Handle file_access(MPI_Comm comm) {
  Handle fapl = plist(H5P_FILE_ACCESS);
  STIFF_CHECK(H5Pset_fapl_mpio(fapl.id(), comm, MPI_INFO_NULL) >= 0, "h5: H5Pset_fapl_mpio failed");
  // Metadata is read by one rank and broadcast, and written collectively:
  // avoids N ranks hammering the file system for the same small reads.
  STIFF_CHECK(H5Pset_all_coll_metadata_ops(fapl.id(), true) >= 0, "h5: H5Pset_all_coll_metadata_ops failed");
  STIFF_CHECK(H5Pset_coll_metadata_write(fapl.id(), true) >= 0, "h5: H5Pset_coll_metadata_write failed");
  return fapl;
}

Handle collective_dxpl() {
  Handle dxpl = plist(H5P_DATASET_XFER);
  STIFF_CHECK(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE) >= 0, "h5: H5Pset_dxpl_mpio failed");
  return dxpl;
}

// A whole-dataset selection of `space` on the rank that has data, an empty one
// elsewhere: every rank joins the collective write, only one moves bytes.
void select_mine(hid_t space, bool mine) {
  herr_t rc = mine ? H5Sselect_all(space) : H5Sselect_none(space);
  STIFF_CHECK(rc >= 0, "h5: dataspace selection failed");
}

// Every rank learns whether any rank failed a local check, so that all of
// them throw together instead of some waiting forever in a collective call.
bool all_agree(MPI_Comm comm, bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, comm);
  return all == 1;
}

int comm_rank(MPI_Comm comm) {
  int r = 0;
  MPI_Comm_rank(comm, &r);
  return r;
}

int comm_size(MPI_Comm comm) {
  int s = 0;
  MPI_Comm_size(comm, &s);
  return s;
}

hsize_t element_count(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  return n;
}

Handle make_space(const std::vector<hsize_t>& dims) {
  if (dims.empty()) return Handle(H5Screate(H5S_SCALAR));
  return Handle(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr));
}

// ---- attributes ----

// Replaces any attribute of the same name, so writers may update a value.
void put_attr(hid_t loc, const std::string& name, hid_t type, hid_t space, const void* data) {
  if (attr_exists(loc, name)) {
    H5_CHECK(H5Adelete(loc, name.c_str()) >= 0, "h5: cannot replace attribute " + describe(loc, name));
  }
  hid_t id = H5Acreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: cannot create attribute " + describe(loc, name));
  Handle a(id);
  H5_CHECK(H5Awrite(a.id(), type, data) >= 0, "h5: cannot write attribute " + describe(loc, name));
}

template <class T>
void put_vector_attr(hid_t loc, const std::string& name, hid_t type, const std::vector<T>& v) {
  Handle space = make_space({v.size()});
  // An empty vector may have data() == nullptr, which H5Awrite rejects.
  const T dummy{};
  put_attr(loc, name, type, space.id(), v.empty() ? &dummy : v.data());
}

Handle open_attr(hid_t loc, const std::string& name) {
  hid_t id = H5Aopen(loc, name.c_str(), H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: no attribute " + describe(loc, name));
  return Handle(id);
}

hssize_t attr_points(hid_t attr) {
  Handle space(H5Aget_space(attr));
  return H5Sget_simple_extent_npoints(space.id());
}

template <class T>
T get_scalar_attr(hid_t loc, const std::string& name, hid_t type) {
  Handle a = open_attr(loc, name);
  STIFF_CHECK(attr_points(a.id()) == 1, "h5: attribute " + describe(loc, name) + " is not a scalar");
  T v{};
  H5_CHECK(H5Aread(a.id(), type, &v) >= 0, "h5: cannot read attribute " + describe(loc, name) + " as a number");
  return v;
}

template <class T>
std::vector<T> get_vector_attr(hid_t loc, const std::string& name, hid_t type) {
  Handle a = open_attr(loc, name);
  std::vector<T> v(static_cast<size_t>(attr_points(a.id())));
  if (v.empty()) return v;
  H5_CHECK(H5Aread(a.id(), type, v.data()) >= 0, "h5: cannot read attribute " + describe(loc, name) + " as numbers");
  return v;
}

// ---- datasets ----

Handle open_dataset(hid_t loc, const std::string& name) {
  hid_t id = H5Dopen2(loc, name.c_str(), H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: no dataset " + describe(loc, name));
  return Handle(id);
}

Handle create_dataset(hid_t loc, const std::string& name, hid_t type, hid_t space, hid_t dcpl) {
  hid_t id = H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: cannot create dataset " + describe(loc, name));
  return Handle(id);
}

template <class T>
std::vector<T> read_all(hid_t loc, const std::string& name, hid_t type, std::vector<hsize_t>* dims) {
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
bool block_ok(const Block2D& b, hsize_t rows, hsize_t cols) {
  bool empty = b.rows == 0 || b.cols == 0;
  return b.row0 + b.rows <= rows && b.col0 + b.cols <= cols && (empty || b.data);
}

}  // namespace

// ================================ Handle ================================

Handle::Handle(hid_t id) : id_(id) {
  if (id < 0) {
    std::string why = h5_reason();
    STIFF_THROW("h5: invalid HDF5 handle" + why);
  }
}

Handle::~Handle() {
  if (valid()) {
    try {
      close();
    } catch (...) {
      // Destructors must not throw; use close() to see failures.
    }
  }
}

Handle::Handle(Handle&& o) noexcept : id_(o.id_) { o.id_ = -1; }

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    Handle old(std::move(*this));  // closes our previous id on scope exit
    id_ = o.id_;
    o.id_ = -1;
  }
  return *this;
}

void Handle::close() {
  if (!valid()) return;
  herr_t rc = -1;
  switch (H5Iget_type(id_)) {
    case H5I_FILE: rc = H5Fclose(id_); break;
    case H5I_GROUP: rc = H5Gclose(id_); break;
    case H5I_DATASET: rc = H5Dclose(id_); break;
    case H5I_DATASPACE: rc = H5Sclose(id_); break;
    case H5I_GENPROP_LST: rc = H5Pclose(id_); break;
    case H5I_ATTR: rc = H5Aclose(id_); break;
    case H5I_DATATYPE: rc = H5Tclose(id_); break;
    default: rc = H5Idec_ref(id_) >= 0 ? 0 : -1; break;
  }
  // On failure the id stays ours: e.g. a file with objects still open does
  // not close, and a later close() (or the destructor) may succeed.
  H5_CHECK(rc >= 0, "h5: cannot close HDF5 object " + describe(id_, ""));
  id_ = -1;
}

// ================================= File =================================

File File::open(const std::string& path, MPI_Comm comm, unsigned flags, const char* what) {
  silence_hdf5();
  Handle fapl = file_access(comm);
  hid_t id = H5Fopen(path.c_str(), flags, fapl.id());
  H5_CHECK(id >= 0, "h5: cannot open '" + path + "' " + what);
  return File(Handle(id), comm);
}

File File::create(const std::string& path, MPI_Comm comm) {
  silence_hdf5();
  Handle fapl = file_access(comm);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id());
  H5_CHECK(id >= 0, "h5: cannot create '" + path + "'");
  return File(Handle(id), comm);
}

File File::open_read(const std::string& path, MPI_Comm comm) {
  return open(path, comm, H5F_ACC_RDONLY, "for reading");
}

File File::open_rw(const std::string& path, MPI_Comm comm) {
  return open(path, comm, H5F_ACC_RDWR, "for writing");
}

void File::flush() {
  H5_CHECK(H5Fflush(id(), H5F_SCOPE_GLOBAL) >= 0, "h5: cannot flush '" + file_name(id()) + "'");
}

void File::close() {
  if (!h_.valid()) return;
  // The MPI-IO driver closes files with H5F_CLOSE_SEMI: H5Fclose fails while
  // groups, datasets or attributes of the file are still open. Say so plainly
  // (the file stays open, so closing them and calling close() again works).
  ssize_t others = H5Fget_obj_count(id(), H5F_OBJ_LOCAL | H5F_OBJ_DATASET | H5F_OBJ_GROUP |
                                              H5F_OBJ_DATATYPE | H5F_OBJ_ATTR);
  STIFF_CHECK(others == 0, "h5: cannot close '" + file_name(id()) + "': " + std::to_string(others) +
                               " group/dataset/attribute handle(s) of it still open");
  h_.close();
}

// ================================ Groups ================================

Handle create_group(hid_t loc, const std::string& name) {
  // Intermediate groups are created too, so "a/b/c" works in one call.
  Handle lcpl = plist(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl.id(), 1);
  hid_t id = H5Gcreate2(loc, name.c_str(), lcpl.id(), H5P_DEFAULT, H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: cannot create group " + describe(loc, name));
  return Handle(id);
}

Handle open_group(hid_t loc, const std::string& name) {
  hid_t id = H5Gopen2(loc, name.c_str(), H5P_DEFAULT);
  H5_CHECK(id >= 0, "h5: no group " + describe(loc, name));
  return Handle(id);
}

bool exists(hid_t loc, const std::string& name) {
  // H5Lexists fails (rather than returning false) when an intermediate group
  // is missing, so test the path one component at a time.
  std::string prefix = !name.empty() && name[0] == '/' ? "/" : "";
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t end = std::min(name.find('/', pos), name.size());
    std::string part = name.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    prefix += part;
    htri_t e = H5Lexists(loc, prefix.c_str(), H5P_DEFAULT);
    H5_CHECK(e >= 0, "h5: cannot look up " + describe(loc, prefix));
    if (e == 0) return false;
    prefix += '/';
  }
  return true;
}

// ============================== Attributes ==============================

void write_attr(hid_t loc, const std::string& name, int64_t v) {
  Handle space(H5Screate(H5S_SCALAR));
  put_attr(loc, name, H5T_NATIVE_INT64, space.id(), &v);
}

void write_attr(hid_t loc, const std::string& name, double v) {
  Handle space(H5Screate(H5S_SCALAR));
  put_attr(loc, name, H5T_NATIVE_DOUBLE, space.id(), &v);
}

void write_attr(hid_t loc, const std::string& name, const std::string& v) {
  // Variable-length UTF-8: h5py reads it back as str, not bytes.
  Handle type(H5Tcopy(H5T_C_S1));
  H5Tset_size(type.id(), H5T_VARIABLE);
  H5Tset_cset(type.id(), H5T_CSET_UTF8);
  Handle space(H5Screate(H5S_SCALAR));
  const char* p = v.c_str();
  put_attr(loc, name, type.id(), space.id(), &p);
}

void write_attr(hid_t loc, const std::string& name, const std::vector<double>& v) {
  put_vector_attr(loc, name, H5T_NATIVE_DOUBLE, v);
}

void write_attr(hid_t loc, const std::string& name, const std::vector<int64_t>& v) {
  put_vector_attr(loc, name, H5T_NATIVE_INT64, v);
}

int64_t read_attr_i64(hid_t loc, const std::string& name) {
  return get_scalar_attr<int64_t>(loc, name, H5T_NATIVE_INT64);
}

double read_attr_f64(hid_t loc, const std::string& name) {
  return get_scalar_attr<double>(loc, name, H5T_NATIVE_DOUBLE);
}

std::vector<double> read_attr_f64s(hid_t loc, const std::string& name) {
  return get_vector_attr<double>(loc, name, H5T_NATIVE_DOUBLE);
}

std::vector<int64_t> read_attr_i64s(hid_t loc, const std::string& name) {
  return get_vector_attr<int64_t>(loc, name, H5T_NATIVE_INT64);
}

std::string read_attr_str(hid_t loc, const std::string& name) {
  Handle a = open_attr(loc, name);
  Handle ftype(H5Aget_type(a.id()));
  STIFF_CHECK(H5Tget_class(ftype.id()) == H5T_STRING, "h5: attribute " + describe(loc, name) + " is not a string");
  STIFF_CHECK(attr_points(a.id()) == 1, "h5: attribute " + describe(loc, name) + " is not a single string");
  // Read with a memory type of the same kind (variable or fixed length) as
  // stored, so attributes written by h5py either way can be read.
  Handle mtype(H5Tcopy(H5T_C_S1));
  H5Tset_cset(mtype.id(), H5Tget_cset(ftype.id()));
  if (H5Tis_variable_str(ftype.id()) > 0) {
    H5Tset_size(mtype.id(), H5T_VARIABLE);
    char* p = nullptr;
    H5_CHECK(H5Aread(a.id(), mtype.id(), &p) >= 0, "h5: cannot read attribute " + describe(loc, name));
    std::string s = p ? p : "";
    H5free_memory(p);
    return s;
  }
  size_t n = H5Tget_size(ftype.id());
  H5Tset_size(mtype.id(), n + 1);  // room for the terminator HDF5 adds
  std::string s(n + 1, '\0');
  H5_CHECK(H5Aread(a.id(), mtype.id(), s.data()) >= 0, "h5: cannot read attribute " + describe(loc, name));
  s.resize(s.find('\0'));  // fixed-length strings are null- or space-padded
  return s;
}

bool attr_exists(hid_t loc, const std::string& name) {
  htri_t e = H5Aexists(loc, name.c_str());
  H5_CHECK(e >= 0, "h5: cannot look up attribute " + describe(loc, name));
  return e > 0;
}

// =============================== Datasets ===============================

void write_dataset(const File& f, hid_t loc, const std::string& name,
                   const std::vector<hsize_t>& dims, const void* data, DType t, int writer) {
  const hsize_t n = element_count(dims);
  const bool mine = comm_rank(f.comm()) == writer;
  bool ok = writer >= 0 && writer < comm_size(f.comm()) && (!mine || n == 0 || data);
  STIFF_CHECK(all_agree(f.comm(), ok),
              "h5: write_dataset " + describe(loc, name) + ": bad writer rank " + std::to_string(writer) +
                  " or no data on it");
  Handle fspace = make_space(dims);
  Handle ds = create_dataset(loc, name, mem_type(t), fspace.id(), H5P_DEFAULT);
  if (n == 0) return;  // nothing to transfer; the empty dataset exists
  Handle mspace = make_space(dims);
  select_mine(mspace.id(), mine);
  select_mine(fspace.id(), mine);
  Handle dxpl = collective_dxpl();
  // Ranks without data still pass a non-null buffer: HDF5 rejects nullptr.
  const char dummy = 0;
  H5_CHECK(H5Dwrite(ds.id(), mem_type(t), mspace.id(), fspace.id(), dxpl.id(), mine ? data : &dummy) >= 0,
           "h5: cannot write dataset " + describe(loc, name));
}

Matrix Matrix::create(const File& f, hid_t loc, const std::string& name, hsize_t rows, hsize_t cols,
                      DType t) {
  Handle space = make_space({rows, cols});
  // Every element is written by some rank: skip HDF5's fill-value pass, which
  // would otherwise write the whole matrix once more at allocation.
  Handle dcpl = plist(H5P_DATASET_CREATE);
  H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER);
  Matrix m;
  m.ds_ = create_dataset(loc, name, mem_type(t), space.id(), dcpl.id());
  m.comm_ = f.comm();
  m.t_ = t;
  m.rows_ = rows;
  m.cols_ = cols;
  return m;
}

void Matrix::write_blocks(const std::vector<Block2D>& blocks) {
  bool ok = std::all_of(blocks.begin(), blocks.end(), [&](const Block2D& b) { return block_ok(b, rows_, cols_); });
  // One reduction gives every rank the number of collective writes to join
  // and whether any rank passed a bad block (then all throw, none hangs).
  std::array<int64_t, 2> mine{static_cast<int64_t>(blocks.size()), ok ? 0 : 1}, all{};
  MPI_Allreduce(mine.data(), all.data(), 2, MPI_INT64_T, MPI_MAX, comm_);
  STIFF_CHECK(all[1] == 0, "h5: write_blocks " + describe(ds_.id(), "") + ": a block lies outside the " +
                               std::to_string(rows_) + "x" + std::to_string(cols_) + " matrix or has no data");
  Handle dxpl = collective_dxpl();
  for (int64_t s = 0; s < all[0]; ++s) {
    write_slot(s < static_cast<int64_t>(blocks.size()) ? &blocks[s] : nullptr, dxpl.id());
  }
}

// One collective H5Dwrite: this rank's block `b`, or an empty selection.
void Matrix::write_slot(const Block2D* b, hid_t dxpl) {
  if (b && (b->rows == 0 || b->cols == 0)) b = nullptr;
  Handle fspace(H5Dget_space(ds_.id()));
  Handle mspace = make_space({b ? b->rows : 1, b ? b->cols : 1});
  if (b) {
    const hsize_t start[2] = {b->row0, b->col0}, count[2] = {b->rows, b->cols};
    STIFF_CHECK(H5Sselect_hyperslab(fspace.id(), H5S_SELECT_SET, start, nullptr, count, nullptr) >= 0,
                "h5: hyperslab selection failed");
  } else {
    select_mine(fspace.id(), false);
    select_mine(mspace.id(), false);
  }
  const double dummy = 0;
  H5_CHECK(H5Dwrite(ds_.id(), mem_type(t_), mspace.id(), fspace.id(), dxpl, b ? b->data : &dummy) >= 0,
           "h5: cannot write a block of " + describe(ds_.id(), ""));
  uint32_t local = 0, global = 0;
  H5_CHECK(H5Pget_mpio_no_collective_cause(dxpl, &local, &global) >= 0,
           "h5: H5Pget_mpio_no_collective_cause failed");
  last_cause_ = global;
  STIFF_CHECK(global == 0, "h5: write to " + describe(ds_.id(), "") +
                               " was not collective (H5D_MPIO no-collective cause " + std::to_string(global) + ")");
}

std::vector<double> read_f64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<double>(loc, name, H5T_NATIVE_DOUBLE, dims);
}

std::vector<float> read_f32(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<float>(loc, name, H5T_NATIVE_FLOAT, dims);
}

std::vector<int64_t> read_i64(hid_t loc, const std::string& name, std::vector<hsize_t>* dims) {
  return read_all<int64_t>(loc, name, H5T_NATIVE_INT64, dims);
}

std::vector<std::string> list(hid_t loc) {
  std::vector<std::string> names;
  auto add = [](hid_t, const char* n, const H5L_info_t*, void* out) -> herr_t {
    static_cast<std::vector<std::string>*>(out)->emplace_back(n);
    return 0;
  };
  H5_CHECK(H5Literate(loc, H5_INDEX_NAME, H5_ITER_INC, nullptr, add, &names) >= 0,
           "h5: cannot list " + describe(loc, ""));
  return names;
}

}  // namespace stiffness::h5
