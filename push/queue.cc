#include "push/queue.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace botwatch::push {
namespace {

constexpr size_t kHeader = 4 + 8 + 8;
// Rewrite the segment once this much of it is acknowledged: keeps the file
// near the size of what is unsent without rewriting on every send.
constexpr uint64_t kCompactBytes = 4 << 20;

void PutLe(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}
uint64_t GetLe(const char* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::string Record(int64_t ts, uint64_t samples, const std::string& payload) {
  std::string r;
  r.reserve(kHeader + payload.size());
  PutLe(r, payload.size(), 4);
  PutLe(r, samples, 8);
  PutLe(r, static_cast<uint64_t>(ts), 8);
  r += payload;
  return r;
}

}  // namespace

Queue::Queue(std::string path) : path_(std::move(path)) {}

size_t Queue::Load() {
  if (path_.empty()) return 0;
  std::ifstream off(path_ + ".offset");
  uint64_t offset = 0;
  if (off) off >> offset;
  std::ifstream in(path_, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (offset > data.size()) offset = data.size();
  size_t pos = offset;
  while (pos + kHeader <= data.size()) {
    uint64_t len = GetLe(data.data() + pos, 4);
    if (pos + kHeader + len > data.size()) break;  // torn tail
    Batch b{static_cast<int64_t>(GetLe(data.data() + pos + 12, 8)), GetLe(data.data() + pos + 4, 8),
            data.substr(pos + kHeader, len)};
    bytes_ += b.payload.size();
    samples_ += b.samples;
    batches_.push_back(std::move(b));
    pos += kHeader + len;
  }
  // Drop a torn tail so new records follow whole ones.
  if (pos != data.size()) std::filesystem::resize_file(path_, pos);
  offset_ = offset;
  end_ = pos;
  Compact();
  return batches_.size();
}

void Queue::Push(int64_t timestamp_ms, uint64_t samples, std::string payload) {
  if (!path_.empty()) {
    std::string r = Record(timestamp_ms, samples, payload);
    if (FILE* f = std::fopen(path_.c_str(), "ab")) {
      std::fwrite(r.data(), 1, r.size(), f);
      std::fclose(f);
      end_ += r.size();
    }
  }
  bytes_ += payload.size();
  samples_ += samples;
  batches_.push_back(Batch{timestamp_ms, samples, std::move(payload)});
}

Queue::Front Queue::Oldest(uint64_t max_samples) const {
  Front f;
  for (const Batch& b : batches_) {
    if (f.batches > 0 && f.samples + b.samples > max_samples) break;
    f.payload += b.payload;
    f.samples += b.samples;
    ++f.batches;
  }
  return f;
}

void Queue::Pop(size_t batches) {
  for (size_t i = 0; i < batches && !batches_.empty(); ++i) {
    bytes_ -= batches_.front().payload.size();
    samples_ -= batches_.front().samples;
    offset_ += kHeader + batches_.front().payload.size();
    batches_.pop_front();
  }
  if (path_.empty()) return;
  if (batches_.empty()) {
    // Everything acknowledged: start the segment afresh.
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f) std::fclose(f);
    offset_ = end_ = 0;
  }
  SaveOffset();
  if (offset_ >= kCompactBytes) Compact();
}

uint64_t Queue::DropOlderThan(int64_t timestamp_ms) {
  uint64_t dropped = 0;
  size_t n = 0;
  for (const Batch& b : batches_) {
    if (b.timestamp_ms >= timestamp_ms) break;
    dropped += b.samples;
    ++n;
  }
  if (n > 0) Pop(n);
  return dropped;
}

void Queue::SaveOffset() {
  std::string tmp = path_ + ".offset.tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << offset_ << "\n";
  }
  std::rename(tmp.c_str(), (path_ + ".offset").c_str());
}

// Rewrites the segment with the unsent batches only.
void Queue::Compact() {
  if (path_.empty() || offset_ == 0) return;
  std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    for (const Batch& b : batches_) out << Record(b.timestamp_ms, b.samples, b.payload);
  }
  uint64_t size = std::filesystem::file_size(tmp);
  // Offset 0 first: a crash between the two renames then re-sends, never skips.
  offset_ = 0;
  SaveOffset();
  std::rename(tmp.c_str(), path_.c_str());
  end_ = size;
}

}  // namespace botwatch::push
