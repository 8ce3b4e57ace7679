// Text inside HTML: the one escaping function of the pages Perpetua writes
// (the run page of rl-eval, the question page of rl-label serve).
#pragma once

#include <string>

namespace perpetua {

// `text` with & < > " ' replaced by their entities: safe as element text and
// inside a quoted attribute value.
std::string HtmlEscape(const std::string& text);

}  // namespace perpetua
