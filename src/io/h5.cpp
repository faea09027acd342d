// The HDF5 RAII layer: handles, files, groups and attributes. Datasets and
// the collectively written N x N matrix are in h5_data.cpp.
#include "h5_detail.hpp"

namespace stiffness::h5 {

using namespace detail;

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

}  // namespace stiffness::h5
