#include "framework/io/hdf5_check.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace ptlab::io {
namespace {

namespace fs = std::filesystem;

class Hdf5CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h5_init();
    path_ = (fs::temp_directory_path() / ("ptlab_hdf5_check_" + std::to_string(::getpid()) + ".h5")).string();
    file_ = H5Handle(H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    ASSERT_TRUE(file_.valid());
  }
  void TearDown() override {
    file_.reset();
    fs::remove(path_);
  }
  std::string path_;
  H5Handle file_;
};

TEST_F(Hdf5CheckTest, FailingCallBecomesOneLineErrorWithCallPlaceAndHdf5Message) {
  std::string missing = "/nonexistent_dir_for_ptlab/x.h5";
  try {
    PTLAB_H5(missing, H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("HDF5 call H5Fopen(missing.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT) failed"), std::string::npos) << m;
    EXPECT_NE(m.find("hdf5_check_test.cpp:"), std::string::npos) << m;
    EXPECT_NE(m.find("'" + missing + "'"), std::string::npos) << m;
    EXPECT_NE(m.find("unable to open file"), std::string::npos) << "HDF5's own message: " << m;
    EXPECT_NE(m.find("No such file or directory"), std::string::npos) << "the innermost (errno) message: " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_EQ(h5_error_stack(), "") << "the stack is cleared after it was reported";
}

TEST_F(Hdf5CheckTest, SuccessfulCallReturnsItsValue) {
  hid_t group = PTLAB_H5(path_, H5Gcreate2(file_.get(), "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  EXPECT_GE(group, 0);
  EXPECT_GE(H5Gclose(group), 0);
}

TEST_F(Hdf5CheckTest, HandleClosesOnceAndMoves) {
  H5Handle a(H5Screate(H5S_SCALAR), H5Sclose);
  hid_t id = a.get();
  EXPECT_GT(H5Iis_valid(id), 0);
  H5Handle b(std::move(a));
  EXPECT_FALSE(a.valid());
  EXPECT_EQ(b.get(), id);
  H5Handle c;
  c = std::move(b);
  EXPECT_EQ(c.get(), id);
  EXPECT_GE(c.reset(), 0);
  EXPECT_LE(H5Iis_valid(id), 0) << "closed";
  EXPECT_EQ(c.reset(), 0) << "a second reset does nothing";
}

TEST_F(Hdf5CheckTest, ExistsWalksEveryComponent) {
  h5_group_create(file_.get(), "a", path_);
  EXPECT_TRUE(h5_exists(file_.get(), "a", path_));
  EXPECT_FALSE(h5_exists(file_.get(), "a/b/c", path_)) << "false, not an error, for a missing intermediate";
  EXPECT_FALSE(h5_exists(file_.get(), "x/y", path_));
}

TEST_F(Hdf5CheckTest, AttributesRoundTripAndAreReplaced) {
  H5Handle g = h5_group_create(file_.get(), "g", path_);
  h5_write_attribute(g.get(), "s", "first", path_);
  h5_write_attribute(g.get(), "s", std::string("zweite — ü"), path_);  // replaces, UTF-8 intact
  h5_write_attribute(g.get(), "i", int64_t{-7}, path_);
  h5_write_attribute(g.get(), "d", 2.5, path_);
  h5_write_attribute(g.get(), "b", true, path_);
  EXPECT_EQ(h5_read_string_attribute(g.get(), "s", path_), "zweite — ü");
  EXPECT_EQ(h5_read_int_attribute(g.get(), "i", path_), -7);
  EXPECT_EQ(h5_read_string_attribute(g.get(), "absent", path_), std::nullopt);
  EXPECT_EQ(h5_read_int_attribute(g.get(), "absent", path_), std::nullopt);
  try {
    h5_read_string_attribute(g.get(), "d", path_);
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("attribute @d is not a string"), std::string::npos) << e.what();
  }
}

TEST_F(Hdf5CheckTest, FixedLengthStringAttributesAreReadToo) {
  H5Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), 8);
  H5Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  H5Handle attr(H5Acreate2(file_.get(), "fixed", type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  char data[8] = {'a', 'b', 'c', 0, 0, 0, 0, 0};
  ASSERT_GE(H5Awrite(attr.get(), type.get(), data), 0);
  EXPECT_EQ(h5_read_string_attribute(file_.get(), "fixed", path_), "abc");
}

TEST_F(Hdf5CheckTest, StringDatasetsRoundTrip) {
  std::string yaml = "a: 1\nb: \"x y\"\nc: ünïcode\n";
  h5_write_string_dataset(file_.get(), "config", yaml, path_);
  EXPECT_EQ(h5_read_string_dataset(file_.get(), "config", path_), yaml);
  h5_write_string_array(file_.get(), "empty", {}, path_);
  H5Handle d = h5_dataset_open(file_.get(), "empty", path_);
  H5Handle space(H5Dget_space(d.get()), H5Sclose);
  EXPECT_EQ(H5Sget_simple_extent_npoints(space.get()), 0);
}

}  // namespace
}  // namespace ptlab::io
