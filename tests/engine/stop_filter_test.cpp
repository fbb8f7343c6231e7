// Stop strings in streamed text: text that could still become a stop string is held back, a
// stop string cuts the text before it, even when it arrives split across pieces.
#include <gtest/gtest.h>

#include "runtime/engine/engine.h"

namespace bcvk::engine {
namespace {

// Pushes every piece and returns what came out, and whether it stopped.
std::pair<std::string, bool> run(std::vector<std::string> stops, std::vector<std::string> pieces) {
  StopFilter f(std::move(stops));
  std::string out;
  for (const auto& p : pieces) out += f.push(p);
  out += f.finish();
  return {out, f.stopped()};
}

TEST(StopFilter, NoStopsPassesEverythingAtOnce) {
  StopFilter f({});
  EXPECT_EQ(f.push("Hello"), "Hello");
  EXPECT_EQ(f.push(" world"), " world");
  EXPECT_EQ(f.finish(), "");
  EXPECT_FALSE(f.stopped());
}

TEST(StopFilter, HoldsBackOnlyAPossibleStart) {
  StopFilter f({"END"});
  EXPECT_EQ(f.push("abc E"), "abc ");  // "E" may start "END"
  EXPECT_EQ(f.push("x"), "Ex");        // it did not
  EXPECT_EQ(f.push("EN"), "");
  EXPECT_EQ(f.finish(), "EN");  // no stop came: the rest is text
  EXPECT_FALSE(f.stopped());
}

TEST(StopFilter, CutsBeforeAStopSplitAcrossPieces) {
  EXPECT_EQ(run({"###"}, {"one ", "#", "#", "# two"}),
            (std::pair<std::string, bool>{"one ", true}));
  EXPECT_EQ(run({"\n\n"}, {"a\n", "\nb"}), (std::pair<std::string, bool>{"a", true}));
  // Inside one piece, with text after it that never appears.
  EXPECT_EQ(run({"."}, {"Paris. Then"}), (std::pair<std::string, bool>{"Paris", true}));
}

TEST(StopFilter, TheEarliestOfSeveralStopsWins) {
  EXPECT_EQ(run({"world", "lo"}, {"hello world"}), (std::pair<std::string, bool>{"hel", true}));
  // An empty stop string is ignored rather than stopping at once.
  EXPECT_EQ(run({"", "z"}, {"abc"}), (std::pair<std::string, bool>{"abc", false}));
}

TEST(StopFilter, NothingAfterTheStop) {
  StopFilter f({"x"});
  EXPECT_EQ(f.push("ax"), "a");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.push("more"), "");
  EXPECT_EQ(f.finish(), "");
}

// a + b by append (GCC 12's -Wrestrict misfires on operator+ with a literal).
std::string cat(std::string a, const std::string& b) {
  a.append(b);
  return a;
}

TEST(CompleteUtf8, SplitsOnlyAtCharacterBoundaries) {
  const std::string e_acute = "\xC3\xA9";   // 2 bytes
  const std::string euro = "\xE2\x82\xAC";  // 3 bytes
  EXPECT_EQ(complete_utf8("ab"), 2u);
  EXPECT_EQ(complete_utf8(cat("a", e_acute.substr(0, 1))), 1u);
  EXPECT_EQ(complete_utf8(cat("a", e_acute)), 3u);
  EXPECT_EQ(complete_utf8(euro.substr(0, 2)), 0u);
  EXPECT_EQ(complete_utf8(cat("x", euro)), 4u);
}

}  // namespace
}  // namespace bcvk::engine
