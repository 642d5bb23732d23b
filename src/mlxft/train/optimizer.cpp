#include "mlxft/train/optimizer.h"

#include <fmt/format.h>

#include <cmath>

#include "mlxft/util/error.h"

namespace mlxft {

namespace {

mx::array scalar(double v) {
  return mx::array(static_cast<float>(v));
}

std::string key(const char* prefix, size_t i) {
  return fmt::format("{}.{}", prefix, i);
}

// Reads state[prefix.i] for every parameter, checking presence, dtype and shape.
std::vector<mx::array> load_slots(const std::map<std::string, mx::array>& state, const char* prefix,
                                  const std::vector<mx::array>& params, const std::string& source) {
  std::vector<mx::array> out;
  for (size_t i = 0; i < params.size(); ++i) {
    auto it = state.find(key(prefix, i));
    if (it == state.end() || it->second.shape() != params[i].shape()) {
      throw Error(
          ErrorKind::Checkpoint, source,
          fmt::format("optimizer state '{}' is missing or has the wrong shape", key(prefix, i)),
          "the checkpoint was written for other LoRA settings; start a new run or use a matching one");
    }
    out.push_back(mx::astype(it->second, mx::float32));
  }
  if (state.size() < params.size()) {
    throw Error(ErrorKind::Checkpoint, source, "optimizer state has fewer entries than parameters");
  }
  return out;
}

int64_t load_step(const std::map<std::string, mx::array>& state, const std::string& source) {
  auto it = state.find("step");
  if (it == state.end() || it->second.size() != 1) {
    throw Error(ErrorKind::Checkpoint, source, "optimizer state has no 'step' entry");
  }
  return mx::astype(it->second, mx::int64).item<int64_t>();
}

class AdamW final : public Optimizer {
 public:
  explicit AdamW(const OptimizerConfig& c) : c_(c) {}

  std::vector<mx::array> update(const std::vector<mx::array>& params, const std::vector<mx::array>& grads,
                                double lr) override {
    if (m_.empty()) {
      for (const auto& p : params) {
        m_.push_back(mx::zeros_like(p));
        v_.push_back(mx::zeros_like(p));
      }
    }
    ++steps_;
    const double t = static_cast<double>(steps_);
    const mx::array b1 = scalar(c_.beta1), b2 = scalar(c_.beta2);
    const mx::array one_b1 = scalar(1.0 - c_.beta1), one_b2 = scalar(1.0 - c_.beta2);
    const mx::array step_size = scalar(lr / (1.0 - std::pow(c_.beta1, t)));
    const mx::array sqrt_bc2 = scalar(std::sqrt(1.0 - std::pow(c_.beta2, t)));
    const mx::array eps = scalar(c_.epsilon);
    const mx::array decay = scalar(1.0 - lr * c_.weight_decay);
    std::vector<mx::array> out;
    for (size_t i = 0; i < params.size(); ++i) {
      const mx::array g = mx::astype(grads[i], mx::float32);
      m_[i] = mx::add(mx::multiply(b1, m_[i]), mx::multiply(one_b1, g));
      v_[i] = mx::add(mx::multiply(b2, v_[i]), mx::multiply(one_b2, mx::square(g)));
      const mx::array denom = mx::add(mx::divide(mx::sqrt(v_[i]), sqrt_bc2), eps);
      const mx::array decayed = mx::multiply(params[i], decay);
      out.push_back(mx::subtract(decayed, mx::multiply(step_size, mx::divide(m_[i], denom))));
    }
    return out;
  }

  std::map<std::string, mx::array> state() const override {
    std::map<std::string, mx::array> s;
    for (size_t i = 0; i < m_.size(); ++i) {
      s.emplace(key("m", i), m_[i]);
      s.emplace(key("v", i), v_[i]);
    }
    s.emplace("step", mx::array(steps_));
    return s;
  }

  void load_state(const std::map<std::string, mx::array>& state, const std::vector<mx::array>& params,
                  const std::string& source) override {
    steps_ = load_step(state, source);
    if (steps_ == 0) {
      m_.clear();
      v_.clear();
      return;
    }
    m_ = load_slots(state, "m", params, source);
    v_ = load_slots(state, "v", params, source);
  }

  std::vector<mx::array> state_arrays() const override {
    std::vector<mx::array> s = m_;
    s.insert(s.end(), v_.begin(), v_.end());
    return s;
  }

 private:
  OptimizerConfig c_;
  std::vector<mx::array> m_, v_;
};

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const OptimizerConfig& c) : c_(c) {}

  std::vector<mx::array> update(const std::vector<mx::array>& params, const std::vector<mx::array>& grads,
                                double lr) override {
    const bool first = steps_ == 0;
    ++steps_;
    const mx::array lr_a = scalar(lr);
    std::vector<mx::array> out;
    for (size_t i = 0; i < params.size(); ++i) {
      mx::array d = mx::astype(grads[i], mx::float32);
      if (c_.weight_decay != 0.0) d = mx::add(d, mx::multiply(scalar(c_.weight_decay), params[i]));
      if (c_.momentum > 0.0) {
        if (first) {
          buf_.push_back(d);
        } else {
          buf_[i] = mx::add(mx::multiply(scalar(c_.momentum), buf_[i]), d);
        }
        d = buf_[i];
      }
      out.push_back(mx::subtract(params[i], mx::multiply(lr_a, d)));
    }
    return out;
  }

  std::map<std::string, mx::array> state() const override {
    std::map<std::string, mx::array> s;
    for (size_t i = 0; i < buf_.size(); ++i) s.emplace(key("momentum", i), buf_[i]);
    s.emplace("step", mx::array(steps_));
    return s;
  }

  void load_state(const std::map<std::string, mx::array>& state, const std::vector<mx::array>& params,
                  const std::string& source) override {
    steps_ = load_step(state, source);
    buf_.clear();
    if (c_.momentum > 0.0 && steps_ > 0) buf_ = load_slots(state, "momentum", params, source);
  }

  std::vector<mx::array> state_arrays() const override { return buf_; }

 private:
  OptimizerConfig c_;
  std::vector<mx::array> buf_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerConfig& config) {
  if (config.kind == "adamw") return std::make_unique<AdamW>(config);
  if (config.kind == "sgd") return std::make_unique<Sgd>(config);
  throw Error(ErrorKind::Config, "training.optimizer", fmt::format("unknown optimizer '{}'", config.kind),
              "use adamw or sgd");
}

}  // namespace mlxft
