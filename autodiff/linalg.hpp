// Matrix products through BLAS gemm, and transpose.
#pragma once

#include "variable.hpp"

namespace autodiff {

struct MatmulOptions {
  bool transpose_a = false;  // use a^T: passed to gemm as a flag, never copied
  bool transpose_b = false;
};

// a @ b of 2-D arrays (optionally of their transposes).
template <class T> Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options = {});
// x @ w + b, the lecture's dense layer z = xW + b, with the bias row (shape
// (n,) or (1, n)) added without a broadcasting pass; db = column sums of g.
template <class T> Variable<T> affine(const Variable<T>& x, const Variable<T>& w, const Variable<T>& b);
// The axes reversed (for a matrix, rows and columns swapped).
template <class T> Variable<T> transpose(const Variable<T>& x);

// The number of threads BLAS uses for matrix products (OpenBLAS). This is the
// one place to set wengert's threads; the environment variable
// OPENBLAS_NUM_THREADS sets the default.
void set_num_threads(int threads);
int num_threads();

}  // namespace autodiff
