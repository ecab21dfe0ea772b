#include "io/hdf5_handle.hpp"

#include <filesystem>
#include <fstream>
#include <mutex>
#include <utility>

#include <fmt/format.h>

#include "mpi/file_hints.hpp"
#include "mpi/raw_comm.hpp"
#include "weave/error.hpp"

namespace weave::io {
namespace {

/// HDF5 prints its error stack to stderr by default; Weave reports errors itself.
void silence_hdf5_once() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

[[noreturn]] void fail(const std::string& what) {
  const std::string detail = hdf5_error_detail();
  throw UserError(detail.empty() ? what : fmt::format("{} ({})", what, detail));
}

hid_t checked(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}

void checked_status(herr_t rc, const std::string& what) {
  if (rc < 0) fail(what);
}

/// Reading or writing: files opened only to read get mpi::FileHints (a bounded collective buffer);
/// files written keep the MPI library's (their data are written independently: write_rows_raw).
enum class Access { kRead, kWrite };

Handle file_access(const mpi::Comm& comm, Access access) {
  Handle fapl(checked(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(fapl)"), H5Pclose);
  const mpi::FileHints hints(access == Access::kRead);  // the driver keeps a copy
  checked_status(H5Pset_fapl_mpio(fapl.get(), mpi::RawComm::of(comm), hints.info()), "H5Pset_fapl_mpio");
  // Metadata reads by one rank, broadcast to the others (cheaper than N ranks reading it).
  checked_status(H5Pset_all_coll_metadata_ops(fapl.get(), true), "H5Pset_all_coll_metadata_ops");
  checked_status(H5Pset_coll_metadata_write(fapl.get(), true), "H5Pset_coll_metadata_write");
  return fapl;
}

Handle collective_transfer() {
  Handle dxpl(checked(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate(dxpl)"), H5Pclose);
  checked_status(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

/// Collective for HDF5 (every rank calls; its metadata stays collective), but each rank moves its
/// own data with independent MPI-IO calls: no aggregator rank handles the others' data.
Handle independent_data_transfer() {
  Handle dxpl = collective_transfer();
  checked_status(H5Pset_dxpl_mpio_collective_opt(dxpl.get(), H5FD_MPIO_INDIVIDUAL_IO), "H5Pset_dxpl_mpio_collective_opt");
  return dxpl;
}

Handle open_dataset(const File& file, const std::string& name) {
  return Handle(checked(H5Dopen2(FileId::of(file), name.c_str(), H5P_DEFAULT),
                        fmt::format("{}: cannot open dataset {}", file.path(), name)),
                H5Dclose);
}

Handle open_object(const File& file, const std::string& object) {
  return Handle(checked(H5Oopen(FileId::of(file), object.c_str(), H5P_DEFAULT),
                        fmt::format("{}: cannot open {}", file.path(), object)),
                H5Oclose);
}

std::int64_t total_rows(hid_t dset) {
  Handle space(checked(H5Dget_space(dset), "H5Dget_space"), H5Sclose);
  hsize_t dims[H5S_MAX_RANK] = {0};
  if (H5Sget_simple_extent_ndims(space.get()) < 1) return 0;
  H5Sget_simple_extent_dims(space.get(), dims, nullptr);
  return static_cast<std::int64_t>(dims[0]);
}

/// File and memory dataspaces selecting rows [row_begin, row_begin + row_count) of a dataset.
std::pair<Handle, Handle> row_selection(const File& file, const std::string& name, hid_t dset, std::int64_t row_begin,
                                        std::int64_t row_count, std::int64_t cols) {
  Handle fspace(checked(H5Dget_space(dset), "H5Dget_space"), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(fspace.get());
  if (rank < 1 || rank > 2) throw UserError(fmt::format("{}: dataset {} has {} dimensions, expected 1 or 2", file.path(), name, rank));
  hsize_t dims[2] = {0, 1};
  H5Sget_simple_extent_dims(fspace.get(), dims, nullptr);
  const std::int64_t file_cols = rank == 2 ? static_cast<std::int64_t>(dims[1]) : 1;
  if (file_cols != cols)
    throw InternalError(fmt::format("{}:{}: {} columns in the file, caller expects {}", file.path(), name, file_cols, cols));
  if (row_begin < 0 || row_begin + row_count > static_cast<std::int64_t>(dims[0]))
    throw InternalError(fmt::format("{}:{}: rows [{}, {}) outside [0, {})", file.path(), name, row_begin,
                                    row_begin + row_count, dims[0]));
  hsize_t mem_dims[2] = {static_cast<hsize_t>(row_count), static_cast<hsize_t>(cols)};
  Handle mspace(checked(H5Screate_simple(rank, mem_dims, nullptr), "H5Screate_simple"), H5Sclose);
  if (row_count == 0) {
    checked_status(H5Sselect_none(fspace.get()), "H5Sselect_none");
    checked_status(H5Sselect_none(mspace.get()), "H5Sselect_none");
  } else {
    hsize_t start[2] = {static_cast<hsize_t>(row_begin), 0};
    hsize_t count[2] = {static_cast<hsize_t>(row_count), static_cast<hsize_t>(cols)};
    checked_status(H5Sselect_hyperslab(fspace.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
  }
  return {std::move(fspace), std::move(mspace)};
}

}  // namespace

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  id_ = H5I_INVALID_HID;
}

std::string hdf5_error_detail() {
  std::string innermost;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_DOWNWARD,
      [](unsigned n, const H5E_error2_t* err, void* data) -> herr_t {
        auto* out = static_cast<std::string*>(data);
        if (err->desc != nullptr && *err->desc != '\0') *out = err->desc;  // keep the innermost
        (void)n;
        return 0;
      },
      &innermost);
  H5Eclear2(H5E_DEFAULT);
  return innermost;
}

std::string DatasetInfo::describe() const {
  std::string base;
  switch (type_class) {
    case TypeClass::kFloat: base = fmt::format("float{}", type_size * 8); break;
    case TypeClass::kInteger: base = fmt::format("{}int{}", is_signed ? "" : "u", type_size * 8); break;
    case TypeClass::kString: base = "string"; break;
    case TypeClass::kOther: base = fmt::format("HDF5 type class {}", hdf5_class); break;
  }
  if (dtype_attribute) base += fmt::format(" (dtype={})", *dtype_attribute);
  return base;
}

template <> hid_t native_type<float>() { return H5T_NATIVE_FLOAT; }
template <> hid_t native_type<double>() { return H5T_NATIVE_DOUBLE; }
template <> hid_t native_type<std::int8_t>() { return H5T_NATIVE_INT8; }
template <> hid_t native_type<std::uint8_t>() { return H5T_NATIVE_UINT8; }
template <> hid_t native_type<std::int16_t>() { return H5T_NATIVE_INT16; }
template <> hid_t native_type<std::uint16_t>() { return H5T_NATIVE_UINT16; }
template <> hid_t native_type<std::int32_t>() { return H5T_NATIVE_INT32; }
template <> hid_t native_type<std::uint32_t>() { return H5T_NATIVE_UINT32; }
template <> hid_t native_type<std::int64_t>() { return H5T_NATIVE_INT64; }
template <> hid_t native_type<std::uint64_t>() { return H5T_NATIVE_UINT64; }

File File::open(const mpi::Comm& comm, const std::string& path) {
  silence_hdf5_once();
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(fmt::format("{}: no such file", path));
  if (std::filesystem::is_directory(path, ec)) throw UserError(fmt::format("{}: is a directory, expected an HDF5 file", path));
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw UserError(fmt::format("{}: cannot be opened for reading", path));
  }
  if (!is_hdf5(path)) throw UserError(fmt::format("{}: not an HDF5 file", path));
  Handle fapl = file_access(comm, Access::kRead);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get());
  if (id < 0) fail(fmt::format("{}: cannot open HDF5 file (damaged or truncated?)", path));
  return File(comm, path, id);
}

File File::open_rw(const mpi::Comm& comm, const std::string& path) {
  silence_hdf5_once();
  Handle fapl = file_access(comm, Access::kWrite);
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get());
  if (id < 0) fail(fmt::format("{}: cannot open for writing", path));
  return File(comm, path, id);
}

File File::create(const mpi::Comm& comm, const std::string& path) {
  silence_hdf5_once();
  Handle fapl = file_access(comm, Access::kWrite);
  hid_t id = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (id < 0) fail(fmt::format("{}: cannot create file (does the folder exist and is it writable?)", path));
  return File(comm, path, id);
}

File::File(File&& other) noexcept : comm_(other.comm_), path_(std::move(other.path_)), id_(std::exchange(other.id_, -1)) {}

File::~File() {
  if (id_ >= 0) H5Fclose(id_);
}

void File::close() {
  if (id_ < 0) return;
  // Give up the id first so a failing close is not retried by the destructor.
  const hid_t id = std::exchange(id_, -1);
  checked_status(H5Fclose(id), fmt::format("{}: error while closing (disk full?)", path_));
}

bool is_hdf5(const std::string& path) {
  silence_hdf5_once();
  const bool yes = H5Fis_hdf5(path.c_str()) > 0;
  H5Eclear2(H5E_DEFAULT);
  return yes;
}

bool File::has_dataset(const std::string& name) const {
  // H5Lexists on "/a/b" needs "/a" to exist; Weave's datasets are at most one group deep.
  const auto slash = name.find('/', 1);
  if (slash != std::string::npos) {
    const std::string group = name.substr(0, slash);
    if (H5Lexists(id_, group.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  const htri_t exists = H5Lexists(id_, name.c_str(), H5P_DEFAULT);
  if (exists < 0) fail(fmt::format("{}: cannot look up {}", path_, name));
  if (exists == 0) return false;
  const hid_t obj = H5Oopen(id_, name.c_str(), H5P_DEFAULT);
  if (obj < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  const bool is_dataset = H5Iget_type(obj) == H5I_DATASET;
  H5Oclose(obj);
  return is_dataset;
}

std::optional<std::int64_t> File::collective_buffer_bytes() const {
  void* handle = nullptr;
  checked_status(H5Fget_vfd_handle(FileId::of(*this), H5P_DEFAULT, &handle), "H5Fget_vfd_handle");
  return mpi::collective_buffer_bytes(*static_cast<MPI_File*>(handle));
}

DatasetInfo File::dataset_info(const std::string& name) const {
  Handle dset = open_dataset(*this, name);
  Handle space(checked(H5Dget_space(dset.get()), "H5Dget_space"), H5Sclose);
  Handle type(checked(H5Dget_type(dset.get()), "H5Dget_type"), H5Tclose);
  DatasetInfo info;
  const int rank = H5Sget_simple_extent_ndims(space.get());
  std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
  if (rank > 0) H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  for (auto d : dims) info.dims.push_back(static_cast<std::int64_t>(d));
  const H5T_class_t type_class = H5Tget_class(type.get());
  info.hdf5_class = static_cast<int>(type_class);
  info.type_class = type_class == H5T_INTEGER ? TypeClass::kInteger
                    : type_class == H5T_FLOAT ? TypeClass::kFloat
                    : type_class == H5T_STRING ? TypeClass::kString
                                               : TypeClass::kOther;
  info.type_size = H5Tget_size(type.get());
  info.is_signed = type_class == H5T_INTEGER && H5Tget_sign(type.get()) == H5T_SGN_2;
  info.dtype_attribute = read_string_attribute(*this, name, "dtype");
  return info;
}

namespace {

void read_rows_raw(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                   std::int64_t cols, hid_t mem_type, void* out) {
  Handle dset = open_dataset(file, dataset);
  if (total_rows(dset.get()) == 0) return;  // nothing allocated to read from (same on every rank)
  auto [fspace, mspace] = row_selection(file, dataset, dset.get(), row_begin, row_count, cols);
  Handle dxpl = collective_transfer();
  checked_status(H5Dread(dset.get(), mem_type, mspace.get(), fspace.get(), dxpl.get(), out),
                 fmt::format("{}: cannot read {} rows {}..{}", file.path(), dataset, row_begin, row_begin + row_count));
}

/// The union of runs[first, last) as a selection of a copy of `space`. Halves are combined
/// (H5Scombine_select): adding runs one by one (H5S_SELECT_OR) rebuilds the selection each time,
/// quadratic in the runs (20,000 runs: 5 s against 0.02 s this way).
Handle union_of_runs(hid_t space, const std::vector<RowRun>& runs, std::size_t first, std::size_t last, std::int64_t cols) {
  if (last - first == 1) {
    Handle one(checked(H5Scopy(space), "H5Scopy"), H5Sclose);
    hsize_t start[2] = {static_cast<hsize_t>(runs[first].begin), 0};
    hsize_t count[2] = {static_cast<hsize_t>(runs[first].count), static_cast<hsize_t>(cols)};
    checked_status(H5Sselect_hyperslab(one.get(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab");
    return one;
  }
  const std::size_t mid = first + (last - first) / 2;
  const Handle a = union_of_runs(space, runs, first, mid, cols);
  const Handle b = union_of_runs(space, runs, mid, last, cols);
  return Handle(checked(H5Scombine_select(a.get(), H5S_SELECT_OR, b.get()), "H5Scombine_select"), H5Sclose);
}

void read_row_runs_raw(const File& file, const std::string& dataset, const std::vector<RowRun>& runs,
                       std::int64_t cols, hid_t mem_type, void* out) {
  Handle dset = open_dataset(file, dataset);
  if (total_rows(dset.get()) == 0) return;  // nothing allocated to read from (same on every rank)
  std::int64_t rows = 0;
  for (const RowRun& run : runs) rows += run.count;
  // The checks of a single block (dimensions, columns, bounds) on the runs' span; its selection is
  // then replaced by the union of the runs.
  const std::int64_t first = runs.empty() ? 0 : runs.front().begin;
  const std::int64_t span = runs.empty() ? 0 : runs.back().begin + runs.back().count - first;
  auto [fspace, ignored] = row_selection(file, dataset, dset.get(), first, span, cols);
  const int rank = H5Sget_simple_extent_ndims(fspace.get());
  hsize_t mem_dims[2] = {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)};
  Handle mspace(checked(H5Screate_simple(rank, mem_dims, nullptr), "H5Screate_simple"), H5Sclose);
  if (rows == 0) {
    checked_status(H5Sselect_none(fspace.get()), "H5Sselect_none");
    checked_status(H5Sselect_none(mspace.get()), "H5Sselect_none");
  } else {
    fspace = union_of_runs(fspace.get(), runs, 0, runs.size(), cols);
  }
  // Collective for HDF5 (every rank calls, its metadata reads stay collective), but each rank reads
  // its own runs with independent MPI-IO calls: a collective read of scattered rows makes the
  // aggregators read the union of every rank's span, about the whole file. The path ends' rows of
  // 2M x 768 at 16 ranks (a third of the documents): 1.9-3.8 s collectively, 0.4-0.5 s this way.
  Handle dxpl = independent_data_transfer();
  checked_status(H5Dread(dset.get(), mem_type, mspace.get(), fspace.get(), dxpl.get(), out),
                 fmt::format("{}: cannot read {} rows in {} runs from row {}", file.path(), dataset, rows, runs.size(),
                             first));
}

void write_rows_raw(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                    std::int64_t cols, hid_t mem_type, const void* in) {
  Handle dset = open_dataset(file, dataset);
  if (total_rows(dset.get()) == 0) return;  // an empty dataset has no storage to write to
  auto [fspace, mspace] = row_selection(file, dataset, dset.get(), row_begin, row_count, cols);
  // Collective for HDF5 (its metadata), but each rank writes its one contiguous block with
  // independent MPI-IO calls: collective buffering copied every block to an aggregator rank first, a
  // buffer of up to the MPI's 32 MiB there (synth at 8 ranks: peak 80 MiB a rank against 48 this
  // way; pack's contexts at 64 ranks: 42 against 36) for no speed here (docs/benchmarks.md).
  Handle dxpl = independent_data_transfer();
  checked_status(H5Dwrite(dset.get(), mem_type, mspace.get(), fspace.get(), dxpl.get(), in),
                 fmt::format("{}: cannot write {} rows {}..{} (disk full?)", file.path(), dataset, row_begin,
                             row_begin + row_count));
}

hid_t stored_type(StoredType type) {
  switch (type) {
    case StoredType::kUint8: return H5T_STD_U8LE;
    case StoredType::kUint16: return H5T_STD_U16LE;
    case StoredType::kInt32: return H5T_STD_I32LE;
    case StoredType::kInt64: return H5T_STD_I64LE;
    case StoredType::kFloat16: return float16_type();
    case StoredType::kFloat32: return H5T_IEEE_F32LE;
  }
  throw InternalError("io: unknown stored type");
}

}  // namespace

void read_float16_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                       std::int64_t cols, std::uint16_t* out) {
  read_rows_raw(file, dataset, row_begin, row_count, cols, float16_type(), out);
}

void read_float16_row_runs(const File& file, const std::string& dataset, const std::vector<RowRun>& runs,
                           std::int64_t cols, std::uint16_t* out) {
  read_row_runs_raw(file, dataset, runs, cols, float16_type(), out);
}

template <typename T>
void read_row_runs(const File& file, const std::string& dataset, const std::vector<RowRun>& runs, std::int64_t cols,
                   T* out) {
  read_row_runs_raw(file, dataset, runs, cols, native_type<T>(), out);
}
template void read_row_runs<float>(const File&, const std::string&, const std::vector<RowRun>&, std::int64_t, float*);
template void read_row_runs<std::uint16_t>(const File&, const std::string&, const std::vector<RowRun>&, std::int64_t,
                                           std::uint16_t*);

void write_float16_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                        std::int64_t cols, const std::uint16_t* in) {
  write_rows_raw(file, dataset, row_begin, row_count, cols, float16_type(), in);
}

template <typename T>
void read_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
               std::int64_t cols, T* out) {
  read_rows_raw(file, dataset, row_begin, row_count, cols, native_type<T>(), out);
}

void create_dataset(const File& file, const std::string& name, StoredType type, const std::vector<std::int64_t>& dims,
                    std::int64_t chunk_rows) {
  const hid_t file_type = stored_type(type);
  std::vector<hsize_t> hdims(dims.begin(), dims.end());
  Handle space(checked(H5Screate_simple(static_cast<int>(hdims.size()), hdims.data(), nullptr), "H5Screate_simple"),
               H5Sclose);
  Handle dcpl(checked(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dcpl)"), H5Pclose);
  if (chunk_rows > 0 && !dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk = hdims;
    chunk[0] = static_cast<hsize_t>(std::min<std::int64_t>(chunk_rows, dims[0]));
    checked_status(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
  }
  // Parallel HDF5 allocates at creation; no fill pass over data every rank overwrites anyway.
  checked_status(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  // Intermediate groups ("/segments/doc_id") are created on the way.
  Handle lcpl(checked(H5Pcreate(H5P_LINK_CREATE), "H5Pcreate(lcpl)"), H5Pclose);
  checked_status(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group");
  Handle dset(checked(H5Dcreate2(FileId::of(file), name.c_str(), file_type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
                      fmt::format("{}: cannot create dataset {}", file.path(), name)),
              H5Dclose);
}

template <typename T>
void write_rows(const File& file, const std::string& dataset, std::int64_t row_begin, std::int64_t row_count,
                std::int64_t cols, const T* in) {
  write_rows_raw(file, dataset, row_begin, row_count, cols, native_type<T>(), in);
}

#define WEAVE_INSTANTIATE_ROWS(T)                                                                            \
  template void read_rows<T>(const File&, const std::string&, std::int64_t, std::int64_t, std::int64_t, T*); \
  template void write_rows<T>(const File&, const std::string&, std::int64_t, std::int64_t, std::int64_t, const T*);
WEAVE_INSTANTIATE_ROWS(float)
WEAVE_INSTANTIATE_ROWS(double)
WEAVE_INSTANTIATE_ROWS(std::uint8_t)
WEAVE_INSTANTIATE_ROWS(std::uint16_t)
WEAVE_INSTANTIATE_ROWS(std::int32_t)
WEAVE_INSTANTIATE_ROWS(std::int64_t)
#undef WEAVE_INSTANTIATE_ROWS

namespace {
void write_attribute_raw(const File& file, const std::string& object, const std::string& name, hid_t type,
                         const void* value) {
  Handle obj = open_object(file, object);
  if (H5Aexists(obj.get(), name.c_str()) > 0) H5Adelete(obj.get(), name.c_str());
  Handle space(checked(H5Screate(H5S_SCALAR), "H5Screate"), H5Sclose);
  Handle attr(checked(H5Acreate2(obj.get(), name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                      fmt::format("{}: cannot create attribute {} on {}", file.path(), name, object)),
              H5Aclose);
  checked_status(H5Awrite(attr.get(), type, value), fmt::format("{}: cannot write attribute {}", file.path(), name));
}
}  // namespace

void write_attribute(const File& file, const std::string& object, const std::string& name, const std::string& value) {
  // Variable-length UTF-8, which h5py returns as a Python str.
  Handle type(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
  checked_status(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  checked_status(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  const char* ptr = value.c_str();
  write_attribute_raw(file, object, name, type.get(), &ptr);
}

void write_attribute(const File& file, const std::string& object, const std::string& name, std::int64_t value) {
  write_attribute_raw(file, object, name, H5T_NATIVE_INT64, &value);
}

void write_attribute(const File& file, const std::string& object, const std::string& name, double value) {
  write_attribute_raw(file, object, name, H5T_NATIVE_DOUBLE, &value);
}

void write_json_attributes(const File& file, const std::string& object, const nlohmann::json& attributes) {
  for (const auto& [key, value] : attributes.items()) {
    if (value.is_string()) write_attribute(file, object, key, value.get<std::string>());
    else if (value.is_number_integer()) write_attribute(file, object, key, value.get<std::int64_t>());
    else if (value.is_number()) write_attribute(file, object, key, value.get<double>());
    else write_attribute(file, object, key, value.dump());
  }
}

std::optional<std::string> read_string_attribute(const File& file, const std::string& object, const std::string& name) {
  Handle obj = open_object(file, object);
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return std::nullopt;
  Handle attr(checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "H5Aopen"), H5Aclose);
  Handle type(checked(H5Aget_type(attr.get()), "H5Aget_type"), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING) return std::nullopt;
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(checked(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* value = nullptr;
    checked_status(H5Aread(attr.get(), mem.get(), &value), "H5Aread");
    std::string out = value ? value : "";
    H5free_memory(value);
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string out(size, '\0');
  checked_status(H5Aread(attr.get(), type.get(), out.data()), "H5Aread");
  out.resize(out.find('\0') == std::string::npos ? out.size() : out.find('\0'));
  return out;
}

std::optional<std::int64_t> read_int_attribute(const File& file, const std::string& object, const std::string& name) {
  Handle obj = open_object(file, object);
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return std::nullopt;
  Handle attr(checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "H5Aopen"), H5Aclose);
  std::int64_t value = 0;
  checked_status(H5Aread(attr.get(), H5T_NATIVE_INT64, &value), "H5Aread");
  return value;
}

std::optional<double> read_double_attribute(const File& file, const std::string& object, const std::string& name) {
  Handle obj = open_object(file, object);
  if (H5Aexists(obj.get(), name.c_str()) <= 0) return std::nullopt;
  Handle attr(checked(H5Aopen(obj.get(), name.c_str(), H5P_DEFAULT), "H5Aopen"), H5Aclose);
  double value = 0;
  checked_status(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, &value), "H5Aread");
  return value;
}

hid_t float16_type() {
  // IEEE binary16, little-endian: sign bit 15, exponent bits 10..14 (bias 15), mantissa bits 0..9.
  static const hid_t type = [] {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
  }();
  return type;
}

}  // namespace weave::io
