#include "apps/prompts.h"

#include <stdexcept>

namespace bcvk::apps {

std::vector<std::vector<int32_t>> tokenize(const loaders::Tokenizer& tok,
                                           const loaders::PromptSet& set, size_t limit,
                                           uint32_t context, uint32_t extra) {
  std::vector<std::vector<int32_t>> out;
  for (size_t i = 0; i < set.prompts.size() && (limit == 0 || i < limit); ++i) {
    auto ids = tok.encode(set.prompts[i]);
    if (ids.empty())
      throw std::invalid_argument(set.source.string() + ": line " + std::to_string(set.lines[i]) +
                                  ": the prompt encodes to no tokens");
    if (ids.size() + extra > context)
      throw std::invalid_argument(
          set.source.string() + ": line " + std::to_string(set.lines[i]) + ": " +
          std::to_string(ids.size()) + " tokens" +
          (extra ? " (+" + std::to_string(extra) + " continuation)" : std::string()) +
          " exceed the context of " + std::to_string(context) +
          " tokens (-c/--ctx-size sets it, up to the model's own)");
    out.push_back(std::move(ids));
  }
  return out;
}

}  // namespace bcvk::apps
