// Convolutional and pooling layers (NCHW, PyTorch's weight layout).
// Conv1d and Conv2d take PyTorch's arguments in PyTorch's order and are
// initialised as PyTorch's (kaiming_uniform with a = sqrt(5)): weight and bias
// from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in / groups * kernel area.
// An input of the wrong shape is a ShapeError naming the layer:
// "Conv2d(1 -> 6, kernel 5) got input of shape (5, 3, 28, 28), expected (batch, 1, H, W)".
#pragma once

#include <autodiff/conv.hpp>

#include "module.hpp"

namespace nn {

using autodiff::Size2;

// y = conv2d(x, weight, bias): x (batch, in, H, W), weight (out, in / groups, kH, kW), bias (out,).
template <class T = float>
class Conv2d : public Module<T> {
 public:
  Conv2d(std::size_t in, std::size_t out, Size2 kernel, Size2 stride = 1, Size2 padding = 0, Size2 dilation = 1,
         std::size_t groups = 1, bool bias = true);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  Variable<T>& weight() { return this->registered_parameter(0); }
  Variable<T>& bias();  // a std::logic_error when made with bias = false
  bool has_bias() const { return has_bias_; }
  std::size_t in_channels() const { return in_; }
  std::size_t out_channels() const { return out_; }
  const autodiff::Conv2dOptions& options() const { return options_; }

 private:
  std::size_t in_, out_;
  Size2 kernel_;
  autodiff::Conv2dOptions options_;
  bool has_bias_;
};

// y = conv1d(x, weight, bias): x (batch, in, L), weight (out, in / groups, k), bias (out,).
template <class T = float>
class Conv1d : public Module<T> {
 public:
  Conv1d(std::size_t in, std::size_t out, std::size_t kernel, std::size_t stride = 1, std::size_t padding = 0,
         std::size_t dilation = 1, std::size_t groups = 1, bool bias = true);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;
  Variable<T>& weight() { return this->registered_parameter(0); }
  Variable<T>& bias();
  bool has_bias() const { return has_bias_; }

 private:
  std::size_t in_, out_, kernel_;
  autodiff::Conv1dOptions options_;
  bool has_bias_;
};

// autodiff::max_pool2d as a layer; stride 0 means stride = kernel (PyTorch's default).
template <class T = float>
class MaxPool2d : public Module<T> {
 public:
  explicit MaxPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;

 private:
  Size2 kernel_, stride_, padding_;
};

// autodiff::avg_pool2d as a layer.
template <class T = float>
class AvgPool2d : public Module<T> {
 public:
  explicit AvgPool2d(Size2 kernel, Size2 stride = 0, Size2 padding = 0, bool count_include_pad = true);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;

 private:
  Size2 kernel_, stride_, padding_;
  bool count_include_pad_;
};

// autodiff::adaptive_avg_pool2d as a layer; AdaptiveAvgPool2d(1) is global average pooling.
template <class T = float>
class AdaptiveAvgPool2d : public Module<T> {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;

 private:
  Size2 output_size_;
};

// Nearest-neighbour upsampling of (batch, channels, H, W) by whole factors
// (nn.Upsample(scale_factor=..., mode='nearest')): each pixel becomes a
// scale.h x scale.w block. Only integer factors and the nearest mode.
template <class T = float>
class Upsample : public Module<T> {
 public:
  explicit Upsample(Size2 scale_factor);
  Variable<T> forward(const Variable<T>& x) override;
  std::string describe() const override;

 private:
  Size2 scale_;
};

}  // namespace nn
