// Writing files a user owns without hurting them.  A regular file is written whole or not at
// all: the bytes go to a temporary created exclusively, with an unpredictable name, next to the
// target (never following a symlink), which is then renamed over the target.  A target that is
// a symlink is resolved, so the file it points to is replaced and the link stays.  A character
// device (/dev/stdout, /dev/null) is written in place -- that is what naming one means.  FIFOs,
// sockets and directories are refused.  Temporaries still open when SIGINT or SIGTERM arrives
// are removed (install_signal_cleanup).
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace bcvk::loaders {

// Throws std::runtime_error naming the path and the reason (errno text) when any step fails;
// leaves no temporary behind.
void write_file_atomically(const std::filesystem::path& path, std::string_view content);
void write_file_atomically(const std::filesystem::path& path,
                           const std::function<void(std::ostream&)>& writer);

// Before any work: each output's directory exists and is writable, the output is not a
// directory, FIFO or socket, and it is not the same file (device and inode, through symlinks
// and hard links) as any input or any other output.  `inputs`/`outputs` are (flag, path); empty
// paths are skipped.  Throws std::invalid_argument naming both flags.
using NamedPath = std::pair<std::string, std::string>;
void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs);

// SIGINT and SIGTERM remove the temporaries being written and end the child processes being
// waited for, then end the process as the signal would (exit status 128 + signal).  Call once,
// from main.
void install_signal_cleanup();
// A child process the signal cleanup ends (SIGKILL) if bcvk is interrupted while it runs.
void track_child(int pid);
void untrack_child(int pid);

}  // namespace bcvk::loaders
