#pragma once

// The samples of one remote waiting to be sent: one batch (an encoded
// WriteRequest) per interval, oldest first. With a path, every batch is also
// appended to a segment file as soon as it is taken, and the offset of the
// first unsent batch is kept beside it, so a restart (even after kill -9)
// resumes with everything not yet acknowledged by the receiver.
//
// Segment record: u32 payload bytes, u64 samples, i64 timestamp ms (little
// endian), payload. A torn last record (crash mid-write) is ignored.

#include <cstdint>
#include <deque>
#include <string>

namespace botwatch::push {

class Queue {
 public:
  // `path` "": memory only.
  explicit Queue(std::string path);
  // Reads back unsent batches from disk; returns how many.
  size_t Load();

  void Push(int64_t timestamp_ms, uint64_t samples, std::string payload);

  struct Front {
    std::string payload;  // the oldest batches concatenated (one WriteRequest)
    uint64_t samples = 0;
    size_t batches = 0;
  };
  // The oldest batches, as many as fit in `max_samples` (always at least one).
  Front Oldest(uint64_t max_samples) const;
  // Forgets the oldest `batches` (sent, or dropped).
  void Pop(size_t batches);
  // Drops batches taken before `timestamp_ms`; returns their sample count.
  uint64_t DropOlderThan(int64_t timestamp_ms);

  bool empty() const { return batches_.empty(); }
  size_t size() const { return batches_.size(); }
  uint64_t pending_bytes() const { return bytes_; }
  uint64_t pending_samples() const { return samples_; }
  int64_t oldest_timestamp_ms() const { return batches_.empty() ? 0 : batches_.front().timestamp_ms; }

 private:
  struct Batch {
    int64_t timestamp_ms;
    uint64_t samples;
    std::string payload;
  };
  void SaveOffset();
  void Compact();

  std::string path_;
  std::deque<Batch> batches_;
  uint64_t bytes_ = 0, samples_ = 0;
  uint64_t offset_ = 0;  // segment bytes before the first unsent batch
  uint64_t end_ = 0;     // segment bytes written
};

}  // namespace botwatch::push
