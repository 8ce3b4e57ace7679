#include "common/config.h"

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "common/document.h"
#include "common/error.h"
#include "support/test_support.h"

namespace perpetua {
namespace {

struct InnerConfig {
  int iterations = 2;
  double noise = 0.5;
  void Visit(ConfigVisitor& v) {
    v.Field("iterations", iterations, "rounds");
    v.Field("noise", noise, "noise scale");
  }
};

struct OuterConfig {
  std::string env = "grasp";
  bool reload = false;
  uint64_t seed = 7;
  std::vector<std::string> data;
  std::vector<double> weights = {1.0, 2.0};
  InnerConfig cem;
  void Visit(ConfigVisitor& v) {
    v.Field("env", env, "cell name");
    v.Field("reload", reload, "hot reload");
    v.Field("seed", seed, "seed");
    v.Field("data", data, "dirs");
    v.Field("weights", weights, "weights");
    v.Group("cem", cem, "CEM settings");
  }
};

std::string UsageMessage(const std::string& yaml) {
  OuterConfig config;
  try {
    ConfigFromYaml(yaml, "test.yaml", config);
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::kUsage);
    return e.what();
  }
  return "";
}

TEST_CASE("yaml values override defaults, nested groups included") {
  OuterConfig config;
  ConfigFromYaml("env: push\nreload: true\nseed: 42\ndata: [a, b]\ncem:\n  iterations: 3\n",
                 "test.yaml", config);
  CHECK(config.env == "push");
  CHECK(config.reload);
  CHECK(config.seed == 42);
  CHECK(config.data == std::vector<std::string>{"a", "b"});
  CHECK(config.cem.iterations == 3);
  CHECK(config.cem.noise == 0.5);
}

TEST_CASE("unknown keys are errors with a suggestion") {
  CHECK(UsageMessage("evn: push\n") == "test.yaml: unknown key 'evn' (did you mean 'env'?)");
  CHECK(UsageMessage("cem:\n  iteratons: 3\n") ==
        "test.yaml: unknown key 'cem.iteratons' (did you mean 'cem.iterations'?)");
  CHECK(UsageMessage("zzzzzzzz: 1\n") == "test.yaml: unknown key 'zzzzzzzz'");
}

TEST_CASE("wrong types and bad documents are usage errors") {
  CHECK(UsageMessage("seed: -1\n") == "test.yaml: key 'seed' must be a non-negative integer");
  CHECK(UsageMessage("cem:\n  iterations: many\n") ==
        "test.yaml: key 'cem.iterations' must be an integer");
  CHECK(UsageMessage("cem: 3\n") == "test.yaml: 'cem' must be a mapping of keys to values");
  CHECK(UsageMessage("- a\n- b\n") == "test.yaml: the document must be a mapping of keys to values");
  CHECK(UsageMessage("env: [unclosed\n").rfind("test.yaml: not valid YAML", 0) == 0);
}

TEST_CASE("keys that are not plain names and documents nested too deep are usage errors") {
  CHECK(UsageMessage("[a, b]: 1\n") == "test.yaml: the document has a key that is not a plain name (line 1)");
  CHECK(UsageMessage("cem:\n  {x: 1}: 2\n") == "test.yaml: 'cem' has a key that is not a plain name (line 2)");
  CHECK(UsageMessage("? - a\n: 1\n") == "test.yaml: the document has a key that is not a plain name (line 1)");
  std::string deep = "env: ";
  for (int i = 0; i < 100; ++i) deep += "[";
  CHECK(UsageMessage(deep + "\n") == "test.yaml: YAML nested deeper than 64 levels");
}

TEST_CASE("config files must be regular files of at most 1 MiB") {
  testing::TempDir dir;
  OuterConfig config;
  const auto fields = ListFields(config);
  const auto message = [&](const std::string& path) -> std::string {
    try {
      ApplyYamlFile(path, fields);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::kUsage);
      return e.what();
    }
    return "";
  };
  REQUIRE(::mkfifo((dir / "fifo.yaml").c_str(), 0644) == 0);
  CHECK(message(dir / "fifo.yaml") == dir / "fifo.yaml" + ": not a regular file (a FIFO)");
  CHECK(message("/dev/zero") == "/dev/zero: not a regular file (a character device)");
  testing::WriteFile(dir / "huge.yaml", std::string(kMaxConfigBytes + 1, '#'));
  CHECK(message(dir / "huge.yaml") == dir / "huge.yaml" + ": is " + std::to_string(kMaxConfigBytes + 1) +
                                          " bytes, more than the limit of " + std::to_string(kMaxConfigBytes));
  testing::WriteFile(dir / "ok.yaml", "seed: 9\n");
  ApplyYamlFile(dir / "ok.yaml", fields);
  CHECK(config.seed == 9);
}

TEST_CASE("dump then load round-trips every field") {
  OuterConfig a;
  a.env = "door";
  a.seed = 123456789012345ULL;
  a.data = {"x", "y z"};
  a.weights = {};
  a.cem.noise = 0.125;
  const std::string yaml = ConfigToYaml(a);
  CHECK(yaml.find("# CEM settings") != std::string::npos);
  OuterConfig b;
  ConfigFromYaml(yaml, "dump", b);
  CHECK(ConfigToYaml(b) == yaml);
  CHECK(b.seed == a.seed);
  CHECK(b.data == a.data);
  CHECK(b.weights.empty());
  CHECK(b.cem.noise == 0.125);
}

TEST_CASE("a dump has each help comment on its key's line and numbers in their shortest exact form") {
  OuterConfig a;
  a.cem.noise = 3e-4;  // not exactly representable: 0.00029999999999999997 at 17 digits
  a.weights = {0.1, 1e-7, 2.5};
  a.data = {"x y", "#not-a-comment"};
  const std::string yaml = ConfigToYaml(a);
  CHECK(yaml ==
        "env: grasp  # cell name\n"
        "reload: false  # hot reload\n"
        "seed: 7  # seed\n"
        "data: [x y, \"#not-a-comment\"]  # dirs\n"
        "weights: [0.1, 1e-07, 2.5]  # weights\n"
        "cem:  # CEM settings\n"
        "  iterations: 2  # rounds\n"
        "  noise: 0.0003  # noise scale\n");
  OuterConfig b;
  ConfigFromYaml(yaml, "dump", b);
  CHECK(b.cem.noise == a.cem.noise);
  CHECK(b.weights == a.weights);
  CHECK(b.data == a.data);
  for (const double x : {1.0 / 3.0, 0.99, 1e300, -2.5e-310, 0.0}) {
    a.cem.noise = x;
    ConfigFromYaml(ConfigToYaml(a), "dump", b);
    CHECK(b.cem.noise == x);  // every double reads back exactly
  }
  // Whole and large numbers in the plain form people write ("10", not "1e+01").
  CHECK(ShortestNumberText(10.0) == "10");
  CHECK(ShortestNumberText(60.0) == "60");
  CHECK(ShortestNumberText(1500.0) == "1500");
  CHECK(ShortestNumberText(-200.0) == "-200");
  CHECK(ShortestNumberText(123456.5) == "123456.5");
  CHECK(ShortestNumberText(1e20) == "1e+20");
  CHECK(ShortestNumberText(1e-5) == "1e-05");
  CHECK(ShortestNumberText(0.5) == "0.5");
  for (const double x : {10.0, 1500.0, 2e14, 99999999999999.9}) CHECK(std::strtod(ShortestNumberText(x).c_str(), nullptr) == x);
}

TEST_CASE("flag text sets fields - vectors take comma lists") {
  OuterConfig config;
  auto fields = ListFields(config);
  auto find = [&](const std::string& path) {
    for (auto& f : fields)
      if (f.path == path) return f;
    FAIL("no field " << path);
    return fields.front();
  };
  SetFieldFromText(find("weights"), "0.5,1.5,2", "flag --weights");
  CHECK(config.weights == std::vector<double>{0.5, 1.5, 2.0});
  SetFieldFromText(find("env"), "yes", "flag --env");  // strings verbatim, not YAML booleans
  CHECK(config.env == "yes");
  CHECK_THROWS_WITH_AS(SetFieldFromText(find("cem.iterations"), "2.5", "flag --cem.iterations"),
                       "flag --cem.iterations: '2.5' is not an integer", Error);
}

TEST_CASE("suggestions need a close match") {
  CHECK(SuggestClosest("--episdoes", {"--episodes", "--env"}) == "--episodes");
  CHECK(SuggestClosest("--xyz", {"--episodes"}) == "");
}

}  // namespace
}  // namespace perpetua

namespace perpetua {
namespace {
TEST_CASE("list flags also take a YAML flow list") {
  OuterConfig config;
  const auto fields = ListFields(config);
  for (const auto& f : fields) {
    if (f.path == "weights") SetFieldFromText(f, "[3, 4.5]", "flag --weights");
    if (f.path == "data") SetFieldFromText(f, "[a, b]", "flag --data");
  }
  CHECK(config.weights == std::vector<double>{3.0, 4.5});
  CHECK(config.data == std::vector<std::string>{"a", "b"});
}
struct ConnectionConfig {
  std::string token;
  std::string host = "robot-1";
  int port = 7000;
  void Visit(ConfigVisitor& v) {
    v.Field("token", token, "secret", FieldScope::kSecret);
    v.Field("host", host, "machine-local", FieldScope::kLocal);
    v.Field("port", port, "shared");
  }
};

TEST_CASE("field scopes: secrets are redacted when set and scopes are listed") {
  ConnectionConfig config;
  const std::vector<FieldInfo> fields = ListFields(config);
  REQUIRE(fields.size() == 3);
  CHECK(fields[0].scope == FieldScope::kSecret);
  CHECK(fields[1].scope == FieldScope::kLocal);
  CHECK(fields[2].scope == FieldScope::kShared);
  CHECK(ConfigToYaml(config).find("token: \"\"") != std::string::npos);  // unset: shown empty
  config.token = "hunter2";
  const std::string yaml = ConfigToYaml(config);
  CHECK(yaml.find("hunter2") == std::string::npos);
  CHECK(yaml.find("token: <redacted>") != std::string::npos);
  CHECK(yaml.find("host: robot-1") != std::string::npos);  // local settings are still printed
}

}  // namespace
}  // namespace perpetua
