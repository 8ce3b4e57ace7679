// Links the checkpoint fixture into test_policy (no test cases here: this
// translation unit includes LibTorch, whose CHECK macro hides doctest's).
#include "collect/checkpoint_fixture.inc"
