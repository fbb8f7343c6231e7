// --patch specs: every layer form, and the errors that name what is wrong.
#include <gtest/gtest.h>

#include "runtime/compress/patch_spec.h"

namespace bcvk::compress {
namespace {

std::vector<uint32_t> layers(const char* spec, uint32_t n = 30) {
  return PatchSpec::parse(spec, n).layers;
}

TEST(PatchSpec, LayerForms) {
  EXPECT_EQ(layers("all:all:8", 3), (std::vector<uint32_t>{0, 1, 2}));
  EXPECT_EQ(layers("first2:all:8"), (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(layers("last3:all:8"), (std::vector<uint32_t>{27, 28, 29}));
  EXPECT_EQ(layers("last30:all:8").size(), 30u);
  EXPECT_EQ(layers("5,0-2,2:down:8"), (std::vector<uint32_t>{0, 1, 2, 5}));
  const auto s = PatchSpec::parse("last2:gate=16,down:32", 30);
  EXPECT_EQ(s.block_for(Projection::kGate), 16u);
  EXPECT_EQ(s.block_for(Projection::kUp), 0u);
  EXPECT_EQ(s.block_for(Projection::kDown), 32u);
}

TEST(PatchSpec, ErrorsNameTheProblem) {
  for (const char* bad : {"last0:all:8", "last31:all:8", "lastx:all:8", "first0:all:8", "3-1:all:8",
                          "30:all:8", "all:sideways:8", ""}) {
    EXPECT_THROW(PatchSpec::parse(bad, 30), PatchSpecError) << bad;
  }
  try {
    PatchSpec::parse("last31:all:8", 30);
  } catch (const PatchSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("last31 needs 1 to 30"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bcvk::compress
