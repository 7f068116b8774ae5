// Convolution and pooling through im2col and BLAS gemm, each with its differentiable VJP.
// Layout NCHW and weights (out_channels, in_channels / groups, kH, kW) as PyTorch, so
// that weights can be exchanged. Output size per axis (as PyTorch, ceil_mode false):
//   out = floor((in + 2 padding - dilation (kernel - 1) - 1) / stride) + 1.
// conv2d, conv2d_backward_input and conv2d_backward_weight are the three partial
// derivatives of one trilinear form <y, conv2d(x, w)>, so the VJP of each is made of
// the other two (and second and higher derivatives are exact).
// Differences from PyTorch: zero padding only (no padding='same' or padding modes);
// pooling without dilation, ceil_mode, return_indices or divisor_override.
#pragma once

#include "variable.hpp"

namespace autodiff {

// A size per spatial axis (height, width), or one number for both.
struct Size2 {
  long h = 0, w = 0;
  Size2(long n) : h(n), w(n) {}  // NOLINT: implicit, so that {.stride = 2} reads as in PyTorch
  Size2(long h, long w) : h(h), w(w) {}
};

struct Conv2dOptions {
  Size2 stride = 1;    // >= 1
  Size2 padding = 0;   // zeros on both sides, >= 0
  Size2 dilation = 1;  // >= 1
  long groups = 1;     // divides both channel counts
};

struct Conv1dOptions {
  long stride = 1;
  long padding = 0;
  long dilation = 1;
  long groups = 1;
};

// y = x * weight (cross-correlation, as PyTorch) + bias: x (N, C, H, W), weight
// (O, C / groups, kH, kW), bias (O,) or an empty Variable; y (N, O, Ho, Wo).
template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias = {},
                   Conv2dOptions options = {});

// conv2d's input gradient: the transposed convolution of g (N, O, Ho, Wo) with
// weight into an input of shape input_shape (N, C, H, W) (col2im of W^T g).
template <class T>
Variable<T> conv2d_backward_input(const Variable<T>& g, const Variable<T>& weight, const Shape& input_shape,
                                  Conv2dOptions options = {});

// conv2d's weight gradient: g (N, O, Ho, Wo) times im2col(x)^T, summed over the
// batch, of shape weight_shape (O, C / groups, kH, kW).
template <class T>
Variable<T> conv2d_backward_weight(const Variable<T>& g, const Variable<T>& x, const Shape& weight_shape,
                                   Conv2dOptions options = {});

// 1-D convolution: x (N, C, L), weight (O, C / groups, k), bias (O,) or empty; as
// conv2d with a height of 1.
template <class T>
Variable<T> conv1d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias = {},
                   Conv1dOptions options = {});

// Max over windows of x (N, C, H, W), padded with -inf (padding <= kernel / 2 as
// PyTorch). stride 0 means stride = kernel (PyTorch's default). Ties: the gradient
// goes to the first maximum in the window's row-major order (as PyTorch). No dilation.
template <class T>
Variable<T> max_pool2d(const Variable<T>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0);

// Mean over windows of x (N, C, H, W), zero-padded; count_include_pad = true divides
// by kH kW, false by the number of elements of x in the window (as PyTorch).
template <class T>
Variable<T> avg_pool2d(const Variable<T>& x, Size2 kernel, Size2 stride = 0, Size2 padding = 0,
                       bool count_include_pad = true);

// Mean over PyTorch's adaptive windows: output cell i of an axis of length n pooled
// to m covers [floor(i n / m), ceil((i + 1) n / m)). output_size 1 is global average pooling.
template <class T>
Variable<T> adaptive_avg_pool2d(const Variable<T>& x, Size2 output_size);

}  // namespace autodiff
