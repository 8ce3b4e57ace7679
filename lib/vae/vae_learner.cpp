#include "vae/vae_learner.h"

#include <chrono>

#include "common/error.h"
#include "common/fs.h"
#include "nn/tensor_io.h"
#include "sim/png.h"

namespace perpetua {
namespace {

// The seed stream of the skew pools' draws (a training run's own streams are 1 and 2; VICE's split 7).
constexpr uint64_t kSkewPoolStream = 11;

// Images of the last batch shown in reconstructions.png.
constexpr int64_t kShown = 8;

}  // namespace

VaeLearner::VaeLearner(const VaeTrainConfig& config) : config_(config.vae) {}

VaeLearner::~VaeLearner() = default;

void VaeLearner::Build(const LearnerSetup& setup, LearnerStart start, const CheckpointContents* checkpoint,
                       const std::string& checkpoint_path) {
  setup_ = setup;
  const ObservationSpec* image = nullptr;
  for (const ObservationSpec& o : setup.data_spec.observations) {
    if (o.key == config_.image_key) image = &o;
  }
  if (image == nullptr || image->dtype != DType::kUint8 || image->shape.size() != 3 || image->shape[2] < 1 ||
      image->shape[2] > 4) {
    Fail(ExitCode::kBadData, setup.data_source + ": no uint8 [H,W,C] image observation '" + config_.image_key +
                                 "' for the VAE (--vae.image-key)");
  }
  vae_ =
      std::make_unique<GoalVae>(config_, image->shape[0], image->shape[1], image->shape[2], setup.device, setup.seed);
  vae_->SetCollective(setup.collective);
  if (start == LearnerStart::kFresh) return;
  if (start == LearnerStart::kInit) {
    // The weights only: a fresh optimiser and step 0 (the run's --init contract).
    CheckpointContents weights = *checkpoint;
    weights.blobs.erase("vae.adam");
    if (weights.metadata.contains("vae") && weights.metadata["vae"].is_object()) weights.metadata["vae"]["steps"] = 0;
    vae_->Load(weights, checkpoint_path);
    return;
  }
  vae_->Load(*checkpoint, checkpoint_path);
  if (checkpoint->metadata.contains("vae_pool")) {
    const nlohmann::json pool = MetadataField<nlohmann::json>(checkpoint->metadata, "vae_pool", checkpoint_path);
    pool_index_ = -1;
    resumed_index_ = MetadataField<int64_t>(pool, "index", checkpoint_path);
    const auto blob = checkpoint->blobs.find("vae.pool_log_density");
    if (blob == checkpoint->blobs.end()) {
      Fail(ExitCode::kBadData, checkpoint_path + ": checkpoint lacks the skew pool's densities");
    }
    const torch::Tensor density = TensorFromBytes(blob->second, checkpoint_path).to(torch::kDouble).contiguous();
    if (density.dim() != 1 || density.size(0) != config_.skew_pool) {
      Fail(ExitCode::kBadData, checkpoint_path + ": its skew pool holds " + std::to_string(density.numel()) +
                                   " images, --vae.skew-pool is " + std::to_string(config_.skew_pool));
    }
    resumed_density_.assign(density.data_ptr<double>(), density.data_ptr<double>() + density.numel());
  }
}

bool VaeLearner::Skewing() const { return config_.alpha < 0.0 && vae_->steps() >= config_.skew_warmup; }

torch::Tensor VaeLearner::Images(const TransitionBatch& batch) const {
  const auto found = batch.observations.find(config_.image_key);
  if (found == batch.observations.end()) {
    Fail(ExitCode::kBadData, setup_.data_source + ": a batch lacks the image '" + config_.image_key + "'");
  }
  return ArrayToTensor(found->second);
}

void VaeLearner::DrawPool(int64_t index, const std::vector<double>* log_density, at::Generator* generator) {
  Rng pool_rng(DeriveSeed(setup_.seed, kSkewPoolStream, static_cast<uint64_t>(index)));
  pool_images_ = Images(setup_.batches->Sample(config_.skew_pool, pool_rng, nullptr));
  std::vector<double> density;
  if (log_density != nullptr) {
    density = *log_density;
  } else {
    const torch::Tensor estimate = vae_->LogDensity(pool_images_, *generator).contiguous();
    density.assign(estimate.data_ptr<double>(), estimate.data_ptr<double>() + estimate.numel());
  }
  pool_.Set(density, config_.alpha,
            setup_.data_source + " (VAE density at update " + std::to_string(vae_->steps()) + ")",
            config_.skew_min_ess);
  pool_index_ = index;
  pool_mean_density_ = 0.0;
  for (double d : density) pool_mean_density_ += d / static_cast<double>(density.size());
}

void VaeLearner::RestorePool() {
  if (pool_index_ >= 0 || resumed_density_.empty()) return;
  DrawPool(resumed_index_, &resumed_density_, nullptr);
  resumed_density_.clear();
}

torch::Tensor VaeLearner::DrawSkewedImages(int64_t n, Rng& rng) {
  RestorePool();
  if (pool_index_ < 0) return {};  // a pool exists only once skewing has started
  return pool_images_.index_select(0, torch::tensor(pool_.Draw(n, rng), torch::kLong));
}

UpdateResult VaeLearner::Update(Rng& rng, at::Generator& generator) {
  const auto start = std::chrono::steady_clock::now();
  UpdateResult result;
  torch::Tensor images;
  if (Skewing()) {
    RestorePool();
    const int64_t index = (vae_->steps() - config_.skew_warmup) / config_.skew_refresh;
    if (index != pool_index_) DrawPool(index, nullptr, &generator);
    const std::vector<int64_t> rows = pool_.Draw(setup_.batch_size, rng);
    images = pool_images_.index_select(0, torch::tensor(rows, torch::kLong));
  } else {
    images = Images(setup_.batches->Sample(setup_.batch_size, rng, &result.online_count));
  }
  result.wait_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const VaeStepStats stats = vae_->Step(images, generator);
  last_batch_ = images.slice(0, 0, std::min<int64_t>(kShown, images.size(0)));
  const bool skewing = pool_index_ >= 0 && Skewing();
  result.metrics = {{"loss", stats.loss},
                    {"log_likelihood", stats.log_likelihood},
                    {"kl", stats.kl},
                    {"skew_ess", skewing ? EffectiveSampleSize(pool_.probabilities()) / pool_.size() : 1.0},
                    {"skew_alpha", skewing ? pool_.applied_alpha() : 0.0},
                    {"pool_log_density", skewing ? pool_mean_density_ : 0.0}};
  result.batch_size = setup_.batch_size;
  return result;
}

void VaeLearner::Save(CheckpointContents* contents) {
  vae_->Save(contents);
  contents->metadata["step"] = vae_->steps();
  if (pool_index_ >= 0) {
    contents->metadata["vae_pool"] = {{"index", pool_index_}};
    contents->blobs["vae.pool_log_density"] = TensorToBytes(torch::tensor(pool_.log_density(), torch::kDouble));
  } else if (!resumed_density_.empty()) {  // resumed and saved again before its first update
    contents->metadata["vae_pool"] = {{"index", resumed_index_}};
    contents->blobs["vae.pool_log_density"] = TensorToBytes(torch::tensor(resumed_density_, torch::kDouble));
  }
  WriteReconstructions();
}

void VaeLearner::WriteReconstructions() {
  if (!last_batch_.defined() || last_batch_.size(0) == 0 || vae_->channels() != 3 || setup_.out_dir.empty()) return;
  const int64_t side = config_.network.image_size, n = last_batch_.size(0);
  const torch::Tensor originals =
      VaeInput(last_batch_, side).mul(255.0).round().clamp(0, 255).to(torch::kUInt8).permute({0, 2, 3, 1});
  const torch::Tensor decoded = vae_->Decode(vae_->Encode(last_batch_));
  // [2 rows, n columns] of side x side tiles -> [2*side, n*side, 3].
  const torch::Tensor grid =
      torch::stack({originals, decoded}).permute({0, 2, 1, 3, 4}).reshape({2 * side, n * side, 3}).contiguous();
  sim::WritePng(setup_.out_dir + "/reconstructions.png", TensorToArray(grid), 2);
}

std::string VaeLearner::Describe() {
  return "VAE " + config_.network.ToJson().dump() + " on " + std::to_string(vae_->data_height()) + "x" +
         std::to_string(vae_->data_width()) + "x" + std::to_string(vae_->channels()) + " '" + config_.image_key +
         "' images, beta " + std::to_string(config_.beta) + ", alpha " + std::to_string(config_.alpha) +
         (config_.alpha < 0 ? " (Skew-Fit)" : " (RIG)");
}

}  // namespace perpetua
