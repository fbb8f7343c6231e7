// Aggregates DispatchTimings by label into the per-op table that --profile prints.
#pragma once

#include <map>
#include <ostream>
#include <span>
#include <string>

#include "runtime/vk/stream.h"

namespace bcvk::vk {

class ProfileTable {
 public:
  struct Row {
    uint64_t calls = 0;
    double total_ms = 0;
  };
  void add(std::span<const DispatchTiming> timings);
  void add(const std::string& label, double ms);
  const std::map<std::string, Row>& rows() const { return rows_; }
  double total_ms() const;
  // Sorted by total time: op, calls, total ms, mean us, share.
  void print(std::ostream& out) const;

 private:
  std::map<std::string, Row> rows_;
};

}  // namespace bcvk::vk
