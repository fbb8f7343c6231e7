// Writes a whole file so that readers see either the old file or the complete new one: the
// bytes go to a temporary file in the same directory, which is then renamed over the target.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string_view>

namespace bcvk::loaders {

// Throws std::runtime_error naming the path when any step fails; leaves no temporary behind.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& writer);

}  // namespace bcvk::loaders
