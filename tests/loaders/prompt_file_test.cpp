// Prompt files (text and JSONL) and SHA-256 against known digests.
#include "loaders/prompt_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "loaders/format_error.h"

namespace bcvk::loaders {
namespace {

class PromptFileTest : public ::testing::Test {
 protected:
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("bcvk-prompts-" + std::to_string(::getpid()));
  void SetUp() override { std::filesystem::create_directories(dir); }
  void TearDown() override { std::filesystem::remove_all(dir); }
  std::filesystem::path write(const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return dir / name;
  }
  std::string error(const std::filesystem::path& p) {
    try {
      read_prompt_set(p);
    } catch (const FormatError& e) {
      return e.what();
    }
    return "no error";
  }
};

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// A file's digest is its bytes' (the FIPS 180-2 "abc" vector); a missing file is a clear error.
TEST_F(PromptFileTest, FileDigestIsTheDigestOfItsBytes) {
  EXPECT_EQ(file_sha256(write("abc.txt", "abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(file_sha256((dir / "missing.txt").string()), std::runtime_error);
}

TEST_F(PromptFileTest, PlainTextSkipsBlankLinesAndKeepsLineNumbers) {
  const auto set =
      read_prompt_set(write("p.txt", "first prompt\n\n  \nsecond, with ümlaut\r\nthird"));
  EXPECT_EQ(set.prompts,
            (std::vector<std::string>{"first prompt", "second, with ümlaut", "third"}));
  EXPECT_EQ(set.lines, (std::vector<uint32_t>{1, 4, 5}));
  EXPECT_EQ(set.sha256.size(), 64u);
}

TEST_F(PromptFileTest, JsonlTakesTheTextField) {
  const auto set =
      read_prompt_set(write("p.jsonl", "{\"text\": \"a\\nb\", \"id\": 1}\n\n{\"text\": \"c\"}\n"));
  EXPECT_EQ(set.prompts, (std::vector<std::string>{"a\nb", "c"}));
  // Detected by content too.
  EXPECT_EQ(read_prompt_set(write("q.txt", "{\"text\": \"x\"}\n")).prompts,
            std::vector<std::string>{"x"});
}

TEST_F(PromptFileTest, BadFilesNameTheProblemAndTheLine) {
  EXPECT_NE(error(dir / "missing.txt").find("cannot open"), std::string::npos);
  EXPECT_NE(error(write("empty.txt", "\n \n")).find("no prompts"), std::string::npos);
  EXPECT_NE(error(write("bad.txt", "ok\nbad \xff byte\n")).find("line 2 is not valid UTF-8"),
            std::string::npos);
  EXPECT_NE(error(write("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": 3}\n")).find("line 2"),
            std::string::npos);
  EXPECT_NE(error(write("broken.jsonl", "{\"text\": \n")).find("not valid JSON"),
            std::string::npos);
  EXPECT_NE(error(dir).find("directory"), std::string::npos);
}

TEST_F(PromptFileTest, OverlapIsFound) {
  const auto a = read_prompt_set(write("a.txt", "x\ny\nz\n")),
             b = read_prompt_set(write("b.txt", "z\nw\nx\n"));
  EXPECT_EQ(overlapping_prompts(a, b), (std::vector<std::string>{"x", "z"}));
}

TEST(ShippedPrompts, CalibrationAndEvaluationAreDisjoint) {
  const auto calib =
      read_prompt_set(std::string(BCVK_SOURCE_DIR) + "/data/prompts/calibration.txt");
  const auto eval = read_prompt_set(std::string(BCVK_SOURCE_DIR) + "/data/prompts/eval.txt");
  EXPECT_EQ(calib.prompts.size(), 50u);
  EXPECT_EQ(eval.prompts.size(), 100u);
  EXPECT_TRUE(overlapping_prompts(calib, eval).empty());
}

}  // namespace
}  // namespace bcvk::loaders
