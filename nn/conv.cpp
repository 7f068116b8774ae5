#include "conv.hpp"

#include <cmath>
#include <stdexcept>

#include <autodiff/shape.hpp>

#include "check.hpp"

namespace nn {

namespace {

std::string size2(Size2 s) {
  return s.h == s.w ? std::to_string(s.h) : "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")";
}

// PyTorch's kaiming_uniform_(a = sqrt(5)) for the weight and its bias rule: both U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
template <class T>
Array<T> pytorch_uniform(const autodiff::Shape& shape, std::size_t fan_in, const std::string& layer) {
  const double bound = 1.0 / std::sqrt(double(fan_in));
  std::size_t count = 0;
  if (!detail::checked_product(shape, count))
    throw std::invalid_argument(layer + ": a parameter of shape " + autodiff::to_string(shape) +
                                " has more than 2^64 elements");
  return xt::cast<T>(sample(uniform(-bound, bound), xt::xarray<double>::shape_type(shape.begin(), shape.end()),
                            fan_in, shape[0]));
}

// The op's shape errors (a kernel larger than the input, ...) with the layer's name in front.
template <class F>
auto named(const std::string& layer, F&& f) {
  try {
    return f();
  } catch (const autodiff::ShapeError& e) {
    throw autodiff::ShapeError(layer + ": " + e.what());
  }
}

void check_pool_sizes(const std::string& layer, Size2 kernel, Size2 stride, Size2 padding) {
  if (kernel.h < 1 || kernel.w < 1) throw std::invalid_argument(layer + ": the kernel must be positive");
  if (stride.h < 0 || stride.w < 0 || (stride.h == 0) != (stride.w == 0))
    throw std::invalid_argument(layer + ": the stride must be positive (or 0 for the kernel)");
  if (padding.h < 0 || padding.w < 0 || 2 * padding.h > kernel.h || 2 * padding.w > kernel.w)
    throw std::invalid_argument(layer + ": the padding must be between 0 and half the kernel");
}

}  // namespace

// ---- Conv2d -------------------------------------------------------------------

template <class T>
Conv2d<T>::Conv2d(std::size_t in, std::size_t out, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation,
                  std::size_t groups, bool bias)
    : in_(in), out_(out), kernel_(kernel), options_{stride, padding, dilation, long(groups)}, has_bias_(bias) {
  const std::string name = describe();
  if (in == 0 || out == 0) throw std::invalid_argument(name + ": in and out channels must be at least 1");
  if (kernel.h < 1 || kernel.w < 1) throw std::invalid_argument(name + ": the kernel must be positive");
  if (stride.h < 1 || stride.w < 1) throw std::invalid_argument(name + ": the stride must be positive");
  if (padding.h < 0 || padding.w < 0) throw std::invalid_argument(name + ": the padding must not be negative");
  if (dilation.h < 1 || dilation.w < 1) throw std::invalid_argument(name + ": the dilation must be positive");
  if (groups == 0 || in % groups != 0 || out % groups != 0)
    throw std::invalid_argument(name + ": groups " + std::to_string(groups) + " must divide in and out channels");
  const std::size_t fan_in = in / groups * std::size_t(kernel.h) * std::size_t(kernel.w);
  this->register_parameter("weight", Variable<T>(pytorch_uniform<T>(
                                         {out, in / groups, std::size_t(kernel.h), std::size_t(kernel.w)}, fan_in, name)));
  if (bias) this->register_parameter("bias", Variable<T>(pytorch_uniform<T>({out}, fan_in, name)));
}

template <class T>
Variable<T>& Conv2d<T>::bias() {
  if (!has_bias_) throw std::logic_error(describe() + " has no bias (made with bias = false)");
  return this->registered_parameter(1);
}

namespace {
// The weight and bias as the layer finds them when it runs (data() may have resized them), as Linear checks.
template <class T>
void check_parameters(const std::string& name, const Variable<T>& weight, const autodiff::Shape& want,
                      const Variable<T>* bias, std::size_t out) {
  if (weight.shape() != want)
    throw autodiff::ShapeError(name + ": the weight has shape " + autodiff::to_string(weight.shape()) + " where " +
                               autodiff::to_string(want) + " is expected");
  if (bias && bias->shape() != autodiff::Shape{out})
    throw autodiff::ShapeError(name + ": the bias has shape " + autodiff::to_string(bias->shape()) + " where " +
                               autodiff::to_string({out}) + " is expected");
}
}  // namespace

template <class T>
Variable<T> Conv2d<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  const autodiff::Shape want{out_, in_ / std::size_t(options_.groups), std::size_t(kernel_.h), std::size_t(kernel_.w)};
  check_parameters(name, weight(), want, has_bias_ ? &bias() : nullptr, out_);
  if (x.dimension() != 4 || x.shape()[1] != in_)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) + ", expected (batch, " +
                               std::to_string(in_) + ", H, W)");
  return named(name, [&] { return autodiff::conv2d(x, weight(), has_bias_ ? bias() : Variable<T>(), options_); });
}

template <class T>
std::string Conv2d<T>::describe() const {
  std::string s = "Conv2d(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", kernel " + size2(kernel_);
  const auto& o = options_;
  if (o.stride.h != 1 || o.stride.w != 1) s += ", stride " + size2(o.stride);
  if (o.padding.h != 0 || o.padding.w != 0) s += ", padding " + size2(o.padding);
  if (o.dilation.h != 1 || o.dilation.w != 1) s += ", dilation " + size2(o.dilation);
  if (o.groups != 1) s += ", groups " + std::to_string(o.groups);
  if (!has_bias_) s += ", no bias";
  return s + ")";
}

// ---- Conv1d -------------------------------------------------------------------

template <class T>
Conv1d<T>::Conv1d(std::size_t in, std::size_t out, std::size_t kernel, std::size_t stride, std::size_t padding,
                  std::size_t dilation, std::size_t groups, bool bias)
    : in_(in), out_(out), kernel_(kernel), options_{long(stride), long(padding), long(dilation), long(groups)},
      has_bias_(bias) {
  const std::string name = describe();
  if (in == 0 || out == 0) throw std::invalid_argument(name + ": in and out channels must be at least 1");
  if (kernel == 0) throw std::invalid_argument(name + ": the kernel must be positive");
  if (stride == 0) throw std::invalid_argument(name + ": the stride must be positive");
  if (dilation == 0) throw std::invalid_argument(name + ": the dilation must be positive");
  if (groups == 0 || in % groups != 0 || out % groups != 0)
    throw std::invalid_argument(name + ": groups " + std::to_string(groups) + " must divide in and out channels");
  const std::size_t fan_in = in / groups * kernel;
  this->register_parameter("weight", Variable<T>(pytorch_uniform<T>({out, in / groups, kernel}, fan_in, name)));
  if (bias) this->register_parameter("bias", Variable<T>(pytorch_uniform<T>({out}, fan_in, name)));
}

template <class T>
Variable<T>& Conv1d<T>::bias() {
  if (!has_bias_) throw std::logic_error(describe() + " has no bias (made with bias = false)");
  return this->registered_parameter(1);
}

template <class T>
Variable<T> Conv1d<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  const autodiff::Shape want{out_, in_ / std::size_t(options_.groups), kernel_};
  check_parameters(name, weight(), want, has_bias_ ? &bias() : nullptr, out_);
  if (x.dimension() != 3 || x.shape()[1] != in_)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) + ", expected (batch, " +
                               std::to_string(in_) + ", L)");
  return named(name, [&] { return autodiff::conv1d(x, weight(), has_bias_ ? bias() : Variable<T>(), options_); });
}

template <class T>
std::string Conv1d<T>::describe() const {
  std::string s = "Conv1d(" + std::to_string(in_) + " -> " + std::to_string(out_) + ", kernel " + std::to_string(kernel_);
  const auto& o = options_;
  if (o.stride != 1) s += ", stride " + std::to_string(o.stride);
  if (o.padding != 0) s += ", padding " + std::to_string(o.padding);
  if (o.dilation != 1) s += ", dilation " + std::to_string(o.dilation);
  if (o.groups != 1) s += ", groups " + std::to_string(o.groups);
  if (!has_bias_) s += ", no bias";
  return s + ")";
}

// ---- pooling ------------------------------------------------------------------

template <class T>
MaxPool2d<T>::MaxPool2d(Size2 kernel, Size2 stride, Size2 padding) : kernel_(kernel), stride_(stride), padding_(padding) {
  check_pool_sizes(describe(), kernel, stride, padding);
}

template <class T>
Variable<T> MaxPool2d<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  if (x.dimension() != 4)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) +
                               ", expected (batch, channels, H, W)");
  return named(name, [&] { return autodiff::max_pool2d(x, kernel_, stride_, padding_); });
}

template <class T>
std::string MaxPool2d<T>::describe() const {
  std::string s = "MaxPool2d(kernel " + size2(kernel_);
  if (stride_.h != 0 && (stride_.h != kernel_.h || stride_.w != kernel_.w)) s += ", stride " + size2(stride_);
  if (padding_.h != 0 || padding_.w != 0) s += ", padding " + size2(padding_);
  return s + ")";
}

template <class T>
AvgPool2d<T>::AvgPool2d(Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad)
    : kernel_(kernel), stride_(stride), padding_(padding), count_include_pad_(count_include_pad) {
  check_pool_sizes(describe(), kernel, stride, padding);
}

template <class T>
Variable<T> AvgPool2d<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  if (x.dimension() != 4)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) +
                               ", expected (batch, channels, H, W)");
  return named(name, [&] { return autodiff::avg_pool2d(x, kernel_, stride_, padding_, count_include_pad_); });
}

template <class T>
std::string AvgPool2d<T>::describe() const {
  std::string s = "AvgPool2d(kernel " + size2(kernel_);
  if (stride_.h != 0 && (stride_.h != kernel_.h || stride_.w != kernel_.w)) s += ", stride " + size2(stride_);
  if (padding_.h != 0 || padding_.w != 0) s += ", padding " + size2(padding_);
  if (!count_include_pad_) s += ", count_include_pad false";
  return s + ")";
}

template <class T>
AdaptiveAvgPool2d<T>::AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {
  if (output_size.h < 1 || output_size.w < 1)
    throw std::invalid_argument(describe() + ": the output size must be positive");
}

template <class T>
Variable<T> AdaptiveAvgPool2d<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  if (x.dimension() != 4)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) +
                               ", expected (batch, channels, H, W)");
  return named(name, [&] { return autodiff::adaptive_avg_pool2d(x, output_size_); });
}

template <class T>
std::string AdaptiveAvgPool2d<T>::describe() const {
  return "AdaptiveAvgPool2d(" + size2(output_size_) + ")";
}

template <class T>
Upsample<T>::Upsample(Size2 scale_factor) : scale_(scale_factor) {
  if (scale_factor.h < 1 || scale_factor.w < 1)
    throw std::invalid_argument(describe() + ": the scale factors must be positive");
}

template <class T>
Variable<T> Upsample<T>::forward(const Variable<T>& x) {
  const std::string name = describe();
  detail::require_defined(name, "the input", x);
  if (x.dimension() != 4)
    throw autodiff::ShapeError(name + " got input of shape " + autodiff::to_string(x.shape()) +
                               ", expected (batch, channels, H, W)");
  // each row repeated, then each column: the gradient sums each block back (repeat_interleave's VJP)
  return named(name, [&] {
    return autodiff::repeat_interleave(autodiff::repeat_interleave(x, long(scale_.h), 2), long(scale_.w), 3);
  });
}

template <class T>
std::string Upsample<T>::describe() const {
  return "Upsample(scale " + size2(scale_) + ", nearest)";
}

#define WENGERT_INSTANTIATE(T)          \
  template class Conv2d<T>;             \
  template class Conv1d<T>;             \
  template class MaxPool2d<T>;          \
  template class AvgPool2d<T>;          \
  template class AdaptiveAvgPool2d<T>; \
  template class Upsample<T>;
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace nn
