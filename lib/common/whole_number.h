// The one parser of whole numbers written as text by a person or a file name:
// "heldout:40", a port, a test hook's step. No sign, no spaces, no "0x", no
// exponent: only decimal digits. (Config fields go through config.h.)
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace perpetua {

// The value of `text` when it is one or more decimal digits and at most `max`;
// nullopt otherwise (empty, any other character, or larger than `max`, however
// many digits: no overflow).
std::optional<uint64_t> ParseWholeNumber(std::string_view text,
                                         uint64_t max = std::numeric_limits<uint64_t>::max());

}  // namespace perpetua
