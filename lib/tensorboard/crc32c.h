// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and the masking that
// TFRecord framing applies to it. Pure functions of their bytes; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace perpetua::tensorboard {

// CRC-32C of `data` (initial value and final XOR 0xFFFFFFFF, as in RFC 3720
// B.4 and iSCSI): Crc32c("123456789") == 0xE3069283.
uint32_t Crc32c(std::string_view data);

// The masked CRC that TFRecord stores: ((crc >> 15) | (crc << 17)) +
// 0xA282EAD8, modulo 2^32 (so that a CRC of bytes that embed CRCs stays strong).
uint32_t MaskCrc(uint32_t crc);

}  // namespace perpetua::tensorboard
