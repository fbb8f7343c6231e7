// A read-only memory map of a whole file (RAII).
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>

namespace bcvk::loaders {

class MappedFile {
 public:
  // Throws std::runtime_error naming the path and the reason (missing, a directory, unreadable).
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const std::byte> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace bcvk::loaders
