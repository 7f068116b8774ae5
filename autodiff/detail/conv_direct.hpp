// Direct convolution kernels for stride 1 and no dilation (not recorded on the tape).
//
// The input is copied once into a zero-padded buffer of `channels` planes, each
// padded_h x padded_w. An output pixel (oh, ow) is then a dot product of the
// weights with the pixels at p + tap offsets, where p = oh padded_w + ow is its
// place in a "wide" output row of padded_w pixels per image row (of which the
// first padded_w - kw + 1 are real: the rest wrap into the next row and are
// dropped). Every tap (c, i, j) is one contiguous run of the padded input, at
// offset c plane + i padded_w + j, so the kernels stream SIMD registers of
// pixels against register-blocked weights, with no im2col matrix in memory (the
// implicit GEMM of cuDNN and oneDNN, on a CPU: for small layers such as LeNet's,
// im2col's copy costs more than its product; bench/RESULTS.md).
#pragma once

#include <cstddef>
#include <vector>

namespace autodiff::detail {

// The shapes of one direct correlation (per batch element).
struct DirectConv {
  DirectConv(std::size_t channels, std::size_t padded_h, std::size_t padded_w, std::size_t kh, std::size_t kw,
             std::size_t outputs);
  std::size_t channels;  // input planes
  std::size_t padded_h, padded_w;
  std::size_t kh, kw;
  std::size_t outputs;  // output planes
  std::size_t output_block;  // output planes per register block (correlate)
  std::size_t weight_output_block;  // likewise of correlate_weight
  std::vector<std::ptrdiff_t> offsets;  // of each tap (c, i, j) in the padded input

  std::size_t out_h() const { return padded_h - kh + 1; }
  std::size_t out_w() const { return padded_w - kw + 1; }
  std::size_t plane() const { return padded_h * padded_w; }
  std::size_t taps() const { return channels * kh * kw; }
  std::size_t wide() const { return out_h() * padded_w; }  // wide output pixels per plane
  // The wide output's row length: wide() rounded up to whole SIMD registers of floats.
  std::size_t wide_stride() const;
  // Output planes rounded up to whole register blocks (of correlate, of correlate_weight).
  std::size_t outputs_padded() const;
  std::size_t weight_outputs_padded() const;
  // Elements of the padded input buffer: every plane, plus the slack that the
  // last blocks read beyond the last plane (zeros).
  std::size_t source_size() const;
};

// Copies `planes` (channels, h, w) into the padded source at (top, left) of each
// padded plane; the rest of the source is left as it is (zeros, set once).
template <class T>
void pad_planes(const DirectConv& d, const T* planes, std::size_t h, std::size_t w, std::size_t top, std::size_t left,
                T* source);
// planes (channels, h, w) = the padded source's pixels at (top, left) of each plane.
template <class T>
void unpad_planes(const DirectConv& d, const T* source, std::size_t h, std::size_t w, std::size_t top,
                  std::size_t left, T* planes);
// out (outputs, out_h, out_w) = the real pixels of the wide output (+ bias[o], when given).
template <class T>
void from_wide(const DirectConv& d, const T* wide, const T* bias, T* out);
// The other way: planes (outputs, out_h, out_w) into the wide layout, whose
// dropped pixels are left as they are (zeros, set once).
template <class T>
void to_wide(const DirectConv& d, const T* planes, T* wide);

// Weights (outputs, channels, kh, kw) in correlate's order (blocks of output
// planes, tap by tap).
template <class T>
std::vector<T> pack_weights(const DirectConv& d, const T* w);

// out (outputs_padded, wide_stride) = the correlation of the padded source with
// the packed weights, at every wide output pixel.
template <class T>
void correlate(const DirectConv& d, const T* packed, const T* source, T* out);

// dw (weight_outputs_padded, taps) += the sum over `count` batch elements of
// g_wide x the source's taps^T: the weight gradient, with g_wide
// (weight_outputs_padded, wide_stride) the output gradient laid out as the wide
// output, zero at the dropped pixels, the blocks' tail and the padded planes. The
// elements' g_wide and sources follow each other (weight_outputs_padded
// wide_stride and source_size apart).
template <class T>
void correlate_weight(const DirectConv& d, std::size_t count, const T* g_wide, const T* source, T* dw);

// The adjoint of reading the taps: source[offset(t) + p] += columns[t][p] for
// every tap t and wide pixel p (columns (taps, wide_stride), e.g. W^T g_wide):
// col2im, one contiguous run per tap.
template <class T>
void add_taps(const DirectConv& d, const T* columns, T* source);

// Which kernels conv2d and its gradients use where both apply (stride 1, no
// dilation, one group): chosen by the layer's size (automatic), or forced, for
// tests that compare the two and for benchmarks. Process-wide.
enum class ConvAlgorithm { automatic, direct, im2col };
void set_conv_algorithm(ConvAlgorithm algorithm);
ConvAlgorithm conv_algorithm();

}  // namespace autodiff::detail
