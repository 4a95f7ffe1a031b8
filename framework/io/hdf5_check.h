// Checked calls into the HDF5 C API, an owning handle for hid_t, and the few typed helpers the run log
// needs (scalar and string attributes, string datasets).
//
// Every HDF5 call in ptlab goes through PTLAB_H5(where, call): a negative return becomes a ptlab::Error
// of one line that names the call, the ptlab source file:line, `where` (the HDF5 file, and the object
// path inside it when useful) and HDF5's own messages, read from its error stack with H5Ewalk2. HDF5's
// default printing of that stack to stderr is switched off (h5_init, once per thread), so a user sees
// our one line and never HDF5's multi-line trace.
//
// Strings are written as variable-length UTF-8 (h5py reads them as str); bools as HDF5 enums
// {FALSE=0, TRUE=1} over int8, which is how h5py writes numpy bools, so they read back as bools.
//
// This header includes <hdf5.h>; keep it out of public headers (run_log.h does not include it).
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ptlab::io {

/// Switches off HDF5's automatic stderr error printing (H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr)).
/// Idempotent and cheap (once per thread); every ptlab entry point that calls HDF5 calls it first.
void h5_init();

/// The current HDF5 error stack of this thread as one line ("H5Fopen(): unable to open file; H5F_open():
/// ..."; outermost first, repeats dropped), then clears the stack. Empty when the stack is empty.
std::string h5_error_stack();

namespace detail {
[[noreturn]] void h5_fail(const char* call, const char* file, int line, const std::string& where);
}  // namespace detail

/// The body of PTLAB_H5: returns `result` unless it is negative (HDF5's failure value for hid_t, herr_t,
/// htri_t and hssize_t alike), in which case it throws ptlab::Error with the error stack.
template <class T>
T h5_checked(T result, const char* call, const char* file, int line, const std::string& where) {
  if (result < 0) detail::h5_fail(call, file, line, where);
  return result;
}

/// Owns an HDF5 identifier and closes it with the matching H5?close on destruction (errors ignored:
/// destructors never throw). Move-only.
class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  H5Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  H5Handle(H5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = -1; }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  ~H5Handle() { reset(); }

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now; returns HDF5's status (negative on failure) so a caller that must know can check it.
  herr_t reset();

 private:
  hid_t id_ = -1;
  Closer closer_ = nullptr;
};

// Checked constructors of owning handles; `where` goes into the error message.
H5Handle h5_group_create(hid_t loc, const std::string& name, const std::string& where);
H5Handle h5_group_open(hid_t loc, const std::string& name, const std::string& where);
H5Handle h5_dataset_open(hid_t loc, const std::string& name, const std::string& where);
/// A variable-length UTF-8 string type.
H5Handle h5_string_type(const std::string& where);

/// Whether a link `name` exists below `loc` (every intermediate component is checked, so "a/b/c" is
/// false rather than an error when "a" is missing).
bool h5_exists(hid_t loc, const std::string& name, const std::string& where);

// Scalar attributes on any object; an existing attribute of that name is replaced.
void h5_write_attribute(hid_t obj, const std::string& name, int64_t value, const std::string& where);
void h5_write_attribute(hid_t obj, const std::string& name, double value, const std::string& where);
void h5_write_attribute(hid_t obj, const std::string& name, bool value, const std::string& where);
void h5_write_attribute(hid_t obj, const std::string& name, const std::string& value, const std::string& where);
// Without this overload a string literal would pick the bool one.
inline void h5_write_attribute(hid_t obj, const std::string& name, const char* value, const std::string& where) {
  h5_write_attribute(obj, name, std::string(value), where);
}

/// A string attribute (variable- or fixed-length); nullopt when there is no attribute of that name.
/// An attribute of another type is an Error.
std::optional<std::string> h5_read_string_attribute(hid_t obj, const std::string& name, const std::string& where);
/// An integer attribute (any integer class, read as int64); nullopt when absent.
std::optional<int64_t> h5_read_int_attribute(hid_t obj, const std::string& name, const std::string& where);

/// A scalar string dataset `name` below `loc` holding `value` verbatim.
void h5_write_string_dataset(hid_t loc, const std::string& name, const std::string& value, const std::string& where);
/// A 1-D string dataset `name` (length values.size(), possibly 0).
void h5_write_string_array(hid_t loc, const std::string& name, const std::vector<std::string>& values,
                           const std::string& where);
/// Reads a scalar string dataset written by h5_write_string_dataset.
std::string h5_read_string_dataset(hid_t loc, const std::string& name, const std::string& where);

}  // namespace ptlab::io

/// PTLAB_H5(where, call): runs an HDF5 C call and throws ptlab::Error if it returns a negative value.
/// `where` is a std::string naming the file (and object) the call works on. Returns the call's value.
#define PTLAB_H5(where, call) ::ptlab::io::h5_checked((call), #call, __FILE__, __LINE__, (where))
