// A cache entry bcvk writes for itself (pipeline cache, VkFFT plans): the payload behind a text
// header that names what it is (kind), who may use it (identity: bcvk's version, the device and
// its driver), its size and the SHA-256 of its bytes.  An entry is verified completely --
// header equal to the one this run would write, size exact, checksum equal -- before any library
// sees a byte of it; anything else is discarded with the reason, so the caller rebuilds and
// rewrites it.  Writes are atomic (loaders/atomic_write.h), so concurrent processes each see a
// whole entry.  Test: tests/loaders/cache_file_test.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace bcvk::loaders {

struct CacheKey {
  std::string kind;      // e.g. "vkfft R2C 64 x 9 batches, VkFFT 10307"
  std::string identity;  // e.g. "bcvk 0.1.0, device 10005:0000 driver 1 uuid 6d65..."
};

// The bytes of an entry holding `payload`.
std::string seal_cache_entry(const CacheKey& key, std::string_view payload);

// The payload of `entry` if it is a whole, unaltered entry for `key`; otherwise nullopt and
// `why` (when given) says what is wrong.
std::optional<std::string> open_cache_entry(std::string_view entry, const CacheKey& key,
                                            std::string* why = nullptr);

// The payload cached in `file` for `key`.  nullopt with `why` empty: no such file; nullopt with
// `why` set: the file is damaged, stale or foreign (the caller rebuilds and rewrites it).
std::optional<std::string> read_cache_file(const std::filesystem::path& file, const CacheKey& key,
                                           std::string* why);

// Writes the entry atomically, creating its directory.  Throws std::runtime_error on failure.
void write_cache_file(const std::filesystem::path& file, const CacheKey& key,
                      std::string_view payload);

}  // namespace bcvk::loaders
