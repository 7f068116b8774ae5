// e^x over a buffer, one SIMD register of values at a time (see detail/vector_math.hpp).
//
// e^x = 2^k e^r with k = round(x / ln 2) and r = x - k ln 2, |r| <= ln(2) / 2:
// e^r is its Taylor series (to r^13 in double, r^7 in float; the next term is
// below half a unit in the last place), and 2^k is built in the exponent bits.
#include "detail/vector_math.hpp"

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include <xsimd/xsimd.hpp>

namespace autodiff::detail {

namespace {

template <class T>
struct ExpConstants;
template <>
struct ExpConstants<double> {
  using Bits = std::int64_t;
  static constexpr double bound = 746;       // e^746 overflows and e^-746 underflows, as any beyond
  static constexpr double shifter = 0x1.8p52;  // v + shifter rounds v to an integer, held in the low bits
  static constexpr double ln2_hi = 0x1.62e42fefa3800p-1, ln2_lo = 0x1.ef35793c76730p-45;  // hi k is exact
  static constexpr double min_exponent = -1022, max_exponent = 1023;
  static constexpr int mantissa_bits = 52;
  static constexpr Bits exponent_bias = 1023;
};
template <>
struct ExpConstants<float> {
  using Bits = std::int32_t;
  static constexpr float bound = 104;
  static constexpr float shifter = 0x1.8p23f;
  static constexpr float ln2_hi = 0x1.62e400p-1f, ln2_lo = 0x1.7f7d1cp-20f;
  static constexpr float min_exponent = -126, max_exponent = 127;
  static constexpr int mantissa_bits = 23;
  static constexpr Bits exponent_bias = 127;
};

// 2^k for integral k in the normal exponent range, given k + shifter.
template <class B>
B pow2(B k_plus_shifter) {
  using C = ExpConstants<typename B::value_type>;
  using IntBatch = xsimd::batch<typename C::Bits, typename B::arch_type>;
  const IntBatch biased = xsimd::bitwise_cast<IntBatch>(k_plus_shifter) + IntBatch(C::exponent_bias);
  return xsimd::bitwise_cast<B>(biased << C::mantissa_bits);  // the shift drops the shifter's own bits
}

template <class B>
B exp_batch(B x) {
  using T = typename B::value_type;
  using C = ExpConstants<T>;
  // Clamped so that k fits the split below. min/max(bound, x) return x when x is NaN.
  const B clamped = xsimd::min(B(C::bound), xsimd::max(B(-C::bound), x));
  const B k = xsimd::fma(clamped, B(T(1.4426950408889634)), B(C::shifter)) - B(C::shifter);
  B r = xsimd::fnma(k, B(C::ln2_hi), clamped);
  r = xsimd::fnma(k, B(C::ln2_lo), r);
  // Taylor series in Estrin's scheme: pairs first, so the chain of dependent steps is short.
  const B r2 = r * r, r4 = r2 * r2;
  B e_r;
  if constexpr (std::is_same_v<T, double>) {
    const B r8 = r4 * r4;
    const B p01 = r + B(1), p23 = xsimd::fma(r, B(1.0 / 6), B(0.5)), p45 = xsimd::fma(r, B(1.0 / 120), B(1.0 / 24)),
            p67 = xsimd::fma(r, B(1.0 / 5040), B(1.0 / 720)), p89 = xsimd::fma(r, B(1.0 / 362880), B(1.0 / 40320)),
            p1011 = xsimd::fma(r, B(1.0 / 39916800), B(1.0 / 3628800)),
            p1213 = xsimd::fma(r, B(1.0 / 6227020800.0), B(1.0 / 479001600));
    const B p0to3 = xsimd::fma(p23, r2, p01), p4to7 = xsimd::fma(p67, r2, p45), p8to11 = xsimd::fma(p1011, r2, p89);
    e_r = xsimd::fma(xsimd::fma(p1213, r4, p8to11), r8, xsimd::fma(p4to7, r4, p0to3));
  } else {
    const B p01 = r + B(1), p23 = xsimd::fma(r, B(1.0f / 6), B(0.5f)), p45 = xsimd::fma(r, B(1.0f / 120), B(1.0f / 24)),
            p67 = xsimd::fma(r, B(1.0f / 5040), B(1.0f / 720));
    e_r = xsimd::fma(xsimd::fma(p67, r2, p45), r4, xsimd::fma(p23, r2, p01));
  }
  // 2^k = 2^k1 2^k2 with both factors normal numbers: results beyond the
  // double range round once, to inf or through the subnormals to 0.
  const B k1 = xsimd::min(B(C::max_exponent), xsimd::max(B(C::min_exponent), k));
  return e_r * pow2(k1 + B(C::shifter)) * pow2((k - k1) + B(C::shifter));
}

// out[i] = f(batch of in)[i] for i < n, the tail padded to a full batch.
template <class T, class F>
void apply(const T* in, T* out, std::size_t n, F f) {
  using B = xsimd::batch<T>;
  std::size_t i = 0;
  for (; i + B::size <= n; i += B::size) f(B::load_unaligned(in + i)).store_unaligned(out + i);
  if (i == n) return;
  alignas(B::arch_type::alignment()) T tail[B::size] = {};
  std::copy(in + i, in + n, tail);
  f(B::load_aligned(tail)).store_aligned(tail);
  std::copy(tail, tail + (n - i), out + i);
}

}  // namespace

template <class T>
void exp_of(const T* x, T* y, std::size_t n) {
  apply(x, y, n, [](auto v) { return exp_batch(v); });
}

template <class T>
void sigmoid_of(const T* x, T* y, std::size_t n) {
  // e^-x overflows to inf for x << 0, giving 1 / inf = 0: no NaN.
  apply(x, y, n, [](auto v) {
    using B = decltype(v);
    return B(1) / (B(1) + exp_batch(-v));
  });
}

template <class T>
void tanh_of(const T* x, T* y, std::size_t n) {
  apply(x, y, n, [](auto v) { return xsimd::tanh(v); });
}

#define WENGERT_INSTANTIATE(T)                                \
  template void exp_of<T>(const T*, T*, std::size_t);         \
  template void sigmoid_of<T>(const T*, T*, std::size_t);     \
  template void tanh_of<T>(const T*, T*, std::size_t);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE

}  // namespace autodiff::detail
