// Text from a file, made safe for a terminal: control characters (C0, DEL and the C1 range,
// which includes the escape sequences that move the cursor or retitle a window) become \xNN.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace bcvk::apps {

// `keep_newlines`: '\n' and '\t' pass (multi-line messages).
inline std::string terminal_safe(std::string_view s, bool keep_newlines = false) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const bool c1 = c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(s[i + 1]) <= 0x9F;  // U+0080..U+009F in UTF-8
    if (keep_newlines && (c == '\n' || c == '\t')) {
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7F || c1) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c1 ? static_cast<unsigned char>(s[++i]) : c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace bcvk::apps
