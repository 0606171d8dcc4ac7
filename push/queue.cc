#include "push/queue.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "base/crc32c.h"
#include "base/logging.h"

namespace botwatch {
namespace {

constexpr char kMagic[] = "BWRWSEG2";
constexpr size_t kMagicBytes = 8;
constexpr size_t kHeader = 4 + 4 + 8 + 8;
constexpr size_t kLegacyHeader = 4 + 8 + 8;  // segments of botwatch before checksums
// Rewrite the segment once this much of it is acknowledged or dropped, or once
// that part is most of the file and past kCompactMinBytes: keeps the file near
// the size of what is unsent without rewriting on every send.
constexpr uint64_t kCompactBytes = 4 << 20;
constexpr uint64_t kCompactMinBytes = 64 << 10;
// Timestamps a real batch can carry (2001..2286): a cheap first test before
// the checksum when looking for the next whole record after damage.
constexpr int64_t kMinTimestampMs = 1000000000000;
constexpr int64_t kMaxTimestampMs = 9999999999999;

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
  PutLe(r, 0, 4);  // checksum, below
  PutLe(r, samples, 8);
  PutLe(r, static_cast<uint64_t>(ts), 8);
  r += payload;
  uint32_t crc = Crc32c(std::string_view(r).substr(8));
  for (int i = 0; i < 4; ++i) r[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
  return r;
}

bool Varint(const std::string& s, size_t& pos, size_t end, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= end) return false;
    uint8_t b = static_cast<uint8_t>(s[pos++]);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// A length-delimited field at `pos`: its key and the range of its bytes.
bool Field(const std::string& s, size_t& pos, size_t end, uint64_t* key, size_t* from, size_t* to) {
  uint64_t len = 0;
  if (!Varint(s, pos, end, key) || (*key & 7) != 2 || !Varint(s, pos, end, &len) || len > end - pos) return false;
  *from = pos;
  *to = pos + len;
  pos = *to;
  return true;
}

bool ValidSample(const std::string& s, size_t pos, size_t end) {
  while (pos < end) {
    uint64_t key = 0, v = 0;
    if (!Varint(s, pos, end, &key)) return false;
    if (key == ((1 << 3) | 1)) {  // value: double
      if (end - pos < 8) return false;
      pos += 8;
    } else if (key == ((2 << 3) | 0)) {  // timestamp
      if (!Varint(s, pos, end, &v)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool ValidLabel(const std::string& s, size_t pos, size_t end) {
  while (pos < end) {
    uint64_t key = 0;
    size_t from = 0, to = 0;
    if (!Field(s, pos, end, &key, &from, &to) || (key != ((1 << 3) | 2) && key != ((2 << 3) | 2))) return false;
  }
  return true;
}

struct Parsed {
  int64_t timestamp_ms;
  uint64_t samples;
  size_t payload_at, payload_bytes;
};

// The record at `pos`, if it is whole and sound.
bool ReadRecord(const std::string& data, size_t pos, bool legacy, Parsed* out) {
  size_t header = legacy ? kLegacyHeader : kHeader;
  if (data.size() - pos < header) return false;
  const char* p = data.data() + pos;
  uint64_t len = GetLe(p, 4);
  if (len > Queue::kMaxRecordBytes || len > data.size() - pos - header) return false;
  const char* rest = legacy ? p + 4 : p + 8;
  uint64_t samples = GetLe(rest, 8);
  int64_t ts = static_cast<int64_t>(GetLe(rest + 8, 8));
  if (ts < kMinTimestampMs || ts > kMaxTimestampMs) return false;
  if (!legacy && Crc32c(std::string_view(data).substr(pos + 8, 16 + len)) != static_cast<uint32_t>(GetLe(p + 4, 4))) {
    return false;
  }
  std::string payload = data.substr(pos + header, len);
  int64_t counted = CountSamples(payload);
  if (counted < 0 || static_cast<uint64_t>(counted) != samples) return false;
  *out = Parsed{ts, samples, pos + header, static_cast<size_t>(len)};
  return true;
}

// Strict: decimal digits and an optional newline, nothing else.
bool ParseOffset(const std::string& text, uint64_t* v) {
  std::string t = text;
  if (!t.empty() && t.back() == '\n') t.pop_back();
  if (t.empty() || t.size() > 19 || !std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  *v = std::stoull(t);
  return true;
}

std::string BaseName(const std::string& path) { return path.substr(path.rfind('/') + 1); }

// The segment and its offset file as they are on disk; one that cannot be
// read counts as empty (the segment) or absent (the offset).
struct SegmentFiles {
  std::string data, offset_text;
  bool exists = false, offset_exists = false;
};

SegmentFiles ReadSegmentFiles(const std::string& path) {
  SegmentFiles f;
  if (Status st = ReadStateFile(path, &f.data, &f.exists); !st.ok()) {
    logging::Warn("remote_write: cannot read the segment; starting without it", {{"err", st.message()}});
    f.data.clear();
  }
  if (Status st = ReadStateFile(path + ".offset", &f.offset_text, &f.offset_exists); !st.ok()) {
    logging::Warn("remote_write: cannot read the segment offset", {{"err", st.message()}});
    f.offset_exists = false;
  }
  return f;
}

struct FoundRecord {
  size_t at;
  Parsed rec;
};

struct SegmentScan {
  std::vector<FoundRecord> records;
  uint64_t damaged_regions = 0, damaged_bytes = 0;
  size_t first_damage = SIZE_MAX;
};

// Every whole and sound record of the segment, skipping damaged or torn regions.
SegmentScan ScanSegment(const std::string& data, bool legacy) {
  SegmentScan scan;
  size_t pos = legacy ? 0 : std::min(data.size(), kMagicBytes);
  while (pos < data.size()) {
    Parsed rec{};
    if (ReadRecord(data, pos, legacy, &rec)) {
      scan.records.push_back({pos, rec});
      pos = rec.payload_at + rec.payload_bytes;
      continue;
    }
    // Damaged or torn: look for the next whole record.
    size_t next = pos + 1;
    while (next < data.size() && !ReadRecord(data, next, legacy, &rec)) ++next;
    ++scan.damaged_regions;
    scan.damaged_bytes += next - pos;
    scan.first_damage = std::min(scan.first_damage, pos);
    pos = next;
  }
  return scan;
}

struct UnsentStart {
  size_t first = 0;  // index of the first unsent record
  bool offset_ok = false;
};

// Where the unsent batches start: a record boundary (or the end), else the
// offset is not trusted and everything in the file is sent again.
UnsentStart FindUnsent(const SegmentFiles& files, const std::vector<FoundRecord>& records, bool legacy,
                       const std::string& path) {
  const std::string& data = files.data;
  uint64_t offset = 0;
  UnsentStart unsent;
  unsent.offset_ok = !files.offset_exists;
  if (files.offset_exists && ParseOffset(files.offset_text, &offset)) {
    uint64_t start = legacy ? 0 : kMagicBytes;
    unsent.offset_ok =
        offset == 0 || offset == start || offset == data.size() ||
        std::any_of(records.begin(), records.end(), [&](const FoundRecord& f) { return f.at == offset; });
  }
  size_t& first = unsent.first;
  if (unsent.offset_ok) {
    while (first < records.size() && records[first].at < offset) ++first;
    return unsent;
  }
  // Inside a record: from that record; not a number, or past the end: from the start.
  for (size_t i = 0; i < records.size(); ++i) {
    if (offset <= data.size() && records[i].at < offset) first = i;
  }
  logging::Warn("remote_write: segment offset is not a record boundary; resending from an earlier one",
                {{"file", BaseName(path) + ".offset"},
                 {"offset", files.offset_text.substr(0, 32)},
                 {"resend_from", std::to_string(records.empty() ? 0 : records[first].at)}});
  return unsent;
}

}  // namespace

int64_t CountSamples(const std::string& payload) {
  int64_t samples = 0;
  size_t pos = 0;
  while (pos < payload.size()) {
    uint64_t key = 0;
    size_t from = 0, to = 0;
    if (!Field(payload, pos, payload.size(), &key, &from, &to) || key != ((1 << 3) | 2)) return -1;
    while (from < to) {
      size_t a = 0, b = 0;
      if (!Field(payload, from, to, &key, &a, &b)) return -1;
      if (key == ((1 << 3) | 2)) {
        if (!ValidLabel(payload, a, b)) return -1;
      } else if (key == ((2 << 3) | 2)) {
        if (!ValidSample(payload, a, b)) return -1;
        ++samples;
      } else {
        return -1;
      }
    }
  }
  return samples;
}

Queue::Queue(std::string path)
    : path_(std::move(path)), segment_health_(BaseName(path_)), offset_health_(BaseName(path_) + ".offset") {}

size_t Queue::Load() {
  if (path_.empty()) return 0;
  const SegmentFiles files = ReadSegmentFiles(path_);
  const std::string& data = files.data;
  const bool legacy = !data.empty() && data.compare(0, kMagicBytes, kMagic, kMagicBytes) != 0;
  const SegmentScan scan = ScanSegment(data, legacy);
  const std::vector<FoundRecord>& records = scan.records;
  const UnsentStart unsent = FindUnsent(files, records, legacy, path_);
  const size_t first = unsent.first;
  if (scan.damaged_regions > 0) {
    corrupt_ += scan.damaged_regions;
    logging::Warn("remote_write: damaged records in the segment skipped",
                  {{"file", BaseName(path_)},
                   {"offset", std::to_string(scan.first_damage)},
                   {"records_skipped", std::to_string(scan.damaged_regions)},
                   {"bytes_skipped", std::to_string(scan.damaged_bytes)}});
  }
  for (size_t i = first; i < records.size(); ++i) {
    const Parsed& r = records[i].rec;
    Batch b{r.timestamp_ms, r.samples, data.substr(r.payload_at, r.payload_bytes)};
    bytes_ += b.payload.size();
    samples_ += b.samples;
    batches_.push_back(std::move(b));
  }
  // The file is rewritten from what was read whenever it is not exactly a
  // clean v2 segment starting at the first unsent record: damage, a torn
  // tail, a legacy format or a bad offset never have records appended after them.
  end_ = data.size();
  offset_ = records.size() > first ? records[first].at : data.size();
  bool clean = !legacy && scan.damaged_regions == 0 && unsent.offset_ok && data.size() >= kMagicBytes;
  if (!files.exists || data.empty()) {
    end_ = 0;
    offset_ = 0;
  } else if (!clean || offset_ > kMagicBytes) {
    Rewrite();
  }
  return batches_.size();
}

void Queue::Push(int64_t timestamp_ms, uint64_t samples, std::string payload) {
  bytes_ += payload.size();
  samples_ += samples;
  batches_.push_back(Batch{timestamp_ms, samples, std::move(payload)});
  if (path_.empty()) return;
  if (disk_failing()) {
    // What was kept in memory meanwhile goes to disk with it. A big queue is
    // retried less often: each attempt writes all of it.
    auto now = std::chrono::steady_clock::now();
    if (bytes_ > (1u << 20) && now - last_rewrite_attempt_ < std::chrono::seconds(5)) return;
    last_rewrite_attempt_ = now;
    Rewrite();
    return;
  }
  const Batch& b = batches_.back();
  std::string r = Record(b.timestamp_ms, b.samples, b.payload);
  if (end_ == 0) r.insert(0, kMagic, kMagicBytes);
  if (segment_health_.Record(AppendStateFile(path_, r, end_))) end_ += r.size();
}

Queue::Front Queue::Oldest(uint64_t max_samples, size_t max_batches) const {
  Front f;
  for (const Batch& b : batches_) {
    if (f.batches > 0 && (f.samples + b.samples > max_samples || f.batches >= max_batches)) break;
    f.payload += b.payload;
    f.samples += b.samples;
    ++f.batches;
  }
  return f;
}

void Queue::Pop(size_t batches) {
  if (offset_ < kMagicBytes && end_ >= kMagicBytes) offset_ = kMagicBytes;  // the first record follows the magic
  for (size_t i = 0; i < batches && !batches_.empty(); ++i) {
    bytes_ -= batches_.front().payload.size();
    samples_ -= batches_.front().samples;
    offset_ += kHeader + batches_.front().payload.size();
    batches_.pop_front();
  }
  if (path_.empty()) return;
  if (disk_failing()) return;  // the next Push rewrites the segment
  if (batches_.empty()) {
    // Everything acknowledged: start the segment afresh.
    if (segment_health_.Record(TruncateStateFile(path_, 0))) {
      offset_ = end_ = 0;
    }
    SaveOffset();
    return;
  }
  SaveOffset();
  MaybeCompact();
}

void Queue::MaybeCompact() {
  if (offset_ >= kCompactBytes || (offset_ >= kCompactMinBytes && offset_ * 2 >= end_)) Rewrite();
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
  offset_health_.Record(WriteStateFileAtomically(path_ + ".offset", std::to_string(offset_) + "\n"));
}

bool Queue::Rewrite() {
  if (path_.empty()) return true;
  std::string body(kMagic, kMagicBytes);
  for (const Batch& b : batches_) body += Record(b.timestamp_ms, b.samples, b.payload);
  if (batches_.empty()) body.clear();
  if (disk_failing()) {
    // A full disk has no room for a second copy, and the old segment holds
    // only what memory holds too: it is cut and written in place. The offset
    // goes first (removing needs no space): no offset means "send it all".
    Status st = RemoveStateFile(path_ + ".offset");
    if (st.ok() && !TruncateStateFile(path_, 0).ok()) st = RemoveStateFile(path_);  // absent, or a link
    if (st.ok()) st = AppendStateFile(path_, body, 0);
    if (!segment_health_.Record(st)) {
      end_ = 0;  // AppendStateFile cut it back to nothing
      return false;
    }
    offset_ = 0;
    end_ = body.size();
    offset_health_.Record(WriteStateFileAtomically(path_ + ".offset", "0\n"));
    return !disk_failing();
  }
  // Offset 0 first: a crash between the two writes then re-sends, never skips.
  if (!offset_health_.Record(WriteStateFileAtomically(path_ + ".offset", "0\n"))) return false;
  if (!segment_health_.Record(WriteStateFileAtomically(path_, body))) return false;
  offset_ = 0;
  end_ = body.size();
  return true;
}

}  // namespace botwatch
