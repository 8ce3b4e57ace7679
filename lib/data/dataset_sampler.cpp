#include "data/dataset_sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace perpetua {

struct DatasetSampler::EpisodeData {
  size_t index = 0;         // in reader_
  int64_t num_steps = 0;
  StepColumns columns;      // always resident
  std::vector<float> returns_to_go;  // [N]: the rewards (+ reward_offset) from each step to the end
  bool resident = false;    // observations decoded below
  std::map<std::string, Array> observations;  // key -> [N+1, ...] when resident
};

namespace {

int64_t StepBytes(const KeySpec& spec) {
  int64_t n = 1;
  for (int64_t d : spec.shape) n *= d;
  return n * static_cast<int64_t>(DTypeSize(spec.dtype));
}

uint8_t* RowPtr(Array& array, int64_t row, int64_t step_bytes) {
  return static_cast<uint8_t*>(array.data()) + row * step_bytes;
}

}  // namespace

TransitionBatch TransitionSampler::SampleFor(int batch_size, Rng& rng, const SampleRequest& request) {
  if (!request.future_keys.empty()) {
    Fail(ExitCode::kBadData, "this buffer cannot serve hindsight goals (future observations)");
  }
  if (request.n_step != 1) Fail(ExitCode::kBadData, "this buffer cannot serve n-step returns");
  return Sample(batch_size, rng);
}

Schema SchemaOfEnv(const EnvSpec& spec) {
  Schema schema;
  for (const ObservationSpec& o : spec.observations) schema.observations[o.key] = KeySpec{o.dtype, o.shape};
  schema.action_dim = spec.action.dim();
  return schema;
}

DatasetSampler::DatasetSampler(const std::vector<std::string>& paths, DatasetSamplerConfig config,
                               std::optional<Schema> expected, bool allow_empty)
    : config_(config),
      expected_(std::move(expected)),
      reader_(paths, allow_empty, expected_ ? &*expected_ : nullptr, config_.filter_key, config_.subset) {
  if (!(config_.memory_budget_mb > 0.0)) {
    Fail(ExitCode::kUsage, "memory_budget_mb must be positive, got " +
                               std::to_string(config_.memory_budget_mb));
  }
  if (!std::isfinite(config_.reward_offset)) {
    Fail(ExitCode::kUsage, "--dataset.reward-offset must be a finite number");
  }
  budget_bytes_ = static_cast<int64_t>(config_.memory_budget_mb * 1024.0 * 1024.0);
  std::lock_guard<std::mutex> lock(mutex_);
  IndexNewEpisodes(0);
}

DatasetSampler::~DatasetSampler() = default;

void DatasetSampler::IndexNewEpisodes(size_t first) {
  if (reader_.num_episodes() == first) return;
  const int64_t action_dim = reader_.schema().action_dim;
  std::vector<std::unique_ptr<EpisodeData>> added;
  try {
    for (size_t i = first; i < reader_.num_episodes(); ++i) {
      const EpisodeRef ref = reader_.episode(i);
      auto e = std::make_unique<EpisodeData>();
      e->index = i;
      e->num_steps = ref.num_steps;
      e->columns = ReadStepColumns(reader_.FileHandle(ref.file), ref, action_dim);
      const std::vector<float>& r = e->columns.rewards;
      e->returns_to_go.assign(r.size(), 0.0f);
      float to_go = 0.0f;
      for (size_t k = r.size(); k-- > 0;) e->returns_to_go[k] = to_go += r[k] + static_cast<float>(config_.reward_offset);
      added.push_back(std::move(e));
    }
  } catch (const Error&) {
    reader_.DropEpisodesFrom(first);  // all or nothing: the sampler and reader stay in step
    throw;
  }
  for (auto& e : added) {
    stats_.resident_bytes += e->num_steps * (action_dim * 4 + 4 + 4 + 2);
    cumulative_.push_back((cumulative_.empty() ? 0 : cumulative_.back()) + e->num_steps);
    episodes_.push_back(std::move(e));
    ++stats_.episodes;
  }
}

int64_t DatasetSampler::num_transitions() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cumulative_.empty() ? 0 : cumulative_.back();
}

Schema DatasetSampler::schema() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reader_.schema();
}

SamplerStats DatasetSampler::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

size_t DatasetSampler::AddFile(const std::string& path) {
  std::lock_guard<std::mutex> lock(mutex_);
  h5::InitThread();
  const size_t first = reader_.num_episodes();
  const size_t added = reader_.AddFile(path);
  IndexNewEpisodes(first);
  return added;
}

std::vector<std::string> DatasetSampler::Refresh() {
  std::lock_guard<std::mutex> lock(mutex_);
  h5::InitThread();
  const size_t first = reader_.num_episodes();
  std::vector<std::string> added = reader_.Refresh();
  IndexNewEpisodes(first);
  return added;
}

void DatasetSampler::CopyTransition(EpisodeData& e, int64_t t, int64_t m, double discount, int64_t row,
                                    TransitionBatch& batch) {
  const Schema& schema = reader_.schema();
  const int64_t a = schema.action_dim;
  std::memcpy(batch.actions.f32.data() + row * a, e.columns.actions.data() + t * a,
              static_cast<size_t>(a) * sizeof(float));
  // sum_{k<m} discount^k (r[t+k] + offset), summed in double.
  double reward = 0.0, weight = 1.0;
  for (int64_t k = 0; k < m; ++k, weight *= discount) {
    reward += weight * (e.columns.rewards[static_cast<size_t>(t + k)] + config_.reward_offset);
  }
  batch.rewards[static_cast<size_t>(row)] = static_cast<float>(reward);
  batch.returns_to_go[static_cast<size_t>(row)] = e.returns_to_go[static_cast<size_t>(t)];
  const size_t last = static_cast<size_t>(t + m - 1);
  batch.terminated[static_cast<size_t>(row)] =
      e.columns.terminated[last] || (config_.timeout_terminal && e.columns.truncated[last]);
  if (!batch.steps.empty()) batch.steps[static_cast<size_t>(row)] = static_cast<uint8_t>(m);

  if (!e.resident) {
    int64_t bytes = 0;
    for (const auto& [key, spec] : schema.observations) bytes += StepBytes(spec) * (e.num_steps + 1);
    if (stats_.resident_bytes + bytes <= budget_bytes_) {
      const EpisodeRef ref = reader_.episode(e.index);
      const hid_t file = reader_.FileHandle(ref.file);
      Episode episode = ReadEpisode(file, ref);
      for (const auto& [key, spec] : schema.observations) {
        // The file was checked when indexed; a file changed since must not
        // make the copies below run past a buffer.
        std::vector<int64_t> want{e.num_steps + 1};
        want.insert(want.end(), spec.shape.begin(), spec.shape.end());
        auto it = episode.observations.find(key);
        if (it == episode.observations.end() || it->second.shape != want ||
            it->second.dtype != spec.dtype) {
          Fail(ExitCode::kBadData, ref.file + ": " + ref.name + ": observation '" + key +
                                       "' changed since the file was opened");
        }
      }
      e.observations = std::move(episode.observations);
      e.resident = true;
      stats_.resident_bytes += bytes;
      ++stats_.resident_episodes;
    }
  }
  if (e.resident) {
    for (const auto& [key, spec] : schema.observations) {
      const int64_t step_bytes = StepBytes(spec);
      Array& source = e.observations[key];
      std::memcpy(RowPtr(batch.observations[key], row, step_bytes), RowPtr(source, t, step_bytes),
                  static_cast<size_t>(step_bytes));
      std::memcpy(RowPtr(batch.next_observations[key], row, step_bytes),
                  RowPtr(source, t + m, step_bytes), static_cast<size_t>(step_bytes));
    }
  } else {
    const EpisodeRef ref = reader_.episode(e.index);
    const hid_t file = reader_.FileHandle(ref.file);
    for (const auto& [key, spec] : schema.observations) {
      const int64_t step_bytes = StepBytes(spec);
      uint8_t* now = RowPtr(batch.observations[key], row, step_bytes);
      uint8_t* next = RowPtr(batch.next_observations[key], row, step_bytes);
      if (m == 1) {
        ReadObservationPair(file, ref, key, spec, t, now, next);
      } else {  // rows t and t+m: two pair reads (the second's first row unused)
        std::vector<uint8_t> scratch(static_cast<size_t>(step_bytes));
        ReadObservationPair(file, ref, key, spec, t, now, scratch.data());
        ReadObservationPair(file, ref, key, spec, t + m - 1, scratch.data(), next);
      }
    }
  }
  ++(e.resident ? stats_.samples_from_memory : stats_.samples_from_disk);
}

TransitionBatch DatasetSampler::Sample(int batch_size, Rng& rng) { return SampleFor(batch_size, rng, {}); }

void CheckNStep(const SampleRequest& request) {
  if (request.n_step < 1 || request.n_step > kMaxNStep) {
    Fail(ExitCode::kUsage, "n-step returns take 1 to " + std::to_string(kMaxNStep) + " steps, got " +
                               std::to_string(request.n_step));
  }
  if (!(request.discount >= 0.0 && request.discount <= 1.0)) {
    Fail(ExitCode::kUsage, "the n-step discount must be in [0, 1], got " + std::to_string(request.discount));
  }
}

TransitionBatch DatasetSampler::SampleFor(int batch_size, Rng& rng, const SampleRequest& request) {
  std::lock_guard<std::mutex> lock(mutex_);
  h5::InitThread();
  if (batch_size <= 0) Fail(ExitCode::kUsage, "batch size must be positive");
  CheckNStep(request);
  if (cumulative_.empty() || cumulative_.back() == 0) {
    Fail(ExitCode::kBadData, "no transitions to sample yet (empty dataset)");
  }
  const Schema& schema = reader_.schema();
  const int64_t b = batch_size;
  TransitionBatch batch;
  const auto rows = [b](const KeySpec& spec) {
    std::vector<int64_t> shape{b};
    shape.insert(shape.end(), spec.shape.begin(), spec.shape.end());
    return Array::Zeros(spec.dtype, shape);
  };
  for (const auto& [key, spec] : schema.observations) {
    batch.observations[key] = rows(spec);
    batch.next_observations[key] = rows(spec);
  }
  for (const std::string& key : request.future_keys) {
    const auto it = schema.observations.find(key);
    if (it == schema.observations.end()) {
      Fail(ExitCode::kBadData, "the data has no observation '" + key + "' for hindsight goals");
    }
    batch.future_observations[key] = rows(it->second);
  }
  batch.actions = Array::Zeros(DType::kFloat32, {b, schema.action_dim});
  batch.rewards.assign(static_cast<size_t>(b), 0.0f);
  batch.terminated.assign(static_cast<size_t>(b), 0);
  batch.returns_to_go.assign(static_cast<size_t>(b), 0.0f);
  if (request.n_step > 1) batch.steps.assign(static_cast<size_t>(b), 1);
  const int64_t total = cumulative_.back();
  for (int64_t row = 0; row < b; ++row) {
    const int64_t u = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(total)));
    const size_t e = static_cast<size_t>(
        std::upper_bound(cumulative_.begin(), cumulative_.end(), u) - cumulative_.begin());
    const int64_t t = u - (e == 0 ? 0 : cumulative_[e - 1]);
    const int64_t m = std::min<int64_t>(request.n_step, episodes_[e]->num_steps - t);
    CopyTransition(*episodes_[e], t, m, request.discount, row, batch);
    if (request.future_keys.empty()) continue;
    const int64_t f = t + 1 + static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(episodes_[e]->num_steps - t)));
    for (const std::string& key : request.future_keys) CopyFuture(*episodes_[e], key, f, row, batch);
  }
  return batch;
}

void DatasetSampler::CopyFuture(EpisodeData& e, const std::string& key, int64_t f, int64_t row,
                                TransitionBatch& batch) {
  const KeySpec& spec = reader_.schema().observations.at(key);
  const int64_t step_bytes = StepBytes(spec);
  uint8_t* into = RowPtr(batch.future_observations[key], row, step_bytes);
  if (e.resident) {
    std::memcpy(into, RowPtr(e.observations[key], f, step_bytes), static_cast<size_t>(step_bytes));
    return;
  }
  // Observations f-1 and f (f >= 1): the pair read the sampler already has.
  std::vector<uint8_t> before(static_cast<size_t>(step_bytes));
  const EpisodeRef ref = reader_.episode(e.index);
  ReadObservationPair(reader_.FileHandle(ref.file), ref, key, spec, f - 1, before.data(), into);
}

}  // namespace perpetua
