#pragma once
// RAII for HDF5 identifiers, and checks that turn HDF5 failures into exceptions with context.
#include <hdf5.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace mpilake {

class H5Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Switches off HDF5's own error printing (errors are reported through exceptions instead).
void silence_hdf5_errors();
// Throws H5Error("<what>: <HDF5's innermost message>") when `status` < 0; returns it otherwise.
herr_t check_h5(herr_t status, std::string_view what);

class H5Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  H5Handle() = default;
  // Takes ownership of `id`; throws H5Error if `id` is invalid.
  H5Handle(hid_t id, Closer closer, std::string_view what);
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept : id_(other.id_), closer_(other.closer_) { other.id_ = H5I_INVALID_HID; }
  H5Handle& operator=(H5Handle&& other) noexcept;
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  hid_t get() const { return id_; }
  // Closes now and reports a failure (a deferred write error can surface at close).
  void close(std::string_view what);
  void reset() noexcept;
  // Forgets the id without closing it: for a file whose write failed on this rank only, where the
  // collective close would wait for ranks that are already elsewhere (the job is aborted next).
  void abandon() noexcept { id_ = H5I_INVALID_HID; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

}  // namespace mpilake
