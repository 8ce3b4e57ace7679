// The trainer's step file (common/step_file.h): what a writer publishes a
// reader reads back; anything else reads as "not known yet", never as a step.
#include "common/step_file.h"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include "support/expect_error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

TEST_CASE("a published step reads back, rewritten in place") {
  testing::TempDir dir;
  const std::string path = dir / "trainer.step";
  CHECK_FALSE(ReadStepFile(path).has_value());  // missing
  StepFileWriter writer(path);
  CHECK_FALSE(ReadStepFile(path).has_value());  // created, nothing published yet
  writer.Publish(0);
  CHECK(ReadStepFile(path) == 0);
  writer.Publish(123456789012345LL);
  CHECK(ReadStepFile(path) == 123456789012345LL);
  writer.Publish(7);
  CHECK(ReadStepFile(path) == 7);
  CHECK(testing::ReadFile(path) == "00000000000000000007\n");
  StepFileWriter again(path);  // a resumed run reopens it without truncating
  CHECK(ReadStepFile(path) == 7);
}

TEST_CASE("anything but 20 digits and a newline is not a step") {
  testing::TempDir dir;
  const std::string path = dir / "trainer.step";
  for (const std::string text : {"", "7\n", "0000000000000000000\n", "00000000000000000007", "0000000000000000000x\n",
                                 "-0000000000000000007\n", "99999999999999999999\n", "00000000000000000007\nmore"}) {
    CAPTURE(text);
    testing::WriteFile(path, text);
    CHECK_FALSE(ReadStepFile(path).has_value());
  }
  ::mkdir((dir / "a-dir").c_str(), 0755);
  CHECK_FALSE(ReadStepFile(dir / "a-dir").has_value());
  testing::ExpectError([&] { StepFileWriter w(dir / "missing-dir/trainer.step"); }, ExitCode::kIoError,
                       "missing-dir/trainer.step");
}

}  // namespace
}  // namespace perpetua
