// Matrix products: value, then backward closure. Transposes go to gemm as
// flags and gradients are written by gemm straight into the gradient buffers.
#include "linalg.hpp"

#include <cblas.h>

#include <algorithm>
#include <limits>
#include <numeric>

#include "detail/kernels.hpp"
#include "elementwise.hpp"
#include "op.hpp"
#include "reduction.hpp"
#include "shape.hpp"

namespace autodiff {

namespace detail {

namespace {
void blas_gemm(bool ta, bool tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float beta,
               float* c, int ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.f, a, lda,
              b, ldb, beta, c, ldc);
}
void blas_gemm(bool ta, bool tb, int m, int n, int k, const double* a, int lda, const double* b, int ldb, double beta,
               double* c, int ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0, a, lda,
              b, ldb, beta, c, ldc);
}
}  // namespace

template <class T>
void gemm_raw(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda, const T* b,
              std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == T(0))
      for (std::size_t i = 0; i < m; ++i) std::fill_n(c + i * ldc, n, T(0));
    return;
  }
  blas_gemm(ta, tb, int(m), int(n), int(k), a, int(lda), b, int(ldb), beta, c, int(ldc));
}
template void gemm_raw(bool, bool, std::size_t, std::size_t, std::size_t, const float*, std::size_t, const float*,
                       std::size_t, float, float*, std::size_t);
template void gemm_raw(bool, bool, std::size_t, std::size_t, std::size_t, const double*, std::size_t, const double*,
                       std::size_t, double, double*, std::size_t);

}  // namespace detail

namespace {

using detail::gemm_raw;

// sum_i a_i b_i by BLAS (in pieces of at most INT_MAX, cblas's length type).
template <class T>
T dot_raw(const T* a, const T* b, std::size_t n) {
  constexpr std::size_t piece = std::size_t(std::numeric_limits<int>::max());
  T s = T(0);
  for (std::size_t at = 0; at < n; at += piece) {
    const int len = int(std::min(piece, n - at));
    if constexpr (std::is_same_v<T, float>)
      s += cblas_sdot(len, a + at, 1, b + at, 1);
    else
      s += cblas_ddot(len, a + at, 1, b + at, 1);
  }
  return s;
}

}  // namespace

namespace detail {

template <class T>
Array<T> permuted(const Array<T>& x, const std::vector<std::size_t>& axes) {
  const Shape& shape = x.shape();
  const std::size_t rank = shape.size();
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) out[i] = shape[axes[i]];
  Array<T> y = Array<T>::from_shape(out);
  if (y.size() == 0) return y;
  const std::vector<std::size_t> stride = strides_of(shape);
  // The output's axes as (length, stride in x), without axes of length 1, and with
  // neighbours merged that stay neighbours in x: often one or two axes are left.
  std::vector<std::size_t> len, step;
  for (std::size_t i = 0; i < rank; ++i) {
    const std::size_t n = out[i], s = stride[axes[i]];
    if (n == 1) continue;
    if (!len.empty() && step.back() == n * s) {
      len.back() *= n;
      step.back() = s;
    } else {
      len.push_back(n);
      step.push_back(s);
    }
  }
  const T* in = x.data();
  T* to = y.data();
  if (len.empty() || (len.size() == 1 && step[0] == 1)) {  // the identity
    std::copy_n(in, y.size(), to);
    return y;
  }
  // The last two output axes are done by an inner kernel: rows copied when the last
  // axis is contiguous in x, else a tiled 2-D transpose; an odometer runs the rest.
  const std::size_t d = len.size();
  const bool rows = step[d - 1] == 1;
  const std::size_t n1 = len[d - 1], s1 = step[d - 1];
  const std::size_t n0 = d >= 2 ? len[d - 2] : 1, s0 = d >= 2 ? step[d - 2] : 0;
  const std::size_t outer_axes = d >= 2 ? d - 2 : 0;
  const Shape outer(len.begin(), len.begin() + std::ptrdiff_t(outer_axes));
  const std::vector<std::size_t> outer_steps(step.begin(), step.begin() + std::ptrdiff_t(outer_axes));
  constexpr std::size_t tile = 16;
  for_each_offset(outer, [&](std::size_t, std::size_t from) {
    const T* src = in + from;
    if (rows) {
      for (std::size_t i = 0; i < n0; ++i) std::copy_n(src + i * s0, n1, to + i * n1);
    } else {
      for (std::size_t i0 = 0; i0 < n0; i0 += tile)
        for (std::size_t j0 = 0; j0 < n1; j0 += tile) {
          const std::size_t i1 = std::min(n0, i0 + tile), j1 = std::min(n1, j0 + tile);
          for (std::size_t i = i0; i < i1; ++i)
            for (std::size_t j = j0; j < j1; ++j) to[i * n1 + j] = src[i * s0 + j * s1];
        }
    }
    to += n0 * n1;
  }, outer_steps);
  return y;
}

template <class T>
void gemm_batches(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda,
                  const std::vector<std::size_t>& a_offsets, const T* b, std::size_t ldb,
                  const std::vector<std::size_t>& b_offsets, T* c) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // empty products: zeros
    std::fill_n(c, a_offsets.size() * m * n, T(0));
    return;
  }
  for (std::size_t i = 0; i < a_offsets.size(); ++i)
    gemm_raw(ta, tb, m, n, k, a + a_offsets[i], lda, b + b_offsets[i], ldb, T(0), c + i * m * n, n);
}

}  // namespace detail

namespace {

// c = op(a) op(b) + beta c for row-major matrices; c must already have its shape.
template <class T>
void gemm(const Array<T>& a, bool ta, const Array<T>& b, bool tb, Array<T>& c, T beta) {
  const std::size_t m = ta ? a.shape()[1] : a.shape()[0], k = ta ? a.shape()[0] : a.shape()[1];
  const std::size_t n = tb ? b.shape()[0] : b.shape()[1];
  gemm_raw<T>(ta, tb, m, n, k, a.data(), a.shape()[1], b.data(), b.shape()[1], beta, c.data(), n);
}

std::string transposed(const Shape& shape, bool t) { return to_string(shape) + (t ? "^T" : ""); }

using detail::product;

// The VJP of op(a) op(b) (both the 2-D and the batched product): d op(a) = g op(b)^T and
// d op(b) = op(a)^T g, each transposed back when the input was; every transpose is a
// flag of gemm, never a copy. Broadcast batch axes are summed back by add_grad.
template <class T>
void matmul_vjp(Backward<T>& d, bool ta, bool tb) {
  const Variable<T> a = d.input(0), b = d.input(1);
  if (d.needs_grad(0))
    d.add_grad(0, !ta ? matmul(d.g, b, {.transpose_a = false, .transpose_b = !tb})    // g op(b)^T
                      : matmul(b, d.g, {.transpose_a = tb, .transpose_b = true}));    // op(b) g^T
  if (d.needs_grad(1))
    d.add_grad(1, !tb ? matmul(a, d.g, {.transpose_a = !ta, .transpose_b = false})    // op(a)^T g
                      : matmul(d.g, a, {.transpose_a = true, .transpose_b = ta}));    // g^T op(a)
}

// The batched VJP when b is one matrix and a a stack of them (a linear layer over
// (batch, ..., features)): db is one gemm over the rows of all of a's matrices at
// once, not a stack of products summed afterwards.
template <class T>
void matmul_vjp_shared_b(Backward<T>& d, bool tb) {
  const Variable<T> a = d.input(0), b = d.input(1);
  if (d.needs_grad(0)) d.add_grad(0, matmul(d.g, b, {.transpose_a = false, .transpose_b = !tb}));
  if (d.needs_grad(1)) {
    const std::size_t k = a.shape().back(), n = d.g.shape().back(), rows = product(a.shape(), 0, a.dimension() - 1);
    const Variable<T> a_rows = reshape(a, {rows, k}), g_rows = reshape(d.g, {rows, n});
    d.add_grad(1, !tb ? matmul(a_rows, g_rows, {.transpose_a = true}) : matmul(g_rows, a_rows, {.transpose_a = true}));
  }
}

// Where each batch element of an operand starts: its batch axes broadcast against
// the batch shape of the result (an axis of length 1, or a missing one, stays put).
std::vector<std::size_t> batch_offsets(const Shape& operand, const Shape& batch, std::size_t matrix_size) {
  const std::size_t rank = batch.size(), own = operand.size() - 2, lead = rank - own;
  std::vector<std::size_t> strides(rank, 0);
  std::size_t stride = matrix_size;
  for (std::size_t i = own; i-- > 0;) {
    if (operand[i] != 1) strides[lead + i] = stride;
    stride *= operand[i];
  }
  std::vector<std::size_t> offsets(product(batch));
  detail::for_each_offset(batch, [&](std::size_t e, std::size_t offset) { offsets[e] = offset; }, strides);
  return offsets;
}

// matmul of anything but two matrices: checks every shape, then 1-D operands as a
// reshaped row or column around a product of rank >= 2, and stacks with one gemm per
// matrix of the result (or a single gemm when b is one matrix and a is not transposed).
template <class T>
Variable<T> matmul_nd(const Variable<T>& a, const Variable<T>& b, bool ta, bool tb) {
  static const OpInfo op{"matmul", "da = g b^T, db = a^T g (summed over broadcast batch axes)"};
  const Shape &sa = a.shape(), &sb = b.shape();
  const auto shapes = [&] { return to_string(sa) + " and " + to_string(sb); };
  if (sa.empty() || sb.empty())
    throw ShapeError("matmul: needs operands of at least 1 dimension, got shapes " + shapes());
  if ((sa.size() == 1 && ta) || (sb.size() == 1 && tb))
    throw ShapeError(std::string("matmul: ") + (sa.size() == 1 && ta ? "transpose_a" : "transpose_b") +
                     " needs a matrix or a stack of them, got a vector (shapes " + shapes() + ")");
  const Shape ma = sa.size() == 1 ? Shape{1, sa[0]} : sa;  // a row
  const Shape mb = sb.size() == 1 ? Shape{sb[0], 1} : sb;  // a column
  const std::size_t ra = ma.size(), rb = mb.size();
  const std::size_t m = ma[ra - (ta ? 1 : 2)], k = ma[ra - (ta ? 2 : 1)];
  const std::size_t k2 = mb[rb - (tb ? 1 : 2)], n = mb[rb - (tb ? 2 : 1)];
  if (k != k2)
    throw ShapeError("matmul: shapes " + transposed(sa, ta) + " and " + transposed(sb, tb) +
                     " do not fit (inner dimensions " + std::to_string(k) + " and " + std::to_string(k2) +
                     " of their matrices)");
  const Shape batch_a(ma.begin(), ma.end() - 2), batch_b(mb.begin(), mb.end() - 2);
  Shape batch(std::max(batch_a.size(), batch_b.size()));
  for (std::size_t i = 0; i < batch.size(); ++i) {  // NumPy broadcasting, aligned at the end
    const std::size_t from_end = batch.size() - i;
    const std::size_t x = from_end <= batch_a.size() ? batch_a[batch_a.size() - from_end] : 1;
    const std::size_t y = from_end <= batch_b.size() ? batch_b[batch_b.size() - from_end] : 1;
    if (x != y && x != 1 && y != 1)
      throw ShapeError("matmul: the batch axes " + to_string(batch_a) + " and " + to_string(batch_b) +
                       " of shapes " + shapes() + " do not broadcast");
    batch[i] = x == 1 ? y : x;
  }
  if (sa.size() == 1 || sb.size() == 1) {
    // Everything is checked: these reshapes and the product cannot throw.
    Shape out = batch;
    if (sa.size() != 1) out.push_back(m);
    if (sb.size() != 1) out.push_back(n);
    const Variable<T> row = sa.size() == 1 ? reshape(a, ma) : a, column = sb.size() == 1 ? reshape(b, mb) : b;
    return reshape(matmul(row, column, {.transpose_a = ta, .transpose_b = tb}), out);
  }
  Shape out = batch;
  out.push_back(m);
  out.push_back(n);
  Array<T> c = Array<T>::from_shape(out);
  const bool shared_b = rb == 2 && !ta;  // a's matrices stacked are one (batch * m, k) matrix
  if (shared_b) {
    detail::gemm_batches(false, tb, product(out, 0, out.size() - 1), n, k, a.value().data(), ma.back(), {0},
                         b.value().data(), mb.back(), {0}, c.data());
  } else {
    detail::gemm_batches(ta, tb, m, n, k, a.value().data(), ma.back(), batch_offsets(ma, batch, m * k),
                         b.value().data(), mb.back(), batch_offsets(mb, batch, k * n), c.data());
  }
  if (shared_b)
    return record<T>(op, std::move(c), {a, b}, [tb](Backward<T>& d) { matmul_vjp_shared_b(d, tb); });
  return record<T>(op, std::move(c), {a, b}, [ta, tb](Backward<T>& d) { matmul_vjp(d, ta, tb); });
}

// Axes in [-rank, rank), each once, as a permutation of [0, rank); or a ShapeError naming op.
std::vector<std::size_t> permutation(const OpInfo& op, const std::vector<long>& axes, const Shape& shape) {
  const auto fail = [&](const std::string& what) {
    throw ShapeError(std::string(op.name) + ": axes (" + detail::joined(axes) + (axes.size() == 1 ? ",)" : ")") + " " + what +
                     " (shape " + to_string(shape) + ")");
  };
  if (axes.size() != shape.size())
    fail("are " + std::to_string(axes.size()) + " axes for rank " + std::to_string(shape.size()));
  std::vector<std::size_t> p(axes.size());
  std::vector<bool> seen(axes.size(), false);
  const long rank = long(shape.size());
  for (std::size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < -rank || axes[i] >= rank)
      fail("are out of range: axis " + std::to_string(axes[i]) + " for rank " + std::to_string(rank));
    p[i] = std::size_t(axes[i] < 0 ? axes[i] + rank : axes[i]);
    if (seen[p[i]]) fail("are not a permutation: axis " + std::to_string(p[i]) + " appears twice");
    seen[p[i]] = true;
  }
  return p;
}

std::vector<long> inverse(const std::vector<std::size_t>& p) {
  std::vector<long> q(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) q[p[i]] = long(i);
  return q;
}

}  // namespace

template <class T>
Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options) {
  static const OpInfo op{"matmul", "da = g b^T, db = a^T g"};
  const bool ta = options.transpose_a, tb = options.transpose_b;
  if (a.dimension() != 2 || b.dimension() != 2) return matmul_nd(a, b, ta, tb);  // vectors, stacks
  const std::size_t m = a.shape()[ta ? 1 : 0], k = a.shape()[ta ? 0 : 1];
  const std::size_t k2 = b.shape()[tb ? 1 : 0], n = b.shape()[tb ? 0 : 1];
  if (k != k2)
    throw ShapeError("matmul: shapes " + transposed(a.shape(), ta) + " and " + transposed(b.shape(), tb) +
                     " do not fit (inner dimensions " + std::to_string(k) + " and " + std::to_string(k2) + ")");
  Array<T> c = Array<T>::from_shape({m, n});
  gemm(a.value(), ta, b.value(), tb, c, T(0));
  return record<T>(op, std::move(c), {a, b}, [ta, tb](Backward<T>& d) { matmul_vjp(d, ta, tb); });
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
  std::vector<std::size_t> reversed(x.dimension());
  std::iota(reversed.rbegin(), reversed.rend(), std::size_t(0));
  return record<T>(op, detail::permuted(x.value(), reversed), {x},
                   [](Backward<T>& d) { d.add_grad(0, transpose(d.g)); });
}

template <class T>
Variable<T> transpose(const Variable<T>& x, long axis0, long axis1) {
  static const OpInfo op{"transpose", "dx = transpose(g, axis0, axis1)"};
  const long rank = long(x.dimension());
  for (long axis : {axis0, axis1})
    if (axis < -rank || axis >= rank)
      throw ShapeError("transpose: axis " + std::to_string(axis) + " is out of range for shape " +
                       to_string(x.shape()) + " (rank " + std::to_string(rank) + ")");
  const std::size_t i = normalize_axis(op, axis0, x.dimension()), j = normalize_axis(op, axis1, x.dimension());
  std::vector<std::size_t> p(x.dimension());
  std::iota(p.begin(), p.end(), std::size_t(0));
  std::swap(p[i], p[j]);
  return record<T>(op, detail::permuted(x.value(), p), {x},
                   [i, j](Backward<T>& d) { d.add_grad(0, transpose(d.g, long(i), long(j))); });
}

template <class T>
Variable<T> permute(const Variable<T>& x, const std::vector<long>& axes) {
  static const OpInfo op{"permute", "dx = permute(g, inverse of axes)"};
  const std::vector<std::size_t> p = permutation(op, axes, x.shape());
  return record<T>(op, detail::permuted(x.value(), p), {x},
                   [back = inverse(p)](Backward<T>& d) { d.add_grad(0, permute(d.g, back)); });
}

template <class T>
Variable<T> dot(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"dot", "da = g b, db = g a"};
  if (a.dimension() != 1 || b.dimension() != 1 || a.size() != b.size())
    throw ShapeError("dot: needs two vectors of one length, got shapes " + to_string(a.shape()) + " and " +
                     to_string(b.shape()));
  return record<T>(op, Array<T>(dot_raw(a.value().data(), b.value().data(), a.size())), {a, b}, [](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, d.g * d.input(1));  // g is 0-D: it scales the vector
    if (d.needs_grad(1)) d.add_grad(1, d.g * d.input(0));
  });
}

template <class T>
Variable<T> outer(const Variable<T>& a, const Variable<T>& b) {
  static const OpInfo op{"outer", "da = g b, db = g^T a"};
  if (a.dimension() != 1 || b.dimension() != 1)
    throw ShapeError("outer: needs two vectors, got shapes " + to_string(a.shape()) + " and " + to_string(b.shape()));
  const std::size_t m = a.size(), n = b.size();
  Array<T> y = Array<T>::from_shape({m, n});
  const T *pa = a.value().data(), *pb = b.value().data();
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) y.data()[i * n + j] = pa[i] * pb[j];
  return record<T>(op, std::move(y), {a, b}, [](Backward<T>& d) {
    if (d.needs_grad(0)) d.add_grad(0, matmul(d.g, d.input(1)));  // matrix @ vector
    if (d.needs_grad(1)) d.add_grad(1, matmul(d.input(0), d.g));  // vector @ matrix
  });
}

template <class T>
Variable<T> mv(const Variable<T>& m, const Variable<T>& v) {
  if (m.dimension() != 2 || v.dimension() != 1 || m.shape()[1] != v.size())
    throw ShapeError("mv: needs a matrix (m, n) and a vector (n,), got shapes " + to_string(m.shape()) + " and " +
                     to_string(v.shape()));
  return matmul(m, v);
}

void set_num_threads(int threads) {
  if (threads < 1) throw std::invalid_argument("set_num_threads: need at least 1 thread, got " + std::to_string(threads));
  openblas_set_num_threads(threads);
}
int num_threads() { return openblas_get_num_threads(); }

#define WENGERT_INSTANTIATE(T)                                                            \
  template Variable<T> matmul(const Variable<T>&, const Variable<T>&, MatmulOptions);     \
  template Variable<T> affine(const Variable<T>&, const Variable<T>&, const Variable<T>&); \
  template Variable<T> transpose(const Variable<T>&);                                     \
  template Variable<T> transpose(const Variable<T>&, long, long);                         \
  template Variable<T> permute(const Variable<T>&, const std::vector<long>&);             \
  template Variable<T> dot(const Variable<T>&, const Variable<T>&);                       \
  template Variable<T> outer(const Variable<T>&, const Variable<T>&);                     \
  template Variable<T> mv(const Variable<T>&, const Variable<T>&);                        \
  template Array<T> detail::permuted(const Array<T>&, const std::vector<std::size_t>&);   \
  template void detail::gemm_batches(bool, bool, std::size_t, std::size_t, std::size_t, const T*, std::size_t, \
                                     const std::vector<std::size_t>&, const T*, std::size_t,                \
                                     const std::vector<std::size_t>&, T*);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
