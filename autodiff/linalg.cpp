// Matrix products: value, then backward closure. Transposes go to gemm as
// flags and gradients are written by gemm straight into the gradient buffers.
#include "linalg.hpp"

#include <cblas.h>

#include <xtensor/xmanipulation.hpp>

#include "op.hpp"
#include "reduction.hpp"

namespace autodiff {

namespace {

void gemm_raw(bool ta, bool tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
              float beta, float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}
void gemm_raw(bool ta, bool tb, int m, int n, int k, double alpha, const double* a, int lda, const double* b, int ldb,
              double beta, double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda,
              b, ldb, beta, c, ldc);
}

// c = op(a) op(b) + beta c for row-major matrices; c must already have its shape.
template <class T>
void gemm(const Array<T>& a, bool ta, const Array<T>& b, bool tb, Array<T>& c, T beta) {
  const int m = int(ta ? a.shape()[1] : a.shape()[0]);
  const int k = int(ta ? a.shape()[0] : a.shape()[1]);
  const int n = int(tb ? b.shape()[0] : b.shape()[1]);
  if (m == 0 || n == 0) return;
  if (k == 0) {  // an empty product: c = beta c, without reading a fresh c
    if (beta == T(0)) c.fill(T(0));
    return;
  }
  gemm_raw(ta, tb, m, n, k, T(1), a.data(), int(a.shape()[1]), b.data(), int(b.shape()[1]), beta, c.data(), n);
}

std::string transposed(const Shape& shape, bool t) { return to_string(shape) + (t ? "^T" : ""); }

}  // namespace

template <class T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options) {
  static const OpInfo op{"matmul", "da = g b^T, db = a^T g"};
  const bool ta = options.transpose_a, tb = options.transpose_b;
  if (a.dimension() != 2 || b.dimension() != 2)
    throw ShapeError("matmul: needs two matrices, got shapes " + to_string(a.shape()) + " and " + to_string(b.shape()));
  const std::size_t m = a.shape()[ta ? 1 : 0], k = a.shape()[ta ? 0 : 1];
  const std::size_t k2 = b.shape()[tb ? 1 : 0], n = b.shape()[tb ? 0 : 1];
  if (k != k2)
    throw ShapeError("matmul: shapes " + transposed(a.shape(), ta) + " and " + transposed(b.shape(), tb) +
                     " do not fit (inner dimensions " + std::to_string(k) + " and " + std::to_string(k2) + ")");
  Array<T> c = Array<T>::from_shape({m, n});
  gemm(a.value(), ta, b.value(), tb, c, T(0));
  return record<T>(op, std::move(c), {a, b}, [ta, tb](Backward<T>& d) {
    const Variable<T> a = d.input(0), b = d.input(1);
    // d op(a) = g op(b)^T and d op(b) = op(a)^T g, each transposed back when the input was;
    // every transpose is a flag of gemm, never a copy.
    if (d.needs_grad(0))
      d.add_grad(0, !ta ? matmul(d.g, b, {.transpose_a = false, .transpose_b = !tb})    // g op(b)^T
                        : matmul(b, d.g, {.transpose_a = tb, .transpose_b = true}));    // op(b) g^T
    if (d.needs_grad(1))
      d.add_grad(1, !tb ? matmul(a, d.g, {.transpose_a = !ta, .transpose_b = false})    // op(a)^T g
                        : matmul(d.g, a, {.transpose_a = true, .transpose_b = ta}));    // g^T op(a)
  });
}

template <class T>
Variable<T> affine(const Variable<T>& x, const Variable<T>& w, const Variable<T>& b) {
  static const OpInfo op{"affine", "dx = g w^T, dw = x^T g, db = sum of g's rows"};
  if (x.dimension() != 2 || w.dimension() != 2 || x.shape()[1] != w.shape()[0])
    throw ShapeError("affine: x of shape " + to_string(x.shape()) + " and w of shape " + to_string(w.shape()) +
                     " do not fit (need (n, k) and (k, m))");
  const std::size_t rows = x.shape()[0], cols = w.shape()[1];
  const bool bias_is_row = (b.dimension() == 1 && b.shape()[0] == cols) ||
                           (b.dimension() == 2 && b.shape()[0] == 1 && b.shape()[1] == cols);
  if (!bias_is_row)
    throw ShapeError("affine: bias of shape " + to_string(b.shape()) + " does not fit an output of shape " +
                     to_string(Shape{rows, cols}) + " (need (" + std::to_string(cols) + ",) or (1, " +
                     std::to_string(cols) + "))");
  Array<T> z = Array<T>::from_shape({rows, cols});
  for (std::size_t i = 0; i < rows; ++i) std::copy(b.value().begin(), b.value().end(), z.data() + i * cols);
  gemm(x.value(), false, w.value(), false, z, T(1));  // z = x w + (b in every row)
  return record<T>(op, std::move(z), {x, w, b}, [](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, matmul(d.g, d.input(1), {.transpose_b = true}));  // g w^T
    if (d.needs_grad(1)) d.add_grad(1, matmul(d.input(0), d.g, {.transpose_a = true}));  // x^T g
    if (d.needs_grad(2)) d.add_grad(2, sum(d.g, 0, d.input(2).dimension() == 2));         // over the batch
  });
}

template <class T>
Variable<T> transpose(const Variable<T>& x) {
  static const OpInfo op{"transpose", "dx = g^T"};
  return record<T>(op, Array<T>(xt::transpose(x.value())), {x},
                   [](Backward<T>& d) { d.add_grad(0, transpose(d.g)); });
}

void set_num_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  openblas_set_num_threads(threads);
}
int num_threads() { return openblas_get_num_threads(); }

#define WENGERT_INSTANTIATE(T)                                                            \
  template Variable<T> matmul(const Variable<T>&, const Variable<T>&, MatmulOptions);     \
  template Variable<T> affine(const Variable<T>&, const Variable<T>&, const Variable<T>&); \
  template Variable<T> transpose(const Variable<T>&);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
