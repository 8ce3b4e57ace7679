// Helpers of the robot suite: a small deterministic cell to serve, and an
// in-process RobotServer on its own thread (real sockets).
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <thread>

#include "common/error.h"
#include "env/env.h"
#include "robot/robot_server.h"

namespace perpetua::testing {

// A point on a line, seen as an image whose brightness encodes it.
// Observations "image" [H, W, 3] uint8 and "proprio" [1] float32; action
// [-1, 1]^2 (only the first component moves it). Settings are atomics so
// tests can change them while the server runs.
class RobotToyEnv : public Env {
 public:
  struct Knobs {
    std::atomic<int> step_delay_ms{0};     // sleep in every step (a slow robot)
    std::atomic<int> interrupt_at_step{-1};  // report {"interrupted": true} at this step
    std::atomic<int> holds{0};             // DoHold calls
    std::atomic<bool> holding{false};      // DoHold called, no step or reset since
    // Bad robot data from the step that brings the total (all episodes) to this count on:
    // poison 1: NaN in "proprio", 2: a reward beyond float32, 3: an image of the wrong shape.
    std::atomic<int> poison_from_total_step{-1};
    std::atomic<int> poison{0};
  };

  explicit RobotToyEnv(int height = 8, int width = 8, double control_hz = 0.0, int max_steps = 10,
                       std::shared_ptr<Knobs> knobs = std::make_shared<Knobs>())
      : knobs_(std::move(knobs)) {
    spec_.name = "robot-toy";
    spec_.observations = {{"image", DType::kUint8, {height, width, 3}}, {"proprio", DType::kFloat32, {1}}};
    spec_.action.low = {-1.0f, -1.0f};
    spec_.action.high = {1.0f, 1.0f};
    spec_.action.names = {"dx", "unused"};
    spec_.max_episode_steps = max_steps;
    spec_.control_hz = control_hz;
    spec_.env_args = {{"toy", true}};
  }
  const EnvSpec& spec() const override { return spec_; }
  std::vector<float> last_action;  // what DoStep last received

 protected:
  ResetResult DoReset(uint64_t seed, const nlohmann::json& options) override {
    for (auto it = options.begin(); it != options.end(); ++it) {
      if (it.key() != "start") Fail(ExitCode::kUsage, "unknown reset option '" + it.key() + "'");
    }
    position_ = options.value("start", -0.5 + 0.01 * double(seed % 50));
    step_ = 0;
    knobs_->holding = false;
    return {Observe(), {{"seed", seed}}};
  }
  StepResult DoStep(const std::vector<float>& action) override {
    if (knobs_->step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(knobs_->step_delay_ms.load()));
    last_action = action;
    knobs_->holding = false;
    position_ += 0.25 * action[0];
    StepResult result;
    result.observation = Observe();
    const bool success = position_ >= 1.0;
    result.reward = success ? 1.0 : -0.01;
    result.terminated = success;
    result.truncated = !success && step_ + 1 >= spec_.max_episode_steps;
    result.info = {{"success", success}};
    if (step_ == knobs_->interrupt_at_step) result.info["interrupted"] = true;
    ++step_;
    if (knobs_->poison_from_total_step >= 0 && ++total_steps_ >= knobs_->poison_from_total_step) Poison(result);
    return result;
  }
  void DoHold() override {
    ++knobs_->holds;
    knobs_->holding = true;
  }

 private:
  Observation Observe() const {
    Observation observation;
    const auto& shape = spec_.observations[0].shape;
    Array image = Array::Zeros(DType::kUint8, shape);
    for (size_t i = 0; i < image.u8.size(); ++i) {
      image.u8[i] = uint8_t((int(std::lround(100 + 100 * position_)) + int(i)) & 0xff);
    }
    observation["image"] = image;
    observation["proprio"] = Array::FromFloats({float(position_)});
    return observation;
  }
  void Poison(StepResult& result) const {
    if (knobs_->poison == 1) result.observation["proprio"].f32[0] = std::nanf("");
    if (knobs_->poison == 2) result.reward = 1e39;
    if (knobs_->poison == 3) result.observation["image"] = Array::Zeros(DType::kUint8, {2, 2, 3});
  }
  EnvSpec spec_;
  std::shared_ptr<Knobs> knobs_;
  int total_steps_ = 0;
  double position_ = 0.0;
  int step_ = 0;
};

// A RobotServer serving an env on its own thread until destroyed or Stop().
class ServerThread {
 public:
  ServerThread(robot::RobotServerOptions options, std::function<std::unique_ptr<Env>()> make_env) {
    std::promise<std::string> ready;
    std::future<std::string> address = ready.get_future();
    thread_ = std::thread([this, options, make_env, ready = std::move(ready)]() mutable {
      std::unique_ptr<robot::RobotServer> server;
      try {
        server = std::make_unique<robot::RobotServer>(options, make_env);
      } catch (...) {
        ready.set_exception(std::current_exception());
        return;
      }
      server_ = server.get();
      ready.set_value(server->address().ToString());
      server->Serve([this] { return stop_.load(); });
      server_ = nullptr;
    });
    try {
      address_ = address.get();
    } catch (...) {
      thread_.join();
      throw;
    }
  }
  ~ServerThread() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  const std::string& address() const { return address_; }
  robot::RobotServer& server() { return *server_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<robot::RobotServer*> server_{nullptr};
  std::string address_;
  std::thread thread_;
};

// A frame header (docs/protocol.md, "Frames") with any field values, for hand-made bad frames.
inline std::vector<uint8_t> Header(uint16_t version, uint16_t type, uint32_t json, uint32_t binary) {
  std::vector<uint8_t> bytes(16);
  std::memcpy(bytes.data(), "PRBT", 4);
  std::memcpy(bytes.data() + 4, &version, 2);
  std::memcpy(bytes.data() + 6, &type, 2);
  std::memcpy(bytes.data() + 8, &json, 4);
  std::memcpy(bytes.data() + 12, &binary, 4);
  return bytes;
}

// EnvConfig for a client of `address` with short timeouts for tests.
inline EnvConfig RobotClient(const std::string& address) {
  EnvConfig config;
  config.name = address;
  config.robot.connect_timeout_s = 2;
  config.robot.reset_timeout_s = 5;
  config.robot.step_timeout_s = 2;
  config.robot.watchdog_s = 0;
  config.robot.reconnect_s = 3;
  return config;
}

}  // namespace perpetua::testing
