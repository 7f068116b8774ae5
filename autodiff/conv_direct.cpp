// The direct convolution kernels of detail/conv_direct.hpp: register blocks of
// output planes by two SIMD registers of wide pixels (correlate), or of two
// output planes by several taps (correlate_weight), so that each pixel loaded is
// used for several outputs and each weight for several pixels. The block sizes
// fill the SIMD registers (16 with AVX2, 32 with AVX-512, for which CMake builds
// this file alone where the CPU has it).
#include "detail/conv_direct.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace autodiff::detail {

namespace {

#if XSIMD_WITH_AVX512F
constexpr std::size_t kRegisters = 32;
#else
constexpr std::size_t kRegisters = 16;
#endif
constexpr std::size_t kBlockVectors = 2;  // wide pixels per block of correlate: two registers
// correlate's blocks of output planes: kBlockVectors accumulators each, plus the
// pixels and a weight, in the registers
constexpr std::array<std::size_t, 3> kOutputBlocks{4, 6, 8};
constexpr bool fits(std::size_t block) { return block * kBlockVectors + kBlockVectors + 1 <= kRegisters; }
// correlate_weight's blocks: outputs x taps accumulators, plus a register of
// gradients per output and one of pixels. Each output's gradients are loaded
// once per block of taps and each tap's pixels once per block of outputs.
constexpr std::size_t weight_taps(std::size_t outputs) {
  return std::min<std::size_t>(8, (kRegisters - 1 - outputs) / outputs);
}
constexpr std::size_t kWeightBlockOutputsMost = kRegisters == 32 ? 4 : 2;

std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }

std::atomic<ConvAlgorithm> algorithm_in_use{ConvAlgorithm::automatic};

#if XSIMD_WITH_AVX512F
// The first n lanes (n < a register) at p: the others are not read (zero) or
// written. The rows are short (28 and 10 pixels in LeNet, against registers of
// 16 floats), and their tails as scalar loops were most of the copies' time.
inline xsimd::batch<float> load_first(const float* p, std::size_t n) {
  return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
}
inline xsimd::batch<double> load_first(const double* p, std::size_t n) {
  return _mm512_maskz_loadu_pd(__mmask8((1u << n) - 1), p);
}
inline void store_first(float* p, std::size_t n, const xsimd::batch<float>& v) {
  _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v);
}
inline void store_first(double* p, std::size_t n, const xsimd::batch<double>& v) {
  _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1), v);
}
#endif

// dst[q] = src[q] (+ add) for q < n, in registers: the rows are short (28
// pixels in LeNet), and std::copy calls memmove for each.
template <class T>
void copy_row(const T* src, std::size_t n, T* dst, T add = T(0)) {
  using B = xsimd::batch<T>;
  std::size_t q = 0;
  const B a(add);
  for (; q + B::size <= n; q += B::size) (B::load_unaligned(src + q) + a).store_unaligned(dst + q);
#if XSIMD_WITH_AVX512F
  if (q < n) store_first(dst + q, n - q, load_first(src + q, n - q) + a);
#else
  for (; q < n; ++q) dst[q] = src[q] + add;
#endif
}

// The sum of a register's lanes (xsimd::hadd's AVX-512 path trips g++ 12's
// -Wmaybe-uninitialized inside its own intrinsics header).
// Floats with AVX-512: a tree of shuffles, 11 % off correlate_weight on LeNet's
// second layer (nine registers of pixels per element between two sums). Whole
// registers: _mm512_reduce_add_ps extracts halves and trips that warning too.
template <class T>
T sum_lanes(const xsimd::batch<T>& b) {
#if XSIMD_WITH_AVX512F
  if constexpr (std::is_same_v<T, float>) {
    // (the masked forms with every lane set: the plain ones pass g++ 12 an undefined register)
    __m512 v = b;
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0x4E));  // + the other 256 bits
    v = _mm512_add_ps(v, _mm512_mask_shuffle_f32x4(v, 0xFFFF, v, v, 0xB1));  // + the other 128 bits of each
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0x4E));        // + the other 64 bits of each
    v = _mm512_add_ps(v, _mm512_mask_permute_ps(v, 0xFFFF, v, 0xB1));        // + the neighbour
    return _mm512_cvtss_f32(v);
  }
#endif
  alignas(xsimd::batch<T>::arch_type::alignment()) T lanes[xsimd::batch<T>::size];
  b.store_aligned(lanes);
  T sum = T(0);
  for (T v : lanes) sum += v;
  return sum;
}

// kOutputs output planes of correlate at the kVectors registers of wide pixels from
// p. Inlined: as a call, g++ keeps the accumulators in memory across it (conv1 of
// LeNet 10 % slower).
template <class T, std::size_t kOutputs, std::size_t kVectors>
[[gnu::always_inline]] inline void correlate_pixels(const DirectConv& d, const T* w, const T* source, std::size_t p, T* o) {
  using B = xsimd::batch<T>;
  constexpr std::size_t V = B::size;
  const std::ptrdiff_t* offsets = d.offsets.data();
  const std::size_t taps = d.taps(), stride = d.wide_stride();
  B acc[kOutputs][kVectors];
  for (auto& row : acc)
    for (auto& a : row) a = B(T(0));
  for (std::size_t t = 0; t < taps; ++t) {
    const T* s = source + offsets[t] + p;
    B x[kVectors];
    for (std::size_t v = 0; v < kVectors; ++v) x[v] = B::load_unaligned(s + v * V);
    for (std::size_t r = 0; r < kOutputs; ++r) {
      const B weight(w[t * kOutputs + r]);
      for (std::size_t v = 0; v < kVectors; ++v) acc[r][v] = xsimd::fma(weight, x[v], acc[r][v]);
    }
  }
  for (std::size_t r = 0; r < kOutputs; ++r)
    for (std::size_t v = 0; v < kVectors; ++v) acc[r][v].store_unaligned(o + r * stride + p + v * V);
}

// Blocks of kBlockVectors registers of pixels, then the one register left where the
// stride is an odd number of them.
template <class T, std::size_t kOutputs>
void correlate_blocks(const DirectConv& d, const T* packed, const T* source, T* out) {
  constexpr std::size_t V = xsimd::batch<T>::size;
  const std::size_t taps = d.taps(), stride = d.wide_stride();
  for (std::size_t block = 0; block < d.outputs_padded() / kOutputs; ++block) {
    const T* w = packed + block * taps * kOutputs;
    T* o = out + block * kOutputs * stride;
    std::size_t p = 0;
    for (; p + kBlockVectors * V <= stride; p += kBlockVectors * V)
      correlate_pixels<T, kOutputs, kBlockVectors>(d, w, source, p, o);
    for (; p < stride; p += V) correlate_pixels<T, kOutputs, 1>(d, w, source, p, o);
  }
}

template <class T, std::size_t kOutputs, std::size_t kTaps>
void correlate_weight_blocks(const DirectConv& d, std::size_t count, const T* g_wide, const T* source, T* dw) {
  using B = xsimd::batch<T>;
  constexpr std::size_t V = B::size;
  const std::ptrdiff_t* offsets = d.offsets.data();
  const std::size_t taps = d.taps(), stride = d.wide_stride(), g_size = d.weight_outputs_padded() * stride,
                    s_size = d.source_size();
  for (std::size_t block = 0; block < d.weight_outputs_padded() / kOutputs; ++block)
    for (std::size_t t0 = 0; t0 < taps; t0 += kTaps) {
      std::ptrdiff_t offset[kTaps];  // past the last tap: the last again, not stored
      for (std::size_t k = 0; k < kTaps; ++k) offset[k] = offsets[std::min(t0 + k, taps - 1)];
      B acc[kOutputs][kTaps];
      for (auto& row : acc)
        for (auto& a : row) a = B(T(0));
      for (std::size_t n = 0; n < count; ++n) {  // the sums run over the elements before one horizontal add
        const T* g = g_wide + n * g_size + block * kOutputs * stride;
        const T* s = source + n * s_size;
        for (std::size_t p = 0; p < stride; p += V) {
          B gr[kOutputs];
          for (std::size_t r = 0; r < kOutputs; ++r) gr[r] = B::load_unaligned(g + r * stride + p);
          for (std::size_t k = 0; k < kTaps; ++k) {
            const B x = B::load_unaligned(s + offset[k] + p);
            for (std::size_t r = 0; r < kOutputs; ++r) acc[r][k] = xsimd::fma(gr[r], x, acc[r][k]);
          }
        }
      }
      for (std::size_t r = 0; r < kOutputs; ++r)
        for (std::size_t k = 0; k < kTaps && t0 + k < taps; ++k)
          dw[(block * kOutputs + r) * taps + t0 + k] += sum_lanes(acc[r][k]);
    }
}

}  // namespace

DirectConv::DirectConv(std::size_t channels_, std::size_t padded_h_, std::size_t padded_w_, std::size_t kh_,
                       std::size_t kw_, std::size_t outputs_)
    : channels(channels_), padded_h(padded_h_), padded_w(padded_w_), kh(kh_), kw(kw_), outputs(outputs_) {
  output_block = 0;  // the block that pads the fewest planes; of those, the largest
  for (std::size_t b : kOutputBlocks)
    if (fits(b) && (output_block == 0 || round_up(outputs, b) <= round_up(outputs, output_block))) output_block = b;
  weight_output_block = kWeightBlockOutputsMost;  // likewise, of 4, 3 and 2 (AVX2: 2)
  for (std::size_t b = kWeightBlockOutputsMost - 1; b >= 2; --b)
    if (round_up(outputs, b) < round_up(outputs, weight_output_block)) weight_output_block = b;
  offsets.reserve(taps());
  for (std::size_t c = 0; c < channels; ++c)
    for (std::size_t i = 0; i < kh; ++i)
      for (std::size_t j = 0; j < kw; ++j) offsets.push_back(std::ptrdiff_t(c * plane() + i * padded_w + j));
}

// Whole registers of floats are whole registers of doubles too. One register, not a
// block of kBlockVectors: LeNet's second layer has 140 wide pixels, 144 with
// registers of 16 floats, 160 in blocks of two (11 % more work in correlate and
// correlate_weight for pixels that are dropped).
std::size_t DirectConv::wide_stride() const { return round_up(wide(), xsimd::batch<float>::size); }
std::size_t DirectConv::outputs_padded() const { return round_up(outputs, output_block); }
std::size_t DirectConv::weight_outputs_padded() const { return round_up(outputs, weight_output_block); }
std::size_t DirectConv::source_size() const { return channels * plane() + wide_stride() - wide() + kw; }

template <class T>
void pad_planes(const DirectConv& d, const T* planes, std::size_t h, std::size_t w, std::size_t top, std::size_t left,
                T* source) {
  for (std::size_t c = 0; c < d.channels; ++c)
    for (std::size_t r = 0; r < h; ++r)
      copy_row(planes + (c * h + r) * w, w, source + c * d.plane() + (top + r) * d.padded_w + left);
}

template <class T>
void unpad_planes(const DirectConv& d, const T* source, std::size_t h, std::size_t w, std::size_t top,
                  std::size_t left, T* planes) {
  for (std::size_t c = 0; c < d.channels; ++c)
    for (std::size_t r = 0; r < h; ++r)
      copy_row(source + c * d.plane() + (top + r) * d.padded_w + left, w, planes + (c * h + r) * w);
}

template <class T>
void from_wide(const DirectConv& d, const T* wide, const T* bias, T* out) {
  const std::size_t oh = d.out_h(), ow = d.out_w(), stride = d.wide_stride();
  for (std::size_t o = 0; o < d.outputs; ++o)
    for (std::size_t r = 0; r < oh; ++r)
      copy_row(wide + o * stride + r * d.padded_w, ow, out + (o * oh + r) * ow, bias ? bias[o] : T(0));
}

template <class T>
void to_wide(const DirectConv& d, const T* planes, T* wide) {
  const std::size_t oh = d.out_h(), ow = d.out_w(), stride = d.wide_stride();
  for (std::size_t o = 0; o < d.outputs; ++o)
    for (std::size_t r = 0; r < oh; ++r) copy_row(planes + (o * oh + r) * ow, ow, wide + o * stride + r * d.padded_w);
}

template <class T>
std::vector<T> pack_weights(const DirectConv& d, const T* w) {
  const std::size_t taps = d.taps(), block = d.output_block;
  std::vector<T> packed(d.outputs_padded() * taps, T(0));
  for (std::size_t o = 0; o < d.outputs; ++o)
    for (std::size_t t = 0; t < taps; ++t) packed[((o / block) * taps + t) * block + o % block] = w[o * taps + t];
  return packed;
}

template <class T>
void correlate(const DirectConv& d, const T* packed, const T* source, T* out) {
  switch (d.output_block) {
    case 4: return correlate_blocks<T, 4>(d, packed, source, out);
    case 6: return correlate_blocks<T, 6>(d, packed, source, out);
    default: return correlate_blocks<T, 8>(d, packed, source, out);
  }
}

template <class T>
void correlate_weight(const DirectConv& d, std::size_t count, const T* g_wide, const T* source, T* dw) {
  switch (d.weight_output_block) {
    case 2: return correlate_weight_blocks<T, 2, weight_taps(2)>(d, count, g_wide, source, dw);
    case 3: return correlate_weight_blocks<T, 3, weight_taps(3)>(d, count, g_wide, source, dw);
    default: return correlate_weight_blocks<T, 4, weight_taps(4)>(d, count, g_wide, source, dw);
  }
}

template <class T>
void add_taps(const DirectConv& d, const T* columns, T* source) {
  using B = xsimd::batch<T>;
  const std::size_t wide = d.wide(), stride = d.wide_stride();
  for (std::size_t t = 0; t < d.taps(); ++t) {
    const T* c = columns + t * stride;
    T* s = source + d.offsets[t];
    std::size_t p = 0;
    for (; p + B::size <= wide; p += B::size) (B::load_unaligned(s + p) + B::load_unaligned(c + p)).store_unaligned(s + p);
#if XSIMD_WITH_AVX512F
    if (p < wide) store_first(s + p, wide - p, load_first(s + p, wide - p) + load_first(c + p, wide - p));
#else
    for (; p < wide; ++p) s[p] += c[p];
#endif
  }
}

void set_conv_algorithm(ConvAlgorithm algorithm) { algorithm_in_use = algorithm; }
ConvAlgorithm conv_algorithm() { return algorithm_in_use; }

#define WENGERT_INSTANTIATE(T)                                                                                       \
  template void pad_planes<T>(const DirectConv&, const T*, std::size_t, std::size_t, std::size_t, std::size_t, T*);   \
  template void unpad_planes<T>(const DirectConv&, const T*, std::size_t, std::size_t, std::size_t, std::size_t, T*); \
  template void from_wide<T>(const DirectConv&, const T*, const T*, T*);                                             \
  template void to_wide<T>(const DirectConv&, const T*, T*);                                                         \
  template std::vector<T> pack_weights<T>(const DirectConv&, const T*);                                              \
  template void correlate<T>(const DirectConv&, const T*, const T*, T*);                                             \
  template void correlate_weight<T>(const DirectConv&, std::size_t, const T*, const T*, T*);                                   \
  template void add_taps<T>(const DirectConv&, const T*, T*);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff::detail
