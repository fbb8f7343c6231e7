// Prompt sets for calibration and evaluation: plain text (one prompt a line, blank lines
// skipped) or JSONL (one object a line with a "text" string).  Test:
// tests/loaders/prompt_file_test.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace bcvk::loaders {

struct PromptSet {
  std::filesystem::path source;
  std::string sha256;  // of the file's bytes
  std::vector<std::string> prompts;
  std::vector<uint32_t> lines;  // 1-based line of each prompt in the file
};

// JSONL when the file name ends in .jsonl or its first non-blank line starts with '{'.
// Throws FormatError naming the file and line for: a missing or empty file (no prompts), invalid
// UTF-8, malformed JSON, or a JSON line without a "text" string.
PromptSet read_prompt_set(const std::filesystem::path& path);

// Prompts present in both sets (exact text), in a's order.
std::vector<std::string> overlapping_prompts(const PromptSet& a, const PromptSet& b);

// SHA-256 of bytes, lowercase hex.
std::string sha256_hex(std::string_view bytes);
// SHA-256 of a file's bytes (mapped, not copied), lowercase hex.
std::string file_sha256(const std::string& path);

}  // namespace bcvk::loaders
