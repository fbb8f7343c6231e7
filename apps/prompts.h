// Prompt files turned into token ids, and file hashes: shared by eval and compress.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loaders/prompt_file.h"
#include "loaders/tokenizer/tokenizer.h"

namespace bcvk::apps {

// The first `limit` prompts of `set` (0: all) as token ids.  Throws std::invalid_argument naming
// the file and line of a prompt that encodes to nothing or that, with `extra` tokens of
// continuation, does not fit in `context`.
std::vector<std::vector<int32_t>> tokenize(const loaders::Tokenizer& tok,
                                           const loaders::PromptSet& set, size_t limit,
                                           uint32_t context, uint32_t extra);

using loaders::file_sha256;

}  // namespace bcvk::apps
