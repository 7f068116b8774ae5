// Matrix products through BLAS gemm, axis permutations, and einsum.
#pragma once

#include <string>
#include <type_traits>
#include <vector>

#include "variable.hpp"

namespace autodiff {

struct MatmulOptions {
  bool transpose_a = false;  // use a^T (of the last two axes): passed to gemm as a flag, never copied
  bool transpose_b = false;
};

// a @ b as NumPy's matmul. Two matrices: the plain product (the training path).
// Rank >= 3: stacks of matrices in the last two axes, the batch axes broadcast
// ((2, 1, 3, 4) @ (5, 4, 6) is (2, 5, 3, 6)). A 1-D operand is a row (on the
// left) or a column (on the right) whose axis is dropped from the result:
// vector @ vector is a 0-D scalar. The transpose flags swap the last two axes
// of a stack or matrix; with a 1-D operand they are a ShapeError (NumPy has no
// flags; a transposed vector would be ambiguous). 0-D operands are a ShapeError.
template <class T> Variable<T> matmul(const Variable<T>& a, const Variable<T>& b, MatmulOptions options = {});
// x @ w + b, the lecture's dense layer z = xW + b, with the bias row (shape
// (n,) or (1, n)) added without a broadcasting pass; db = column sums of g.
template <class T> Variable<T> affine(const Variable<T>& x, const Variable<T>& w, const Variable<T>& b);
// The axes reversed (for a matrix, rows and columns swapped).
template <class T> Variable<T> transpose(const Variable<T>& x);
// Axes axis0 and axis1 swapped (torch.transpose); negative axes count from the end.
template <class T> Variable<T> transpose(const Variable<T>& x, long axis0, long axis1);
// Axis i of the result is axis axes[i] of x (numpy.transpose(x, axes),
// torch.permute); negative axes count from the end, each axis exactly once.
template <class T> Variable<T> permute(const Variable<T>& x, const std::vector<long>& axes);

// sum_i a_i b_i of two vectors of one length, a 0-D result (numpy.dot of 1-D arrays).
template <class T> Variable<T> dot(const Variable<T>& a, const Variable<T>& b);
// The matrix a_i b_j of two vectors (numpy.outer, but only for 1-D operands).
template <class T> Variable<T> outer(const Variable<T>& a, const Variable<T>& b);
// Matrix times vector, (m, n) @ (n,) -> (m,) (torch.mv): matmul with the shapes checked as such.
template <class T> Variable<T> mv(const Variable<T>& m, const Variable<T>& v);

// Einstein summation as numpy.einsum / torch.einsum: "ij,jk->ik" is a matrix
// product, "bij,bjk->bik" a batched one, "ij->ji" a transpose, "ij->" the sum,
// "i,j->ij" an outer product, "ii->i" a diagonal, "ii" the trace. Labels are
// ASCII letters; without "->" the output is the labels that appear once, in
// ASCII order (upper case first), as NumPy. A label repeated within an operand
// takes its diagonal; a label summed away is summed first; operands are
// contracted left to right, each pair by one batched gemm. Differences from
// NumPy/PyTorch: no ellipsis, and a label's lengths must be equal everywhere
// (no broadcasting of length 1). Bad subscripts are std::invalid_argument,
// shapes that do not fit them a ShapeError.
template <class T> Variable<T> einsum(const std::string& subscripts, const std::vector<Variable<T>>& operands);
// einsum("ij,jk->ik", a, b): the operands as arguments (constrained so that
// einsum<double>("ij->ji", {a}) still means the vector overload).
template <class V, class... More>
  requires std::is_same_v<V, Variable<typename V::value_type>>
V einsum(const std::string& subscripts, const V& first, const More&... more) {
  return einsum(subscripts, std::vector<V>{first, more...});
}

// The number of threads for matrix products (OpenBLAS) and for wengert's own
// kernels that split a batch (detail/parallel.hpp: the direct convolution). This
// is the one place to set wengert's threads; the environment variable
// OPENBLAS_NUM_THREADS sets the default.
void set_num_threads(int threads);
int num_threads();

namespace detail {
// Raw kernels shared by linalg.cpp and einsum.cpp (plain arrays, nothing recorded).
// y with axis i of y = axis axes[i] of x (axes a permutation of x's axes), copied.
template <class T> Array<T> permuted(const Array<T>& x, const std::vector<std::size_t>& axes);
// c[i] = op(a[i]) op(b[i]) for i < batch: row-major matrices, a's i-th at
// a + a_offsets[i] with row length lda, b's likewise, c's contiguous (m, n) blocks.
template <class T>
void gemm_batches(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda,
                  const std::vector<std::size_t>& a_offsets, const T* b, std::size_t ldb,
                  const std::vector<std::size_t>& b_offsets, T* c);
// c = op(a) op(b) + beta c on raw row-major matrices with row lengths lda, ldb and ldc
// (cblas_sgemm / cblas_dgemm): for products on strided parts of buffers, such as one
// time step's rows of a (batch, time, features) array. An empty product (k = 0, which
// cblas refuses as a leading dimension) leaves c = beta c, for beta 0 or 1.
template <class T>
void gemm_raw(bool ta, bool tb, std::size_t m, std::size_t n, std::size_t k, const T* a, std::size_t lda, const T* b,
              std::size_t ldb, T beta, T* c, std::size_t ldc);
}  // namespace detail

}  // namespace autodiff
