// `type: filesystem`: the paths it watches by default, statvfs against the real
// filesystem, mount points from mountinfo text, and a hung mount that must not
// hold up a probe nor pile up threads.

#include <sys/statvfs.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>

#include "agent/config.h"
#include "collectors/filesystem.h"
#include "tests/support/probe_helpers.h"
#include "tests/support/temp_dir.h"

using namespace botwatch;
using namespace botwatch::testing;
using namespace std::chrono_literals;

namespace {

Result<std::shared_ptr<const Config>> Load(const std::string& yaml, const std::string& dir = "/etc/botwatch") {
  ConfigSource src;
  src.file = "t.yaml";
  src.dir = dir;
  src.env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  return LoadConfigText(yaml, src);
}

const FilesystemCollector& Filesystem(const std::shared_ptr<const Config>& config) {
  auto* c = dynamic_cast<const FilesystemCollector*>(config->collectors.at(0).collector.get());
  REQUIRE(c != nullptr);
  return *c;
}

// A stat function that blocks on one path until released, counting calls.
struct HungMount {
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> hung_calls{0}, other_calls{0};

  FilesystemStatFn Fn(const std::string& hung_path) {
    return [this, hung_path](const std::string& path) {
      FilesystemStat st;
      st.ok = true;
      st.mountpoint = path == hung_path ? "/mnt/nfs" : "/";
      st.size_bytes = 1000;
      st.avail_bytes = 400;
      st.files = 10;
      st.files_free = 4;
      if (path == hung_path) {
        ++hung_calls;
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return released; });
      } else {
        ++other_calls;
      }
      return st;
    };
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("filesystem: mount point is the longest mountinfo entry above the path") {
  const std::string mountinfo =
      "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "30 22 8:2 / /var rw,relatime shared:2 - ext4 /dev/sda2 rw\n"
      "31 30 0:40 / /var/lib/postgresql rw shared:3 - nfs4 db:/export rw\n"
      "32 22 0:41 / /mnt/my\\040disk rw shared:4 - ext4 /dev/sdb1 rw\n"
      "33 22 0:42 / /var2 rw shared:5 - ext4 /dev/sdc1 rw\n"
      "garbage line\n";
  CHECK(MountPointOf("/var/lib/postgresql/15/main", mountinfo) == "/var/lib/postgresql");
  CHECK(MountPointOf("/var/lib/botwatch", mountinfo) == "/var");
  CHECK(MountPointOf("/var", mountinfo) == "/var");
  CHECK(MountPointOf("/var2/x", mountinfo) == "/var2");  // not /var: a prefix is not a parent
  CHECK(MountPointOf("/variable", mountinfo) == "/");
  CHECK(MountPointOf("/mnt/my disk/logs", mountinfo) == "/mnt/my disk");
  CHECK(MountPointOf("/home/bot", "") == "/");
}

TEST_CASE("filesystem: a log source's folder is cut before its first glob") {
  CHECK(LogFolderOf("/var/log/bot/*.log") == "/var/log/bot");
  CHECK(LogFolderOf("/var/log/bot/app.log") == "/var/log/bot");
  CHECK(LogFolderOf("/var/log/*/out.log") == "/var/log");
  CHECK(LogFolderOf("/app.log") == "/");
  CHECK(LogFolderOf("app.log") == ".");
}

TEST_CASE("filesystem: watches state_dir, each file log source's folder and paths, once each") {
  auto r = Load(
      "state_dir: state\n"
      "collectors:\n"
      "  - {name: disk, type: filesystem, paths: [/var/lib/postgresql, /var/log/bot]}\n"
      "logs:\n"
      "  - {name: bot, path: '/var/log/bot/*.log', format: json, rules: [{metric: x_total, type: counter, help: X., "
      "match: {field: message, exists: true}}]}\n"
      "  - {name: more, path: [/srv/a/1.log, 'rel/2.log'], format: json, rules: [{metric: y_total, type: counter, "
      "help: X., match: {field: message, exists: true}}]}\n"
      "  - {name: intake, type: http, format: json, rules: [{metric: z_total, type: counter, help: X., match: {field: "
      "message, exists: true}}]}\n");
  INFO(r.status().message());
  REQUIRE(r.ok());
  CHECK(Filesystem(r.value()).paths() == std::vector<std::string>{"/etc/botwatch/state", "/var/log/bot", "/srv/a",
                                                                  "/etc/botwatch/rel", "/var/lib/postgresql"});

  SECTION("default_paths: false watches only paths") {
    auto only = Load(
        "state_dir: /var/lib/botwatch\n"
        "collectors:\n  - {name: disk, type: filesystem, default_paths: false, paths: [/data]}\n");
    REQUIRE(only.ok());
    CHECK(Filesystem(only.value()).paths() == std::vector<std::string>{"/data"});
  }
  SECTION("nothing to watch is an error at the collector") {
    auto none = Load("collectors:\n  - {name: disk, type: filesystem}\n");
    REQUIRE_FALSE(none.ok());
    CHECK(none.status().message() ==
          "t.yaml:2:5: collectors[0].paths: nothing to watch: no state_dir, no file log source and no paths");
  }
  SECTION("an unknown key is an error") {
    auto typo = Load("collectors:\n  - {name: disk, type: filesystem, path: [/data]}\n");
    REQUIRE_FALSE(typo.ok());
    CHECK(typo.status().message().find("t.yaml:2:") == 0);
    CHECK(typo.status().message().find("path") != std::string::npos);
  }
}

TEST_CASE("filesystem: reports what statvfs reports for a real folder") {
  TempDir dir;
  auto r = Load("collectors:\n  - {name: disk, type: filesystem, default_paths: false, paths: ['" + dir.path() +
                "', '" + dir.path() + "/not/yet']}\n");
  REQUIRE(r.ok());
  Collector& c = *r.value()->collectors.at(0).collector;
  ProbeResult result = Probe(c, 2s);
  INFO(result.message);
  REQUIRE(result.up);
  struct statvfs st {};
  REQUIRE(::statvfs(dir.path().c_str(), &st) == 0);
  char resolved[PATH_MAX];
  REQUIRE(::realpath(dir.path().c_str(), resolved) != nullptr);
  std::ifstream info("/proc/self/mountinfo");
  std::string mountinfo((std::istreambuf_iterator<char>(info)), std::istreambuf_iterator<char>());
  const std::string mount = MountPointOf(resolved, mountinfo);
  // A folder that does not exist yet is reported on its parent's filesystem.
  for (const std::string& path : {dir.path(), dir.path() + "/not/yet"}) {
    INFO(path);
    FamilyBuilder::Labels labels = {{"mountpoint", mount}, {"path", path}};
    auto size = SampleOf(result, "botwatch_filesystem_size_bytes", labels);
    auto avail = SampleOf(result, "botwatch_filesystem_avail_bytes", labels);
    REQUIRE(size);
    REQUIRE(avail);
    CHECK(*size == static_cast<double>(st.f_blocks) * st.f_frsize);
    CHECK(*avail > 0);
    CHECK(*avail <= *size);
    CHECK(SampleOf(result, "botwatch_filesystem_files", labels) == static_cast<double>(st.f_files));
    CHECK(SampleOf(result, "botwatch_filesystem_files_free", labels));
  }
}

TEST_CASE("filesystem: a path that cannot be read fails the probe with its reason and keeps the others") {
  FilesystemCollector c({"/ok", "/broken"}, [](const std::string& path) {
    FilesystemStat st;
    if (path == "/broken") {
      st.error = "statvfs /broken: Permission denied";
      return st;
    }
    st.ok = true;
    st.mountpoint = "/";
    st.size_bytes = 100;
    return st;
  });
  ProbeResult r = Probe(c, 1s);
  CHECK_FALSE(r.up);
  CHECK(r.reason == "io");
  CHECK(r.message == "statvfs /broken: Permission denied");
  CHECK(SampleOf(r, "botwatch_filesystem_size_bytes", {{"mountpoint", "/"}, {"path", "/ok"}}) == 100);
  CHECK_FALSE(SampleOf(r, "botwatch_filesystem_size_bytes", {{"mountpoint", "/"}, {"path", "/broken"}}));
}

TEST_CASE("filesystem: a hung mount neither delays the probe past its deadline nor piles up threads") {
  HungMount nfs;
  FilesystemCollector c({"/var/lib/botwatch", "/mnt/nfs"}, nfs.Fn("/mnt/nfs"));
  for (int i = 0; i < 5; ++i) {
    auto start = std::chrono::steady_clock::now();
    ProbeResult r = Probe(c, 150ms);
    auto took = std::chrono::steady_clock::now() - start;
    INFO("probe " << i);
    CHECK(took < 1s);  // the deadline is 150 ms; a generous bound for a loaded machine
    CHECK_FALSE(r.up);
    CHECK(r.reason == "timeout");
    CHECK(r.message.find("/mnt/nfs") != std::string::npos);
    // The healthy path is still reported.
    CHECK(SampleOf(r, "botwatch_filesystem_avail_bytes", {{"mountpoint", "/"}, {"path", "/var/lib/botwatch"}}) == 400);
    CHECK_FALSE(SampleOf(r, "botwatch_filesystem_avail_bytes", {{"mountpoint", "/mnt/nfs"}, {"path", "/mnt/nfs"}}));
  }
  // Five probes, one stuck helper: no new statvfs while the first still hangs.
  CHECK(nfs.hung_calls == 1);
  CHECK(nfs.other_calls == 5);

  nfs.Release();
  // The stuck helper's answer arrives, and the next probe uses it...
  ProbeResult back = Probe(c, 1s);
  INFO(back.message);
  CHECK(back.up);
  CHECK(SampleOf(back, "botwatch_filesystem_size_bytes", {{"mountpoint", "/mnt/nfs"}, {"path", "/mnt/nfs"}}) == 1000);
  CHECK(nfs.hung_calls == 1);
  // ... and the one after starts a fresh helper.
  CHECK(Probe(c, 1s).up);
  CHECK(nfs.hung_calls == 2);
}
