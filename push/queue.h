#pragma once

// The samples of one remote waiting to be sent: one batch (an encoded
// WriteRequest) per interval, oldest first. With a path, every batch is also
// appended to a segment file as soon as it is taken, and the offset of the
// first unsent batch is kept beside it (`<path>.offset`), so a restart (even
// after kill -9) resumes with everything not yet acknowledged by the receiver.
//
// Segment: the 8 bytes "BWRWSEG2", then records: u32 payload bytes, u32
// CRC-32C (of the rest of the header and the payload), u64 samples, i64
// timestamp ms (little endian), payload. A record is trusted only when its
// length is within kMaxRecordBytes, its checksum matches and its payload
// decodes as a WriteRequest holding exactly `samples` samples: anything else
// is skipped at load (one warning, counted in records_corrupt()), so nothing
// undecodable is ever sent and no counter moves by a damaged number. A torn
// tail is cut off before anything is appended after it. An `.offset` that is
// not a record boundary inside the file is ignored with a warning: the
// batches are resent from the record it points into (or from the start).
//
// When the disk fails (full, read-only, a link planted in place of a file),
// batches stay in memory, `disk_error()` says why, and every new batch tries
// to rewrite the whole segment until it succeeds.

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "base/state_file.h"

namespace botwatch {

// Samples in an encoded WriteRequest; -1 if it does not decode as one.
int64_t CountSamples(const std::string& payload);

class Queue {
 public:
  static constexpr uint64_t kMaxRecordBytes = 64u << 20;

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
  // The oldest batches, as many as fit in `max_samples` (always at least one)
  // and at most `max_batches`.
  Front Oldest(uint64_t max_samples, size_t max_batches = SIZE_MAX) const;
  // Forgets the oldest `batches` (sent, or dropped).
  void Pop(size_t batches);
  // Drops batches taken before `timestamp_ms`; returns their sample count.
  uint64_t DropOlderThan(int64_t timestamp_ms);

  bool empty() const { return batches_.empty(); }
  size_t size() const { return batches_.size(); }
  uint64_t pending_bytes() const { return bytes_; }
  uint64_t pending_samples() const { return samples_; }
  int64_t oldest_timestamp_ms() const { return batches_.empty() ? 0 : batches_.front().timestamp_ms; }
  // Records found damaged at load (skipped, never sent).
  uint64_t records_corrupt() const { return corrupt_; }
  // Why the segment cannot be written ("" when it can, or in memory mode).
  const std::string& disk_error() const {
    return segment_health_.failing() ? segment_health_.error() : offset_health_.error();
  }
  bool disk_failing() const { return segment_health_.failing() || offset_health_.failing(); }
  uint64_t segment_bytes() const { return end_; }

 private:
  struct Batch {
    int64_t timestamp_ms;
    uint64_t samples;
    std::string payload;
  };
  void SaveOffset();
  // Rewrites the segment with the unsent batches only (offset 0).
  bool Rewrite();
  void MaybeCompact();

  std::string path_;
  std::deque<Batch> batches_;
  uint64_t bytes_ = 0, samples_ = 0;
  uint64_t offset_ = 0;  // segment bytes before the first unsent batch
  uint64_t end_ = 0;     // segment bytes written
  uint64_t corrupt_ = 0;
  std::chrono::steady_clock::time_point last_rewrite_attempt_{};
  StateWriteHealth segment_health_;
  StateWriteHealth offset_health_;
};

}  // namespace botwatch
