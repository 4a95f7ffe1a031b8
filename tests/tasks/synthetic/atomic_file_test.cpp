#include "tasks/synthetic/atomic_file.h"

#include "framework/core/error.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ptlab::tasks::synthetic {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    path = (fs::temp_directory_path() / ("ptlab_atomic_file_" + std::to_string(::getpid()))).string();
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST(AtomicFile, CommitRenamesIntoPlaceWithHashAndSize) {
  TempDir dir;
  const std::string path = dir.path + "/a.txt";
  AtomicFile f(path);
  f.write("hello ");
  EXPECT_TRUE(fs::exists(path + ".tmp"));
  EXPECT_FALSE(fs::exists(path));
  f.write("world\n");
  f.commit();
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  EXPECT_EQ(read(path), "hello world\n");
  EXPECT_EQ(f.bytes(), 12u);
  Fnv1a64 h;
  h.update("hello world\n");
  EXPECT_EQ(f.hash(), h.hex());
  EXPECT_EQ(write_file_atomically(dir.path + "/b.txt", "hello world\n"), h.hex());
}

TEST(AtomicFile, WithoutCommitNothingIsLeftUnderTheRealName) {
  TempDir dir;
  const std::string path = dir.path + "/a.txt";
  {
    AtomicFile f(path);
    f.write("partial");
  }  // as if interrupted by an exception
  EXPECT_FALSE(fs::exists(path));
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(AtomicFile, CommitReplacesAnOldFile) {
  TempDir dir;
  const std::string path = dir.path + "/a.txt";
  write_file_atomically(path, "old contents");
  write_file_atomically(path, "new");
  EXPECT_EQ(read(path), "new");
}

TEST(AtomicFile, UnwritablePlaceIsAnErrorNamingTheFile) {
  TempDir dir;
  write_file_atomically(dir.path + "/plain", "x");
  const std::string path = dir.path + "/plain/inside.txt";  // a file is not a folder, even for root
  try {
    AtomicFile f(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cannot write '" + path + ".tmp'"), std::string::npos) << m;
    EXPECT_NE(m.find("Not a directory"), std::string::npos) << m;
  }
}

}  // namespace ptlab::tasks::synthetic
