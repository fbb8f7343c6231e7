#include "loaders/cache_file.h"

#include <fstream>
#include <iterator>

#include "loaders/atomic_write.h"
#include "loaders/prompt_file.h"  // sha256_hex

namespace bcvk::loaders {

namespace {

constexpr std::string_view kMagic = "bcvk cache entry 1\n";
constexpr size_t kMaxHeader = 4096;
constexpr uint64_t kMaxPayload = 1ull << 30;

// Newlines in a field would let one field pose as another.
std::string field(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string header(const CacheKey& key, uint64_t bytes, const std::string& sha) {
  return std::string(kMagic) + "kind: " + field(key.kind) + "\nidentity: " + field(key.identity) +
         "\nbytes: " + std::to_string(bytes) + "\nsha256: " + sha + "\n\n";
}

}  // namespace

std::string seal_cache_entry(const CacheKey& key, std::string_view payload) {
  return header(key, payload.size(), sha256_hex(payload)) + std::string(payload);
}

std::optional<std::string> open_cache_entry(std::string_view entry, const CacheKey& key,
                                            std::string* why) {
  auto fail = [&](const std::string& w) -> std::optional<std::string> {
    if (why) *why = w;
    return std::nullopt;
  };
  if (!entry.starts_with(kMagic)) return fail("not a bcvk cache entry");
  const size_t end = entry.substr(0, kMaxHeader).find("\n\n");
  if (end == std::string_view::npos) return fail("its header is damaged");
  const std::string_view head = entry.substr(0, end + 2), payload = entry.substr(end + 2);
  if (payload.size() > kMaxPayload) return fail("it is larger than any entry bcvk writes");
  // The header this run would write for this payload: any difference in kind, identity, size
  // or content shows here.
  const std::string want = header(key, payload.size(), sha256_hex(payload));
  if (head != want) {
    const std::string kind = "kind: " + field(key.kind) + "\n",
                      identity = "identity: " + field(key.identity) + "\n";
    if (head.find(kind) == std::string_view::npos) return fail("it holds another entry");
    if (head.find(identity) == std::string_view::npos)
      return fail("it was written by another bcvk version, device or driver");
    return fail("its size or checksum does not match its content (truncated or corrupted)");
  }
  return std::string(payload);
}

std::optional<std::string> read_cache_file(const std::filesystem::path& file, const CacheKey& key,
                                           std::string* why) {
  if (why) why->clear();
  std::error_code ec;
  if (file.empty() || !std::filesystem::exists(file, ec)) return std::nullopt;
  if (!std::filesystem::is_regular_file(file, ec)) {
    if (why) *why = "it is not a regular file";
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (why) *why = "it cannot be read";
    return std::nullopt;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  return open_cache_entry(bytes, key, why);
}

void write_cache_file(const std::filesystem::path& file, const CacheKey& key,
                      std::string_view payload) {
  std::filesystem::create_directories(file.parent_path());
  write_file_atomically(file, seal_cache_entry(key, payload));
}

}  // namespace bcvk::loaders
