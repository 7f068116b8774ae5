#include "normalization.hpp"

#include <cmath>

#include <autodiff/elementwise.hpp>
#include <autodiff/reduction.hpp>
#include <autodiff/shape.hpp>

#include "check.hpp"

namespace nn {

// ---- BatchNorm -----------------------------------------------------------------

template <class T>
BatchNorm<T>::BatchNorm(std::string name, std::size_t features, std::size_t min_rank, std::size_t max_rank,
                        const BatchNormOptions& options)
    : name_(std::move(name)), features_(features), min_rank_(min_rank), max_rank_(max_rank), options_(options) {
  if (features == 0) throw std::invalid_argument(describe() + ": the number of features must be at least 1");
  detail::require_above(describe(), "eps", options.eps, 0);
  detail::require_in_closed(describe(), "momentum", options.momentum, 0, 1);
  if (options.affine) {
    this->register_parameter("weight", Variable<T>(Array<T>(xt::ones<T>({features}))));
    this->register_parameter("bias", Variable<T>(Array<T>(xt::zeros<T>({features}))));
  }
  this->register_buffer("running_mean", Array<T>(xt::zeros<T>({features})));
  this->register_buffer("running_var", Array<T>(xt::ones<T>({features})));
  this->register_buffer("num_batches_tracked", Array<T>(xt::zeros<T>({std::size_t(1)})));
}

template <class T>
Variable<T>& BatchNorm<T>::affine_parameter(std::size_t i) {
  if (!options_.affine)
    throw std::out_of_range(describe() + ": has no " + (i ? "bias" : "weight") + " (made with affine = false)");
  return this->registered_parameter(i);
}

template <class T>
std::string BatchNorm<T>::describe() const {
  return name_ + "(" + std::to_string(features_) + ")";
}

template <class T>
Variable<T> BatchNorm<T>::forward(const Variable<T>& x) {
  using autodiff::Shape;
  detail::require_defined(describe(), "the input", x);
  const std::size_t rank = x.dimension();
  if (rank < min_rank_ || rank > max_rank_ || x.shape()[1] != features_) {
    const std::string c = std::to_string(features_);
    const std::string expected = max_rank_ == 4 ? "(N, " + c + ", H, W)" : "(N, " + c + ") or (N, " + c + ", L)";
    throw autodiff::ShapeError(describe() + " got input of shape " + autodiff::to_string(x.shape()) + ", expected " +
                               expected);
  }
  const bool affine = options_.affine;
  if (affine) {
    for (std::size_t i = 0; i < 2; ++i) {
      Variable<T>& p = this->registered_parameter(i);
      const char* what = i ? "bias" : "weight";
      detail::require_defined(describe(), std::string("the ") + what, p);
      if (p.shape() != Shape{features_})
        throw autodiff::ShapeError(describe() + ": the " + what + " has shape " + autodiff::to_string(p.shape()) +
                                   " where " + autodiff::to_string({features_}) + " is expected");
    }
  }
  for (std::size_t i = 0; i < 2; ++i)
    if (this->registered_buffer(i).shape() != Shape{features_})
      throw autodiff::ShapeError(describe() + ": " + (i ? "running_var" : "running_mean") + " has shape " +
                                 autodiff::to_string(Shape(this->registered_buffer(i).shape().begin(),
                                                           this->registered_buffer(i).shape().end())) +
                                 " where " + autodiff::to_string({features_}) + " is expected");
  autodiff::Axes axes{0};
  for (std::size_t a = 2; a < rank; ++a) axes.push_back(static_cast<long>(a));
  const std::size_t n = features_ ? x.size() / features_ : 0;
  const bool training = this->is_training();
  if (training && n <= 1)
    throw autodiff::ShapeError(describe() + ": expected more than 1 value per channel in training, got input of shape " +
                               autodiff::to_string(x.shape()));
  Shape channel_shape(rank, 1);  // (1, C, 1, 1): a per-channel value broadcast over the others
  channel_shape[1] = features_;

  Variable<T> y;
  if (training) {
    Variable<T> mean = autodiff::mean(x, axes, true);
    Variable<T> centred = x - mean;
    Variable<T> var = autodiff::mean(centred * centred, axes, true);  // biased, what is normalised with
    y = centred / autodiff::sqrt(var + T(options_.eps));
    // the running statistics: constants, off the tape
    const T m = T(options_.momentum);
    const T unbias = T(double(n) / double(n - 1));
    Array<T>& running_mean = this->registered_buffer(0);
    Array<T>& running_var = this->registered_buffer(1);
    const T* batch_mean = mean.value().data();
    const T* batch_var = var.value().data();
    for (std::size_t c = 0; c < features_; ++c) {
      running_mean(c) = (1 - m) * running_mean(c) + m * batch_mean[c];
      running_var(c) = (1 - m) * running_var(c) + m * batch_var[c] * unbias;
    }
    this->registered_buffer(2)(0) += 1;
  } else {
    Array<T> mean = autodiff::Array<T>::from_shape(channel_shape);
    Array<T> scale = autodiff::Array<T>::from_shape(channel_shape);
    for (std::size_t c = 0; c < features_; ++c) {
      mean.data()[c] = this->registered_buffer(0)(c);
      scale.data()[c] = T(1 / std::sqrt(double(this->registered_buffer(1)(c)) + options_.eps));
    }
    y = (x - Variable<T>(std::move(mean))) * Variable<T>(std::move(scale));
  }
  if (affine)
    y = y * autodiff::reshape(this->registered_parameter(0), channel_shape) +
        autodiff::reshape(this->registered_parameter(1), channel_shape);
  return y;
}

// ---- LayerNorm -----------------------------------------------------------------

template <class T>
LayerNorm<T>::LayerNorm(autodiff::Shape normalized_shape, double eps, bool elementwise_affine)
    : shape_(std::move(normalized_shape)), eps_(eps), affine_(elementwise_affine) {
  if (shape_.empty()) throw std::invalid_argument(describe() + ": normalized_shape is empty");
  std::size_t count = 0;
  if (!detail::checked_product(shape_, count) || count == 0)
    throw std::invalid_argument(describe() + ": normalized_shape must have at least 1 element and at most 2^64");
  detail::require_above(describe(), "eps", eps, 0);
  if (affine_) {
    this->register_parameter("weight", Variable<T>(Array<T>(xt::ones<T>(shape_))));
    this->register_parameter("bias", Variable<T>(Array<T>(xt::zeros<T>(shape_))));
  }
}

template <class T>
Variable<T>& LayerNorm<T>::affine_parameter(std::size_t i) {
  if (!affine_)
    throw std::out_of_range(describe() + ": has no " + (i ? "bias" : "weight") +
                            " (made with elementwise_affine = false)");
  return this->registered_parameter(i);
}

template <class T>
std::string LayerNorm<T>::describe() const {
  return "LayerNorm(" + autodiff::to_string(shape_) + ")";
}

template <class T>
Variable<T> LayerNorm<T>::forward(const Variable<T>& x) {
  detail::require_defined(describe(), "the input", x);
  const std::size_t k = shape_.size();
  bool fits = x.dimension() >= k;
  for (std::size_t a = 0; fits && a < k; ++a) fits = x.shape()[x.dimension() - k + a] == shape_[a];
  if (!fits) {
    std::string expected = "(...";
    for (std::size_t d : shape_) expected += ", " + std::to_string(d);
    throw autodiff::ShapeError(describe() + " got input of shape " + autodiff::to_string(x.shape()) + ", expected " +
                               expected + ")");
  }
  if (affine_)
    for (std::size_t i = 0; i < 2; ++i) {
      Variable<T>& p = this->registered_parameter(i);
      const char* what = i ? "bias" : "weight";
      detail::require_defined(describe(), std::string("the ") + what, p);
      if (p.shape() != shape_)
        throw autodiff::ShapeError(describe() + ": the " + what + " has shape " + autodiff::to_string(p.shape()) +
                                   " where " + autodiff::to_string(shape_) + " is expected");
    }
  autodiff::Axes axes;
  for (std::size_t a = 0; a < k; ++a) axes.push_back(-static_cast<long>(k - a));
  Variable<T> mean = autodiff::mean(x, axes, true);
  Variable<T> centred = x - mean;
  Variable<T> var = autodiff::mean(centred * centred, axes, true);
  Variable<T> y = centred / autodiff::sqrt(var + T(eps_));
  if (affine_) y = y * this->registered_parameter(0) + this->registered_parameter(1);
  return y;
}

#define WENGERT_INSTANTIATE(T) \
  template class BatchNorm<T>; \
  template class LayerNorm<T>;
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
