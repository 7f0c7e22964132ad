#include "mpilake/io/landing.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives/broadcast.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/serialization/string.hpp>
#include <boost/serialization/utility.hpp>
#include <boost/serialization/vector.hpp>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace mpilake {

std::int64_t SourceFiles::total_bytes() const {
  std::int64_t total = 0;
  for (const auto& file : files) total += file.bytes;
  return total;
}

namespace {

// What rank 0 found: an error message (empty when fine) and, per source, (path, bytes) pairs.
struct Listing {
  std::string error;
  std::vector<std::vector<std::pair<std::string, std::int64_t>>> files;
  template <class Archive>
  void serialize(Archive& archive, unsigned /*version*/) {
    archive& error& files;
  }
};

// Lists the regular, non-hidden files of `folder` (sorted by path) into `files`. A sub-folder is
// added to `subfolders` when that is given, else refused like any other non-regular entry. Returns
// an error message, empty when fine.
std::string list_folder(const std::filesystem::path& folder, std::vector<std::pair<std::string, std::int64_t>>& files,
                        std::vector<std::string>* subfolders) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::directory_iterator it(folder, ec), end;
  if (ec) return "cannot list '" + folder.string() + "': " + ec.message();
  for (; it != end; it.increment(ec)) {
    if (ec) return "cannot list '" + folder.string() + "': " + ec.message();
    const auto name = it->path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (subfolders != nullptr && it->is_directory(ec)) {
      subfolders->push_back(name);
      continue;
    }
    // Anything else in a source folder would be data silently left out: refuse it by name.
    if (!it->is_regular_file(ec))
      return "landing entry '" + it->path().string() +
             "' is not a regular file (a folder, FIFO or broken link); move it out of the landing folder";
    if (const int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC); fd < 0)
      return "cannot open '" + it->path().string() + "': " + std::strerror(errno);
    else
      ::close(fd);
    const auto size = it->file_size(ec);
    if (ec) return "cannot read size of '" + it->path().string() + "': " + ec.message();
    files.emplace_back(it->path().string(), static_cast<std::int64_t>(size));
  }
  std::sort(files.begin(), files.end());
  if (subfolders != nullptr) std::sort(subfolders->begin(), subfolders->end());
  return {};
}

Listing list_on_root(const std::filesystem::path& landing, const std::vector<std::string>& sources) {
  namespace fs = std::filesystem;
  Listing listing;
  std::error_code ec;
  if (!fs::is_directory(landing, ec)) {
    listing.error = "landing folder '" + landing.string() + "' does not exist or is not a folder";
    return listing;
  }
  for (const auto& source : sources) {
    const fs::path folder = landing / source;
    if (!fs::is_directory(folder, ec)) {
      listing.error = "landing folder '" + landing.string() + "' has no '" + source + "/' sub-folder";
      return listing;
    }
    std::vector<std::pair<std::string, std::int64_t>> files;
    listing.error = list_folder(folder, files, nullptr);
    if (!listing.error.empty()) return listing;
    listing.files.push_back(std::move(files));
  }
  return listing;
}

// The streams of `landing/<topic>/`: its files directly inside (stream "", listed first when there
// are any), then each non-hidden sub-folder in name order. `names` gets the stream names.
Listing list_streams_on_root(const std::filesystem::path& landing, const std::string& topic,
                             std::vector<std::string>& names) {
  namespace fs = std::filesystem;
  Listing listing;
  std::error_code ec;
  if (!fs::is_directory(landing, ec)) {
    listing.error = "landing folder '" + landing.string() + "' does not exist or is not a folder";
    return listing;
  }
  const fs::path top = landing / topic;
  if (!fs::is_directory(top, ec)) {
    listing.error = "landing folder '" + landing.string() + "' has no '" + topic + "/' sub-folder";
    return listing;
  }
  std::vector<std::pair<std::string, std::int64_t>> root_files;
  std::vector<std::string> subfolders;
  listing.error = list_folder(top, root_files, &subfolders);
  if (!listing.error.empty()) return listing;
  if (!root_files.empty()) {
    names.emplace_back();
    listing.files.push_back(std::move(root_files));
  }
  for (const auto& name : subfolders) {
    std::vector<std::pair<std::string, std::int64_t>> files;
    listing.error = list_folder(top / name, files, nullptr);
    if (!listing.error.empty()) return listing;
    names.push_back(name);
    listing.files.push_back(std::move(files));
  }
  return listing;
}

}  // namespace

std::vector<SourceFiles> discover_landing(const Comm& comm, const std::filesystem::path& landing,
                                          const std::vector<std::string>& sources) {
  boost::mpi::communicator world(comm.get(), boost::mpi::comm_attach);
  Listing listing;
  if (comm.is_root()) listing = list_on_root(landing, sources);
  boost::mpi::broadcast(world, listing, 0);
  if (!listing.error.empty()) throw ConsistentError(listing.error);
  std::vector<SourceFiles> result;
  for (std::size_t s = 0; s < sources.size(); ++s) {
    SourceFiles source{sources[s], {}};
    for (auto& [path, bytes] : listing.files[s]) source.files.push_back({path, bytes});
    result.push_back(std::move(source));
  }
  return result;
}

std::vector<SourceFiles> discover_streams(const Comm& comm, const std::filesystem::path& landing,
                                          const std::string& topic) {
  boost::mpi::communicator world(comm.get(), boost::mpi::comm_attach);
  Listing listing;
  std::vector<std::string> names;
  if (comm.is_root()) listing = list_streams_on_root(landing, topic, names);
  boost::mpi::broadcast(world, listing, 0);
  boost::mpi::broadcast(world, names, 0);
  if (!listing.error.empty()) throw ConsistentError(listing.error);
  std::vector<SourceFiles> result;
  for (std::size_t s = 0; s < names.size(); ++s) {
    SourceFiles source{topic + "/" + names[s], {}};
    for (auto& [path, bytes] : listing.files[s]) source.files.push_back({path, bytes});
    result.push_back(std::move(source));
  }
  return result;
}

std::vector<FileSegment> split_byte_range(const SourceFiles& source, int part, int parts) {
  const std::int64_t total = source.total_bytes();
  // 128-bit products so that huge sources times many ranks cannot overflow.
  const auto boundary = [&](int p) { return static_cast<std::int64_t>(static_cast<__int128>(total) * p / parts); };
  const std::int64_t range_begin = boundary(part);
  const std::int64_t range_end = boundary(part + 1);
  std::vector<FileSegment> segments;
  std::int64_t file_start = 0;
  for (std::size_t i = 0; i < source.files.size(); ++i) {
    const std::int64_t file_end = file_start + source.files[i].bytes;
    const std::int64_t begin = std::max(range_begin, file_start);
    const std::int64_t end = std::min(range_end, file_end);
    if (begin < end) segments.push_back({i, begin - file_start, end - file_start});
    file_start = file_end;
  }
  return segments;
}

}  // namespace mpilake
