// Zones written by many appends under mpiexec, compared with write_zone of the concatenated rows:
// random rows split at random over the ranks and over 1..5 appends (ranks with no rows in some), each
// file opened with HDF5 and compared dataset by dataset (type, shape, chunks, filters, fill time,
// attributes, every byte of data) and root attribute by root attribute (all but created_utc); the
// values also against the concatenated rows. A wrong plan or an unfinished appender leaves no file.
#include "mpilake/h5/zone_appender.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <set>

#include "../error_of.hpp"
#include "mpilake/h5/handle.hpp"
#include "mpilake/h5/zone_chunks.hpp"
#include "mpilake/h5/zone_reader.hpp"
#include "mpilake/h5/zone_writer.hpp"
#include "mpilake/io/spill_file.hpp"

namespace mpilake {
namespace {

const Schema kSchema = {{"id", ColumnType::Int64},
                        {"name", ColumnType::String},
                        {"value", ColumnType::Float64},
                        {"key", ColumnType::Int64},  // ids into kDictionary, stored as its strings
                        {"n", ColumnType::Int64}};
constexpr std::size_t kKey = 3;
const std::vector<std::string_view> kDictionary = {"alpha", "b", "a value nobody uses at all", "gamma-delta", ""};
const Schema kIndexSchema = {{"device_serial", ColumnType::String}, {"device_offset", ColumnType::Int64}};

ZoneLayout layout_of(std::int64_t chunk_rows, bool compress) {
  ZoneLayout layout;
  layout.chunk_rows = chunk_rows;
  layout.compress = compress;
  return layout;
}
const std::int64_t kDefaultChunkRows = ZoneLayout{}.chunk_rows;

std::filesystem::path shared_temp_path(const Comm& comm, const std::string& name) {
  return std::filesystem::temp_directory_path() /
         comm.broadcast("mpilake_appender_test_" + std::to_string(::getpid()) + "_" + name + ".h5");
}

// ---- An HDF5-level comparison of two zone files: one line per difference. -------------------------

std::string raw_bytes(hid_t object, bool attribute, std::string_view what) {
  H5Handle type(attribute ? H5Aget_type(object) : H5Dget_type(object), H5Tclose, what);
  H5Handle space(attribute ? H5Aget_space(object) : H5Dget_space(object), H5Sclose, what);
  const hssize_t points = H5Sget_simple_extent_npoints(space.get());
  std::string bytes(static_cast<std::size_t>(points) * H5Tget_size(type.get()), '\0');
  if (points > 0) {
    if (attribute)
      check_h5(H5Aread(object, type.get(), bytes.data()), what);
    else
      check_h5(H5Dread(object, type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data()), what);
  }
  return bytes;
}

std::string space_text(hid_t space) {
  const int rank = H5Sget_simple_extent_ndims(space);
  if (rank <= 0) return "scalar";
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank)), max_dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space, dims.data(), max_dims.data());
  std::string text;
  for (int d = 0; d < rank; ++d)
    text += std::to_string(dims[d]) + "/" +
            (max_dims[d] == H5S_UNLIMITED ? std::string("unlimited") : std::to_string(max_dims[d])) + " ";
  return text;
}

herr_t collect_name(hid_t, const char* name, const void*, void* names) {
  static_cast<std::set<std::string>*>(names)->insert(name);
  return 0;
}

std::set<std::string> attribute_names(hid_t object) {
  std::set<std::string> names;
  hsize_t index = 0;
  check_h5(
      H5Aiterate2(
          object, H5_INDEX_NAME, H5_ITER_INC, &index,
          [](hid_t, const char* name, const H5A_info_t*, void* out) { return collect_name(0, name, nullptr, out); },
          &names),
      "attributes");
  return names;
}

void compare_attributes(hid_t a, hid_t b, const std::string& where, std::vector<std::string>& out) {
  std::set<std::string> names_a = attribute_names(a), names_b = attribute_names(b);
  names_a.erase("created_utc");
  names_b.erase("created_utc");
  if (names_a != names_b) out.push_back(where + ": other attribute names");
  for (const std::string& name : names_a) {
    if (names_b.count(name) == 0) continue;
    H5Handle attr_a(H5Aopen(a, name.c_str(), H5P_DEFAULT), H5Aclose, name);
    H5Handle attr_b(H5Aopen(b, name.c_str(), H5P_DEFAULT), H5Aclose, name);
    H5Handle type_a(H5Aget_type(attr_a.get()), H5Tclose, name), type_b(H5Aget_type(attr_b.get()), H5Tclose, name);
    H5Handle space_a(H5Aget_space(attr_a.get()), H5Sclose, name), space_b(H5Aget_space(attr_b.get()), H5Sclose, name);
    if (H5Tequal(type_a.get(), type_b.get()) <= 0) out.push_back(where + ": attribute " + name + ": type");
    if (space_text(space_a.get()) != space_text(space_b.get()))
      out.push_back(where + ": attribute " + name + ": shape");
    else if (H5Tequal(type_a.get(), type_b.get()) > 0 &&
             raw_bytes(attr_a.get(), true, name) != raw_bytes(attr_b.get(), true, name))
      out.push_back(where + ": attribute " + name + ": value");
  }
}

std::string creation_text(hid_t dataset) {
  H5Handle create(H5Dget_create_plist(dataset), H5Pclose, "creation properties");
  std::string text = "layout " + std::to_string(H5Pget_layout(create.get()));
  if (H5Pget_layout(create.get()) == H5D_CHUNKED) {
    hsize_t chunk[4] = {};
    const int rank = H5Pget_chunk(create.get(), 4, chunk);
    text += " chunk";
    for (int d = 0; d < rank; ++d) text += " " + std::to_string(chunk[d]);
  }
  const int filters = H5Pget_nfilters(create.get());
  for (int f = 0; f < filters; ++f) {
    unsigned flags = 0, config = 0;
    std::size_t count = 8;
    unsigned values[8] = {};
    char name[64] = {};
    const H5Z_filter_t id =
        H5Pget_filter2(create.get(), static_cast<unsigned>(f), &flags, &count, values, sizeof name, name, &config);
    text += " filter " + std::to_string(id) + " flags " + std::to_string(flags) + " (";
    for (std::size_t v = 0; v < count && v < 8; ++v) text += std::to_string(values[v]) + ",";
    text += ")";
  }
  H5D_fill_time_t fill_time{};
  H5D_alloc_time_t alloc_time{};
  H5Pget_fill_time(create.get(), &fill_time);
  H5Pget_alloc_time(create.get(), &alloc_time);
  return text + " fill time " + std::to_string(fill_time) + " alloc time " + std::to_string(alloc_time);
}

std::vector<std::string> zone_differences(const std::filesystem::path& path_a, const std::filesystem::path& path_b) {
  std::vector<std::string> out;
  H5Handle a(H5Fopen(path_a.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path_a.string());
  H5Handle b(H5Fopen(path_b.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose, path_b.string());
  std::set<std::string> names_a, names_b;
  check_h5(H5Literate(
               a.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
               [](hid_t, const char* name, const H5L_info_t*, void* s) { return collect_name(0, name, nullptr, s); },
               &names_a),
           "links");
  check_h5(H5Literate(
               b.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr,
               [](hid_t, const char* name, const H5L_info_t*, void* s) { return collect_name(0, name, nullptr, s); },
               &names_b),
           "links");
  if (names_a != names_b) out.push_back("other datasets");
  compare_attributes(a.get(), b.get(), "root", out);
  for (const std::string& name : names_a) {
    if (names_b.count(name) == 0) continue;
    H5Handle set_a(H5Dopen2(a.get(), name.c_str(), H5P_DEFAULT), H5Dclose, name);
    H5Handle set_b(H5Dopen2(b.get(), name.c_str(), H5P_DEFAULT), H5Dclose, name);
    H5Handle type_a(H5Dget_type(set_a.get()), H5Tclose, name), type_b(H5Dget_type(set_b.get()), H5Tclose, name);
    H5Handle space_a(H5Dget_space(set_a.get()), H5Sclose, name), space_b(H5Dget_space(set_b.get()), H5Sclose, name);
    const bool same_type = H5Tequal(type_a.get(), type_b.get()) > 0;
    if (!same_type) out.push_back(name + ": type");
    if (space_text(space_a.get()) != space_text(space_b.get()))
      out.push_back(name + ": shape " + space_text(space_a.get()) + "vs " + space_text(space_b.get()));
    else if (same_type && raw_bytes(set_a.get(), false, name) != raw_bytes(set_b.get(), false, name))
      out.push_back(name + ": data");
    if (creation_text(set_a.get()) != creation_text(set_b.get()))
      out.push_back(name + ": " + creation_text(set_a.get()) + " vs " + creation_text(set_b.get()));
    compare_attributes(set_a.get(), set_b.get(), name, out);
  }
  return out;
}

// ---- Random zones. ----------------------------------------------------------------------------------

Table random_rows(std::mt19937_64& random, std::size_t rows, std::int64_t first_n) {
  Table table(kSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    table.ints(0).push_back(random() % 6 == 0 ? kNullInt64 : static_cast<std::int64_t>(random() % 100000) - 500);
    table.strings(1).push_back(std::string(random() % 13, static_cast<char>('a' + random() % 26)));
    table.floats(2).push_back(static_cast<double>(random() % 100000) / 7.0);
    table.ints(3).push_back(static_cast<std::int64_t>(random() % 2 == 0 ? 0 : random() % kDictionary.size()));
    table.ints(4).push_back(first_n + static_cast<std::int64_t>(r));
    table.commit_row();
  }
  return table;
}

Table random_index(std::mt19937_64& random, std::size_t rows) {
  Table table(kIndexSchema);
  for (std::size_t r = 0; r < rows; ++r) {
    table.strings(0).push_back("dev-" + std::string(1 + random() % 9, static_cast<char>('0' + random() % 10)));
    table.ints(1).push_back(random() % 5 == 0 ? kNullInt64 : static_cast<std::int64_t>(random() % 1000));
    table.commit_row();
  }
  return table;
}

Table slice(const Table& table, std::size_t begin, std::size_t end) {
  std::vector<std::size_t> rows;
  for (std::size_t r = begin; r < end; ++r) rows.push_back(r);
  return table.take(rows);
}

struct RandomCase {
  // rows[call][rank], index_rows[call][rank]; the concatenation in call order, ranks in rank order.
  std::vector<std::vector<std::size_t>> rows, index_rows;
  Table all{kSchema}, all_index{kIndexSchema};
};

// The same on every rank (one seed).
RandomCase random_case(std::uint64_t seed, int ranks) {
  std::mt19937_64 random(seed);
  RandomCase c;
  const std::size_t calls = 1 + random() % 5;
  const std::size_t big = random() % 3 == 0 ? 400 : 40;
  for (std::size_t call = 0; call < calls; ++call) {
    c.rows.emplace_back();
    c.index_rows.emplace_back();
    for (int r = 0; r < ranks; ++r) {
      const std::size_t n = random() % 3 == 0 ? 0 : random() % big;
      c.rows.back().push_back(n);
      c.all.append(random_rows(random, n, static_cast<std::int64_t>(c.all.num_rows())));
      const std::size_t k = random() % 2 == 0 ? 0 : random() % 4;
      c.index_rows.back().push_back(k);
      c.all_index.append(random_index(random, k));
    }
  }
  return c;
}

std::size_t width_of(const Table& rows, std::size_t column, bool dictionary) {
  std::size_t longest = 1;
  for (std::size_t r = 0; r < rows.num_rows(); ++r)
    longest = std::max(longest, dictionary ? kDictionary[static_cast<std::size_t>(rows.ints(column)[r])].size()
                                           : rows.strings(column)[r].size());
  return longest;
}

std::vector<Attribute> attributes(const std::string& created) {
  return {{"zone", std::string("appended")},
          {"created_utc", created},
          {"schema_version", std::int64_t{3}},
          {"sort_key", std::vector<std::string>{"n", "id"}},
          {"counts", std::vector<std::int64_t>{4, 5, 6}}};
}

void check_random_case(std::uint64_t seed, const ZoneLayout& layout, bool with_index) {
  const Comm comm(MPI_COMM_WORLD);
  const RandomCase c = random_case(seed, comm.size());
  const std::string name =
      "s" + std::to_string(seed) + (layout.compress ? "z" : "") + std::to_string(layout.chunk_rows);
  const auto appended_path = shared_temp_path(comm, name + "_appended");
  const auto reference_path = shared_temp_path(comm, name + "_reference");
  const std::vector<DictionaryColumn> dictionaries = {{kKey, kDictionary}};

  // The reference: write_zone of the concatenation, split over the ranks in equal contiguous parts.
  const auto share = [&](const Table& all) {
    const std::size_t n = all.num_rows(), r = static_cast<std::size_t>(comm.rank()),
                      size = static_cast<std::size_t>(comm.size());
    return slice(all, n * r / size, n * (r + 1) / size);
  };
  const Table my_share = share(c.all), my_index_share = share(c.all_index);
  std::vector<const Table*> reference_extra;
  if (with_index) reference_extra.push_back(&my_index_share);
  const ZoneWriteResult reference = write_zone(comm, reference_path, my_share, attributes("2026-01-01T00:00:00Z"),
                                               layout, reference_extra, dictionaries);

  ZoneAppendPlan plan;
  plan.rows = static_cast<std::int64_t>(c.all.num_rows());
  plan.string_widths = {{"name", width_of(c.all, 1, false)}, {"key", width_of(c.all, kKey, true)}};
  std::vector<Schema> extra_schemas;
  if (with_index) extra_schemas.push_back(kIndexSchema);
  ZoneAppender appender(comm, appended_path, kSchema, plan, layout, extra_schemas, dictionaries);
  std::size_t at = 0, index_at = 0;
  for (std::size_t call = 0; call < c.rows.size(); ++call) {
    Table mine, my_index;
    for (int r = 0; r < comm.size(); ++r) {
      const std::size_t n = c.rows[call][static_cast<std::size_t>(r)];
      const std::size_t k = c.index_rows[call][static_cast<std::size_t>(r)];
      if (r == comm.rank()) {
        mine = slice(c.all, at, at + n);
        my_index = slice(c.all_index, index_at, index_at + k);
      }
      at += n;
      index_at += k;
    }
    // Some calls pass no index table at all (the same as an empty one).
    std::vector<const Table*> extra;
    if (with_index && (call % 2 == 0 || my_index.num_rows() > 0)) extra.push_back(&my_index);
    if (with_index && extra.empty() && comm.size() > 1) extra.push_back(nullptr);
    appender.append(mine, extra);
    EXPECT_FALSE(std::filesystem::exists(appended_path));  // not before finish()
  }
  const ZoneWriteResult result = appender.finish(attributes("2026-12-07T02:00:00Z"));
  EXPECT_EQ(result.rows, reference.rows);
  EXPECT_EQ(result.bytes, reference.bytes);

  if (comm.is_root()) {
    EXPECT_FALSE(std::filesystem::exists(temporary_path_for(appended_path)));
    const std::vector<std::string> differences = zone_differences(appended_path, reference_path);
    for (const auto& line : differences) ADD_FAILURE() << name << ": " << line;
    // And the values against the concatenated rows themselves.
    const ZoneFile zone = read_zone(appended_path);
    ASSERT_EQ(zone.rows, static_cast<std::int64_t>(c.all.num_rows()));
    for (std::size_t r = 0; r < c.all.num_rows(); ++r) {
      ASSERT_EQ(zone.table.ints(0)[r], c.all.ints(0)[r]) << name << " row " << r;
      ASSERT_EQ(zone.table.strings(1)[r], c.all.strings(1)[r]) << name << " row " << r;
      ASSERT_EQ(zone.table.floats(2)[r], c.all.floats(2)[r]) << name << " row " << r;
      ASSERT_EQ(zone.table.strings(3)[r], kDictionary[static_cast<std::size_t>(c.all.ints(kKey)[r])]) << r;
      ASSERT_EQ(zone.table.ints(4)[r], c.all.ints(4)[r]) << name << " row " << r;
    }
    if (with_index) {
      ZoneChunkReader index(appended_path, {"device_serial", "device_offset"});
      ASSERT_EQ(index.rows(), static_cast<std::int64_t>(c.all_index.num_rows()));
      Table chunk;
      if (index.next(chunk, 1 << 20))
        for (std::size_t r = 0; r < c.all_index.num_rows(); ++r) {
          ASSERT_EQ(chunk.strings(0)[r], c.all_index.strings(0)[r]) << name << " index row " << r;
          ASSERT_EQ(chunk.ints(1)[r], c.all_index.ints(1)[r]) << name << " index row " << r;
        }
    }
    std::filesystem::remove(appended_path);
    std::filesystem::remove(reference_path);
  }
  comm.barrier();
}

TEST(ZoneAppender, TheComparisonSeesEachKindOfDifference) {
  // The comparer must be able to fail: other data, other chunks, other filters, another width, another
  // attribute, a missing dataset; and equal files (but for created_utc) compare equal.
  const Comm comm(MPI_COMM_WORLD);
  std::mt19937_64 random(1);
  const Table mine = comm.is_root() ? random_rows(random, 20, 0) : Table(kSchema);
  const std::vector<DictionaryColumn> dictionaries = {{kKey, kDictionary}};
  const auto base = shared_temp_path(comm, "cmp_base");
  const auto other = shared_temp_path(comm, "cmp_other");
  write_zone(comm, base, mine, attributes("x"), {}, {}, dictionaries);
  const auto differences_after = [&](const Table& rows, const std::vector<Attribute>& attrs, const ZoneLayout& layout,
                                     const std::vector<DictionaryColumn>& dicts) {
    write_zone(comm, other, rows, attrs, layout, {}, dicts);
    std::size_t count = 0;
    if (comm.is_root()) count = zone_differences(base, other).size();
    return comm.broadcast(std::to_string(count));
  };
  EXPECT_EQ(differences_after(mine, attributes("y"), {}, dictionaries), "0");
  Table changed = mine;
  if (comm.is_root()) changed.floats(2)[0] += 1;
  EXPECT_NE(differences_after(changed, attributes("x"), {}, dictionaries), "0");
  EXPECT_NE(differences_after(mine, attributes("x"), layout_of(3, false), dictionaries), "0");
  EXPECT_NE(differences_after(mine, attributes("x"), layout_of(kDefaultChunkRows, true), dictionaries), "0");
  EXPECT_NE(differences_after(mine, attributes("x"), {}, {}), "0");  // key as int64, not strings
  auto attrs = attributes("x");
  attrs.push_back({"one_more", std::int64_t{1}});
  EXPECT_NE(differences_after(mine, attrs, {}, dictionaries), "0");
  attrs = attributes("x");
  attrs[2].value = std::int64_t{4};
  EXPECT_NE(differences_after(mine, attrs, {}, dictionaries), "0");
  Table longer = mine;
  if (comm.is_root()) {
    longer = Table(kSchema);
    for (std::size_t r = 0; r < mine.num_rows(); ++r) {
      longer.ints(0).push_back(mine.ints(0)[r]);
      longer.strings(1).push_back(std::string(mine.strings(1)[r]) + (r == 0 ? std::string(20, 'z') : ""));
      longer.floats(2).push_back(mine.floats(2)[r]);
      longer.ints(3).push_back(mine.ints(3)[r]);
      longer.ints(4).push_back(mine.ints(4)[r]);
      longer.commit_row();
    }
  }
  EXPECT_NE(differences_after(longer, attributes("x"), {}, dictionaries), "0");
  if (comm.is_root()) {
    std::filesystem::remove(base);
    std::filesystem::remove(other);
  }
  comm.barrier();
}

TEST(ZoneAppender, RandomAppendsEqualWriteZone) {
  for (std::uint64_t seed = 1; seed <= 12; ++seed) check_random_case(seed, layout_of(7, false), seed % 2 == 0);
}

TEST(ZoneAppender, RandomAppendsEqualWriteZoneCompressed) {
  for (std::uint64_t seed = 21; seed <= 32; ++seed)
    check_random_case(seed, layout_of(seed % 3 == 0 ? 64 : 5, true), seed % 2 == 1);
}

TEST(ZoneAppender, RandomAppendsEqualWriteZoneWithTheDefaultChunks) {
  for (std::uint64_t seed = 41; seed <= 44; ++seed) check_random_case(seed, {}, true);
  for (std::uint64_t seed = 45; seed <= 46; ++seed) check_random_case(seed, layout_of(kDefaultChunkRows, true), true);
}

// The two pieces together as a run larger than memory would use them: each rank spills its rows into
// one file per key range (in small blocks), then takes the ranges in passes, reads its file of that
// range back, sorts it and appends it. The zone must equal write_zone of the same rows in the same
// order (pass after pass, ranks in rank order), and the scratch folders must be gone afterwards.
TEST(ZoneAppender, SpilledPartitionsAppendedInPassesEqualWriteZone) {
  const Comm comm(MPI_COMM_WORLD);
  const Schema schema = {{"key", ColumnType::Int64}, {"value", ColumnType::Float64}, {"id", ColumnType::Int64}};
  constexpr int kPartitions = 4;
  constexpr std::int64_t kKeys = 1000;
  const auto rows_of_rank = [&](int rank) {
    std::mt19937_64 random(1000 + static_cast<std::uint64_t>(rank));
    Table table(schema);
    const std::size_t rows = rank % 3 == 1 ? 0 : 50 + random() % 300;
    for (std::size_t r = 0; r < rows; ++r) {
      table.ints(0).push_back(static_cast<std::int64_t>(random() % kKeys));
      table.floats(1).push_back(static_cast<double>(random() % 1000) / 8.0);
      table.ints(2).push_back(rank * 100000 + static_cast<std::int64_t>(r));
      table.commit_row();
    }
    return table;
  };
  const auto partition_of = [&](std::int64_t key) { return static_cast<int>(key * kPartitions / kKeys); };
  // Rows of `table` in partition `p`, sorted by (key, id).
  const auto sorted_part = [&](const Table& table, int p) {
    std::vector<std::size_t> rows;
    for (std::size_t r = 0; r < table.num_rows(); ++r)
      if (partition_of(table.ints(0)[r]) == p) rows.push_back(r);
    std::sort(rows.begin(), rows.end(), [&](std::size_t a, std::size_t b) {
      return std::pair(table.ints(0)[a], table.ints(2)[a]) < std::pair(table.ints(0)[b], table.ints(2)[b]);
    });
    return table.take(rows);
  };

  const auto scratch = shared_temp_path(comm, "scratch");
  const auto path = shared_temp_path(comm, "passes");
  const auto reference_path = shared_temp_path(comm, "passes_reference");
  const Table mine = rows_of_rank(comm.rank());
  {
    ScratchFolder folder(ScratchFolder::rank_folder(scratch, comm.rank()));
    std::vector<std::unique_ptr<SpillWriter>> writers;
    for (int p = 0; p < kPartitions; ++p)
      writers.push_back(std::make_unique<SpillWriter>(folder, "part-" + std::to_string(p), schema));
    // Route in blocks of up to 37 rows, as a streaming parse would.
    for (std::size_t begin = 0; begin < mine.num_rows(); begin += 37) {
      const Table block = slice(mine, begin, std::min(mine.num_rows(), begin + 37));
      for (int p = 0; p < kPartitions; ++p) {
        std::vector<std::size_t> rows;
        for (std::size_t r = 0; r < block.num_rows(); ++r)
          if (partition_of(block.ints(0)[r]) == p) rows.push_back(r);
        writers[static_cast<std::size_t>(p)]->append(block.take(rows));
      }
    }
    std::int64_t spilled_rows = 0;
    for (auto& writer : writers) {
      writer->close();
      spilled_rows += writer->rows();
    }
    EXPECT_EQ(spilled_rows, static_cast<std::int64_t>(mine.num_rows()));

    ZoneAppender zone(comm, path, schema, ZoneAppendPlan{comm.allreduce_sum(spilled_rows), {}});
    Table block;
    for (int p = 0; p < kPartitions; ++p) {
      SpillReader reader(folder.file("part-" + std::to_string(p)), schema);
      Table part(schema);
      while (reader.next(block)) part.append(block);
      zone.append(sorted_part(part, p));
    }
    zone.finish({{"zone", std::string("passes")}});
  }
  comm.barrier();
  EXPECT_FALSE(std::filesystem::exists(scratch / ".mpilake.scratch"));

  // The reference, from the rows regenerated: pass after pass, ranks in rank order.
  Table all(schema);
  for (int p = 0; p < kPartitions; ++p)
    for (int r = 0; r < comm.size(); ++r) all.append(sorted_part(rows_of_rank(r), p));
  const std::size_t n = all.num_rows(), rank = static_cast<std::size_t>(comm.rank()),
                    size = static_cast<std::size_t>(comm.size());
  write_zone(comm, reference_path, slice(all, n * rank / size, n * (rank + 1) / size),
             {{"zone", std::string("passes")}});
  if (comm.is_root()) {
    for (const auto& line : zone_differences(path, reference_path)) ADD_FAILURE() << line;
    const ZoneFile zone = read_zone(path);
    ASSERT_EQ(zone.rows, static_cast<std::int64_t>(n));
    for (std::size_t r = 0; r < n; ++r) {
      ASSERT_EQ(zone.table.ints(0)[r], all.ints(0)[r]) << r;
      ASSERT_EQ(zone.table.floats(1)[r], all.floats(1)[r]) << r;
      ASSERT_EQ(zone.table.ints(2)[r], all.ints(2)[r]) << r;
    }
    std::filesystem::remove(path);
    std::filesystem::remove(reference_path);
    std::filesystem::remove(scratch);
  }
  comm.barrier();
}

using mpilake::test_support::error_of;

TEST(ZoneAppender, AWrongPlanOrNoFinishLeavesTheOldFileAndNoTemporary) {
  const Comm comm(MPI_COMM_WORLD);
  const auto path = shared_temp_path(comm, "plan");
  std::mt19937_64 random(5 + static_cast<std::uint64_t>(comm.rank()));
  const Table old_rows = random_rows(random, 3, 0);
  write_zone(comm, path, old_rows, attributes("old"), {}, {}, {{kKey, kDictionary}});
  const auto old_size = comm.is_root() ? std::filesystem::file_size(path) : 0;
  const std::int64_t all = 3 * comm.size();
  ZoneAppendPlan plan{all, {{"name", 12}, {"key", 26}}};
  const auto unchanged = [&] {
    comm.barrier();
    if (comm.is_root()) {
      EXPECT_EQ(std::filesystem::file_size(path), old_size);
      EXPECT_EQ(read_zone(path).rows, all);
    }
    EXPECT_FALSE(std::filesystem::exists(temporary_path_for(path)));
  };
  const std::string where = "writing '" + path.string() + "': ";

  // Fewer rows than the plan: finish() refuses on every rank.
  {
    ZoneAppender appender(comm, path, kSchema, plan, {}, {}, {{kKey, kDictionary}});
    appender.append(slice(old_rows, 0, 2));
    EXPECT_EQ(error_of([&] { appender.finish(attributes("new")); }),
              where + std::to_string(2 * comm.size()) + " rows appended, the plan has " + std::to_string(all));
    EXPECT_THROW(appender.append(old_rows), std::logic_error);  // spent
  }
  unchanged();
  // More rows than the plan: append() refuses.
  {
    ZoneAppender appender(comm, path, kSchema, plan, {}, {}, {{kKey, kDictionary}});
    appender.append(old_rows);
    EXPECT_EQ(error_of([&] { appender.append(slice(old_rows, 0, comm.is_root() ? 1 : 0)); }),
              where + std::to_string(all + 1) + " rows appended, more than the plan's " + std::to_string(all));
  }
  unchanged();
  // A string over its width on the last rank only: every rank throws the same line.
  {
    ZoneAppendPlan narrow = plan;
    narrow.string_widths["name"] = 2;
    ZoneAppender appender(comm, path, kSchema, narrow, {}, {}, {{kKey, kDictionary}});
    Table rows(kSchema);
    rows.ints(0).push_back(1);
    rows.strings(1).push_back(comm.rank() == comm.size() - 1 ? "long" : "ab");
    rows.floats(2).push_back(0);
    rows.ints(3).push_back(0);
    rows.ints(4).push_back(0);
    rows.commit_row();
    EXPECT_EQ(error_of([&] { appender.append(rows); }),
              where + "column 'name': a value of 4 bytes is longer than the plan's width 2");
  }
  unchanged();
  // An id outside the dictionary.
  {
    ZoneAppender appender(comm, path, kSchema, plan, {}, {}, {{kKey, kDictionary}});
    Table rows = slice(old_rows, 0, 1);
    if (comm.is_root()) rows.ints(kKey)[0] = 17;
    EXPECT_THROW(appender.append(rows), ConsistentError);
  }
  unchanged();
  // All rows appended, but destroyed without finish().
  {
    ZoneAppender appender(comm, path, kSchema, plan, layout_of(kDefaultChunkRows, true), {}, {{kKey, kDictionary}});
    appender.append(old_rows);
    EXPECT_EQ(appender.rows_appended(), all);
  }
  unchanged();
  // A string column without a width.
  EXPECT_THROW(ZoneAppender(comm, path, kSchema, ZoneAppendPlan{all, {{"name", 12}}}, {}, {}, {{kKey, kDictionary}}),
               std::invalid_argument);
  unchanged();
  // And a good appender replaces the file.
  {
    ZoneAppender appender(comm, path, kSchema, ZoneAppendPlan{0, {{"name", 1}, {"key", 1}}}, {}, {},
                          {{kKey, kDictionary}});
    appender.append(Table(kSchema));
    EXPECT_EQ(appender.finish(attributes("empty")).rows, 0);
  }
  comm.barrier();
  if (comm.is_root()) {
    EXPECT_EQ(read_zone(path).rows, 0);
    std::filesystem::remove(path);
  }
  comm.barrier();
}

}  // namespace
}  // namespace mpilake
