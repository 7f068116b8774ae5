// Convolution by direct kernels (detail/conv_direct.hpp) for stride 1 without
// dilation, one group and at most 1024 taps. Otherwise as im2col + one gemm per
// group and batch element (weights as the left operand, so each product writes
// its (O / groups, Ho Wo) block of the output in place); its two gradients as
// gemms with transpose flags (W^T g, then col2im; g col^T accumulated over the
// batch with beta = 1, col kept from the forward pass when it is small). im2col
// and col2im are one traversal. Pooling as window loops over contiguous rows,
// with backward ops that are each other's adjoints.
#include "conv.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "detail/conv_direct.hpp"
#include "detail/parallel.hpp"
#include "linalg.hpp"
#include "op.hpp"
#include "reduction.hpp"
#include "shape.hpp"

namespace autodiff {

namespace {

using detail::gemm_raw;

std::string pair(Size2 s) { return "(" + std::to_string(s.h) + ", " + std::to_string(s.w) + ")"; }

// ---------------------------------------------------------------- convolution

struct Geom {
  std::size_t n, c, h, w;    // input
  std::size_t o, kh, kw;     // weight (o, c / groups, kh, kw)
  std::size_t sh, sw, ph, pw, dh, dw, groups;
  std::size_t ho, wo;        // output
  std::size_t cg() const { return c / groups; }
  std::size_t og() const { return o / groups; }
  std::size_t rows() const { return cg() * kh * kw; }  // of one group's im2col matrix
  std::size_t cols() const { return ho * wo; }
  // 1x1 kernel, stride 1, no padding: x's plane is its own im2col matrix
  bool trivial() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0; }
};

void check_options(const char* name, const Conv2dOptions& o) {
  const std::string f = name;
  if (o.stride.h < 1 || o.stride.w < 1)
    throw std::invalid_argument(f + ": stride " + pair(o.stride) + " must be positive");
  if (o.padding.h < 0 || o.padding.w < 0)
    throw std::invalid_argument(f + ": padding " + pair(o.padding) + " must not be negative");
  if (o.dilation.h < 1 || o.dilation.w < 1)
    throw std::invalid_argument(f + ": dilation " + pair(o.dilation) + " must be positive");
  if (o.groups < 1) throw std::invalid_argument(f + ": groups " + std::to_string(o.groups) + " must be positive");
}

// The geometry of conv2d(x, w) from the shapes, or the error naming the function.
Geom geometry(const char* name, const Shape& x, const Shape& w, const Conv2dOptions& o) {
  const std::string f = name;
  check_options(name, o);
  if (x.size() != 4)
    throw ShapeError(f + ": input of shape " + to_string(x) + " is not 4-D (batch, channels, height, width)");
  if (w.size() != 4)
    throw ShapeError(f + ": weight of shape " + to_string(w) +
                     " is not 4-D (out_channels, in_channels / groups, kernel height, kernel width)");
  Geom g{};
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.o = w[0], g.kh = w[2], g.kw = w[3];
  g.sh = std::size_t(o.stride.h), g.sw = std::size_t(o.stride.w);
  g.ph = std::size_t(o.padding.h), g.pw = std::size_t(o.padding.w);
  g.dh = std::size_t(o.dilation.h), g.dw = std::size_t(o.dilation.w);
  g.groups = std::size_t(o.groups);
  if (g.c % g.groups != 0 || g.o % g.groups != 0)
    throw ShapeError(f + ": channels not divisible by groups " + std::to_string(g.groups) + " (input " + to_string(x) +
                     ", weight " + to_string(w) + ")");
  if (w[1] * g.groups != g.c)
    throw ShapeError(f + ": input of shape " + to_string(x) + " has " + std::to_string(g.c) + " channels, weight " +
                     to_string(w) + " with groups " + std::to_string(g.groups) + " expects " +
                     std::to_string(w[1] * g.groups));
  if (g.kh == 0 || g.kw == 0 || g.o == 0)
    throw ShapeError(f + ": weight of shape " + to_string(w) + " has an empty kernel or no output channels");
  const std::size_t eh = g.dh * (g.kh - 1) + 1, ew = g.dw * (g.kw - 1) + 1;  // dilated kernel
  if (eh > g.h + 2 * g.ph || ew > g.w + 2 * g.pw)
    throw ShapeError(f + ": kernel (" + std::to_string(eh) + ", " + std::to_string(ew) +
                     ") (dilated) is larger than the padded input (" + std::to_string(g.h + 2 * g.ph) + ", " +
                     std::to_string(g.w + 2 * g.pw) + ") (input " + to_string(x) + ", weight " + to_string(w) + ")");
  g.ho = (g.h + 2 * g.ph - eh) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - ew) / g.sw + 1;
  return g;
}

void check_output(const char* name, const Geom& geo, const Shape& g, const Shape& x, const Shape& w) {
  const Shape want{geo.n, geo.o, geo.ho, geo.wo};
  if (!detail::same_shape(g, want))
    throw ShapeError(std::string(name) + ": gradient of shape " + to_string(g) + " does not fit input " + to_string(x) +
                     " and weight " + to_string(w) + " (the output has shape " + to_string(want) + ")");
}

// The valid output columns [lo, hi) of kernel column j: 0 <= ow sw - pw + j dw < w.
void valid_range(std::size_t out, std::size_t stride, std::size_t pad, std::size_t offset, std::size_t in,
                 std::size_t& lo, std::size_t& hi) {
  const long p = long(pad) - long(offset);  // ow stride >= p and ow stride < in + p
  lo = p <= 0 ? 0 : std::size_t((p + long(stride) - 1) / long(stride));
  const long top = long(in) + p;  // ow stride < top
  hi = top <= 0 ? 0 : std::min(out, std::size_t((top + long(stride) - 1) / long(stride)));
  lo = std::min(lo, hi);
}

// One (channel, kernel row, kernel column) plane of the columns against its
// pixels: `rows` rows of the plane, from column `first`, `len` long, row r's
// pixels at pixels + r row_step with stride sw. kToColumns copies the pixels into
// the plane (zeros in its columns outside [first, first + len)); otherwise it adds
// the plane into the pixels. Few variables, so that they stay in registers: the
// rows are short (ho wo is 100 in LeNet's second layer), and the loop overhead is
// what this costs.
template <bool kToColumns, class Image, class Column>
void walk_plane(Image pixels, Column plane, std::size_t rows, std::size_t wo, std::size_t first, std::size_t len,
                std::size_t row_step, std::size_t sw) {
  using T = std::remove_cv_t<std::remove_pointer_t<Column>>;
  const std::size_t tail = wo - first - len;
  for (std::size_t r = 0; r < rows; ++r) {
    const auto image_row = pixels + r * row_step;  // (indexed, so that no pointer steps past the image)
    const auto row = plane + r * wo;
    if constexpr (kToColumns) {
      for (std::size_t q = 0; q < first; ++q) row[q] = T(0);  // loops, not std::fill: no memset call per row
      if (sw == 1)
        for (std::size_t q = 0; q < len; ++q) row[first + q] = image_row[q];
      else
        for (std::size_t q = 0; q < len; ++q) row[first + q] = image_row[q * sw];
      for (std::size_t q = 0; q < tail; ++q) row[first + len + q] = T(0);
    } else if (sw == 1) {
      for (std::size_t q = 0; q < len; ++q) image_row[q] += row[first + q];
    } else {
      for (std::size_t q = 0; q < len; ++q) image_row[q * sw] += row[first + q];
    }
  }
}

// The one traversal of im2col and col2im: every (channel, kernel row i, kernel
// column j) plane of the columns against the pixels its windows cover. kToColumns:
// im2col, col (c kh kw, ho wo) = x's pixels, zeros where a window is in the padding;
// otherwise col2im, its adjoint: dx (c, h, w) += the columns at those pixels.
// Image is const T* for im2col and T* for col2im, Column the other way round.
template <bool kToColumns, class Image, class Column>
void walk_windows(const Geom& g, Image image, Column col) {
  using T = std::remove_cv_t<std::remove_pointer_t<Column>>;
  const std::size_t cols = g.cols(), wo = g.wo;
  for (std::size_t c = 0; c < g.c; ++c)
    for (std::size_t i = 0; i < g.kh; ++i) {
      std::size_t oh0, oh1;
      valid_range(g.ho, g.sh, g.ph, i * g.dh, g.h, oh0, oh1);
      for (std::size_t j = 0; j < g.kw; ++j) {
        const auto plane = col + ((c * g.kh + i) * g.kw + j) * cols;
        std::size_t ow0, ow1;
        valid_range(g.wo, g.sw, g.pw, j * g.dw, g.w, ow0, ow1);
        if constexpr (kToColumns) {  // the rows above and below the image are padding
          std::fill(plane, plane + oh0 * wo, T(0));
          std::fill(plane + (ow0 < ow1 ? oh1 : oh0) * wo, plane + cols, T(0));
        }
        if (ow0 == ow1 || oh0 == oh1) continue;  // every window of this (i, j) is in the padding
        // row oh0's pixels: the image's columns ow sw + j dw - pw for ow in [ow0, ow1), all inside its row
        const auto pixels = image + (c * g.h + oh0 * g.sh + i * g.dh - g.ph) * g.w + (ow0 * g.sw + j * g.dw - g.pw);
        walk_plane<kToColumns>(pixels, plane + oh0 * wo, oh1 - oh0, wo, ow0, ow1 - ow0, g.sh * g.w, g.sw);
      }
    }
}

// col (c h_k w_k, ho wo) of one batch element's x (c, h, w): zeros where the window is in the padding.
template <class T>
void im2col(const Geom& g, const T* x, T* col) {
  walk_windows<true>(g, x, col);
}

// dx (c, h, w) += col2im(col): the adjoint of im2col.
template <class T>
void col2im(const Geom& g, const T* col, T* dx) {
  walk_windows<false>(g, dx, col);
}

// ---- the direct kernels (detail/conv_direct.hpp), for stride 1 without dilation

// Whether conv2d and its gradients take the direct kernels: stride 1, no
// dilation, one group, and up to 1024 taps (c kh kw). Measured, float32 forward
// and backward, direct / im2col: 0.63 at 400 taps, 0.79 at 576, 1.04 at 1152
// (bench/RESULTS.md); beyond, OpenBLAS's products outrun the kernels.
constexpr std::size_t kDirectMostTaps = 1024;
bool use_direct(const Geom& g) {
  using detail::ConvAlgorithm;
  if (g.sh != 1 || g.sw != 1 || g.dh != 1 || g.dw != 1 || g.groups != 1 || g.trivial() || g.c == 0) return false;
  const ConvAlgorithm a = detail::conv_algorithm();
  return a == ConvAlgorithm::direct || (a == ConvAlgorithm::automatic && g.rows() <= kDirectMostTaps);
}

// x padded, correlated into the output channels: the forward pass and the weight gradient.
detail::DirectConv forward_plan(const Geom& g) { return {g.c, g.h + 2 * g.ph, g.w + 2 * g.pw, g.kh, g.kw, g.o}; }

template <class T>
Array<T> zeros_of(std::size_t n) {
  Array<T> a = Array<T>::from_shape({n});
  std::fill(a.begin(), a.end(), T(0));
  return a;
}

// The batch split across wengert's threads (detail/parallel.hpp) when the layer
// is large enough to pay for waking them: part k of `parts` takes elements
// [n k / parts, n (k + 1) / parts), with scratch buffers of its own.
constexpr double kParallelLeastMultiplyAdds = 1 << 18;
std::size_t batch_parts(const Geom& g) {
  const double work = double(g.n) * double(g.o) * double(g.cols()) * double(g.rows());
  return work < kParallelLeastMultiplyAdds ? 1 : detail::parallel_parts(g.n);
}
std::size_t part_begin(std::size_t n, std::size_t part, std::size_t parts) { return n * part / parts; }

template <class T>
Array<T> conv_forward_direct(const Geom& g, const T* x, const T* w, const T* bias) {
  const detail::DirectConv d = forward_plan(g);
  Array<T> y = Array<T>::from_shape({g.n, g.o, g.ho, g.wo});
  const std::vector<T> packed = detail::pack_weights(d, w);
  const std::size_t parts = batch_parts(g), s_size = d.source_size(), w_size = d.outputs_padded() * d.wide_stride();
  Array<T> sources = zeros_of<T>(parts * s_size), wides = Array<T>::from_shape({parts * w_size});
  detail::parallel_for(parts, [&](std::size_t part) {
    T* source = sources.data() + part * s_size;
    T* wide = wides.data() + part * w_size;
    for (std::size_t n = part_begin(g.n, part, parts); n < part_begin(g.n, part + 1, parts); ++n) {
      detail::pad_planes(d, x + n * g.c * g.h * g.w, g.h, g.w, g.ph, g.pw, source);
      detail::correlate(d, packed.data(), source, wide);
      detail::from_wide(d, wide, bias, y.data() + n * g.o * g.cols());
    }
  });
  return y;
}

// dx = the taps' adjoint (col2im, one run per tap) of W^T g, g in the wide layout:
// the product as a gemm (few output channels: a full correlation of the padded
// gradient would multiply mostly zeros).
template <class T>
Array<T> conv_input_grad_direct(const Geom& g, const T* grad, const T* w) {
  const detail::DirectConv d = forward_plan(g);
  const std::size_t stride = d.wide_stride(), taps = d.taps(), planes = g.c * d.plane(), parts = batch_parts(g),
                    s_size = d.source_size();
  Array<T> dx = Array<T>::from_shape({g.n, g.c, g.h, g.w});
  Array<T> sources = zeros_of<T>(parts * s_size), g_wides = zeros_of<T>(parts * g.o * stride);
  Array<T> columns = Array<T>::from_shape({parts * taps * stride});
  detail::parallel_for(parts, [&](std::size_t part) {
    T* source = sources.data() + part * s_size;
    T* g_wide = g_wides.data() + part * g.o * stride;
    T* column = columns.data() + part * taps * stride;
    for (std::size_t n = part_begin(g.n, part, parts); n < part_begin(g.n, part + 1, parts); ++n) {
      detail::to_wide(d, grad + n * g.o * g.cols(), g_wide);  // its dropped pixels stay zero
      gemm_raw(true, false, int(taps), int(d.wide()), int(g.o), w, int(taps), g_wide, int(stride), T(0), column,
               int(stride));
      std::fill(source, source + planes, T(0));
      detail::add_taps(d, column, source);
      detail::unpad_planes(d, source, g.h, g.w, g.ph, g.pw, dx.data() + n * g.c * g.h * g.w);
    }
  });
  return dx;
}

// The batch in chunks of kWeightGradChunk elements, whose padded inputs and wide
// gradients stay in the cache while every block of taps runs over them; each part
// sums into its own dw, added up in part order at the end.
constexpr std::size_t kWeightGradChunk = 8;
template <class T>
Array<T> conv_weight_grad_direct(const Geom& g, const T* grad, const T* x) {
  const detail::DirectConv d = forward_plan(g);
  const std::size_t chunk = std::min(g.n, kWeightGradChunk), g_size = d.weight_outputs_padded() * d.wide_stride(),
                    s_size = d.source_size(), taps = d.taps(), sums_size = d.weight_outputs_padded() * taps,
                    parts = batch_parts(g);
  Array<T> sources = zeros_of<T>(parts * chunk * s_size), g_wides = zeros_of<T>(parts * chunk * g_size);
  Array<T> sums = zeros_of<T>(parts * sums_size);
  detail::parallel_for(parts, [&](std::size_t part) {
    T* source = sources.data() + part * chunk * s_size;
    T* g_wide = g_wides.data() + part * chunk * g_size;
    const std::size_t end = part_begin(g.n, part + 1, parts);
    for (std::size_t n0 = part_begin(g.n, part, parts); n0 < end; n0 += chunk) {
      const std::size_t count = std::min(chunk, end - n0);
      for (std::size_t k = 0; k < count; ++k) {
        const std::size_t n = n0 + k;
        detail::pad_planes(d, x + n * g.c * g.h * g.w, g.h, g.w, g.ph, g.pw, source + k * s_size);
        detail::to_wide(d, grad + n * g.o * g.cols(), g_wide + k * g_size);  // dropped pixels stay zero
      }
      detail::correlate_weight(d, count, g_wide, source, sums.data() + part * sums_size);
    }
  });
  Array<T> dw = Array<T>::from_shape({g.o, g.c, g.kh, g.kw});
  std::copy(sums.data(), sums.data() + g.o * taps, dw.data());
  for (std::size_t part = 1; part < parts; ++part)
    for (std::size_t i = 0; i < g.o * taps; ++i) dw.data()[i] += sums.data()[part * sums_size + i];
  return dw;
}

// The most bytes of columns conv2d keeps for its weight gradient (see conv2d).
constexpr std::size_t kKeptColumnsBytes = std::size_t(8) << 20;

// The im2col columns of a whole batch, (n, c kh kw, ho wo), kept by conv2d's
// forward pass for its weight gradient (which would otherwise compute them again).
template <class T>
using Columns = std::shared_ptr<const Array<T>>;

// y (n, o, ho, wo) = conv(x, w) (+ bias when given). With keep, the batch's
// columns are written into *keep (one block per batch element) instead of one
// reused buffer.
template <class T>
Array<T> conv_forward(const Geom& g, const T* x, const T* w, const T* bias, Array<T>* keep = nullptr) {
  if (use_direct(g) && g.n * g.o * g.cols() > 0) return conv_forward_direct(g, x, w, bias);
  Array<T> y = Array<T>::from_shape({g.n, g.o, g.ho, g.wo});
  const std::size_t cols = g.cols(), rows = g.rows(), og = g.og(), block = g.c * g.kh * g.kw * cols;
  if (y.size() == 0) return y;
  if (rows == 0) {  // no input channels: the bias alone (gemm refuses a leading dimension of 0)
    for (std::size_t n = 0; n < g.n; ++n)
      for (std::size_t o = 0; o < g.o; ++o)
        std::fill(y.data() + (n * g.o + o) * cols, y.data() + (n * g.o + o + 1) * cols, bias ? bias[o] : T(0));
    return y;
  }
  const bool kept = keep && !g.trivial();
  Array<T> buffer = Array<T>::from_shape({g.trivial() ? 0 : kept ? g.n * block : block});
  for (std::size_t n = 0; n < g.n; ++n) {
    const T* xn = x + n * g.c * g.h * g.w;
    const T* col = xn;
    if (!g.trivial()) {
      T* dst = buffer.data() + (kept ? n * block : 0);
      im2col(g, xn, dst);
      col = dst;
    }
    T* yn = y.data() + n * g.o * cols;
    if (bias)
      for (std::size_t o = 0; o < g.o; ++o) std::fill(yn + o * cols, yn + (o + 1) * cols, bias[o]);
    for (std::size_t k = 0; k < g.groups; ++k)
      gemm_raw(false, false, int(og), int(cols), int(rows), w + k * og * rows, int(rows), col + k * rows * cols,
               int(cols), bias ? T(1) : T(0), yn + k * og * cols, int(cols));
  }
  if (kept) *keep = std::move(buffer);
  return y;
}

// dx (n, c, h, w) = col2im(W^T g) per batch element and group.
template <class T>
Array<T> conv_input_grad(const Geom& g, const T* grad, const T* w) {
  if (use_direct(g) && g.n * g.c * g.h * g.w > 0) return conv_input_grad_direct(g, grad, w);
  Array<T> dx = Array<T>::from_shape({g.n, g.c, g.h, g.w});
  const std::size_t cols = g.cols(), rows = g.rows(), og = g.og(), plane = g.c * g.h * g.w;
  if (dx.size() == 0) return dx;
  Array<T> buffer = Array<T>::from_shape({g.trivial() ? 0 : g.c * g.kh * g.kw * cols});
  for (std::size_t n = 0; n < g.n; ++n) {
    T* dxn = dx.data() + n * plane;
    T* col = g.trivial() ? dxn : buffer.data();  // 1x1: W^T g is the gradient itself
    const T* gn = grad + n * g.o * cols;
    for (std::size_t k = 0; k < g.groups; ++k)
      gemm_raw(true, false, int(rows), int(cols), int(og), w + k * og * rows, int(rows), gn + k * og * cols,
               int(cols), T(0), col + k * rows * cols, int(cols));
    if (!g.trivial()) {
      std::fill(dxn, dxn + plane, T(0));
      col2im(g, col, dxn);
    }
  }
  return dx;
}

// dw (o, c / groups, kh, kw) = sum over the batch of g im2col(x)^T, per group;
// from the forward pass's columns when given (the same numbers, not computed again).
template <class T>
Array<T> conv_weight_grad(const Geom& g, const T* grad, const T* x, const T* columns = nullptr) {
  if (use_direct(g) && g.n * g.cols() > 0) return conv_weight_grad_direct(g, grad, x);
  Array<T> dw = Array<T>::from_shape({g.o, g.cg(), g.kh, g.kw});
  std::fill(dw.begin(), dw.end(), T(0));
  const std::size_t cols = g.cols(), rows = g.rows(), og = g.og(), block = g.c * g.kh * g.kw * cols;
  if (dw.size() == 0 || g.n == 0 || cols == 0) return dw;
  Array<T> buffer = Array<T>::from_shape({g.trivial() || columns ? 0 : block});
  for (std::size_t n = 0; n < g.n; ++n) {
    const T* xn = x + n * g.c * g.h * g.w;
    const T* col = xn;
    if (columns) col = columns + n * block;
    else if (!g.trivial()) im2col(g, xn, buffer.data()), col = buffer.data();
    const T* gn = grad + n * g.o * cols;
    for (std::size_t k = 0; k < g.groups; ++k)
      gemm_raw(false, true, int(og), int(rows), int(cols), gn + k * og * cols, int(cols), col + k * rows * cols,
               int(cols), T(1), dw.data() + k * og * rows, int(rows));
  }
  return dw;
}

template <class T>
Variable<T> weight_grad_op(const Variable<T>& g, const Variable<T>& x, const Shape& weight_shape,
                           Conv2dOptions options, const Columns<T>& columns);

}  // namespace

template <class T>
Variable<T> conv2d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, Conv2dOptions options) {
  static const OpInfo op{"conv2d", "dx = conv2d_backward_input(g, w), dw = conv2d_backward_weight(g, x), "
                                   "db = sum of g over (batch, height, width)"};
  const Geom g = geometry("conv2d", x.shape(), weight.shape(), options);
  const bool has_bias = bias.defined();
  if (has_bias && !(bias.dimension() == 1 && bias.shape()[0] == g.o))
    throw ShapeError("conv2d: bias of shape " + to_string(bias.shape()) + " does not fit weight " +
                     to_string(weight.shape()) + " (need (" + std::to_string(g.o) + ",))");
  // The weight's gradient needs im2col(x) again: keep the forward pass's columns
  // for it when it will be asked for (recorded, the weight wanting a gradient),
  // and when they are small enough to stay in the cache: larger ones cost more to
  // write out and read back (and to fault in, beyond the pool's blocks) than im2col
  // costs to compute again per batch element (MNIST's 32 -> 64 k3 layer, 42 MB of
  // columns: 94-104 ms kept against 74-75 ms recomputed, bench/RESULTS.md).
  const bool keep = grad_enabled() && weight.requires_grad() && !g.trivial() && !use_direct(g) &&
                    g.n * g.c * g.kh * g.kw * g.cols() * sizeof(T) <= kKeptColumnsBytes;
  Array<T> kept;
  Array<T> y = conv_forward(g, x.value().data(), weight.value().data(), has_bias ? bias.value().data() : nullptr,
                            keep ? &kept : nullptr);
  Columns<T> columns = keep ? std::make_shared<const Array<T>>(std::move(kept)) : nullptr;
  // The columns go with the closure: when the node is released after backward, or with the tape.
  auto vjp = [options, columns](Backward<T>& d) {
    const Variable<T> x = d.input(0), w = d.input(1);
    if (d.needs_grad(0)) d.add_grad(0, conv2d_backward_input(d.g, w, x.shape(), options));
    if (d.needs_grad(1)) d.add_grad(1, weight_grad_op(d.g, x, w.shape(), options, columns));
    if (d.inputs() == 3 && d.needs_grad(2)) d.add_grad(2, sum(d.g, Axes{0, 2, 3}));
  };
  if (has_bias) return record<T>(op, std::move(y), {x, weight, bias}, vjp);
  return record<T>(op, std::move(y), {x, weight}, vjp);
}

template <class T>
Variable<T> conv2d_backward_input(const Variable<T>& g, const Variable<T>& weight, const Shape& input_shape,
                                  Conv2dOptions options) {
  static const OpInfo op{"conv2d_backward_input", "dg = conv2d(h, w), dw = conv2d_backward_weight(g, h)"};
  const Geom geo = geometry("conv2d_backward_input", input_shape, weight.shape(), options);
  check_output("conv2d_backward_input", geo, g.shape(), input_shape, weight.shape());
  return record<T>(op, conv_input_grad(geo, g.value().data(), weight.value().data()), {g, weight},
                   [options](Backward<T>& d) {
                     const Variable<T> g = d.input(0), w = d.input(1);
                     if (d.needs_grad(0)) d.add_grad(0, conv2d(d.g, w, Variable<T>(), options));
                     if (d.needs_grad(1)) d.add_grad(1, conv2d_backward_weight(g, d.g, w.shape(), options));
                   });
}

namespace {

// conv2d_backward_weight, its value from im2col(x)'s columns when conv2d kept them
// (a shortcut to the same numbers: the op recorded, its inputs and its VJP are
// conv2d_backward_weight's, so create_graph and higher orders see no difference).
template <class T>
Variable<T> weight_grad_op(const Variable<T>& g, const Variable<T>& x, const Shape& weight_shape,
                           Conv2dOptions options, const Columns<T>& columns) {
  static const OpInfo op{"conv2d_backward_weight", "dg = conv2d(x, h), dx = conv2d_backward_input(g, h)"};
  const Geom geo = geometry("conv2d_backward_weight", x.shape(), weight_shape, options);
  check_output("conv2d_backward_weight", geo, g.shape(), x.shape(), weight_shape);
  return record<T>(op, conv_weight_grad(geo, g.value().data(), x.value().data(), columns ? columns->data() : nullptr),
                   {g, x}, [options](Backward<T>& d) {
                     const Variable<T> g = d.input(0), x = d.input(1);
                     if (d.needs_grad(0)) d.add_grad(0, conv2d(x, d.g, Variable<T>(), options));
                     if (d.needs_grad(1)) d.add_grad(1, conv2d_backward_input(g, d.g, x.shape(), options));
                   });
}

}  // namespace

template <class T>
Variable<T> conv2d_backward_weight(const Variable<T>& g, const Variable<T>& x, const Shape& weight_shape,
                                   Conv2dOptions options) {
  return weight_grad_op(g, x, weight_shape, options, Columns<T>());
}

template <class T>
Variable<T> conv1d(const Variable<T>& x, const Variable<T>& weight, const Variable<T>& bias, Conv1dOptions options) {
  if (x.dimension() != 3)
    throw ShapeError("conv1d: input of shape " + to_string(x.shape()) + " is not 3-D (batch, channels, length)");
  if (weight.dimension() != 3)
    throw ShapeError("conv1d: weight of shape " + to_string(weight.shape()) +
                     " is not 3-D (out_channels, in_channels / groups, kernel size)");
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  if (options.stride < 1) throw std::invalid_argument("conv1d: stride " + std::to_string(options.stride) + " must be positive");
  if (options.padding < 0)
    throw std::invalid_argument("conv1d: padding " + std::to_string(options.padding) + " must not be negative");
  if (options.dilation < 1)
    throw std::invalid_argument("conv1d: dilation " + std::to_string(options.dilation) + " must be positive");
  const Conv2dOptions o2{{1, options.stride}, {0, options.padding}, {1, options.dilation}, options.groups};
  try {  // the remaining checks of conv2d, before anything is recorded, their messages in 1-D
    geometry("conv1d", {xs[0], xs[1], 1, xs[2]}, {ws[0], ws[1], 1, ws[2]}, o2);
  } catch (const ShapeError& e) {
    const std::string m = e.what();
    if (m.find("larger than the padded input") != std::string::npos)
      throw ShapeError("conv1d: kernel " + std::to_string(options.dilation * (long(ws[2]) - 1) + 1) +
                       " (dilated) is larger than the padded input " +
                       std::to_string(long(xs[2]) + 2 * options.padding) + " (input " + to_string(xs) + ", weight " +
                       to_string(ws) + ")");
    throw ShapeError("conv1d: input of shape " + to_string(xs) + " and weight of shape " + to_string(ws) +
                     " do not fit with groups " + std::to_string(options.groups) + " (" + m.substr(8) + ")");
  }
  if (bias.defined() && !(bias.dimension() == 1 && bias.shape()[0] == ws[0]))
    throw ShapeError("conv1d: bias of shape " + to_string(bias.shape()) + " does not fit weight " + to_string(ws) +
                     " (need (" + std::to_string(ws[0]) + ",))");
  const Variable<T> y = conv2d(reshape(x, {xs[0], xs[1], 1, xs[2]}), reshape(weight, {ws[0], ws[1], 1, ws[2]}), bias, o2);
  return reshape(y, {y.shape()[0], y.shape()[1], y.shape()[3]});
}

// ---------------------------------------------------------------- pooling

namespace {

// Pooling windows of an (n, c, h, w) input: for each output row its rows [h0, h1)
// of x (clipped to x), likewise columns, and for average pooling each cell's divisor.
struct Windows {
  std::size_t n, c, h, w, ho, wo;
  std::vector<std::size_t> h0, h1, w0, w1;
  std::vector<double> divisor;  // ho wo
  std::size_t planes() const { return n * c; }
};

void check_pool_input(const char* name, const Shape& x) {
  if (x.size() != 4)
    throw ShapeError(std::string(name) + ": input of shape " + to_string(x) +
                     " is not 4-D (batch, channels, height, width)");
}

// Windows of kernel k, stride s, padding p (checked as PyTorch: p <= k / 2).
std::shared_ptr<Windows> sliding(const char* name, const Shape& x, Size2 k, Size2 s, Size2 p, bool count_pad) {
  const std::string f = name;
  check_pool_input(name, x);
  if (k.h < 1 || k.w < 1) throw std::invalid_argument(f + ": kernel " + pair(k) + " must be positive");
  if (s.h == 0 && s.w == 0) s = k;  // PyTorch's default stride: the kernel
  if (s.h < 1 || s.w < 1) throw std::invalid_argument(f + ": stride " + pair(s) + " must be positive");
  if (p.h < 0 || p.w < 0) throw std::invalid_argument(f + ": padding " + pair(p) + " must not be negative");
  if (2 * p.h > k.h || 2 * p.w > k.w)
    throw std::invalid_argument(f + ": padding " + pair(p) + " must be at most half the kernel " + pair(k));
  if ((x[2] == 0 || x[3] == 0) && x[0] * x[1] != 0)
    throw ShapeError(f + ": input of shape " + to_string(x) + " has an empty plane");
  const long ph = long(x[2]) + 2 * p.h, pw = long(x[3]) + 2 * p.w;
  if (k.h > ph || k.w > pw)
    throw ShapeError(f + ": kernel " + pair(k) + " is larger than the padded input (" + std::to_string(ph) + ", " +
                     std::to_string(pw) + ") (input " + to_string(x) + ")");
  auto win = std::make_shared<Windows>();
  win->n = x[0], win->c = x[1], win->h = x[2], win->w = x[3];
  win->ho = std::size_t((ph - k.h) / s.h + 1), win->wo = std::size_t((pw - k.w) / s.w + 1);
  auto axis = [](std::size_t out, long in, long k, long s, long p, std::vector<std::size_t>& lo,
                 std::vector<std::size_t>& hi, std::vector<long>& span) {
    for (std::size_t i = 0; i < out; ++i) {
      const long a = long(i) * s - p, b = a + k;
      lo.push_back(std::size_t(std::max(a, 0L)));
      hi.push_back(std::size_t(std::min(b, in)));
      span.push_back(std::min(b, in + p) - a);  // PyTorch's divisor with padding counted
    }
  };
  std::vector<long> sh, sw;
  axis(win->ho, long(x[2]), k.h, s.h, p.h, win->h0, win->h1, sh);
  axis(win->wo, long(x[3]), k.w, s.w, p.w, win->w0, win->w1, sw);
  win->divisor.resize(win->ho * win->wo);
  for (std::size_t i = 0; i < win->ho; ++i)
    for (std::size_t j = 0; j < win->wo; ++j)
      win->divisor[i * win->wo + j] = count_pad ? double(sh[i] * sw[j])
                                                : double((win->h1[i] - win->h0[i]) * (win->w1[j] - win->w0[j]));
  return win;
}

// y = window means of x.
template <class T>
Array<T> window_mean(const Windows& win, const T* x) {
  Array<T> y = Array<T>::from_shape({win.n, win.c, win.ho, win.wo});
  T* out = y.data();
  for (std::size_t p = 0; p < win.planes(); ++p) {
    const T* plane = x + p * win.h * win.w;
    for (std::size_t i = 0; i < win.ho; ++i)
      for (std::size_t j = 0; j < win.wo; ++j) {
        T s = T(0);
        for (std::size_t r = win.h0[i]; r < win.h1[i]; ++r) {
          const T* row = plane + r * win.w;
          for (std::size_t q = win.w0[j]; q < win.w1[j]; ++q) s += row[q];
        }
        *out++ = s / T(win.divisor[i * win.wo + j]);
      }
  }
  return y;
}

// dx = window_mean^T g: each cell's g / divisor added over its window.
template <class T>
Array<T> window_mean_adjoint(const Windows& win, const T* g) {
  Array<T> dx = Array<T>::from_shape({win.n, win.c, win.h, win.w});
  std::fill(dx.begin(), dx.end(), T(0));
  for (std::size_t p = 0; p < win.planes(); ++p) {
    T* plane = dx.data() + p * win.h * win.w;
    const T* gp = g + p * win.ho * win.wo;
    for (std::size_t i = 0; i < win.ho; ++i)
      for (std::size_t j = 0; j < win.wo; ++j) {
        const T v = gp[i * win.wo + j] / T(win.divisor[i * win.wo + j]);
        for (std::size_t r = win.h0[i]; r < win.h1[i]; ++r) {
          T* row = plane + r * win.w;
          for (std::size_t q = win.w0[j]; q < win.w1[j]; ++q) row[q] += v;
        }
      }
  }
  return dx;
}

template <class T>
Variable<T> mean_pool(const OpInfo& op, const Variable<T>& x, std::shared_ptr<const Windows> win);

template <class T>
Variable<T> mean_pool_backward(const Variable<T>& g, std::shared_ptr<const Windows> win) {
  static const OpInfo op{"avg_pool2d_backward", "dg = avg_pool2d(h) (its adjoint)"};
  return record<T>(op, window_mean_adjoint(*win, g.value().data()), {g}, [win](Backward<T>& d) {
    static const OpInfo forward{"avg_pool2d", "dx = avg_pool2d_backward(g)"};
    d.add_grad(0, mean_pool(forward, d.g, win));
  });
}

template <class T>
Variable<T> mean_pool(const OpInfo& op, const Variable<T>& x, std::shared_ptr<const Windows> win) {
  return record<T>(op, window_mean(*win, x.value().data()), {x},
                   [win](Backward<T>& d) { d.add_grad(0, mean_pool_backward(d.g, win)); });
}

// Max pooling's argmax: per output cell, the flat index in its plane of x.
using Argmax = std::vector<std::uint32_t>;

// Whether v takes the place of the maximum m so far: larger, or the first NaN (as
// PyTorch: NaN propagates). Taken in the window's row-major order, the first
// maximum wins ties.
template <class T>
bool beats(T v, T m) {
  return v > m || (v != v && m == m);
}

// One output row of 2x2, stride-2 max pooling: wo cells from the input rows top
// and bottom (w apart in the plane, top at index `first`), y the maxima, index their
// places in the plane.
template <class T>
void max_pool_2x2_row(const T* top, const T* bottom, std::size_t wo, std::uint32_t first, std::uint32_t w, T* y,
                      std::uint32_t* index) {
  for (std::size_t j = 0; j < wo; ++j) {
    T m = top[2 * j];
    std::uint32_t at = 0;
    if (beats(top[2 * j + 1], m)) m = top[2 * j + 1], at = 1;
    if (beats(bottom[2 * j], m)) m = bottom[2 * j], at = w;
    if (beats(bottom[2 * j + 1], m)) m = bottom[2 * j + 1], at = w + 1;
    y[j] = m;
    index[j] = first + std::uint32_t(2 * j) + at;
  }
}

#if defined(__AVX2__)
// The scalar row's cells in AVX registers, 8 at a time: the even and odd columns of
// both rows by shuffles, then the same four takes; a row's last cells (LeNet's rows
// have 14 and 5) with masked loads and stores. Scalar, the 2x2 pooling took 0.3 ms
// of a 3 ms LeNet step; these blocks: bench/RESULTS.md.
inline void take(__m256 v, __m256i at, __m256& m, __m256i& best) {
  const __m256 wins = _mm256_or_ps(_mm256_cmp_ps(v, m, _CMP_GT_OQ),
                                   _mm256_and_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q), _mm256_cmp_ps(m, m, _CMP_ORD_Q)));
  m = _mm256_blendv_ps(m, v, wins);
  best = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(best), _mm256_castsi256_ps(at), wins));
}
inline __m256i first_lanes(std::size_t n) {  // lanes [0, n) set
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// `cells` (1 to 8) cells from column 2 j
inline void max_pool_2x2_block(const float* top, const float* bottom, std::size_t j, std::size_t cells,
                               std::uint32_t first, std::uint32_t w, float* y, std::uint32_t* index) {
  const bool whole = cells == 8;  // plain loads and stores: the masked ones are slower (25 % on LeNet's first pooling)
  const __m256i low = first_lanes(std::min<std::size_t>(2 * cells, 8)), high = first_lanes(cells > 4 ? 2 * cells - 8 : 0);  // none past the block's 2 cells columns
  auto columns = [&](const float* p, __m256& even, __m256& odd) {  // p[0, 2, ..., 14] and p[1, 3, ..., 15]
    const __m256 lo = whole ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, low),
                 hi = whole ? _mm256_loadu_ps(p + 8) : _mm256_maskload_ps(p + 8, high);
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
  };
  __m256 m, right, below, below_right;
  columns(top + 2 * j, m, right);
  columns(bottom + 2 * j, below, below_right);
  __m256i best = _mm256_setzero_si256();
  take(right, _mm256_set1_epi32(1), m, best);
  take(below, _mm256_set1_epi32(int(w)), m, best);
  take(below_right, _mm256_set1_epi32(int(w + 1)), m, best);
  const __m256i left = _mm256_add_epi32(_mm256_set1_epi32(int(first + 2 * j)), _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14));
  best = _mm256_add_epi32(left, best);
  if (whole) {
    _mm256_storeu_ps(y + j, m);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + j), best);
  } else {
    const __m256i stored = first_lanes(cells);
    _mm256_maskstore_ps(y + j, stored, m);
    _mm256_maskstore_epi32(reinterpret_cast<int*>(index + j), stored, best);
  }
}
template <>
void max_pool_2x2_row(const float* top, const float* bottom, std::size_t wo, std::uint32_t first, std::uint32_t w,
                      float* y, std::uint32_t* index) {
  for (std::size_t j = 0; j < wo; j += 8)
    max_pool_2x2_block(top, bottom, j, std::min<std::size_t>(8, wo - j), first, w, y, index);
}
#endif

template <class T>
Variable<T> pool_gather(const Variable<T>& h, std::shared_ptr<const Argmax> index, const Shape& out);

// dx[plane, index[plane, cell]] += g[plane, cell]
template <class T>
Variable<T> pool_scatter(const Variable<T>& g, std::shared_ptr<const Argmax> index, const Shape& in) {
  static const OpInfo op{"max_pool2d_backward", "dg = h at the argmax positions (max_pool2d_gather)"};
  Array<T> dx = Array<T>::from_shape(in);
  const std::size_t plane = in[2] * in[3], cells = g.shape()[2] * g.shape()[3];
  const T* gv = g.value().data();
  const std::uint32_t* ix = index->data();
  for (std::size_t p = 0, planes = in[0] * in[1]; p < planes; ++p) {
    // each plane zeroed just before its cells go into it, while it is in the cache
    // (LeNet's first pooling with its backward 255 -> 235 us, against one fill of dx first)
    T* dst = dx.data() + p * plane;
    std::fill(dst, dst + plane, T(0));
    for (std::size_t c = 0; c < cells; ++c) dst[ix[p * cells + c]] += gv[p * cells + c];
  }
  return record<T>(op, std::move(dx), {g}, [index, out = g.shape()](Backward<T>& d) {
    d.add_grad(0, pool_gather(d.g, index, out));
  });
}

// y[plane, cell] = h[plane, index[plane, cell]]
template <class T>
Variable<T> pool_gather(const Variable<T>& h, std::shared_ptr<const Argmax> index, const Shape& out) {
  static const OpInfo op{"max_pool2d_gather", "dh = max_pool2d_backward(g) (scatter into the argmax positions)"};
  Array<T> y = Array<T>::from_shape(out);
  const std::size_t plane = h.shape()[2] * h.shape()[3], cells = out[2] * out[3];
  const T* hv = h.value().data();
  const std::uint32_t* ix = index->data();
  for (std::size_t p = 0, planes = out[0] * out[1]; p < planes; ++p)
    for (std::size_t c = 0; c < cells; ++c) y.data()[p * cells + c] = hv[p * plane + ix[p * cells + c]];
  return record<T>(op, std::move(y), {h}, [index, in = h.shape()](Backward<T>& d) {
    d.add_grad(0, pool_scatter(d.g, index, in));
  });
}

}  // namespace

template <class T>
Variable<T> max_pool2d(const Variable<T>& x, Size2 kernel, Size2 stride, Size2 padding) {
  static const OpInfo op{"max_pool2d", "dx = g scattered into each window's (first) maximum"};
  const auto win = sliding("max_pool2d", x.shape(), kernel, stride, padding, true);
  if (win->h * win->w > std::numeric_limits<std::uint32_t>::max())
    throw ShapeError("max_pool2d: input planes of shape " + to_string(x.shape()) + " are too large");
  const Shape out{win->n, win->c, win->ho, win->wo};
  Array<T> y = Array<T>::from_shape(out);
  auto index = std::make_shared<Argmax>(y.size());
  const T* xv = x.value().data();
  T* yv = y.data();
  std::uint32_t* ix = index->data();
  // The first maximum in row-major order; NaN wins (as PyTorch: it propagates).
  auto take = [](T v, std::size_t at, T& m, std::size_t& best) {
    const bool wins = beats(v, m);
    m = wins ? v : m;
    best = wins ? at : best;
  };
  const bool stride_2 = (stride.h == 2 && stride.w == 2) || (stride.h == 0 && stride.w == 0);  // 0: the kernel's
  if (kernel.h == 2 && kernel.w == 2 && stride_2 && padding.h == 0 && padding.w == 0) {
    // The common 2x2 pooling: four values per window, no window bounds to look up (it
    // was the slowest op of a LeNet step with the general loops below).
    const std::uint32_t w = std::uint32_t(win->w);
    for (std::size_t p = 0; p < win->planes(); ++p) {
      const T* plane = xv + p * win->h * win->w;
      for (std::size_t i = 0; i < win->ho; ++i, yv += win->wo, ix += win->wo) {
        const std::uint32_t top = std::uint32_t(2 * i) * w;
        max_pool_2x2_row(plane + top, plane + top + w, win->wo, top, w, yv, ix);
      }
    }
  } else
  for (std::size_t p = 0; p < win->planes(); ++p) {
    const T* plane = xv + p * win->h * win->w;
    for (std::size_t i = 0; i < win->ho; ++i)
      for (std::size_t j = 0; j < win->wo; ++j) {
        std::size_t best = win->h0[i] * win->w + win->w0[j];
        T m = plane[best];
        for (std::size_t r = win->h0[i]; r < win->h1[i]; ++r)
          for (std::size_t q = win->w0[j]; q < win->w1[j]; ++q) take(plane[r * win->w + q], r * win->w + q, m, best);
        *yv++ = m;
        *ix++ = std::uint32_t(best);
      }
  }
  std::shared_ptr<const Argmax> shared = std::move(index);
  return record<T>(op, std::move(y), {x}, [shared, in = x.shape()](Backward<T>& d) {
    d.add_grad(0, pool_scatter(d.g, shared, in));
  });
}

template <class T>
Variable<T> avg_pool2d(const Variable<T>& x, Size2 kernel, Size2 stride, Size2 padding, bool count_include_pad) {
  static const OpInfo op{"avg_pool2d", "dx = avg_pool2d_backward(g)"};
  return mean_pool(op, x, sliding("avg_pool2d", x.shape(), kernel, stride, padding, count_include_pad));
}

template <class T>
Variable<T> adaptive_avg_pool2d(const Variable<T>& x, Size2 output_size) {
  static const OpInfo op{"adaptive_avg_pool2d", "dx = avg_pool2d_backward(g) over the adaptive windows"};
  check_pool_input("adaptive_avg_pool2d", x.shape());
  if (output_size.h < 1 || output_size.w < 1)
    throw std::invalid_argument("adaptive_avg_pool2d: output size " + pair(output_size) + " must be positive");
  const Shape& s = x.shape();
  if ((s[2] == 0 || s[3] == 0) && s[0] * s[1] != 0)
    throw ShapeError("adaptive_avg_pool2d: input of shape " + to_string(s) + " has an empty plane");
  auto win = std::make_shared<Windows>();
  win->n = s[0], win->c = s[1], win->h = s[2], win->w = s[3];
  win->ho = std::size_t(output_size.h), win->wo = std::size_t(output_size.w);
  auto axis = [](std::size_t out, std::size_t in, std::vector<std::size_t>& lo, std::vector<std::size_t>& hi) {
    for (std::size_t i = 0; i < out; ++i) {
      lo.push_back(i * in / out);
      hi.push_back(((i + 1) * in + out - 1) / out);
    }
  };
  axis(win->ho, win->h, win->h0, win->h1);
  axis(win->wo, win->w, win->w0, win->w1);
  win->divisor.resize(win->ho * win->wo);
  for (std::size_t i = 0; i < win->ho; ++i)
    for (std::size_t j = 0; j < win->wo; ++j)
      win->divisor[i * win->wo + j] = double((win->h1[i] - win->h0[i]) * (win->w1[j] - win->w0[j]));
  return mean_pool(op, x, std::shared_ptr<const Windows>(std::move(win)));
}

#define WENGERT_INSTANTIATE(T)                                                                                   \
  template Variable<T> conv2d(const Variable<T>&, const Variable<T>&, const Variable<T>&, Conv2dOptions);        \
  template Variable<T> conv2d_backward_input(const Variable<T>&, const Variable<T>&, const Shape&, Conv2dOptions); \
  template Variable<T> conv2d_backward_weight(const Variable<T>&, const Variable<T>&, const Shape&, Conv2dOptions); \
  template Variable<T> conv1d(const Variable<T>&, const Variable<T>&, const Variable<T>&, Conv1dOptions);        \
  template Variable<T> max_pool2d(const Variable<T>&, Size2, Size2, Size2);                                      \
  template Variable<T> avg_pool2d(const Variable<T>&, Size2, Size2, Size2, bool);                                \
  template Variable<T> adaptive_avg_pool2d(const Variable<T>&, Size2);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff
