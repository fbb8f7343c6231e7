#include "loaders/prompt_file.h"

#include <array>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "loaders/format_error.h"
#include "loaders/mapped_file.h"

namespace bcvk::loaders {

namespace {

std::string read_all(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(st) && !std::filesystem::is_regular_file(st) &&
      !std::filesystem::is_directory(st))  // a FIFO would block the open below
    throw FormatError(path.string(), 0, "is not a regular file (a FIFO, socket or device)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw FormatError(path.string(), 0, "cannot open the prompt file");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

PromptSet read_prompt_set(const std::filesystem::path& path) {
  if (std::filesystem::is_directory(path))
    throw FormatError(path.string(), 0, "is a directory, not a prompt file");
  const std::string bytes = read_all(path);
  const std::string file = path.string();
  PromptSet set;
  set.source = path;
  set.sha256 = sha256_hex(bytes);
  if (!is_valid_utf8(bytes)) {
    size_t bad = 0;  // first line that is not valid UTF-8, for the message
    for (size_t start = 0, line = 1; start <= bytes.size(); ++line) {
      size_t end = bytes.find('\n', start);
      if (end == std::string::npos) end = bytes.size();
      if (!is_valid_utf8(std::string_view(bytes).substr(start, end - start))) {
        bad = start;
        throw FormatError(file, bad, "line " + std::to_string(line) + " is not valid UTF-8");
      }
      start = end + 1;
    }
    throw FormatError(file, 0, "not valid UTF-8");
  }
  bool jsonl = path.extension() == ".jsonl";
  if (!jsonl) {
    const size_t first = bytes.find_first_not_of(" \t\r\n");
    jsonl = first != std::string::npos && bytes[first] == '{';
  }
  uint32_t line = 0;
  for (size_t start = 0; start < bytes.size();) {
    ++line;
    size_t end = bytes.find('\n', start);
    if (end == std::string::npos) end = bytes.size();
    std::string text = bytes.substr(start, end - start);
    const size_t offset = start;
    start = end + 1;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;  // blank line
    if (jsonl) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(text);
      } catch (const std::exception& e) {
        throw FormatError(file, offset,
                          "line " + std::to_string(line) + ": not valid JSON (" + e.what() + ")");
      }
      if (!j.is_object() || !j.contains("text") || !j["text"].is_string())
        throw FormatError(
            file, offset,
            "line " + std::to_string(line) + ": a JSONL prompt needs a \"text\" string");
      text = j["text"].get<std::string>();
      if (text.empty())
        throw FormatError(file, offset, "line " + std::to_string(line) + ": empty \"text\"");
    }
    set.prompts.push_back(std::move(text));
    set.lines.push_back(line);
  }
  if (set.prompts.empty())
    throw FormatError(file, 0, "holds no prompts (empty, or only blank lines)");
  return set;
}

std::vector<std::string> overlapping_prompts(const PromptSet& a, const PromptSet& b) {
  const std::set<std::string> in_b(b.prompts.begin(), b.prompts.end());
  std::vector<std::string> out;
  for (const auto& p : a.prompts)
    if (in_b.count(p)) out.push_back(p);
  return out;
}

// SHA-256 as FIPS 180-4 specifies it.
std::string sha256_hex(std::string_view bytes) {
  static constexpr std::array<uint32_t, 64> k = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  std::array<uint32_t, 8> h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  std::string msg(bytes);
  const uint64_t bits = uint64_t(bytes.size()) * 8;
  msg.push_back(char(0x80));
  while (msg.size() % 64 != 56) msg.push_back(0);
  for (int i = 7; i >= 0; --i) msg.push_back(char((bits >> (8 * i)) & 0xff));
  for (size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::array<uint32_t, 64> w{};
    for (int i = 0; i < 16; ++i)
      for (int b = 0; b < 4; ++b) w[i] = (w[i] << 8) | uint8_t(msg[chunk + 4 * i + b]);
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    auto v = h;
    for (int i = 0; i < 64; ++i) {
      const uint32_t S1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
      const uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
      const uint32_t t1 = v[7] + S1 + ch + k[i] + w[i];
      const uint32_t S0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
      const uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
      const uint32_t t2 = S0 + maj;
      v = {t1 + t2, v[0], v[1], v[2], v[3] + t1, v[4], v[5], v[6]};
    }
    for (int i = 0; i < 8; ++i) h[i] += v[i];
  }
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint32_t x : h)
    for (int s = 28; s >= 0; s -= 4) out.push_back(hex[(x >> s) & 0xf]);
  return out;
}

std::string file_sha256(const std::string& path) {
  const MappedFile f(path);
  return sha256_hex(std::string_view(reinterpret_cast<const char*>(f.bytes().data()), f.size()));
}

}  // namespace bcvk::loaders
