#include "web/gzip.h"

#include <zlib.h>

#include <catch2/catch.hpp>
#include <string>

using botwatch::AcceptsGzip;
using botwatch::Gzip;

namespace {

// Inflates one gzip member with zlib itself (15 + 16: expect the gzip wrapper).
std::string Gunzip(const std::string& gz) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  REQUIRE(rc == Z_STREAM_END);
  return out;
}

}  // namespace

TEST_CASE("Accept-Encoding: gzip is taken when offered with a non-zero q-value") {
  CHECK(AcceptsGzip("gzip"));
  CHECK(AcceptsGzip("gzip, deflate, br"));  // curl --compressed
  CHECK(AcceptsGzip("identity;q=0.5, GZIP;q=0.8"));
  CHECK(AcceptsGzip("x-gzip"));
  CHECK(AcceptsGzip("*"));
  CHECK(AcceptsGzip("br, *;q=0.1"));
  CHECK_FALSE(AcceptsGzip(nullptr));
  CHECK_FALSE(AcceptsGzip(""));
  CHECK_FALSE(AcceptsGzip("identity"));
  CHECK_FALSE(AcceptsGzip("deflate, br"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0"));
  CHECK_FALSE(AcceptsGzip("gzip;q=0.0, *"));  // an explicit refusal beats the wildcard
  CHECK_FALSE(AcceptsGzip("*;q=0"));
  CHECK_FALSE(AcceptsGzip("gzipped"));
}

TEST_CASE("Gzip output inflates back to the input and is much smaller for exposition text") {
  std::string text;
  for (int i = 0; i < 2000; ++i) {
    text += "botwatch_collector_up{collector=\"probe_" + std::to_string(i % 50) + "\",type=\"http\"} 1\n";
  }
  auto gz = Gzip(text);
  REQUIRE(gz.has_value());
  CHECK(gz->size() < text.size() / 5);
  CHECK(static_cast<unsigned char>((*gz)[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>((*gz)[1]) == 0x8b);
  CHECK(Gunzip(*gz) == text);
  auto empty = Gzip("");
  REQUIRE(empty.has_value());
  CHECK(Gunzip(*empty).empty());
}
