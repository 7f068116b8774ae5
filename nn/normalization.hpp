// Batch normalisation and layer normalisation (PyTorch's formulas and running
// statistics), composed of autodiff ops: their gradients come from the tape.
#pragma once

#include <cstddef>
#include <string>

#include "module.hpp"

namespace nn {

// Options of BatchNorm1d/2d, as torch.nn.BatchNorm's keyword arguments.
struct BatchNormOptions {
  double eps = 1e-5;      // added to the variance: finite, > 0
  double momentum = 0.1;  // running = (1 - momentum) running + momentum batch; in [0, 1]
  bool affine = true;     // a learnable weight (ones) and bias (zeros) per channel
};

// Batch normalisation over the channel axis 1 (Ioffe & Szegedy 2015; torch.nn.BatchNorm1d/2d):
// y = (x - mean) / sqrt(var + eps) * weight + bias, per channel.
// Training mode: mean and var are the batch's, over every axis but 1 (var biased,
// divided by n), and the buffers running_mean (zeros) and running_var (ones) become
// (1 - momentum) running + momentum batch with the UNBIASED batch variance (n - 1),
// as PyTorch; num_batches_tracked counts the updates (kept for PyTorch's state
// dicts; it is not used, since momentum is never None here). Evaluation mode uses
// the running statistics. One value per channel (n = 1) in training is a ShapeError,
// as PyTorch's "Expected more than 1 value per channel". The buffers are updated in
// training mode also under no_grad, as PyTorch.
template <class T = float>
class BatchNorm : public Module<T> {
 public:
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  // Only with options.affine (else std::out_of_range naming the layer).
  Variable<T>& weight() { return affine_parameter(0); }
  Variable<T>& bias() { return affine_parameter(1); }
  Array<T>& running_mean() { return this->registered_buffer(0); }
  Array<T>& running_var() { return this->registered_buffer(1); }
  std::size_t num_batches_tracked() const { return static_cast<std::size_t>(this->registered_buffer(2)(0)); }
  std::size_t num_features() const { return features_; }
  const BatchNormOptions& options() const { return options_; }

 protected:
  // spatial: the ranks accepted (2 or 3 for 1d, 4 for 2d)
  BatchNorm(std::string name, std::size_t features, std::size_t min_rank, std::size_t max_rank,
            const BatchNormOptions& options);

 private:
  Variable<T>& affine_parameter(std::size_t i);
  std::string name_;
  std::size_t features_, min_rank_, max_rank_;
  BatchNormOptions options_;
};

// Input (N, C) or (N, C, L).
template <class T = float>
class BatchNorm1d : public BatchNorm<T> {
 public:
  explicit BatchNorm1d(std::size_t features, const BatchNormOptions& options = {})
      : BatchNorm<T>("BatchNorm1d", features, 2, 3, options) {}
};

// Input (N, C, H, W).
template <class T = float>
class BatchNorm2d : public BatchNorm<T> {
 public:
  explicit BatchNorm2d(std::size_t channels, const BatchNormOptions& options = {})
      : BatchNorm<T>("BatchNorm2d", channels, 4, 4, options) {}
};

// Layer normalisation (Ba et al. 2016; torch.nn.LayerNorm): each sample normalised
// over its last axes, which must have normalized_shape, with the biased variance:
// y = (x - mean) / sqrt(var + eps) * weight + bias, weight (ones) and bias (zeros) of
// normalized_shape (elementwise_affine). The same in training and evaluation.
template <class T = float>
class LayerNorm : public Module<T> {
 public:
  explicit LayerNorm(autodiff::Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  // Only with elementwise_affine (else std::out_of_range naming the layer).
  Variable<T>& weight() { return affine_parameter(0); }
  Variable<T>& bias() { return affine_parameter(1); }
  const autodiff::Shape& normalized_shape() const { return shape_; }

 private:
  Variable<T>& affine_parameter(std::size_t i);
  autodiff::Shape shape_;
  double eps_;
  bool affine_;
};

}  // namespace nn
