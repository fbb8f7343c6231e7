// Cache entries bcvk wrote itself are verified completely before use: every way of damaging one
// (truncating, extending, zeroing, flipping single bits anywhere, swapping entries, another
// identity) is refused with a reason, and an untouched entry gives back its payload.
#include "loaders/cache_file.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace bcvk::loaders {
namespace {

const CacheKey kKey{"vkfft R2C size 64 x 9 batches, VkFFT 10307", "bcvk 0.1.0, device 10005:0000"};

std::string payload() {
  std::string p(5000, '\0');
  std::mt19937 rng(7);
  for (char& c : p) c = char(rng());
  return p;
}

TEST(CacheFile, AnUntouchedEntryGivesBackItsPayload) {
  const std::string entry = seal_cache_entry(kKey, payload());
  std::string why;
  const auto got = open_cache_entry(entry, kKey, &why);
  ASSERT_TRUE(got) << why;
  EXPECT_EQ(*got, payload());
  EXPECT_TRUE(open_cache_entry(seal_cache_entry(kKey, ""), kKey));  // empty payloads too
}

TEST(CacheFile, EveryDamageIsRefusedWithAReason) {
  const std::string good = seal_cache_entry(kKey, payload());
  const size_t header = good.size() - payload().size();
  auto refused = [&](const std::string& bad, const std::string& what) {
    std::string why;
    EXPECT_FALSE(open_cache_entry(bad, kKey, &why)) << what;
    EXPECT_FALSE(why.empty()) << what;
  };
  refused("", "empty");
  for (size_t n : {size_t(1), size_t(10), header - 1, header, header + 1, good.size() - 1})
    refused(good.substr(0, n), "truncated to " + std::to_string(n));
  refused(good + "x", "extended by one byte");
  refused(good + std::string(4096, '\0'), "extended by a page");
  refused(std::string(good.size(), '\0'), "zeroed");
  std::string zero_body = good;
  std::fill(zero_body.begin() + long(header), zero_body.end(), '\0');
  refused(zero_body, "body zeroed");
  // Single bit flips: every header byte, and random body positions.
  for (size_t i = 0; i < header; ++i)
    for (int b : {0, 3, 7}) {
      std::string bad = good;
      bad[i] = char(bad[i] ^ (1 << b));
      refused(bad, "header byte " + std::to_string(i) + " bit " + std::to_string(b));
    }
  std::mt19937 rng(11);
  for (int k = 0; k < 300; ++k) {
    std::string bad = good;
    const size_t i = header + rng() % (good.size() - header);
    bad[i] = char(bad[i] ^ (1 << (rng() % 8)));
    refused(bad, "body byte " + std::to_string(i));
  }
  // Another entry's file in this entry's place, and another bcvk/device/driver.
  std::string why;
  EXPECT_FALSE(open_cache_entry(
      seal_cache_entry({"vkfft C2R size 64 x 9", kKey.identity}, payload()), kKey, &why));
  EXPECT_NE(why.find("another entry"), std::string::npos) << why;
  EXPECT_FALSE(open_cache_entry(
      seal_cache_entry({kKey.kind, "bcvk 0.0.9, device 10005:0000"}, payload()), kKey, &why));
  EXPECT_NE(why.find("another bcvk version, device or driver"), std::string::npos) << why;
  // Newlines in a key cannot forge a field.
  EXPECT_FALSE(open_cache_entry(
      seal_cache_entry({kKey.kind + "\nidentity: x", kKey.identity}, payload()), kKey));
}

TEST(CacheFile, FilesAreWrittenWholeAndReadBackVerified) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("bcvk-cache-" + std::to_string(::getpid()));
  const auto file = dir / "sub" / "entry.bin";
  std::string why = "unset";
  EXPECT_FALSE(read_cache_file(file, kKey, &why));
  EXPECT_TRUE(why.empty()) << "a missing file is not damage";
  write_cache_file(file, kKey, payload());
  auto got = read_cache_file(file, kKey, &why);
  ASSERT_TRUE(got) << why;
  EXPECT_EQ(*got, payload());
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 3);
  EXPECT_FALSE(read_cache_file(file, kKey, &why));
  EXPECT_NE(why.find("truncated or corrupted"), std::string::npos) << why;
  std::filesystem::remove_all(dir);
}

// Four processes write and read one entry at once, 300 times each, with payloads of two sizes:
// every read sees a whole entry (one of the payloads) or no file yet -- never a torn or mixed
// one -- and no temporary file is left.
TEST(CacheFile, ConcurrentProcessesSeeOnlyWholeEntries) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("bcvk-cache-race-" + std::to_string(::getpid()));
  const auto file = dir / "entry.bin";
  const std::string small(300, 'a'), big = payload() + payload();
  std::vector<pid_t> children;
  for (int k = 0; k < 4; ++k) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int bad = 0;
      for (int i = 0; i < 300; ++i) {
        write_cache_file(file, kKey, (i + k) % 2 ? small : big);
        std::string why;
        const auto got = read_cache_file(file, kKey, &why);
        if (!got || (*got != small && *got != big)) ++bad;
      }
      ::_exit(bad ? 1 : 0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "a process read a torn, mixed or missing entry";
  }
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u) << "temporaries left behind";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace bcvk::loaders
