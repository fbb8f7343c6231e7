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
  EXPECT_EQ(s.block(29, Projection::kGate), 16u);
  EXPECT_EQ(s.block(29, Projection::kUp), 0u);
  EXPECT_EQ(s.block(28, Projection::kDown), 32u);
  EXPECT_EQ(s.block(27, Projection::kDown), 0u);
}

TEST(PatchSpec, GroupsGiveEachLayerItsOwnBlockSizes) {
  const auto s = PatchSpec::parse("0-1:up:16;5:gate=4,down=8;1:down:64", 30);
  EXPECT_EQ(s.layers, (std::vector<uint32_t>{0, 1, 5}));
  EXPECT_EQ(s.blocks[0], (LayerBlocks{0, 16, 0}));
  EXPECT_EQ(s.blocks[1], (LayerBlocks{0, 16, 64}));
  EXPECT_EQ(s.blocks[2], (LayerBlocks{4, 0, 8}));
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.describe(),
            "layers 0, up B=16; layers 1, up B=16 down B=64; layers 5, gate B=4 down B=8");
  // text() parses back to the same spec.
  const auto again = PatchSpec::parse(s.text(), 30);
  EXPECT_EQ(again.layers, s.layers);
  EXPECT_EQ(again.blocks, s.blocks);
  EXPECT_EQ(PatchSpec::parse("last8:all:4", 30).text(), "22-29:all:4");
  // A projection named by two groups is refused.
  try {
    PatchSpec::parse("0-3:all:8;3:up:16", 30);
    ADD_FAILURE() << "accepted an overlap";
  } catch (const PatchSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("layer 3 up is named by two groups"), std::string::npos)
        << e.what();
  }
}

TEST(PatchSpec, SetAddsAndRemovesProjections) {
  PatchSpec s;
  s.set(7, Projection::kDown, 16);
  s.set(2, Projection::kGate, 4);
  EXPECT_EQ(s.layers, (std::vector<uint32_t>{2, 7}));
  EXPECT_EQ(s.text(), "2:gate=4;7:down=16");
  s.set(2, Projection::kGate, 0);
  EXPECT_EQ(s.layers, (std::vector<uint32_t>{7}));
  s.set(7, Projection::kDown, 0);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(s.describe(), "dense");
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
