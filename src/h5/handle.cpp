#include "mpilake/h5/handle.hpp"

namespace mpilake {

void silence_hdf5_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

namespace {
herr_t keep_innermost(unsigned n, const H5E_error2_t* error, void* client) {
  if (n == 0 && error->desc != nullptr) *static_cast<std::string*>(client) = error->desc;
  return 0;
}
}  // namespace

herr_t check_h5(herr_t status, std::string_view what) {
  if (status >= 0) return status;
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, keep_innermost, &detail);
  H5Eclear2(H5E_DEFAULT);
  throw H5Error(std::string(what) + (detail.empty() ? std::string(" failed") : ": " + detail));
}

H5Handle::H5Handle(hid_t id, Closer closer, std::string_view what) : id_(id), closer_(closer) {
  if (id_ < 0) check_h5(-1, what);
}

H5Handle& H5Handle::operator=(H5Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    closer_ = other.closer_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void H5Handle::close(std::string_view what) {
  if (id_ < 0) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  check_h5(closer_(id), what);
}

void H5Handle::reset() noexcept {
  if (id_ >= 0 && closer_ != nullptr) closer_(id_);
  id_ = H5I_INVALID_HID;
}

}  // namespace mpilake
