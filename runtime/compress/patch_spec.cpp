#include "runtime/compress/patch_spec.h"

#include <algorithm>
#include <charconv>

namespace bcvk::compress {

namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t pos = s.find(sep, start);
    out.push_back(
        s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

uint32_t number(std::string_view s, std::string_view what, std::string_view text) {
  uint32_t v = 0;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size())
    throw PatchSpecError("--patch '" + std::string(text) + "': '" + std::string(s) +
                         "' is not a valid " + std::string(what));
  return v;
}

std::string ranges(const std::vector<uint32_t>& v) {
  std::string out;
  for (size_t i = 0; i < v.size();) {
    size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ",";
    out += std::to_string(v[i]);
    if (j > i) {  // two appends: GCC 12 warns (-Wrestrict, a false positive) on "-" + to_string
      out += '-';
      out += std::to_string(v[j]);
    }
    i = j + 1;
  }
  return out;
}

}  // namespace

const char* projection_name(Projection p) {
  switch (p) {
    case Projection::kGate:
      return "gate";
    case Projection::kUp:
      return "up";
    case Projection::kDown:
      return "down";
  }
  return "?";
}

PatchSpec PatchSpec::parse(std::string_view text, uint32_t n_layers) {
  const std::string t(text);
  const auto fields = split(text, ':');
  if (fields.size() > 3 || fields[0].empty())
    throw PatchSpecError("--patch '" + t +
                         "': expected LAYERS[:PROJECTIONS][:B], e.g. all:gate,up,down:64");
  PatchSpec spec;

  // Layers.
  const std::string_view L = fields[0];
  if (L == "all") {
    for (uint32_t l = 0; l < n_layers; ++l) spec.layers.push_back(l);
  } else if (L.starts_with("first") || L.starts_with("last")) {
    const bool first = L.starts_with("first");
    const std::string word = first ? "first" : "last";
    const uint32_t n = number(L.substr(word.size()), "layer count after '" + word + "'", text);
    if (n == 0 || n > n_layers)
      throw PatchSpecError("--patch '" + t + "': " + word + std::to_string(n) + " needs 1 to " +
                           std::to_string(n_layers) + " layers (the model has " +
                           std::to_string(n_layers) + ")");
    for (uint32_t l = 0; l < n; ++l) spec.layers.push_back(first ? l : n_layers - n + l);
  } else {
    for (std::string_view item : split(L, ',')) {
      const size_t dash = item.find('-');
      const uint32_t a = number(item.substr(0, dash), "layer index", text);
      const uint32_t b =
          dash == std::string_view::npos ? a : number(item.substr(dash + 1), "layer index", text);
      if (b < a)
        throw PatchSpecError("--patch '" + t + "': range " + std::string(item) + " is reversed");
      if (b >= n_layers)
        throw PatchSpecError("--patch '" + t + "': layer " + std::to_string(b) +
                             " is outside the model's " + std::to_string(n_layers) + " layers (0-" +
                             std::to_string(n_layers - 1) + ")");
      for (uint32_t l = a; l <= b; ++l) spec.layers.push_back(l);
    }
  }
  std::sort(spec.layers.begin(), spec.layers.end());
  spec.layers.erase(std::unique(spec.layers.begin(), spec.layers.end()), spec.layers.end());

  // Default block size.
  uint32_t default_b = 0;
  if (fields.size() == 3) {
    default_b = number(fields[2], "block size", text);
    if (default_b == 0)
      throw PatchSpecError("--patch '" + t + "': the block size must be at least 1");
  }

  // Projections.
  std::array<bool, 3> listed = {false, false, false};
  const std::string_view P = fields.size() >= 2 ? fields[1] : std::string_view("all");
  for (std::string_view item : split(P.empty() ? std::string_view("all") : P, ',')) {
    const size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    uint32_t b = default_b;
    if (eq != std::string_view::npos) {
      b = number(item.substr(eq + 1), "block size", text);
      if (b == 0) throw PatchSpecError("--patch '" + t + "': the block size must be at least 1");
    }
    std::vector<Projection> which;
    if (name == "all") {
      which.assign(kProjections.begin(), kProjections.end());
    } else {
      bool found = false;
      for (Projection p : kProjections)
        if (name == projection_name(p)) {
          which.push_back(p);
          found = true;
        }
      if (!found)
        throw PatchSpecError("--patch '" + t + "': unknown projection '" + std::string(name) +
                             "' (use gate, up, down or all)");
    }
    if (b == 0)
      throw PatchSpecError("--patch '" + t + "': no block size for '" + std::string(name) +
                           "' (add :B at the end, or " + std::string(name) + "=B)");
    for (Projection p : which) {
      if (listed[size_t(p)])
        throw PatchSpecError("--patch '" + t + "': projection " + projection_name(p) +
                             " is listed twice");
      listed[size_t(p)] = true;
      spec.block[size_t(p)] = b;
    }
  }
  return spec;
}

bool PatchSpec::patched(uint32_t layer, Projection p) const {
  return block_for(p) != 0 && std::binary_search(layers.begin(), layers.end(), layer);
}

bool PatchSpec::empty() const {
  return layers.empty() ||
         std::all_of(block.begin(), block.end(), [](uint32_t b) { return b == 0; });
}

std::string PatchSpec::describe() const {
  if (empty()) return "dense";
  std::string out = "layers " + ranges(layers) + ",";
  const bool same = block[0] && block[0] == block[1] && block[1] == block[2];
  if (same) return out + " gate/up/down B=" + std::to_string(block[0]);
  for (Projection p : kProjections)
    if (block_for(p))
      out += std::string(" ") + projection_name(p) + " B=" + std::to_string(block_for(p));
  return out;
}

}  // namespace bcvk::compress
