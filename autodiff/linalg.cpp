// Matrix products: value, then backward closure. Transposes go to gemm as
// flags and gradients are written by gemm straight into the gradient buffers.
#include "linalg.hpp"

#include <cblas.h>

#include <xtensor/xmanipulation.hpp>

#include "op.hpp"

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
  return record<T>(op, std::move(c), {a, b}, [ta, tb](Node<T>& out) {
    const Array<T>& g = out.grad;
    const Array<T>& av = out.input(0).value;
    const Array<T>& bv = out.input(1).value;
    // d op(a) = g op(b)^T and d op(b) = op(a)^T g, each transposed back when the input was.
    accumulate_grad_with(out.input(0), [&](Array<T>& da, T beta) {
      if (!ta) gemm(g, false, bv, !tb, da, beta);  // da = g op(b)^T
      else gemm(bv, tb, g, true, da, beta);        // da = op(b) g^T
    });
    accumulate_grad_with(out.input(1), [&](Array<T>& db, T beta) {
      if (!tb) gemm(av, !ta, g, false, db, beta);  // db = op(a)^T g
      else gemm(g, true, av, ta, db, beta);        // db = g^T op(a)
    });
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
  return record<T>(op, std::move(z), {x, w, b}, [](Node<T>& out) {
    const Array<T>& g = out.grad;
    accumulate_grad_with(out.input(0), [&](Array<T>& dx, T beta) { gemm(g, false, out.input(1).value, true, dx, beta); });
    accumulate_grad_with(out.input(1), [&](Array<T>& dw, T beta) { gemm(out.input(0).value, true, g, false, dw, beta); });
    accumulate_grad_with(out.input(2), [&](Array<T>& db, T beta) {
      const std::size_t rows = g.shape()[0], cols = g.shape()[1];
      zero_if_fresh(db, beta);
      T* sums = db.data();
      for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j) sums[j] += g.data()[i * cols + j];
    });
  });
}

template <class T>
Variable<T> transpose(const Variable<T>& x) {
  static const OpInfo op{"transpose", "dx = g^T"};
  return record<T>(op, Array<T>(xt::transpose(x.value())), {x},
                   [](Node<T>& out) { accumulate_grad(out.input(0), xt::transpose(out.grad)); });
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
