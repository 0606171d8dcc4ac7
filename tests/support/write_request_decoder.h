#pragma once

// Reads a remote write WriteRequest back for tests. Written from the protobuf
// wire-format spec, sharing nothing with push/write_request.cc, so an encoder
// bug cannot cancel out.

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace botwatch::testing {

struct Reader {
  const std::string& s;
  size_t pos = 0;
  size_t end;
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      REQUIRE(pos < end);
      uint8_t b = static_cast<uint8_t>(s[pos++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
  }
  bool More() const { return pos < end; }
};

struct DecodedSeries {
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<double, int64_t>> samples;
};

inline std::pair<double, int64_t> DecodeSample(const std::string& s, size_t from, size_t to) {
  Reader r{s, from, to};
  double value = 0;
  int64_t ts = 0;
  while (r.More()) {
    uint64_t key = r.Varint();
    if (key == ((1 << 3) | 1)) {
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits |= static_cast<uint64_t>(static_cast<uint8_t>(s[r.pos + i])) << (8 * i);
      r.pos += 8;
      std::memcpy(&value, &bits, 8);
    } else {
      REQUIRE(key == ((2 << 3) | 0));
      ts = static_cast<int64_t>(r.Varint());
    }
  }
  return {value, ts};
}

inline std::vector<DecodedSeries> Decode(const std::string& s) {
  std::vector<DecodedSeries> out;
  Reader top{s, 0, s.size()};
  while (top.More()) {
    REQUIRE(top.Varint() == ((1 << 3) | 2));
    size_t len = top.Varint();
    size_t ts_end = top.pos + len;
    DecodedSeries series;
    Reader r{s, top.pos, ts_end};
    while (r.More()) {
      uint64_t key = r.Varint();
      size_t n = r.Varint();
      if (key == ((1 << 3) | 2)) {
        Reader l{s, r.pos, r.pos + n};
        std::string name, value;
        while (l.More()) {
          uint64_t k = l.Varint();
          size_t m = l.Varint();
          (k == ((1 << 3) | 2) ? name : value) = s.substr(l.pos, m);
          l.pos += m;
        }
        series.labels.emplace_back(name, value);
      } else {
        REQUIRE(key == ((2 << 3) | 2));
        series.samples.push_back(DecodeSample(s, r.pos, r.pos + n));
      }
      r.pos += n;
    }
    top.pos = ts_end;
    out.push_back(std::move(series));
  }
  return out;
}

inline std::string Name(const DecodedSeries& s) {
  for (const auto& [k, v] : s.labels) {
    if (k == "__name__") return v;
  }
  return "";
}

inline std::string Label(const DecodedSeries& s, const std::string& name) {
  for (const auto& [k, v] : s.labels) {
    if (k == name) return v;
  }
  return "<absent>";
}

}  // namespace botwatch::testing
