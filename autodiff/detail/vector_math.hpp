// Vectorised e^x, the sigmoid and tanh over contiguous buffers (not recorded on the tape).
//
// xsimd 8.1's float64 exp costs about 2.2 ns per value here, which made the
// sigmoid a tenth of a full-batch training step. These kernels use a shorter
// instruction sequence (1.4 ns; bench/ops_bench BM_Exp): accurate to 2 units in
// the last place, with exact overflow to inf, underflow through the subnormals
// to 0, and NaN kept. In float32 they are as fast as xsimd's.
#pragma once

#include <cstddef>

#include "../variable.hpp"

namespace autodiff::detail {

// y[i] = e^x[i] for i < n; y may be x.
template <class T>
void exp_of(const T* x, T* y, std::size_t n);
// y[i] = 1 / (1 + e^-x[i]) for i < n; y may be x.
template <class T>
void sigmoid_of(const T* x, T* y, std::size_t n);
// y[i] = tanh(x[i]) for i < n (xsimd's tanh, as xt::tanh); y may be x.
template <class T>
void tanh_of(const T* x, T* y, std::size_t n);

template <class T>
Array<T> exp_of(const Array<T>& x) {
  Array<T> y = Array<T>::from_shape(x.shape());
  exp_of(x.data(), y.data(), x.size());
  return y;
}

}  // namespace autodiff::detail
