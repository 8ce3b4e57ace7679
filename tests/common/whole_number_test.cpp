#include "common/whole_number.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

namespace perpetua {

TEST_CASE("whole numbers: digits up to the bound parse") {
  CHECK(ParseWholeNumber("0", 10) == 0u);
  CHECK(ParseWholeNumber("007", 10) == 7u);
  CHECK(ParseWholeNumber("65535", 65535) == 65535u);
  CHECK(ParseWholeNumber("18446744073709551615", std::numeric_limits<uint64_t>::max()) ==
        std::numeric_limits<uint64_t>::max());
  CHECK(ParseWholeNumber("18446744073709551615") == std::numeric_limits<uint64_t>::max());  // the default bound
  CHECK_FALSE(ParseWholeNumber("18446744073709551616").has_value());
}

TEST_CASE("whole numbers: anything else is refused") {
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "12a", "٣"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseWholeNumber(bad, 1000).has_value());
  }
  CHECK_FALSE(ParseWholeNumber("65536", 65535).has_value());
  CHECK_FALSE(ParseWholeNumber("18446744073709551616", std::numeric_limits<uint64_t>::max()).has_value());
  CHECK_FALSE(ParseWholeNumber("99999999999999999999999999", 100).has_value());
  CHECK_FALSE(ParseWholeNumber("1", 0).has_value());
  CHECK(ParseWholeNumber("0", 0) == 0u);
  CHECK(ParseWholeNumber("15", 15) == 15u);
  CHECK_FALSE(ParseWholeNumber("16", 15).has_value());
  CHECK_FALSE(ParseWholeNumber("20", 15).has_value());
}

}  // namespace perpetua
