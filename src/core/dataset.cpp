// Data loading (IDX/MNIST, CIFAR-10/100 binary, the generic HDF5 layout, the
// synthetic generator, the format dispatcher) and the per-class measurement
// sample. The formats are described in docs/datasets.md.
//
// zlib's gz* functions read gzip-compressed and raw files alike (a file
// without the gzip magic is passed through unchanged), so one code path serves
// both `train-images-idx3-ubyte.gz` and an uncompressed copy.

#include "stiffness/dataset.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "stiffness/error.hpp"
#include "stiffness/h5.hpp"

namespace stiffness {

namespace {

// Largest payload accepted: far above any dataset of the MNIST family (the
// Fashion-MNIST training images are 47 MB) but low enough that a corrupt
// header cannot make us try to allocate an absurd amount of memory.
constexpr int64_t kMaxPayloadBytes = int64_t{1} << 32;  // 4 GiB

// Owns a gzFile and closes it on every exit path, including exceptions.
class GzFile {
 public:
  explicit GzFile(const std::string& path) : path_(path) {
    errno = 0;
    f_ = gzopen(path.c_str(), "rb");
    if (f_ == nullptr) {
      const std::string why = errno != 0 ? std::strerror(errno) : "out of memory";
      STIFF_THROW(path + ": cannot open: " + why);
    }
    gzbuffer(f_, 1 << 17);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  ~GzFile() { gzclose(f_); }

  // Reads up to `len` bytes; returns how many were read (fewer only at the end
  // of the data). A truncated gzip stream counts as the end of the data, so
  // that the caller reports it as truncation with the byte counts; any other
  // decompression or I/O error throws.
  int64_t read(uint8_t* buf, int64_t len) {
    int64_t total = 0;
    while (total < len && !eof_) {
      const unsigned chunk = static_cast<unsigned>(std::min<int64_t>(len - total, 1 << 30));
      const int got = gzread(f_, buf + total, chunk);
      if (got < 0) {
        int code = Z_OK;
        const char* msg = gzerror(f_, &code);
        if (code == Z_BUF_ERROR) {  // "unexpected end of file": stream cut short
          eof_ = true;
          break;
        }
        const std::string why = code == Z_ERRNO ? std::strerror(errno) : (msg ? msg : "unknown");
        STIFF_THROW(path_ + ": read error: " + why);
      }
      if (got == 0) {
        // gzread returns 0 at the end of the data, but also after a truncated
        // gzip stream has set Z_BUF_ERROR; both mean "no more bytes".
        eof_ = true;
        break;
      }
      total += got;
    }
    return total;
  }

 private:
  std::string path_;
  gzFile f_ = nullptr;
  bool eof_ = false;
};

std::string hex_byte(uint8_t b) {
  static const char* digits = "0123456789abcdef";
  return std::string("0x") + digits[b >> 4] + digits[b & 15];
}

std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

// `<dir>/<name>.gz` if it exists, else `<dir>/<name>`; throws naming both.
std::string find_idx_file(const std::string& dir, const std::string& name, const std::string& what) {
  const std::filesystem::path base = dir.empty() ? std::filesystem::path(name)
                                                 : std::filesystem::path(dir) / name;
  const std::string gz = base.string() + ".gz";
  const std::string raw = base.string();
  std::error_code ec;
  if (std::filesystem::exists(gz, ec)) return gz;
  if (std::filesystem::exists(raw, ec)) return raw;
  STIFF_THROW(what + " file not found: tried " + gz + " and " + raw);
}

// Unbiased integer in [0, range) from the 64-bit Mersenne Twister. Written out
// (rather than std::uniform_int_distribution, whose algorithm differs between
// standard libraries) so that a seed gives the same sample everywhere.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t range) {
  // 2^64 mod range: rejecting raw values below it leaves a multiple of
  // `range` equally likely values.
  const uint64_t threshold = (uint64_t{0} - range) % range;
  uint64_t x;
  do {
    x = rng();
  } while (x < threshold);
  return x % range;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expect_ndim) {
  STIFF_CHECK(expect_ndim >= 1 && expect_ndim <= 255,
              path + ": bad expected number of dimensions " + std::to_string(expect_ndim));
  GzFile f(path);

  uint8_t magic[4];
  const int64_t got_magic = f.read(magic, 4);
  STIFF_CHECK(got_magic == 4, path + ": truncated: expected a 4-byte IDX header, found " +
                                  std::to_string(got_magic) + " bytes");
  STIFF_CHECK(magic[0] == 0 && magic[1] == 0,
              path + ": bad magic: expected an IDX file starting with 0x00 0x00, found " +
                  hex_byte(magic[0]) + " " + hex_byte(magic[1]));
  STIFF_CHECK(magic[2] == 0x08, path + ": bad magic: expected data type 0x08 (unsigned byte), found " +
                                    hex_byte(magic[2]));
  const int ndim = magic[3];
  STIFF_CHECK(ndim == expect_ndim, path + ": expected " + std::to_string(expect_ndim) +
                                       " dimensions, found " + std::to_string(ndim));

  IdxArray out;
  std::vector<uint8_t> header(4 * static_cast<size_t>(ndim));
  const int64_t got_header = f.read(header.data(), static_cast<int64_t>(header.size()));
  STIFF_CHECK(got_header == static_cast<int64_t>(header.size()),
              path + ": truncated: expected " + std::to_string(header.size()) +
                  " bytes of dimension sizes, found " + std::to_string(got_header));
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    const uint8_t* b = &header[4 * static_cast<size_t>(i)];
    const int64_t d = (int64_t{b[0]} << 24) | (int64_t{b[1]} << 16) | (int64_t{b[2]} << 8) | b[3];
    out.dims.push_back(d);
    STIFF_CHECK(d > 0, path + ": dimension " + std::to_string(i) + " is 0: expected a positive size");
    // Each d < 2^32 and total <= 2^32 before this product, so no overflow.
    total *= d;
    STIFF_CHECK(total <= kMaxPayloadBytes, path + ": absurd dimensions " + dims_string(out.dims) +
                                               (i + 1 < ndim ? "..." : "") +
                                               ": expected at most " +
                                               std::to_string(kMaxPayloadBytes) + " data bytes");
  }

  const std::string kind = ndim == 1 ? "label" : "pixel";
  out.data.resize(static_cast<size_t>(total));
  const int64_t got = f.read(out.data.data(), total);
  STIFF_CHECK(got == total, path + ": truncated: expected " + std::to_string(total) + " " + kind +
                                " bytes (" + dims_string(out.dims) + "), found " + std::to_string(got));

  // Anything after the payload means the header does not describe the file.
  int64_t extra = 0;
  std::vector<uint8_t> scratch(1 << 16);
  for (int64_t n; (n = f.read(scratch.data(), static_cast<int64_t>(scratch.size()))) > 0;) extra += n;
  STIFF_CHECK(extra == 0, path + ": " + std::to_string(extra) + " extra bytes: expected exactly " +
                              std::to_string(total) + " " + kind + " bytes (" + dims_string(out.dims) +
                              ") after the header");
  return out;
}

ImageSet load_mnist(const std::string& dir, const std::string& prefix, int64_t num_classes) {
  STIFF_CHECK(num_classes > 0 && num_classes <= 256,
              "load_mnist: number of classes must be in [1, 256], got " + std::to_string(num_classes));
  const std::string img_path = find_idx_file(dir, prefix + "-images-idx3-ubyte", prefix + " images");
  const std::string lbl_path = find_idx_file(dir, prefix + "-labels-idx1-ubyte", prefix + " labels");

  IdxArray images = read_idx(img_path, 3);
  IdxArray labels = read_idx(lbl_path, 1);
  STIFF_CHECK(images.dims[0] == labels.dims[0],
              lbl_path + ": count mismatch: expected " + std::to_string(images.dims[0]) +
                  " labels (one per image in " + img_path + "), found " + std::to_string(labels.dims[0]));

  ImageSet set;
  set.n = images.dims[0];
  set.channels = 1;
  set.height = images.dims[1];
  set.width = images.dims[2];
  set.num_classes = num_classes;
  set.source = img_path + ", " + lbl_path;

  set.labels.resize(labels.data.size());
  for (size_t i = 0; i < labels.data.size(); ++i) {
    const int64_t y = labels.data[i];
    STIFF_CHECK(y < num_classes, lbl_path + ": label out of range at index " + std::to_string(i) +
                                     ": expected [0, " + std::to_string(num_classes) + "), found " +
                                     std::to_string(y));
    set.labels[i] = y;
  }
  labels = {};

  float scale[256];
  for (int v = 0; v < 256; ++v) scale[v] = static_cast<float>(v) / 255.0f;
  set.pixels.resize(images.data.size());
  for (size_t i = 0; i < images.data.size(); ++i) set.pixels[i] = scale[images.data[i]];
  return set;
}

std::vector<int64_t> sample_per_class(const std::vector<int64_t>& labels, int64_t num_classes,
                                      int64_t per_class, uint64_t seed, const std::string& what) {
  STIFF_CHECK(per_class > 0,
              what + ": examples per class must be positive, got " + std::to_string(per_class));
  STIFF_CHECK(num_classes > 0,
              what + ": number of classes must be positive, got " + std::to_string(num_classes));

  std::vector<std::vector<int64_t>> by_class(static_cast<size_t>(num_classes));
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t y = labels[i];
    STIFF_CHECK(y >= 0 && y < num_classes, what + ": label out of range at index " + std::to_string(i) +
                                               ": expected [0, " + std::to_string(num_classes) +
                                               "), found " + std::to_string(y));
    by_class[static_cast<size_t>(y)].push_back(static_cast<int64_t>(i));
  }
  for (int64_t c = 0; c < num_classes; ++c) {
    const int64_t have = static_cast<int64_t>(by_class[static_cast<size_t>(c)].size());
    STIFF_CHECK(have >= per_class, what + ": class " + std::to_string(c) + " has " + std::to_string(have) +
                                       " examples, " + std::to_string(per_class) +
                                       " per class requested");
  }

  // One generator, consumed class by class in class order, so the whole
  // sample is a function of (labels, num_classes, per_class, seed).
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(num_classes * per_class));
  for (auto& idx : by_class) {
    // Partial Fisher-Yates: after step i, idx[0..i] is a uniform random
    // i+1-subset (in random order) of the class's indices.
    const uint64_t n = idx.size();
    for (uint64_t i = 0; i < static_cast<uint64_t>(per_class); ++i) {
      const uint64_t j = i + uniform_below(rng, n - i);
      std::swap(idx[i], idx[j]);
    }
    std::sort(idx.begin(), idx.begin() + per_class);
    out.insert(out.end(), idx.begin(), idx.begin() + per_class);
  }
  return out;
}


// ================================ CIFAR =================================

namespace {

constexpr int64_t kCifarPixels = 3 * 32 * 32;

// The byte value v as v / 255 in float, as for IDX pixels.
void bytes_to_unit_floats(const uint8_t* in, int64_t n, float* out) {
  float table[256];
  for (int v = 0; v < 256; ++v) table[v] = static_cast<float>(v) / 255.0f;
  for (int64_t i = 0; i < n; ++i) out[i] = table[in[i]];
}

// The whole file; throws naming the path if it is missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path, const std::string& what) {
  std::error_code ec;
  STIFF_CHECK(std::filesystem::exists(path, ec), path + ": " + what + " file not found");
  STIFF_CHECK(!std::filesystem::is_directory(path, ec), path + ": is a directory, expected a " + what + " file");
  const auto size = std::filesystem::file_size(path, ec);
  STIFF_CHECK(!ec, path + ": cannot read the size: " + ec.message());
  STIFF_CHECK(size <= static_cast<uintmax_t>(kMaxPayloadBytes),
              path + ": " + std::to_string(size) + " bytes: larger than the " +
                  std::to_string(kMaxPayloadBytes) + "-byte limit");
  errno = 0;
  std::ifstream f(path, std::ios::binary);
  STIFF_CHECK(f.is_open(), path + ": cannot open: " + std::string(errno ? std::strerror(errno) : "unknown error"));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (!bytes.empty()) f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  STIFF_CHECK(f.gcount() == static_cast<std::streamsize>(bytes.size()),
              path + ": read error: expected " + std::to_string(size) + " bytes, read " +
                  std::to_string(f.gcount()));
  return bytes;
}

// `dir` itself when it has `probe`, else `dir/sub` when that has it (the
// folder the official tarball unpacks to), else `dir`.
std::filesystem::path cifar_dir(const std::string& dir, const std::string& sub, const std::string& probe) {
  const std::filesystem::path base = dir.empty() ? std::filesystem::path(".") : std::filesystem::path(dir);
  std::error_code ec;
  if (!std::filesystem::exists(base / probe, ec) && std::filesystem::exists(base / sub / probe, ec)) return base / sub;
  return dir.empty() ? std::filesystem::path() : base;
}

}  // namespace

ImageSet read_cifar_files(const std::vector<std::string>& paths, int label_bytes, int64_t num_classes,
                          int64_t num_coarse) {
  STIFF_CHECK(label_bytes == 1 || label_bytes == 2,
              "read_cifar_files: label bytes must be 1 or 2, got " + std::to_string(label_bytes));
  STIFF_CHECK(num_classes > 0 && num_classes <= 256,
              "read_cifar_files: number of classes must be in [1, 256], got " + std::to_string(num_classes));
  STIFF_CHECK(label_bytes == 1 || (num_coarse > 0 && num_coarse <= 256),
              "read_cifar_files: number of coarse classes must be in [1, 256], got " + std::to_string(num_coarse));
  STIFF_CHECK(!paths.empty(), "read_cifar_files: no files given");
  const int64_t record = label_bytes + kCifarPixels;

  ImageSet set;
  set.channels = 3;
  set.height = 32;
  set.width = 32;
  set.num_classes = num_classes;
  set.num_coarse = label_bytes == 2 ? num_coarse : 0;
  for (const std::string& path : paths) {
    const std::vector<uint8_t> bytes = read_file_bytes(path, "CIFAR binary");
    const int64_t size = static_cast<int64_t>(bytes.size());
    STIFF_CHECK(size > 0, path + ": empty file: expected " + std::to_string(record) + "-byte records");
    STIFF_CHECK(size % record == 0, path + ": " + std::to_string(size) + " bytes is not a whole number of " +
                                        std::to_string(record) + "-byte records (truncated?)");
    const int64_t n = size / record;
    const size_t px0 = set.pixels.size();
    set.pixels.resize(px0 + static_cast<size_t>(n * kCifarPixels));
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* rec = bytes.data() + r * record;
      const int64_t fine = rec[label_bytes - 1];
      STIFF_CHECK(fine < num_classes, path + ": " + (label_bytes == 2 ? "fine " : "") +
                                          "label out of range in record " + std::to_string(r) + ": expected [0, " +
                                          std::to_string(num_classes) + "), found " + std::to_string(fine));
      set.labels.push_back(fine);
      if (label_bytes == 2) {
        const int64_t coarse = rec[0];
        STIFF_CHECK(coarse < num_coarse, path + ": coarse label out of range in record " + std::to_string(r) +
                                             ": expected [0, " + std::to_string(num_coarse) + "), found " +
                                             std::to_string(coarse));
        set.coarse_labels.push_back(coarse);
      }
      // The record's pixels are already C x H x W (R plane, G plane, B
      // plane, each row-major): the same layout as ImageSet.
      bytes_to_unit_floats(rec + label_bytes, kCifarPixels, set.pixels.data() + px0 + r * kCifarPixels);
    }
    set.n += n;
    set.source += (set.source.empty() ? "" : ", ") + path;
  }
  return set;
}

ImageSet load_cifar10(const std::string& dir, const std::string& split) {
  STIFF_CHECK(split == "train" || split == "test",
              "load_cifar10: split must be 'train' or 'test', got '" + split + "'");
  const auto base = cifar_dir(dir, "cifar-10-batches-bin", "data_batch_1.bin");
  std::vector<std::string> paths;
  if (split == "train") {
    for (int b = 1; b <= 5; ++b) paths.push_back((base / ("data_batch_" + std::to_string(b) + ".bin")).string());
  } else {
    paths.push_back((base / "test_batch.bin").string());
  }
  return read_cifar_files(paths, 1, 10, 0);
}

ImageSet load_cifar100(const std::string& dir, const std::string& split) {
  STIFF_CHECK(split == "train" || split == "test",
              "load_cifar100: split must be 'train' or 'test', got '" + split + "'");
  const auto base = cifar_dir(dir, "cifar-100-binary", "train.bin");
  return read_cifar_files({(base / (split + ".bin")).string()}, 2, 100, 20);
}

// ================================= HDF5 =================================

namespace {

// Floats represent every integer of magnitude below 2^24 exactly.
constexpr float kExactFloatLimit = 16777216.0f;

std::string shape_string(const std::vector<hsize_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

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

int64_t max_or_minus_one(const std::vector<int64_t>& v) {
  return v.empty() ? -1 : *std::max_element(v.begin(), v.end());
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

// =============================== Synthetic ==============================

namespace {

// SplitMix64's finaliser: independent-looking generator seeds for the
// streams of one seed.
uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Standard normal numbers by the Box-Muller transform, written out because
// std::normal_distribution's algorithm differs between standard libraries.
// Draws come in pairs; the second of a pair is kept for the next call.
class Normal {
 public:
  explicit Normal(uint64_t seed) : rng_(seed) {}
  double operator()() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    constexpr double k2to53 = 1.0 / 9007199254740992.0;
    const double u1 = static_cast<double>((rng_() >> 11) + 1) * k2to53;  // (0, 1]: log is finite
    const double u2 = static_cast<double>(rng_() >> 11) * k2to53;        // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double t = 6.283185307179586 * u2;
    spare_ = r * std::sin(t);
    has_spare_ = true;
    return r * std::cos(t);
  }

 private:
  std::mt19937_64 rng_;
  bool has_spare_ = false;
  double spare_ = 0;
};

}  // namespace

DataSets make_synthetic(const SyntheticSpec& s) {
  STIFF_CHECK(s.num_classes >= 1 && s.num_classes <= 100000,
              "synthetic data: number of classes must be in [1, 100000], got " + std::to_string(s.num_classes));
  STIFF_CHECK(s.num_coarse >= 0 && s.num_coarse <= s.num_classes,
              "synthetic data: number of super-classes must be in [0, " + std::to_string(s.num_classes) +
                  "] (at most one per class), got " + std::to_string(s.num_coarse));
  STIFF_CHECK(s.channels > 0 && s.height > 0 && s.width > 0 && s.channels <= 4096 && s.height <= 4096 &&
                  s.width <= 4096,
              "synthetic data: example shape must be positive (at most 4096 each), got " +
                  std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width));
  STIFF_CHECK(s.train_per_class > 0 && s.val_per_class > 0,
              "synthetic data: examples per class must be positive, got " + std::to_string(s.train_per_class) +
                  " train and " + std::to_string(s.val_per_class) + " validation");
  STIFF_CHECK(std::isfinite(s.coarse_scale) && std::isfinite(s.class_scale) && std::isfinite(s.noise) &&
                  s.coarse_scale >= 0 && s.class_scale >= 0 && s.noise >= 0,
              "synthetic data: scales and noise must be finite and non-negative");
  const int64_t D = s.channels * s.height * s.width;
  const int64_t C = s.num_classes;
  const int64_t per_class_max = std::max(s.train_per_class, s.val_per_class);
  STIFF_CHECK(per_class_max <= kMaxPayloadBytes / C && C * per_class_max <= kMaxPayloadBytes / D,
              "synthetic data: too large (more than " + std::to_string(kMaxPayloadBytes) + " values per split)");

  const int64_t K = s.num_coarse > 0 ? s.num_coarse : C;  // no super-classes: each class its own
  auto super_of = [&](int64_t c) { return s.num_coarse > 0 ? c * s.num_coarse / C : c; };

  // Prototypes: super-class directions first, then class offsets.
  Normal proto_rng(mix_seed(s.seed, 0));
  std::vector<double> g(static_cast<size_t>(K * D)), mu(static_cast<size_t>(C * D));
  for (double& v : g) v = proto_rng();
  for (int64_t c = 0; c < C; ++c) {
    const double* gk = &g[static_cast<size_t>(super_of(c) * D)];
    double* m = &mu[static_cast<size_t>(c * D)];
    for (int64_t d = 0; d < D; ++d) m[d] = s.coarse_scale * gk[d] + s.class_scale * proto_rng();
  }

  auto make_split = [&](int64_t per_class, uint64_t stream, const char* name) {
    Normal rng(mix_seed(s.seed, stream));
    ImageSet set;
    set.n = C * per_class;
    set.channels = s.channels;
    set.height = s.height;
    set.width = s.width;
    set.num_classes = C;
    set.num_coarse = s.num_coarse;
    set.pixels.resize(static_cast<size_t>(set.n * D));
    set.labels.resize(static_cast<size_t>(set.n));
    if (s.num_coarse > 0) set.coarse_labels.resize(static_cast<size_t>(set.n));
    for (int64_t i = 0; i < set.n; ++i) {
      const int64_t c = i % C;  // classes interleaved: any prefix is balanced
      set.labels[static_cast<size_t>(i)] = c;
      if (s.num_coarse > 0) set.coarse_labels[static_cast<size_t>(i)] = super_of(c);
      const double* m = &mu[static_cast<size_t>(c * D)];
      float* x = &set.pixels[static_cast<size_t>(i * D)];
      for (int64_t d = 0; d < D; ++d) x[d] = static_cast<float>(m[d] + s.noise * rng());
    }
    std::ostringstream src;
    src << "synthetic " << name << " (seed " << s.seed << ", " << C << " classes, " << s.num_coarse
        << " super-classes, " << s.channels << "x" << s.height << "x" << s.width << ")";
    set.source = src.str();
    return set;
  };
  DataSets out;
  out.train = make_split(s.train_per_class, 1, "train");
  out.val = make_split(s.val_per_class, 2, "validation");
  return out;
}

// ============================== Dispatcher ==============================

DataSets load_dataset(const DataSpec& spec) {
  const std::string& f = spec.format;
  STIFF_CHECK(f == "idx" || f == "cifar10" || f == "cifar100" || f == "hdf5" || f == "synthetic",
              "--data-format: unknown format '" + f + "', expected idx, cifar10, cifar100, hdf5 or synthetic");
  STIFF_CHECK(spec.num_classes >= 0, "--num-classes: must be 0 (from the data) or positive, got " +
                                         std::to_string(spec.num_classes));
  STIFF_CHECK(f == "synthetic" || spec.num_coarse == 0,
              "--num-coarse: only the synthetic format takes a number of super-classes (the " + f +
                  " format gives its own), got " + std::to_string(spec.num_coarse));
  DataSets out;
  if (f == "idx") {
    if (spec.num_classes > 0) {
      out.train = load_mnist(spec.path, "train", spec.num_classes);
      out.val = load_mnist(spec.path, "t10k", spec.num_classes);
    } else {
      out.train = load_mnist(spec.path, "train", 256);
      out.val = load_mnist(spec.path, "t10k", 256);
      out.train.num_classes = out.val.num_classes =
          1 + std::max(max_or_minus_one(out.train.labels), max_or_minus_one(out.val.labels));
    }
  } else if (f == "cifar10" || f == "cifar100") {
    const int64_t classes = f == "cifar10" ? 10 : 100;
    STIFF_CHECK(spec.num_classes == 0 || spec.num_classes == classes,
                "--num-classes: " + f + " has " + std::to_string(classes) + " classes, got " +
                    std::to_string(spec.num_classes) + " (give " + std::to_string(classes) + " or 0)");
    out.train = f == "cifar10" ? load_cifar10(spec.path, "train") : load_cifar100(spec.path, "train");
    out.val = f == "cifar10" ? load_cifar10(spec.path, "test") : load_cifar100(spec.path, "test");
  } else if (f == "hdf5") {
    STIFF_CHECK(!spec.path.empty(), "--data-dir: the hdf5 format needs the path of a file");
    out = load_hdf5_dataset(spec.path, spec.num_classes);
  } else {
    SyntheticSpec s;
    s.num_classes = spec.num_classes > 0 ? spec.num_classes : 10;
    s.num_coarse = spec.num_coarse;
    s.height = s.width = spec.synthetic_size;
    s.train_per_class = spec.synthetic_train_per_class;
    s.val_per_class = spec.synthetic_val_per_class;
    s.seed = spec.seed;
    out = make_synthetic(s);
  }
  return out;
}

}  // namespace stiffness
