// --patch auto: the knapsack's choice against hand-worked budgets, and the request's parsing.
#include <gtest/gtest.h>

#include "runtime/compress/auto_patch.h"

namespace bcvk::compress {
namespace {

// Three projections of 100 parameters; B=4 keeps 25, B=10 keeps 10.
std::vector<AutoCandidate> three(double c0, double c1, double c2) {
  std::vector<AutoCandidate> v;
  const double costs[3] = {c0, c1, c2};
  for (uint32_t l = 0; l < 3; ++l)
    v.push_back({l, Projection::kUp, 100, {{4, 25, costs[l]}, {10, 10, 3 * costs[l]}}});
  return v;
}

TEST(AutoPatch, ChoosesTheLeastSensitiveProjectionsThatReachTheBudget) {
  // Budget 0.75 * 300 = 225: one projection at B=4 (saves 75) reaches it; the cheapest is layer 1.
  auto a = choose_patch(three(5, 1, 2), 0.75);
  EXPECT_EQ(a.spec.text(), "1:up=4");
  EXPECT_DOUBLE_EQ(a.cost, 1.0);
  EXPECT_EQ(a.parameters, 225u);
  EXPECT_EQ(a.dense_parameters, 300u);
  // Budget 0.5 * 300 = 150: B=4 on layers 1 and 2 (100 + 25 + 25) costs 3; the next best,
  // B=10 on 1 and B=4 on 2 (100 + 10 + 25), costs 5.
  a = choose_patch(three(5, 1, 2), 0.5);
  EXPECT_EQ(a.spec.text(), "1-2:up=4");
  EXPECT_DOUBLE_EQ(a.cost, 3.0);
  EXPECT_EQ(a.parameters, 150u);
  // Budget 0.4 * 300 = 120: options {1:B10, 2:B10} = 100+10+10 costs 9; {0:4,1:4,2:4} = 75
  // costs 8 -- the cheaper one wins although it replaces more.
  a = choose_patch(three(5, 1, 2), 0.4);
  EXPECT_DOUBLE_EQ(a.cost, 8.0);
  EXPECT_EQ(a.spec.count(), 3u);
  // Budget 1: nothing replaced.
  a = choose_patch(three(5, 1, 2), 1.0);
  EXPECT_TRUE(a.spec.empty());
  EXPECT_EQ(a.parameters, 300u);
}

TEST(AutoPatch, RefusesABudgetNoChoiceReaches) {
  // Smallest: 3 * 10 = 30 of 300 = 0.1.
  EXPECT_NO_THROW(choose_patch(three(1, 1, 1), 0.1));
  try {
    choose_patch(three(1, 1, 1), 0.05);
    ADD_FAILURE() << "accepted an unreachable ratio";
  } catch (const PatchSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("not reachable"), std::string::npos) << e.what();
  }
}

TEST(AutoPatch, ParsesRequestsAndNamesMistakes) {
  EXPECT_FALSE(parse_auto("all:all:8"));
  auto r = parse_auto("auto:0.5");
  ASSERT_TRUE(r);
  EXPECT_DOUBLE_EQ(r->ratio, 0.5);
  EXPECT_EQ(r->blocks, (std::vector<uint32_t>{4, 16, 64}));
  r = parse_auto("auto:0.7:64,8,8");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->blocks, (std::vector<uint32_t>{8, 64}));
  for (const char* bad : {"auto", "auto:", "auto:x", "auto:0", "auto:1.5",
                          "auto:0.5:", "auto:0.5:1", "auto:0.5:8,,16", "auto:nan", "auto:0.5x"})
    EXPECT_THROW(parse_auto(bad), PatchSpecError) << bad;
  try {
    parse_auto("auto:1.5");
  } catch (const PatchSpecError& e) {
    EXPECT_NE(std::string(e.what()).find("must be in (0, 1]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace bcvk::compress
