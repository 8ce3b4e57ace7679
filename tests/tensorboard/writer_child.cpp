// Test-only helper: an EventWriter that the tensorboard suite SIGKILLs at a
// random instant. `tensorboard_writer_child RUN_DIR [FLUSH_BYTES]` writes,
// for steps 0, 1, ... until killed (or step 10^6), the sequence of
// WriteChildStep, flushing after every record or, given FLUSH_BYTES, in one
// write(2) of each FLUSH_BYTES buffered (large writes can be cut by a kill).
#include <cstdio>
#include <cstdlib>

#include "tensorboard/event_writer.h"
#include "tensorboard/writer_child.h"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: tensorboard_writer_child RUN_DIR [FLUSH_BYTES]\n");
    return 2;
  }
  perpetua::tensorboard::EventWriterOptions options;
  if (argc == 3) {
    options.flush_bytes = std::strtoull(argv[2], nullptr, 10);
  } else {
    options.flush_seconds = 0;  // every record is written at once
  }
  perpetua::tensorboard::EventWriter writer(argv[1], options);
  for (int64_t step = 0; step < 1000000; ++step) {
    perpetua::tensorboard::WriteChildStep(writer, step);
  }
  return 0;
}
