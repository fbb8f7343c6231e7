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
    throw PatchSpecError("patch '" + std::string(text) + "': '" + std::string(s) +
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

namespace {

// One LAYERS[:PROJECTIONS][:B] group into `spec`; `t` is the whole --patch text (for messages).
void parse_group(std::string_view group, uint32_t n_layers, const std::string& t, PatchSpec& spec) {
  const auto fields = split(group, ':');
  if (fields.size() > 3 || fields[0].empty())
    throw PatchSpecError("patch '" + t +
                         "': expected LAYERS[:PROJECTIONS][:B], e.g. all:gate,up,down:64");

  // Layers.
  std::vector<uint32_t> layers;
  const std::string_view L = fields[0];
  if (L == "all") {
    for (uint32_t l = 0; l < n_layers; ++l) layers.push_back(l);
  } else if (L.starts_with("first") || L.starts_with("last")) {
    const bool first = L.starts_with("first");
    const std::string word = first ? "first" : "last";
    const uint32_t n = number(L.substr(word.size()), "layer count after '" + word + "'", t);
    if (n == 0 || n > n_layers)
      throw PatchSpecError("patch '" + t + "': " + word + std::to_string(n) + " needs 1 to " +
                           std::to_string(n_layers) + " layers (the model has " +
                           std::to_string(n_layers) + ")");
    for (uint32_t l = 0; l < n; ++l) layers.push_back(first ? l : n_layers - n + l);
  } else {
    for (std::string_view item : split(L, ',')) {
      const size_t dash = item.find('-');
      const uint32_t a = number(item.substr(0, dash), "layer index", t);
      const uint32_t b =
          dash == std::string_view::npos ? a : number(item.substr(dash + 1), "layer index", t);
      if (b < a)
        throw PatchSpecError("patch '" + t + "': range " + std::string(item) + " is reversed");
      if (b >= n_layers)
        throw PatchSpecError("patch '" + t + "': layer " + std::to_string(b) +
                             " is outside the model's " + std::to_string(n_layers) + " layers (0-" +
                             std::to_string(n_layers - 1) + ")");
      for (uint32_t l = a; l <= b; ++l) layers.push_back(l);
    }
  }
  std::sort(layers.begin(), layers.end());
  layers.erase(std::unique(layers.begin(), layers.end()), layers.end());

  // Default block size.
  uint32_t default_b = 0;
  if (fields.size() == 3) {
    default_b = number(fields[2], "block size", t);
    if (default_b == 0)
      throw PatchSpecError("patch '" + t + "': the block size must be at least 1");
  }

  // Projections.
  LayerBlocks block = {0, 0, 0};
  const std::string_view P = fields.size() >= 2 ? fields[1] : std::string_view("all");
  for (std::string_view item : split(P.empty() ? std::string_view("all") : P, ',')) {
    const size_t eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    uint32_t b = default_b;
    if (eq != std::string_view::npos) {
      b = number(item.substr(eq + 1), "block size", t);
      if (b == 0) throw PatchSpecError("patch '" + t + "': the block size must be at least 1");
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
        throw PatchSpecError("patch '" + t + "': unknown projection '" + std::string(name) +
                             "' (use gate, up, down or all)");
    }
    if (b == 0)
      throw PatchSpecError("patch '" + t + "': no block size for '" + std::string(name) +
                           "' (add :B at the end, or " + std::string(name) + "=B)");
    for (Projection p : which) {
      if (block[size_t(p)])
        throw PatchSpecError("patch '" + t + "': projection " + projection_name(p) +
                             " is listed twice");
      block[size_t(p)] = b;
    }
  }
  for (uint32_t l : layers)
    for (Projection p : kProjections) {
      if (!block[size_t(p)]) continue;
      if (spec.patched(l, p))
        throw PatchSpecError("patch '" + t + "': layer " + std::to_string(l) + " " +
                             projection_name(p) + " is named by two groups");
      spec.set(l, p, block[size_t(p)]);
    }
}

// Runs of consecutive layers with the same block sizes, merged into groups of equal sizes.
std::vector<std::pair<LayerBlocks, std::vector<uint32_t>>> groups(const PatchSpec& s) {
  std::vector<std::pair<LayerBlocks, std::vector<uint32_t>>> out;
  for (size_t i = 0; i < s.layers.size(); ++i) {
    auto it =
        std::find_if(out.begin(), out.end(), [&](const auto& g) { return g.first == s.blocks[i]; });
    if (it == out.end()) {
      out.push_back({s.blocks[i], {}});
      it = out.end() - 1;
    }
    it->second.push_back(s.layers[i]);
  }
  return out;
}

bool uniform(const LayerBlocks& b) {
  return b[0] && b[0] == b[1] && b[1] == b[2];
}

}  // namespace

PatchSpec PatchSpec::parse(std::string_view text, uint32_t n_layers) {
  const std::string t(text);
  PatchSpec spec;
  for (std::string_view group : split(text, ';')) parse_group(group, n_layers, t, spec);
  return spec;
}

void PatchSpec::set(uint32_t layer, Projection p, uint32_t B) {
  auto it = std::lower_bound(layers.begin(), layers.end(), layer);
  size_t i = size_t(it - layers.begin());
  if (it == layers.end() || *it != layer) {
    if (!B) return;
    layers.insert(it, layer);
    blocks.insert(blocks.begin() + i, LayerBlocks{0, 0, 0});
  }
  blocks[i][size_t(p)] = B;
  if (blocks[i] == LayerBlocks{0, 0, 0}) {
    layers.erase(layers.begin() + i);
    blocks.erase(blocks.begin() + i);
  }
}

uint32_t PatchSpec::block(uint32_t layer, Projection p) const {
  auto it = std::lower_bound(layers.begin(), layers.end(), layer);
  return it != layers.end() && *it == layer ? blocks[size_t(it - layers.begin())][size_t(p)] : 0;
}

size_t PatchSpec::count() const {
  size_t n = 0;
  for (const auto& b : blocks)
    for (uint32_t x : b) n += x != 0;
  return n;
}

std::string PatchSpec::describe() const {
  if (empty()) return "dense";
  std::string out;
  for (const auto& [b, ls] : groups(*this)) {
    if (!out.empty()) out += "; ";
    out += "layers " + ranges(ls) + ",";
    if (uniform(b)) {
      out += " gate/up/down B=" + std::to_string(b[0]);
      continue;
    }
    for (Projection p : kProjections)
      if (b[size_t(p)])
        out += std::string(" ") + projection_name(p) + " B=" + std::to_string(b[size_t(p)]);
  }
  return out;
}

std::string PatchSpec::text() const {
  std::string out;
  for (const auto& [b, ls] : groups(*this)) {
    if (!out.empty()) out += ";";
    out += ranges(ls) + ":";
    if (uniform(b)) {
      out += "all:" + std::to_string(b[0]);
      continue;
    }
    bool first = true;
    for (Projection p : kProjections)
      if (b[size_t(p)]) {
        out +=
            std::string(first ? "" : ",") + projection_name(p) + "=" + std::to_string(b[size_t(p)]);
        first = false;
      }
  }
  return out;
}

}  // namespace bcvk::compress
