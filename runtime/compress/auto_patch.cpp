#include "runtime/compress/auto_patch.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

namespace bcvk::compress {

std::optional<AutoRequest> parse_auto(std::string_view text) {
  if (!text.starts_with("auto")) return std::nullopt;
  const std::string t(text);
  auto fail = [&](const std::string& why) {
    return PatchSpecError("patch '" + t + "': " + why +
                          " (expected auto:RATIO[:B1,B2,...], e.g. auto:0.5 or auto:0.7:8,64)");
  };
  if (!text.starts_with("auto:")) throw fail("no ratio");
  std::string_view rest = text.substr(5);
  const size_t colon = rest.find(':');
  const std::string ratio_text(rest.substr(0, colon));
  AutoRequest r;
  size_t used = 0;
  try {
    r.ratio = std::stod(ratio_text, &used);
  } catch (const std::exception&) {
    throw fail("'" + ratio_text + "' is not a ratio");
  }
  if (used != ratio_text.size() || !std::isfinite(r.ratio))
    throw fail("'" + ratio_text + "' is not a ratio");
  if (!(r.ratio > 0 && r.ratio <= 1))
    throw fail("the ratio of MLP parameters kept must be in (0, 1], not " + ratio_text);
  if (colon != std::string_view::npos) {
    r.blocks.clear();
    std::string_view list = rest.substr(colon + 1);
    while (true) {
      const size_t comma = list.find(',');
      const std::string_view item = list.substr(0, comma);
      uint32_t b = 0;
      const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), b);
      if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || b < 2)
        throw fail("'" + std::string(item) + "' is not a block size of at least 2");
      r.blocks.push_back(b);
      if (comma == std::string_view::npos) break;
      list = list.substr(comma + 1);
    }
    std::sort(r.blocks.begin(), r.blocks.end());
    r.blocks.erase(std::unique(r.blocks.begin(), r.blocks.end()), r.blocks.end());
  }
  // A circulant block of size B keeps 1/B of its parameters: below 1/(largest B) no choice can
  // reach the ratio, which is known now, not after the sensitivity pass.
  if (!r.blocks.empty()) {
    const uint32_t largest = *std::max_element(r.blocks.begin(), r.blocks.end());
    if (r.ratio < 1.0 / largest)
      throw fail("the ratio " + ratio_text + " is not reachable: at the largest block size (" +
                 std::to_string(largest) + ") the MLPs keep 1/" + std::to_string(largest) +
                 " of their parameters");
  }
  return r;
}

AutoChoice choose_patch(const std::vector<AutoCandidate>& cands, double ratio) {
  AutoChoice out;
  uint64_t smallest = 0;
  for (const auto& c : cands) {
    out.dense_parameters += c.dense_parameters;
    uint64_t m = c.dense_parameters;
    for (const auto& o : c.options) m = std::min(m, o.parameters);
    smallest += m;
  }
  const uint64_t budget = uint64_t(std::floor(ratio * double(out.dense_parameters)));
  if (smallest > budget)
    throw PatchSpecError("patch auto:" + std::to_string(ratio) +
                         ": not reachable; with every projection at its largest block size the "
                         "MLPs keep " +
                         std::to_string(double(smallest) / out.dense_parameters) +
                         " of their parameters");

  // Parameters in units of their common divisor, coarsened (options rounded up, so the choice
  // stays within budget) until the table is small.
  uint64_t unit = 0;
  for (const auto& c : cands) {
    unit = std::gcd(unit, c.dense_parameters);
    for (const auto& o : c.options) unit = std::gcd(unit, o.parameters);
  }
  unit = std::max<uint64_t>(unit, 1);
  while (out.dense_parameters / unit > 200000) unit *= 2;
  auto units = [&](uint64_t p) { return size_t((p + unit - 1) / unit); };
  const size_t cap = size_t(budget / unit);

  // dp[j]: least cost (then fewest replaced parameters, as a tie-break) of the candidates so far
  // using exactly j units.  pick[i][j]: the option candidate i took (0: dense).
  constexpr double kInf = std::numeric_limits<double>::infinity();
  struct Cell {
    double cost = kInf;
    uint64_t replaced = 0;
  };
  std::vector<Cell> dp(cap + 1), next(cap + 1);
  dp[0].cost = 0;
  std::vector<std::vector<uint8_t>> pick(cands.size(), std::vector<uint8_t>(cap + 1, 0));
  for (size_t i = 0; i < cands.size(); ++i) {
    const auto& c = cands[i];
    if (c.options.size() > 254) throw PatchSpecError("patch auto: too many block sizes");
    std::fill(next.begin(), next.end(), Cell{});
    for (size_t k = 0; k <= c.options.size(); ++k) {
      const uint64_t params = k == 0 ? c.dense_parameters : c.options[k - 1].parameters;
      const double cost = k == 0 ? 0.0 : c.options[k - 1].cost;
      const uint64_t replaced = k == 0 ? 0 : c.dense_parameters;
      const size_t w = units(params);
      for (size_t j = w; j <= cap; ++j) {
        const Cell& from = dp[j - w];
        if (from.cost == kInf) continue;
        const Cell cand{from.cost + cost, from.replaced + replaced};
        Cell& to = next[j];
        if (cand.cost < to.cost || (cand.cost == to.cost && cand.replaced < to.replaced)) {
          to = cand;
          pick[i][j] = uint8_t(k);
        }
      }
    }
    std::swap(dp, next);
  }
  size_t best = 0;
  for (size_t j = 0; j <= cap; ++j)
    if (dp[j].cost < dp[best].cost ||
        (dp[j].cost == dp[best].cost && dp[j].replaced < dp[best].replaced))
      best = j;
  if (dp[best].cost == kInf)
    throw PatchSpecError("patch auto: no choice fits the budget after rounding");
  size_t j = best;
  for (size_t i = cands.size(); i-- > 0;) {
    const auto& c = cands[i];
    const uint8_t k = pick[i][j];
    const uint64_t params = k == 0 ? c.dense_parameters : c.options[k - 1].parameters;
    if (k) {
      out.spec.set(c.layer, c.projection, c.options[k - 1].block);
      out.cost += c.options[k - 1].cost;
    }
    out.parameters += params;
    j -= units(params);
  }
  return out;
}

}  // namespace bcvk::compress
