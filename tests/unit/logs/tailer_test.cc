// The file tailer against real files: rotation by each method while a writer
// thread appends, truncation, partial and oversized lines, positions. Every
// line carries a sequence number, so "exact" means each number exactly once.

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "logs/file_tailer.h"
#include "tests/support/temp_dir.h"

using botwatch::FilePosition;
using botwatch::FileTailer;
using namespace std::chrono_literals;

namespace {

class Collector : public botwatch::LineSink {
 public:
  void Line(std::string_view line) override {
    std::lock_guard<std::mutex> lock(mu);
    lines.emplace_back(line);
    count = lines.size();
  }
  void TooLong() override { ++too_long; }
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mu);
    return lines;
  }
  std::mutex mu;
  std::vector<std::string> lines;
  std::atomic<size_t> count{0};
  int too_long = 0;
};

void Append(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

std::string Line(int seq) { return "{\"seq\":" + std::to_string(seq) + ",\"pad\":\"xxxxxxxxxxxxxxxx\"}\n"; }

FileTailer::Options Opts(const std::string& glob, bool start_at_end = false) {
  FileTailer::Options o;
  o.globs = {glob};
  o.start_at_end = start_at_end;
  o.rotate_wait = 100ms;
  return o;
}

// Each sequence number 0..n-1 exactly once.
void CheckExactlyOnce(const std::vector<std::string>& lines, int n) {
  std::multiset<int> seen;
  for (const auto& l : lines) seen.insert(std::stoi(l.substr(7)));
  CHECK(lines.size() == static_cast<size_t>(n));
  int dups = 0, missing = 0;
  for (int i = 0; i < n; ++i) {
    size_t c = seen.count(i);
    if (c == 0) ++missing;
    if (c > 1) ++dups;
  }
  CHECK(dups == 0);
  CHECK(missing == 0);
}

enum class Rotation { kRenameCreate, kCopyTruncate, kDeleteRecreate };

// A writer appends `total` lines in files of `per_file`, rotating between
// them, while the test thread polls. The writer rotates only once the tailer
// has seen the current file's first line (rotations are minutes apart in real
// life; a file created and deleted between two polls cannot be seen by any
// tailer); for copytruncate it waits until the tailer caught up, since lines
// written between the copy and the truncation exist only in the copy.
void RotateWhileWriting(Rotation how) {
  botwatch::testing::TempDir dir;
  const std::string path = dir.path() + "/bot.log";
  const int total = 3000, per_file = 500;
  Append(path, "");
  FileTailer tailer(Opts(dir.path() + "/*.log"), {}, false);
  Collector sink;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND);
    for (int i = 0; i < total; ++i) {
      if (i > 0 && i % per_file == 0) {
        auto deadline = std::chrono::steady_clock::now() + 10s;
        size_t need = how == Rotation::kCopyTruncate ? static_cast<size_t>(i) : static_cast<size_t>(i - per_file + 1);
        while (sink.count < need && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
        std::string rotated = path + "." + std::to_string(i / per_file);
        if (how == Rotation::kRenameCreate) {
          ::rename(path.c_str(), rotated.c_str());
          ::close(fd);
          fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        } else if (how == Rotation::kDeleteRecreate) {
          ::unlink(path.c_str());
          ::close(fd);
          fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        } else {
          std::filesystem::copy_file(path, rotated);
          REQUIRE(::ftruncate(fd, 0) == 0);  // O_APPEND: the next write lands at 0
        }
      }
      std::string l = Line(i);
      REQUIRE(::write(fd, l.data(), l.size()) == static_cast<ssize_t>(l.size()));
      if (i % 7 == 0) std::this_thread::sleep_for(50us);
    }
    ::close(fd);
    done = true;
  });
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    tailer.Poll(sink);
    if (done && sink.count >= static_cast<size_t>(total)) break;
    std::this_thread::sleep_for(2ms);
  }
  writer.join();
  for (int i = 0; i < 3; ++i) tailer.Poll(sink);  // nothing more may arrive
  CheckExactlyOnce(sink.Lines(), total);
  CHECK(tailer.TakeRotations() == static_cast<uint64_t>(total / per_file - 1));
  CHECK(tailer.files_watched() == 1);
  CHECK(tailer.lag_bytes() == 0);
}

}  // namespace

TEST_CASE("tailer: rotation by rename and create while a writer appends loses nothing") {
  RotateWhileWriting(Rotation::kRenameCreate);
}

TEST_CASE("tailer: rotation by copytruncate while a writer appends loses nothing") {
  RotateWhileWriting(Rotation::kCopyTruncate);
}

TEST_CASE("tailer: rotation by delete and recreate while a writer appends loses nothing") {
  RotateWhileWriting(Rotation::kDeleteRecreate);
}

TEST_CASE("tailer: a file truncated and refilled past the old offset between polls is read from its start") {
  botwatch::testing::TempDir dir;
  std::string path = dir.path() + "/a.log";
  Append(path, Line(0) + Line(1));
  FileTailer tailer(Opts(path), {}, false);
  Collector sink;
  tailer.Poll(sink);
  REQUIRE(sink.count == 2);
  REQUIRE(::truncate(path.c_str(), 0) == 0);
  Append(path, Line(2) + Line(3) + Line(4));
  tailer.Poll(sink);
  CheckExactlyOnce(sink.Lines(), 5);
  CHECK(tailer.TakeRotations() == 1);
}

TEST_CASE("tailer: start_at end skips old lines of files present at start, not of new files") {
  botwatch::testing::TempDir dir;
  Append(dir.path() + "/old.log", Line(100) + Line(101) + "{\"partial");
  FileTailer tailer(Opts(dir.path() + "/*.log", /*start_at_end=*/true), {}, false);
  Collector sink;
  tailer.Poll(sink);
  CHECK(sink.count == 0);
  Append(dir.path() + "/old.log", "\":1}\n" + Line(0));
  Append(dir.path() + "/new.log", Line(1));
  tailer.Poll(sink);
  // The partial line at start was begun before we started; it is read whole.
  auto lines = sink.Lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] == "{\"partial\":1}");
  CHECK(tailer.files_watched() == 2);
}

TEST_CASE("tailer: a partial last line waits for its newline, oversized lines are skipped") {
  botwatch::testing::TempDir dir;
  std::string path = dir.path() + "/a.log";
  FileTailer::Options o = Opts(path);
  o.max_line_bytes = 100;
  o.block_bytes = 64;  // lines span reads
  Append(path, Line(0) + "{\"seq\":1,");
  FileTailer tailer(o, {}, false);
  Collector sink;
  tailer.Poll(sink);
  CHECK(sink.count == 1);
  CHECK(tailer.lag_bytes() == 0);
  // The position never includes the partial line.
  CHECK(tailer.Positions().at(0).offset == Line(0).size());
  Append(path, "\"x\":2}\r\n" + std::string(1000, 'z') + "\n" + Line(2));
  tailer.Poll(sink);
  auto lines = sink.Lines();
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "{\"seq\":1,\"x\":2}");
  CHECK(sink.too_long == 1);
  CHECK(lines[2] + "\n" == Line(2));
}

TEST_CASE("tailer: positions resume exactly and a reused inode with new content is read from the start") {
  botwatch::testing::TempDir dir;
  std::string path = dir.path() + "/a.log";
  Append(path, Line(0) + Line(1) + "{\"seq\":2");
  std::vector<FilePosition> saved;
  {
    FileTailer tailer(Opts(path, true), {}, false);
    Collector sink;
    tailer.Poll(sink);
    CHECK(sink.count == 0);  // start_at end, no state
    Append(path, ",\"late\":1}\n" + Line(3));
    tailer.Poll(sink);
    CHECK(sink.count == 2);
    Append(path, "{\"seq\":4");
    tailer.Poll(sink);
    saved = tailer.Positions();
  }
  Append(path, "}\n" + Line(5));
  {
    FileTailer tailer(Opts(path, true), saved, true);
    Collector sink;
    tailer.Poll(sink);
    auto lines = sink.Lines();
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "{\"seq\":4}");
    CHECK(lines[1] + "\n" == Line(5));
    saved = tailer.Positions();
  }
  // Same device and inode, different first line: another file.
  REQUIRE(saved.size() == 1);
  std::ofstream(path, std::ios::trunc) << Line(7) << Line(8) << Line(9) << Line(10) << Line(11) << Line(12);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  REQUIRE(saved[0].ino == st.st_ino);
  {
    FileTailer tailer(Opts(path, true), saved, true);
    Collector sink;
    tailer.Poll(sink);
    CHECK(sink.count == 6);
  }
  // Files not in the saved state of a source that has state are new: read from the start.
  Append(dir.path() + "/b.log", Line(0));
  {
    FileTailer tailer(Opts(dir.path() + "/b.log", true), saved, true);
    Collector sink;
    tailer.Poll(sink);
    CHECK(sink.count == 1);
  }
}
