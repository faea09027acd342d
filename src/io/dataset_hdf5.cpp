// The generic HDF5 dataset layout (docs/datasets.md).
#include <hdf5.h>
#include <mpi.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "dataset_detail.hpp"
#include "stiffness/io/dataset.hpp"
#include "stiffness/runtime/error.hpp"
#include "stiffness/io/h5.hpp"

namespace stiffness {

using detail::kMaxPayloadBytes;
using detail::max_or_minus_one;
using detail::shape_string;

// ================================= HDF5 =================================

namespace {

// Floats represent every integer of magnitude below 2^24 exactly.
constexpr float kExactFloatLimit = 16777216.0f;

const char* class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "float";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
  }
}

// Shape and type class of dataset `name` in `group`; `where` is
// "file:/split/name" for messages. Throws if it is missing.
void inspect_dataset(hid_t group, const std::string& name, const std::string& where,
                     std::vector<hsize_t>& dims, H5T_class_t& cls) {
  STIFF_CHECK(h5::exists(group, name), where + ": missing dataset");
  STIFF_CHECK(H5Oexists_by_name(group, name.c_str(), H5P_DEFAULT) > 0, where + ": missing dataset (dangling link)");
  H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
  const herr_t rc = H5Oget_info_by_name3(group, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#else
  const herr_t rc = H5Oget_info_by_name2(group, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT);
#endif
  STIFF_CHECK(rc >= 0 && info.type == H5O_TYPE_DATASET, where + ": missing dataset (a group of that name instead)");
  h5::Handle ds(H5Dopen2(group, name.c_str(), H5P_DEFAULT));
  h5::Handle type(H5Dget_type(ds.id()));
  cls = H5Tget_class(type.id());
  h5::Handle space(H5Dget_space(ds.id()));
  const int rank = H5Sget_simple_extent_ndims(space.id());
  STIFF_CHECK(rank >= 0, where + ": cannot read the shape");
  dims.assign(static_cast<size_t>(rank), 0);
  if (rank > 0) H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
}

// Integer labels of length n from `group`/`name`; negatives rejected here,
// the upper bound later (it may depend on both splits).
std::vector<int64_t> read_label_dataset(hid_t group, const std::string& name, const std::string& where,
                                        hsize_t n) {
  std::vector<hsize_t> dims;
  H5T_class_t cls;
  inspect_dataset(group, name, where, dims, cls);
  STIFF_CHECK(cls == H5T_INTEGER, where + ": expected integer labels, found " + class_name(cls) + " values");
  STIFF_CHECK(dims.size() == 1, where + ": expected a 1-D dataset of " + std::to_string(n) + " labels, found shape " +
                                    (dims.empty() ? std::string("scalar") : shape_string(dims)));
  STIFF_CHECK(dims[0] == n, where + ": length mismatch: " + std::to_string(dims[0]) + " labels for " +
                                std::to_string(n) + " inputs (expected one per example)");
  std::vector<int64_t> v = h5::read_i64(group, name);
  for (size_t i = 0; i < v.size(); ++i) {
    STIFF_CHECK(v[i] >= 0, where + ": negative label at index " + std::to_string(i) + ": found " +
                               std::to_string(v[i]));
  }
  return v;
}

void check_label_range(const std::vector<int64_t>& v, int64_t limit, const std::string& where,
                       const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i) {
    STIFF_CHECK(v[i] < limit, where + ": " + what + " out of range at index " + std::to_string(i) +
                                  ": expected [0, " + std::to_string(limit) + "), found " + std::to_string(v[i]));
  }
}


// Element `flat` of integer dataset `group`/`name` as stored (the float copy
// is rounded), for messages; "?" if it cannot be read.
std::string stored_integer(hid_t group, const std::string& name, size_t flat) {
  hid_t ds = H5Dopen2(group, name.c_str(), H5P_DEFAULT);
  if (ds < 0) return "?";
  h5::Handle dsh(ds);
  h5::Handle fspace(H5Dget_space(ds));
  h5::Handle type(H5Dget_type(ds));
  const int rank = H5Sget_simple_extent_ndims(fspace.id());
  std::vector<hsize_t> dims(static_cast<size_t>(std::max(rank, 0))), coord(dims.size());
  H5Sget_simple_extent_dims(fspace.id(), dims.data(), nullptr);
  hsize_t rest = flat;
  for (size_t d = dims.size(); d-- > 0;) {
    coord[d] = rest % dims[d];
    rest /= dims[d];
  }
  const hsize_t one = 1;
  h5::Handle mspace(H5Screate_simple(1, &one, nullptr));
  if (H5Sselect_elements(fspace.id(), H5S_SELECT_SET, 1, coord.data()) < 0) return "?";
  const bool is_unsigned = H5Tget_sign(type.id()) == H5T_SGN_NONE;
  if (is_unsigned) {
    uint64_t u = 0;
    if (H5Dread(ds, H5T_NATIVE_UINT64, mspace.id(), fspace.id(), H5P_DEFAULT, &u) < 0) return "?";
    return std::to_string(u);
  }
  int64_t v = 0;
  if (H5Dread(ds, H5T_NATIVE_INT64, mspace.id(), fspace.id(), H5P_DEFAULT, &v) < 0) return "?";
  return std::to_string(v);
}

// One split (group /train or /val) of the generic layout, labels not yet
// checked against the number of classes.
ImageSet read_hdf5_split(hid_t file, const std::string& path, const std::string& split, bool has_scale,
                         double scale) {
  const std::string gwhere = path + ":/" + split;
  STIFF_CHECK(h5::exists(file, split), path + ": missing group /" + split + " (expected groups /train and /val)");
  h5::Handle group = h5::open_group(file, split);

  const std::string iwhere = gwhere + "/inputs";
  std::vector<hsize_t> dims;
  H5T_class_t cls;
  inspect_dataset(group.id(), "inputs", iwhere, dims, cls);
  STIFF_CHECK(cls == H5T_INTEGER || cls == H5T_FLOAT,
              iwhere + ": expected integer or float values, found " + class_name(cls) + " values");
  STIFF_CHECK(dims.size() >= 2 && dims.size() <= 4,
              iwhere + ": expected rank 2 (N x L), 3 (N x H x W) or 4 (N x C x H x W), found shape " +
                  (dims.empty() ? std::string("scalar") : shape_string(dims)));
  STIFF_CHECK(dims[0] > 0, iwhere + ": no examples (shape " + shape_string(dims) + ")");
  for (size_t d = 1; d < dims.size(); ++d) {
    STIFF_CHECK(dims[d] > 0, iwhere + ": dimension " + std::to_string(d) + " is 0 (shape " + shape_string(dims) + ")");
  }

  ImageSet set;
  set.n = static_cast<int64_t>(dims[0]);
  const size_t r = dims.size();
  set.channels = r == 4 ? static_cast<int64_t>(dims[1]) : 1;
  set.height = r >= 3 ? static_cast<int64_t>(dims[r - 2]) : 1;
  set.width = static_cast<int64_t>(dims[r - 1]);
  set.source = gwhere;
  STIFF_CHECK(set.n * set.example_size() <= kMaxPayloadBytes,
              iwhere + ": shape " + shape_string(dims) + " is too large (more than " +
                  std::to_string(kMaxPayloadBytes) + " values)");

  // HDF5 converts any integer or float type to float on reading; integers
  // of magnitude below 2^24 (all byte values, token ids) arrive exactly.
  set.pixels = h5::read_f32(group.id(), "inputs");
  for (size_t i = 0; i < set.pixels.size(); ++i) {
    const float v = set.pixels[i];
    STIFF_CHECK(std::isfinite(v), iwhere + ": non-finite value at flat index " + std::to_string(i));
    if (cls == H5T_INTEGER && !has_scale && !(std::fabs(v) < kExactFloatLimit)) {
      STIFF_THROW(iwhere + ": integer value " + stored_integer(group.id(), "inputs", i) + " at flat index " +
                  std::to_string(i) + " is not exactly representable as float32 (expected |v| < 2^24)");
    }
    // In double, rounded once: with scale = 1/255 a byte v becomes exactly
    // v / 255.0f, as from IDX and CIFAR files.
    if (has_scale) set.pixels[i] = static_cast<float>(static_cast<double>(v) * scale);
  }

  set.labels = read_label_dataset(group.id(), "labels", gwhere + "/labels", dims[0]);
  if (h5::exists(group.id(), "coarse_labels")) {
    set.coarse_labels = read_label_dataset(group.id(), "coarse_labels", gwhere + "/coarse_labels", dims[0]);
  }
  return set;
}

}  // namespace

DataSets load_hdf5_dataset(const std::string& path, int64_t num_classes) {
  STIFF_CHECK(num_classes >= 0, path + ": number of classes must be 0 (from the file) or positive, got " +
                                    std::to_string(num_classes));
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  STIFF_CHECK(initialized && !finalized,
              path + ": reading an HDF5 dataset needs MPI initialised (MPI_Init) and not yet finalised");
  std::error_code ec;
  STIFF_CHECK(std::filesystem::exists(path, ec), path + ": HDF5 dataset file not found");
  STIFF_CHECK(!std::filesystem::is_directory(path, ec), path + ": is a directory, expected an HDF5 dataset file");

  h5::File file = h5::File::open_read(path, MPI_COMM_SELF);
  const hid_t root = file.id();
  auto attr_i64 = [&](const char* name, int64_t& out) {
    if (!h5::attr_exists(root, name)) return false;
    out = h5::read_attr_i64(root, name);
    return true;
  };
  int64_t attr_classes = 0, attr_coarse = 0;
  const bool has_classes = attr_i64("num_classes", attr_classes);
  const bool has_coarse_attr = attr_i64("num_coarse", attr_coarse);
  const bool has_scale = h5::attr_exists(root, "scale");
  const double scale = has_scale ? h5::read_attr_f64(root, "scale") : 1.0;
  STIFF_CHECK(!has_classes || attr_classes > 0,
              path + ": attribute num_classes must be positive, found " + std::to_string(attr_classes));
  STIFF_CHECK(!has_coarse_attr || attr_coarse > 0,
              path + ": attribute num_coarse must be positive, found " + std::to_string(attr_coarse));
  STIFF_CHECK(std::isfinite(scale) && scale != 0.0, path + ": attribute scale must be finite and non-zero");
  STIFF_CHECK(!has_classes || num_classes == 0 || num_classes == attr_classes,
              path + ": the file's num_classes attribute is " + std::to_string(attr_classes) + " but " +
                  std::to_string(num_classes) + " classes were asked for (--num-classes; 0 takes the file's)");

  DataSets out;
  out.train = read_hdf5_split(root, path, "train", has_scale, scale);
  out.val = read_hdf5_split(root, path, "val", has_scale, scale);
  file.close();

  ImageSet& tr = out.train;
  ImageSet& va = out.val;
  STIFF_CHECK(tr.channels == va.channels && tr.height == va.height && tr.width == va.width,
              path + ":/val/inputs: example shape " + std::to_string(va.channels) + "x" + std::to_string(va.height) +
                  "x" + std::to_string(va.width) + " differs from /train/inputs " + std::to_string(tr.channels) +
                  "x" + std::to_string(tr.height) + "x" + std::to_string(tr.width));

  const int64_t nc = has_classes ? attr_classes
                     : num_classes > 0 ? num_classes
                                       : 1 + std::max(max_or_minus_one(tr.labels), max_or_minus_one(va.labels));
  check_label_range(tr.labels, nc, path + ":/train/labels", "label");
  check_label_range(va.labels, nc, path + ":/val/labels", "label");
  tr.num_classes = va.num_classes = nc;

  const bool tr_coarse = !tr.coarse_labels.empty(), va_coarse = !va.coarse_labels.empty();
  STIFF_CHECK(tr_coarse == va_coarse, path + ":/" + (tr_coarse ? "val" : "train") +
                                          "/coarse_labels: missing dataset (/" + (tr_coarse ? "train" : "val") +
                                          " has coarse_labels; give both splits or neither)");
  STIFF_CHECK(!has_coarse_attr || tr_coarse,
              path + ": attribute num_coarse is set but /train and /val have no coarse_labels dataset");
  if (tr_coarse) {
    const int64_t ncc = has_coarse_attr ? attr_coarse
                                        : 1 + std::max(max_or_minus_one(tr.coarse_labels),
                                                       max_or_minus_one(va.coarse_labels));
    check_label_range(tr.coarse_labels, ncc, path + ":/train/coarse_labels", "coarse label");
    check_label_range(va.coarse_labels, ncc, path + ":/val/coarse_labels", "coarse label");
    tr.num_coarse = va.num_coarse = ncc;
  }
  return out;
}

}  // namespace stiffness
