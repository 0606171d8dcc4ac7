// Fuzz target: the remote_write segment loader (push/queue.cc). Any bytes in
// the segment file (and an `.offset` from a first line "offset:TEXT") load
// without a crash, and only sound batches come back: each payload decodes as
// a WriteRequest with exactly its own sample count, the totals add up, and the
// file left behind loads again with nothing damaged and the same batches.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "push/queue.h"

namespace {

[[noreturn]] void Fail(const char* why) {
  std::fprintf(stderr, "fuzz_segment: %s\n", why);
  std::abort();
}

std::string Dir() {
  static std::string dir = [] {
    char tmpl[] = "/tmp/fuzz-segment.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Fail("mkdtemp");
    return std::string(tmpl);
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string input(reinterpret_cast<const char*>(data), size);
  // "offset:TEXT\n" first: TEXT is the .offset file; the rest is the segment.
  std::string offset, segment = input;
  size_t nl = input.find('\n');
  if (input.rfind("offset:", 0) == 0 && nl != std::string::npos) {
    offset = input.substr(7, nl - 6);
    segment = input.substr(nl + 1);
  }
  const std::string path = Dir() + "/s.segment";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << segment;
  if (offset.empty()) {
    ::unlink((path + ".offset").c_str());
  } else {
    std::ofstream(path + ".offset", std::ios::trunc) << offset;
  }
  botwatch::Queue q(path);
  q.Load();
  const size_t n = q.size();
  botwatch::Queue::Front all = q.Oldest(UINT64_MAX);
  if (botwatch::CountSamples(all.payload) < 0) Fail("undecodable payload loaded");
  if (static_cast<uint64_t>(botwatch::CountSamples(all.payload)) != all.samples) Fail("sample count mismatch");
  if (all.samples != q.pending_samples()) Fail("pending samples do not add up");
  if (n > 0) q.Pop(1);
  botwatch::Queue again(path);
  again.Load();
  if (again.records_corrupt() != 0) Fail("the file left behind is damaged");
  if (again.size() != (n > 0 ? n - 1 : 0)) Fail("the file left behind holds other batches");
  return 0;
}
