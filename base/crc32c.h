#pragma once

// CRC-32C (Castagnoli), the checksum Prometheus' WAL and vmagent's queue put
// on every record: it catches the flipped bits and torn writes of a state file.

#include <cstdint>
#include <string_view>

namespace botwatch {

// `crc` continues a previous value (0 to start).
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

}  // namespace botwatch
