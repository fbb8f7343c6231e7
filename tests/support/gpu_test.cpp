#include "tests/support/gpu_test.h"

namespace bcvk::test {

vk::Context& context() {
  static vk::Context ctx([] {
    vk::ContextOptions o;
    o.instance.validation = true;
    o.persist_pipeline_cache = false;
    return o;
  }());
  return ctx;
}

void GpuTest::SetUp() {
  messages_before_ = context().instance().validation_message_count();
}

void GpuTest::TearDown() {
  const auto messages = context().instance().validation_messages();
  std::string text;
  for (size_t i = messages_before_; i < messages.size(); ++i) text += messages[i] + "\n";
  EXPECT_EQ(messages.size(), messages_before_) << "validation messages during this test:\n" << text;
}

}  // namespace bcvk::test
