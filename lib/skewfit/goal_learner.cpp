#include "skewfit/goal_learner.h"

#include "common/error.h"
#include "nn/checkpoint.h"

namespace perpetua {
namespace {

const char* const kVaeMetrics[] = {"loss", "log_likelihood", "kl", "skew_ess", "skew_alpha"};

std::string ShapeOf(const ObservationSpec& o) { return ShapeString(o.shape) + " " + DTypeName(o.dtype); }

}  // namespace

LatentGoalLearner::LatentGoalLearner(const GoalSettings& settings, int batch_size, std::unique_ptr<Learner> inner)
    : WrappingLearner(std::move(inner)), settings_(settings), batch_size_(batch_size) {}

LatentGoalLearner::~LatentGoalLearner() { Stop(); }

void LatentGoalLearner::Validate() const {
  settings_.Validate();
  inner_->Validate();
}

std::vector<torch::Tensor> LatentGoalLearner::ReplicatedState() {
  std::vector<torch::Tensor> state = inner_->ReplicatedState();
  const std::vector<torch::Tensor> vae = vae_->ReplicatedState();
  if (state.empty() || vae.empty()) return {};
  state.insert(state.end(), vae.begin(), vae.end());
  return state;
}

void LatentGoalLearner::Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                              const std::string& checkpoint_path) {
  // The VAE: from --goals vae:CKPT for a fresh run, else from the run's own checkpoint.
  CheckpointContents vae_file;
  const CheckpointContents* vae_source = checkpoint;
  std::string vae_path = checkpoint_path;
  if (start == LearnerStart::kFresh) {
    vae_path = settings_.vae_path();
    vae_file = ReadCheckpoint(vae_path);
    vae_source = &vae_file;
  }
  const std::unique_ptr<GoalVae> stored = GoalVae::FromCheckpoint(*vae_source, torch::kCPU, vae_path);
  VaeTrainConfig fit;
  fit.batch_size = batch_size_;
  fit.vae = stored->config();
  fit.vae.alpha = settings_.goal.alpha;
  fit.vae.lr = settings_.goal.vae_lr;
  fit.vae.skew_warmup = settings_.goal.skew_warmup;
  fit.vae.skew_pool = settings_.goal.skew_pool;
  fit.vae.skew_min_ess = settings_.goal.skew_min_ess;
  fit.vae.skew_refresh = settings_.goal.skew_refresh;
  image_key_ = fit.vae.image_key;
  vae_ = std::make_unique<VaeLearner>(fit);
  // A fresh run starts from the VAE's weights with a fresh optimiser (the --init contract).
  vae_->Build(setup, start == LearnerStart::kFresh ? LearnerStart::kInit : start, vae_source, vae_path);

  const ObservationSpec* image = nullptr;
  const ObservationSpec* goal = nullptr;
  for (const ObservationSpec& o : setup.data_spec.observations) {
    if (o.key == image_key_) image = &o;
    if (o.key == settings_.goal.goal_key) goal = &o;
  }
  PERPETUA_CHECK(image != nullptr);  // VaeLearner::Build checked it
  if (goal != nullptr && (goal->dtype != image->dtype || goal->shape != image->shape)) {
    Fail(ExitCode::kBadData, setup.data_source + ": the goal observation '" + goal->key + "' is " + ShapeOf(*goal) +
                                 ", the image '" + image_key_ + "' " + ShapeOf(*image) +
                                 " (--goal.goal-key names the goal image)");
  }
  source_ = std::make_unique<LatentGoalSource>(
      setup.batches, &vae_->vae(), &vae_mutex_, settings_.goal, image_key_, goal != nullptr,
      [this](int64_t n, Rng& rng) { return vae_->DrawSkewedImages(n, rng); });
  LearnerSetup inner = setup;
  inner.data_spec = LatentSpec(setup.data_spec, fit.vae.network.latent_dim);
  inner.batches = source_.get();
  inner_->Build(inner, start, checkpoint, checkpoint_path);
  vae_metrics_.clear();
  if (settings_.goal.fit_every > 0) {
    // A resumed run reports the saved run's last VAE figures until its next VAE step.
    nlohmann::json last;
    if (start == LearnerStart::kResume && checkpoint->metadata.contains("goals")) {
      last = checkpoint->metadata["goals"].value("last_vae_metrics", nlohmann::json::object());
    }
    for (const char* name : kVaeMetrics) {
      const std::string key = std::string("vae_") + name;
      vae_metrics_.push_back({key, last.is_object() && last.contains(key) && last[key].is_number() ? last[key].get<double>() : 0.0});
    }
  }
}

UpdateResult LatentGoalLearner::Update(Rng& rng, at::Generator& generator) {
  double vae_wait = 0.0;
  if (settings_.goal.fit_every > 0 && inner_->step() % settings_.goal.fit_every == 0) {
    std::lock_guard<std::mutex> lock(vae_mutex_);
    const UpdateResult fit = vae_->Update(rng, generator);
    vae_wait = fit.wait_seconds;
    for (Metric& metric : vae_metrics_) {
      for (const Metric& m : fit.metrics) {
        if ("vae_" + m.name == metric.name) metric.value = m.value;
      }
    }
  }
  UpdateResult result = inner_->Update(rng, generator);
  result.wait_seconds += vae_wait;
  const GoalMix mix = source_->last_mix();
  const double rows = std::max<int64_t>(1, mix.rollout + mix.sampled + mix.hindsight);
  result.metrics.push_back({"goal_reward", mix.mean_reward});
  result.metrics.push_back({"goal_rollout", static_cast<double>(mix.rollout) / rows});
  result.metrics.push_back({"goal_sampled", static_cast<double>(mix.sampled) / rows});
  result.metrics.push_back({"goal_hindsight", static_cast<double>(mix.hindsight) / rows});
  result.metrics.insert(result.metrics.end(), vae_metrics_.begin(), vae_metrics_.end());
  return result;
}

void LatentGoalLearner::Save(CheckpointContents* contents) {
  {
    std::lock_guard<std::mutex> lock(vae_mutex_);
    vae_->Save(contents);
  }
  inner_->Save(contents);  // after the VAE's: its "step" is the run's
  const GoalRelabelConfig& g = settings_.goal;
  contents->metadata["goals"] = {
      {"vae", settings_.vae_path()},
      {"image_key", image_key_},
      {"goal_key", g.goal_key},
      {"latent_dim", vae_->vae().config().network.latent_dim},
      {"relabel",
       {{"rollout_fraction", g.rollout_fraction}, {"sampled_fraction", g.sampled_fraction},
        {"sampled_from", g.sampled_from}, {"fit_every", g.fit_every},
        {"alpha", g.alpha}}}};
  nlohmann::json last = nlohmann::json::object();
  for (const Metric& m : vae_metrics_) last[m.name] = m.value;
  contents->metadata["goals"]["last_vae_metrics"] = last;
}

std::string LatentGoalLearner::Describe() {
  const GoalRelabelConfig& g = settings_.goal;
  const double hindsight = 1.0 - g.rollout_fraction - g.sampled_fraction;
  return inner_->Describe() + "; goals in the latent space of " + vae_->Describe() + " from " +
         settings_.vae_path() + ": " + std::to_string(static_cast<int>(g.rollout_fraction * 100 + 0.5)) +
         "% rollout, " + std::to_string(static_cast<int>(g.sampled_fraction * 100 + 0.5)) +
         (g.sampled_from == "prior" ? "% prior, " : g.alpha < 0 ? "% seen states (skewed), " : "% seen states, ") +
         std::to_string(static_cast<int>(hindsight * 100 + 0.5)) + "% hindsight; " +
         (g.fit_every > 0 ? "the VAE fits every " + std::to_string(g.fit_every) + " updates" : "the VAE is frozen");
}

std::unique_ptr<Learner> WithGoals(const GoalSettings& settings, int batch_size, std::unique_ptr<Learner> learner) {
  if (!settings.enabled()) return learner;
  settings.Validate();
  return std::make_unique<LatentGoalLearner>(settings, batch_size, std::move(learner));
}

}  // namespace perpetua
