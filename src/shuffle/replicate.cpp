#include "mpilake/shuffle/replicate.hpp"

#include "mpilake/table/row_codec.hpp"

namespace mpilake {

Table replicate_rows(const Comm& comm, const Table& rows) {
  Table all(rows.schema());
  for (const std::string& bytes : comm.all_gather(encode_rows(rows))) decode_rows(all, bytes);
  return all;
}

}  // namespace mpilake
