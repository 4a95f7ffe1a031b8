#include "results/metric_series.h"

#include "framework/core/error.h"
#include "framework/io/hdf5_check.h"

#include <algorithm>
#include <filesystem>
#include <map>

namespace ptlab::results {

namespace {

using io::H5Handle;

// The length of a 1-D dataset.
std::size_t dataset_length(hid_t dataset, const std::string& where) {
  H5Handle space(PTLAB_H5(where, H5Dget_space(dataset)), H5Sclose);
  int rank = PTLAB_H5(where, H5Sget_simple_extent_ndims(space.get()));
  PTLAB_CHECK(rank == 1, "{}: expected a 1-D dataset, found {} dimensions (not a ptlab run log?)", where, rank);
  hsize_t dims[1] = {0};
  PTLAB_H5(where, H5Sget_simple_extent_dims(space.get(), dims, nullptr));
  return static_cast<std::size_t>(dims[0]);
}

// The first `rows` elements of a 1-D dataset, converted by HDF5 to `memory_type`.
template <class T>
std::vector<T> read_rows(hid_t dataset, hid_t memory_type, std::size_t rows, const std::string& where) {
  std::vector<T> out(rows);
  if (rows == 0) return out;
  H5Handle file_space(PTLAB_H5(where, H5Dget_space(dataset)), H5Sclose);
  hsize_t start[1] = {0}, count[1] = {rows};
  PTLAB_H5(where, H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr));
  H5Handle memory_space(PTLAB_H5(where, H5Screate_simple(1, count, nullptr)), H5Sclose);
  PTLAB_H5(where, H5Dread(dataset, memory_type, memory_space.get(), file_space.get(), H5P_DEFAULT, out.data()));
  return out;
}

}  // namespace

std::optional<MetricSeries> read_metric_series(const std::string& h5_path, const std::string& series) {
  std::error_code ec;
  if (!std::filesystem::exists(h5_path, ec)) return std::nullopt;
  io::h5_init();
  // A file an SWMR writer has open (or left behind when killed) carries the "open for writing" flag: a
  // plain read-only open refuses it, an SWMR-read open accepts it.
  hid_t file_id = H5Fopen(h5_path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_id < 0) {
    H5Eclear2(H5E_DEFAULT);
    file_id = PTLAB_H5(h5_path, H5Fopen(h5_path.c_str(), H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT));
  }
  H5Handle file(file_id, H5Fclose);
  const std::string group_path = "metrics/" + series;
  if (!io::h5_exists(file.get(), group_path + "/step", h5_path) ||
      !io::h5_exists(file.get(), group_path + "/value", h5_path))
    return std::nullopt;
  const std::string where = h5_path + ":/" + group_path;
  H5Handle step = io::h5_dataset_open(file.get(), group_path + "/step", where);
  H5Handle value = io::h5_dataset_open(file.get(), group_path + "/value", where);
  std::size_t rows = std::min(dataset_length(step.get(), where), dataset_length(value.get(), where));
  MetricSeries out;
  out.step = read_rows<int64_t>(step.get(), H5T_NATIVE_INT64, rows, where);
  out.value = read_rows<double>(value.get(), H5T_NATIVE_DOUBLE, rows, where);
  return out;
}

MetricSeries mean_series(const std::vector<MetricSeries>& runs) {
  std::map<int64_t, std::pair<double, int>> sums;  // step -> (sum, count)
  for (const auto& run : runs) {
    for (std::size_t i = 0; i < run.step.size(); ++i) {
      auto& [sum, count] = sums[run.step[i]];
      sum += run.value[i];
      ++count;
    }
  }
  MetricSeries out;
  for (const auto& [step, sum_count] : sums) {
    out.step.push_back(step);
    out.value.push_back(sum_count.first / sum_count.second);
  }
  return out;
}

}  // namespace ptlab::results
