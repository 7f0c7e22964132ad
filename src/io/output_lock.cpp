#include "mpilake/io/output_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace mpilake {

OutputLock OutputLock::acquire(const Comm& comm, const std::filesystem::path& folder) {
  int fd = -1;
  comm.on_root([&] {
    const auto path = folder / ".mpilake.lock";
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw std::runtime_error("cannot create lock file " + path.string() + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      char holder[256] = {};
      const ssize_t n = ::pread(fd, holder, sizeof holder - 1, 0);
      ::close(fd);
      fd = -1;
      std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : std::string("unknown");
      while (!who.empty() && (who.back() == '\n' || who.back() == '\0')) who.pop_back();
      throw std::runtime_error("output folder '" + folder.string() + "' is in use by another mpilake run (" + who +
                               "); wait for it to finish or choose another --out");
    }
    char host[128] = {};
    ::gethostname(host, sizeof host - 1);
    const std::string holder = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, holder.data(), holder.size(), 0) < 0) {
      // The lock itself is held; the holder note is only for the message of a refused run.
    }
  });
  return OutputLock(fd);
}

OutputLock::~OutputLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

}  // namespace mpilake
