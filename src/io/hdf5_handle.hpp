// The HDF5 layer's own view: RAII ids and the native types. Included by src/io/*.cpp only (it
// includes <hdf5.h>); io/hdf5.hpp is what the rest of Weave sees.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "io/hdf5.hpp"

namespace weave::io {

static_assert(std::is_same_v<hid_t, std::int64_t>, "io::File keeps its hid_t as int64 (HDF5 >= 1.10)");

/// Owns an hid_t and closes it with the matching H5*close function.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle() { reset(); }
  void reset();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

/// The innermost message of the current HDF5 error stack (empty if none), then clears the stack.
std::string hdf5_error_detail();

/// H5T_NATIVE_* for a C++ arithmetic type.
template <typename T>
hid_t native_type();

/// The HDF5 type of IEEE binary16 (what numpy's float16 is stored as).
hid_t float16_type();

/// The HDF5 id behind a File.
struct FileId {
  static hid_t of(const File& file) { return file.id_; }
};

}  // namespace weave::io
