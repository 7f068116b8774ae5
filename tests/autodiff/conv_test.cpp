// Convolution and pooling values against naive nested loops written here from
// the definitions (PyTorch's), in float64 and float32, and their conventions.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <autodiff/autodiff.hpp>
#include <autodiff/detail/conv_direct.hpp>
#include <autodiff/detail/parallel.hpp>

#include "test_util.hpp"

using namespace autodiff;

namespace {

struct Opts {
  long sh = 1, sw = 1, ph = 0, pw = 0, dh = 1, dw = 1, groups = 1;
};

// y[n, o, i, j] = b[o] + sum_{c in o's group, p, q} x[n, c, i sh - ph + p dh, j sw - pw + q dw] w[o, c - c0, p, q]
Array<double> naive_conv(const Array<double>& x, const Array<double>& w, const Array<double>* b,
                              const Opts& o) {
  const long N = long(x.shape()[0]), C = long(x.shape()[1]), H = long(x.shape()[2]), W = long(x.shape()[3]);
  const long O = long(w.shape()[0]), Cg = long(w.shape()[1]), KH = long(w.shape()[2]), KW = long(w.shape()[3]);
  const long Ho = (H + 2 * o.ph - o.dh * (KH - 1) - 1) / o.sh + 1, Wo = (W + 2 * o.pw - o.dw * (KW - 1) - 1) / o.sw + 1;
  const long Og = O / o.groups;
  REQUIRE(Cg * o.groups == C);
  Array<double> y = xt::zeros<double>({std::size_t(N), std::size_t(O), std::size_t(Ho), std::size_t(Wo)});
  for (long n = 0; n < N; ++n)
    for (long oc = 0; oc < O; ++oc)
      for (long i = 0; i < Ho; ++i)
        for (long j = 0; j < Wo; ++j) {
          double s = b ? (*b)(oc) : 0.0;
          const long c0 = (oc / Og) * Cg;
          for (long c = 0; c < Cg; ++c)
            for (long p = 0; p < KH; ++p)
              for (long q = 0; q < KW; ++q) {
                const long ih = i * o.sh - o.ph + p * o.dh, iw = j * o.sw - o.pw + q * o.dw;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                s += x(n, c0 + c, ih, iw) * w(oc, c, p, q);
              }
          y(n, oc, i, j) = s;
        }
  return y;
}

Conv2dOptions to_options(const Opts& o) { return {{o.sh, o.sw}, {o.ph, o.pw}, {o.dh, o.dw}, o.groups}; }

void check_close(const Array<double>& a, const Array<double>& b, double tol) {
  REQUIRE(a.shape().size() == b.shape().size());
  for (std::size_t i = 0; i < a.dimension(); ++i) REQUIRE(a.shape()[i] == b.shape()[i]);
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(tol));
}

}  // namespace

TEST_CASE("conv2d equals the nested-loop convolution for many option combinations (float64 and float32)") {
  struct Case {
    Shape x, w;
    Opts o;
    bool bias;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 6}, {4, 3, 3, 2}, {}, true},
      {{2, 3, 7, 6}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}, false},
      {{1, 2, 9, 8}, {3, 2, 2, 3}, {1, 1, 1, 0, 2, 2, 1}, true},
      {{2, 4, 5, 5}, {6, 2, 3, 3}, {2, 1, 1, 1, 1, 1, 2}, true},
      {{1, 6, 6, 7}, {3, 2, 3, 2}, {1, 3, 2, 1, 2, 1, 3}, false},
      {{3, 4, 3, 5}, {2, 2, 1, 1}, {1, 1, 0, 0, 1, 1, 2}, true},  // 1x1 kernel: no im2col
      {{2, 3, 4, 4}, {5, 3, 1, 1}, {2, 2, 1, 1, 1, 1, 1}, false},  // 1x1 with stride and padding
      {{1, 1, 28, 28}, {6, 1, 5, 5}, {}, true},                    // LeNet's first layer
      {{1, 2, 4, 4}, {2, 2, 4, 4}, {1, 1, 0, 0, 1, 1, 1}, true},   // kernel = input: one output cell
      {{1, 1, 3, 3}, {1, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 1}, false},  // windows mostly in the padding
  };
  unsigned seed = 1;
  for (const Case& c : cases) {
    CAPTURE(seed);
    const Array<double> x = test::random_array(c.x, seed++), w = test::random_array(c.w, seed++);
    const Array<double> b = test::random_array({c.w[0]}, seed++);
    const Array<double> want = naive_conv(x, w, c.bias ? &b : nullptr, c.o);
    const Variable<double> y = conv2d(Variable<double>(x), Variable<double>(w),
                                      c.bias ? Variable<double>(b) : Variable<double>(), to_options(c.o));
    check_close(y.value(), want, 1e-12);
    const Array<float> xf = xt::cast<float>(x), wf = xt::cast<float>(w), bf = xt::cast<float>(b);
    const Variable<float> yf = conv2d(Variable<float>(xf), Variable<float>(wf),
                                      c.bias ? Variable<float>(bf) : Variable<float>(), to_options(c.o));
    REQUIRE(yf.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(std::abs(yf.value().data()[i] - want.data()[i]) < 1e-4);
  }
}

TEST_CASE("conv2d's gradients are the transposed convolution and the weight correlation (by hand loops)") {
  // <g, conv(x, w)> is linear in x and in w: its gradients are found entry by entry
  // from the naive convolution of unit inputs.
  const Opts o{2, 1, 1, 0, 1, 2, 2};
  const Array<double> x = test::random_array({2, 4, 5, 6}, 11), w = test::random_array({4, 2, 2, 3}, 12);
  const Array<double> y0 = naive_conv(x, w, nullptr, o);
  const Array<double> g = test::random_array(Shape(y0.shape().begin(), y0.shape().end()), 13);
  Variable<double> vx(x, true), vw(w, true);
  sum(conv2d(vx, vw, {}, to_options(o)) * Variable<double>(g)).backward();
  Array<double> unit = xt::zeros<double>(x.shape());
  for (std::size_t i = 0; i < x.size(); ++i) {
    unit.data()[i] = 1;
    CHECK(vx.grad().data()[i] == doctest::Approx(xt::sum(naive_conv(unit, w, nullptr, o) * g)()).epsilon(1e-12));
    unit.data()[i] = 0;
  }
  Array<double> wunit = xt::zeros<double>(w.shape());
  for (std::size_t i = 0; i < w.size(); ++i) {
    wunit.data()[i] = 1;
    CHECK(vw.grad().data()[i] == doctest::Approx(xt::sum(naive_conv(x, wunit, nullptr, o) * g)()).epsilon(1e-12));
    wunit.data()[i] = 0;
  }
}

// Forces conv2d's kernels for a scope (detail/conv_direct.hpp): both must give the same numbers.
struct AlgorithmScope {
  explicit AlgorithmScope(detail::ConvAlgorithm a) { detail::set_conv_algorithm(a); }
  ~AlgorithmScope() { detail::set_conv_algorithm(detail::ConvAlgorithm::automatic); }
};

template <class T>
std::vector<Array<T>> conv_value_and_gradients(const Array<double>& x, const Array<double>& w, const Array<double>& b,
                                               const Array<double>& g, const Opts& o, detail::ConvAlgorithm a) {
  const AlgorithmScope scope(a);
  Variable<T> vx(xt::cast<T>(x), true), vw(xt::cast<T>(w), true), vb(xt::cast<T>(b), true);
  const Variable<T> y = conv2d(vx, vw, vb, to_options(o));
  y.backward(xt::cast<T>(g));
  return {y.value(), vx.grad(), vw.grad(), vb.grad()};
}

TEST_CASE("the direct kernels (stride 1) and im2col give the same values and gradients, float64 and float32") {
  using detail::ConvAlgorithm;
  struct Case {
    Shape x, w;
    Opts o;
  };
  // LeNet's and the MNIST CNN's first layers, odd sizes, padding as large as the
  // kernel and beyond, rows shorter than a SIMD register, output counts that
  // leave part of a register block (1, 5, 7, 9, 13), tap counts that leave part
  // of a tap block (2, 7, 25, 27)
  const std::vector<Case> cases = {
      {{3, 1, 28, 28}, {6, 1, 5, 5}, {1, 1, 2, 2}},
      {{2, 6, 14, 14}, {16, 6, 5, 5}, {}},
      {{2, 1, 28, 28}, {32, 1, 3, 3}, {}},
      {{2, 3, 7, 5}, {5, 3, 3, 2}, {1, 1, 1, 1}},
      {{1, 2, 4, 9}, {1, 2, 4, 1}, {1, 1, 3, 0}},
      {{2, 7, 3, 3}, {9, 7, 1, 3}, {1, 1, 2, 2}},
      {{1, 1, 1, 40}, {13, 1, 1, 7}, {1, 1, 0, 3}},
      {{9, 3, 6, 6}, {7, 3, 3, 3}, {1, 1, 1, 0}},
      {{1, 1, 2, 2}, {2, 1, 2, 1}, {}},
  };
  unsigned seed = 300;
  for (const Case& c : cases) {
    CAPTURE(seed);
    const Array<double> x = test::random_array(c.x, seed++), w = test::random_array(c.w, seed++),
                        b = test::random_array({c.w[0]}, seed++);
    const Array<double> want = naive_conv(x, w, &b, c.o);
    const Array<double> g = test::random_array(Shape(want.shape().begin(), want.shape().end()), seed++);
    const auto direct = conv_value_and_gradients<double>(x, w, b, g, c.o, ConvAlgorithm::direct);
    const auto im2col = conv_value_and_gradients<double>(x, w, b, g, c.o, ConvAlgorithm::im2col);
    check_close(direct[0], want, 1e-12);
    for (std::size_t k = 1; k < direct.size(); ++k) check_close(direct[k], im2col[k], 1e-12);
    const auto direct_f = conv_value_and_gradients<float>(x, w, b, g, c.o, ConvAlgorithm::direct);
    const auto im2col_f = conv_value_and_gradients<float>(x, w, b, g, c.o, ConvAlgorithm::im2col);
    for (std::size_t k = 0; k < direct_f.size(); ++k) {
      REQUIRE(direct_f[k].size() == im2col_f[k].size());
      const double scale = 1 + double(xt::amax(xt::abs(im2col_f[k]))());
      for (std::size_t i = 0; i < direct_f[k].size(); ++i)
        CHECK(std::abs(direct_f[k].data()[i] - im2col_f[k].data()[i]) < 1e-5 * scale);
    }
  }
}

TEST_CASE("the direct kernels' first and second derivatives match central differences") {
  const AlgorithmScope scope(detail::ConvAlgorithm::direct);
  using V = Variable<double>;
  const std::vector<Array<double>> inputs = {test::random_array({2, 3, 5, 4}, 41), test::random_array({5, 3, 3, 2}, 42),
                                             test::random_array({5}, 43)};
  const auto f = [](const std::vector<V>& v) { return square(conv2d(v[0], v[1], v[2], {.padding = {1, 2}})); };
  const GradCheckReport first = gradcheck(f, inputs);
  INFO(first.to_string());
  CHECK(first.passed);
  const GradCheckReport second = gradgradcheck(f, inputs);
  INFO(second.to_string());
  CHECK(second.passed);
}

TEST_CASE("conv2d's direct kernels split the batch across two threads, with one thread's results") {
  // (named for the ThreadSanitizer run, which takes the tests with "thread" in their names)
  const AlgorithmScope scope(detail::ConvAlgorithm::direct);
  const Array<double> x = test::random_array({7, 3, 13, 11}, 61), w = test::random_array({8, 3, 3, 4}, 62),
                      b = test::random_array({8}, 63);
  const Opts o{1, 1, 1, 2};
  const Array<double> g = test::random_array({7, 8, 13, 12}, 64);
  const auto run = [&](std::size_t threads) {
    detail::set_parallel_threads(threads);
    Variable<double> vx(x, true), vw(w, true), vb(b, true);
    const Variable<double> y = conv2d(vx, vw, vb, to_options(o));
    y.backward(g);
    detail::set_parallel_threads(0);
    return std::vector<Array<double>>{y.value(), vx.grad(), vw.grad(), vb.grad()};
  };
  const auto one = run(1), two = run(2);
  CHECK(one[0] == two[0]);  // each element's output and input gradient come from one thread either way
  CHECK(one[1] == two[1]);
  check_close(two[2], one[2], 1e-12);  // the weight gradient's sums are added in another order
  CHECK(one[3] == two[3]);
  check_close(one[0], naive_conv(x, w, &b, o), 1e-12);
}

TEST_CASE("parallel_for runs every part once and rethrows a part's exception after all parts finish (threads)") {
  detail::set_parallel_threads(2);
  std::vector<int> runs(64, 0);
  detail::parallel_for(runs.size(), [&](std::size_t part) { runs[part] += 1; });
  CHECK(std::count(runs.begin(), runs.end(), 1) == 64);
  std::atomic<int> finished{0};
  CHECK_THROWS_WITH_AS(detail::parallel_for(8,
                                            [&](std::size_t part) {
                                              ++finished;
                                              if (part == 3) throw std::runtime_error("part 3 failed");
                                            }),
                       "part 3 failed", std::runtime_error);
  CHECK(finished == 8);
  std::atomic<int> nested{0};  // a part's own parallel_for runs inline, on its thread (no deadlock)
  detail::parallel_for(2, [&](std::size_t) { detail::parallel_for(4, [&](std::size_t) { ++nested; }); });
  CHECK(nested == 8);
  detail::set_parallel_threads(0);
}

TEST_CASE("conv2d's backward: the weight gradient from the kept columns is conv2d_backward_weight's, both adjoints hold") {
  // conv2d keeps its im2col columns for the weight gradient when the weight wants
  // one; the result must be the same numbers as conv2d_backward_weight computing
  // them again, and both gradients the adjoints of the convolution:
  // <dx, u> = <g, conv(u, w)> and <dw, v> = <g, conv(x, v)> for random u, v.
  struct Case {
    Shape x, w;
    Opts o;
  };
  const std::vector<Case> cases = {
      {{2, 3, 5, 6}, {4, 3, 3, 2}, {}},
      {{2, 3, 7, 6}, {4, 3, 3, 3}, {2, 2, 1, 1, 1, 1, 1}},
      {{1, 2, 9, 8}, {3, 2, 2, 3}, {1, 1, 1, 0, 2, 2, 1}},
      {{2, 4, 5, 5}, {6, 2, 3, 3}, {2, 1, 1, 1, 1, 1, 2}},
      {{1, 6, 6, 7}, {3, 2, 3, 2}, {1, 3, 2, 1, 2, 1, 3}},
      {{3, 4, 3, 5}, {2, 2, 1, 1}, {1, 1, 0, 0, 1, 1, 2}},  // 1x1: x is its own columns, nothing kept
      {{2, 3, 4, 4}, {5, 3, 1, 1}, {2, 2, 1, 1, 1, 1, 1}},
      {{3, 1, 12, 12}, {6, 1, 5, 5}, {}},                   // LeNet-like, batch 3
      {{1, 1, 3, 3}, {1, 1, 3, 3}, {1, 1, 2, 2, 2, 2, 1}},  // windows mostly in the padding
  };
  unsigned seed = 101;
  for (const Case& c : cases) {
    CAPTURE(seed);
    const Array<double> x = test::random_array(c.x, seed++), w = test::random_array(c.w, seed++);
    const Array<double> y0 = naive_conv(x, w, nullptr, c.o);
    const Shape ys(y0.shape().begin(), y0.shape().end());
    const Array<double> g = test::random_array(ys, seed++), u = test::random_array(c.x, seed++),
                        v = test::random_array(c.w, seed++);
    Variable<double> vx(x, true), vw(w, true);
    conv2d(vx, vw, {}, to_options(c.o)).backward(g);
    const Array<double> recomputed =
        conv2d_backward_weight(Variable<double>(g), Variable<double>(x), c.w, to_options(c.o)).value();
    REQUIRE(vw.grad().size() == recomputed.size());
    for (std::size_t i = 0; i < recomputed.size(); ++i) CHECK(vw.grad().data()[i] == recomputed.data()[i]);
    const double scale = double(xt::sum(xt::abs(g))());
    CHECK(double(xt::sum(vx.grad() * u)()) ==
          doctest::Approx(double(xt::sum(naive_conv(u, w, nullptr, c.o) * g)())).epsilon(1e-12).scale(scale));
    CHECK(double(xt::sum(vw.grad() * v)()) ==
          doctest::Approx(double(xt::sum(naive_conv(x, v, nullptr, c.o) * g)())).epsilon(1e-12).scale(scale));
    // The same in float32, with the columns kept (weight wants a gradient) and not (it does not).
    const Array<float> xf = xt::cast<float>(x), wf = xt::cast<float>(w), gf = xt::cast<float>(g);
    Variable<float> fx(xf, true), fw(wf, true), fw_fixed(wf);
    conv2d(fx, fw, {}, to_options(c.o)).backward(gf);
    Variable<float> fx2(xf, true);
    conv2d(fx2, fw_fixed, {}, to_options(c.o)).backward(gf);
    const Array<float> frecomputed =
        conv2d_backward_weight(Variable<float>(gf), Variable<float>(xf), c.w, to_options(c.o)).value();
    for (std::size_t i = 0; i < frecomputed.size(); ++i) CHECK(fw.grad().data()[i] == frecomputed.data()[i]);
    for (std::size_t i = 0; i < xf.size(); ++i) CHECK(fx.grad().data()[i] == fx2.grad().data()[i]);
  }
}

TEST_CASE("conv1d is conv2d with a height of 1") {
  const Array<double> x = test::random_array({2, 4, 11}, 21), w = test::random_array({6, 2, 3}, 22),
                      b = test::random_array({6}, 23);
  const Variable<double> y =
      conv1d(Variable<double>(x), Variable<double>(w), Variable<double>(b), {.stride = 2, .padding = 2, .dilation = 3, .groups = 2});
  const Array<double> x4 = xt::reshape_view(x, {2, 4, 1, 11}), w4 = xt::reshape_view(w, {6, 2, 1, 3});
  const Array<double> want = naive_conv(x4, w4, &b, {1, 2, 0, 2, 1, 3, 2});
  REQUIRE(y.shape() == Shape{2, 6, want.shape()[3]});
  for (std::size_t i = 0; i < want.size(); ++i) CHECK(y.value().data()[i] == doctest::Approx(want.data()[i]));
}

TEST_CASE("max_pool2d: window maxima, -inf padding, the first maximum gets the gradient") {
  // 1 x 1 x 4 x 5, kernel 2, default stride 2: output 2 x 2 (the last column unused)
  const Array<double> x = {{{{1, 5, 2, 0, 9}, {3, 4, 8, 8, 9}, {-1, -2, 7, 6, 9}, {-3, -1, 6, 7, 9}}}};
  Variable<double> v(x, true);
  const Variable<double> y = max_pool2d(v, 2);
  REQUIRE(y.shape() == Shape{1, 1, 2, 2});
  CHECK(y.value()(0, 0, 0, 0) == 5);
  CHECK(y.value()(0, 0, 0, 1) == 8);
  CHECK(y.value()(0, 0, 1, 0) == -1);
  CHECK(y.value()(0, 0, 1, 1) == 7);
  sum(y * Variable<double>(Array<double>{{{{1, 2}, {3, 4}}}})).backward();
  const Array<double> want = {{{{0, 1, 0, 0, 0}, {0, 0, 2, 0, 0}, {3, 0, 4, 0, 0}, {0, 0, 0, 0, 0}}}};
  CHECK(v.grad() == want);  // the tie 8, 8 and 7, 7: the first in row-major order

  // padding 1, kernel 3, stride 2 on negative values: the padding never wins
  const Array<double> neg = -test::random_array({1, 2, 5, 5}, 5, 1, 2);
  const Variable<double> p = max_pool2d(Variable<double>(neg), 3, 2, 1);
  REQUIRE(p.shape() == Shape{1, 2, 3, 3});
  for (std::size_t c = 0; c < 2; ++c)
    for (long i = 0; i < 3; ++i)
      for (long j = 0; j < 3; ++j) {
        double m = -std::numeric_limits<double>::infinity();
        for (long r = 2 * i - 1; r <= 2 * i + 1; ++r)
          for (long q = 2 * j - 1; q <= 2 * j + 1; ++q)
            if (r >= 0 && r < 5 && q >= 0 && q < 5) m = std::max(m, neg(0, c, r, q));
        CHECK(p.value()(0, c, i, j) == m);
      }
  // kernel 2, stride 2 (a path of its own) on odd sizes against the definition; ties from rounding to 0.5
  const Array<double> r = xt::round(test::random_array({2, 3, 7, 9}, 6) * 2.0) / 2.0;
  Variable<double> rv(r, true);
  const Variable<double> rp = max_pool2d(rv, 2, 2);
  REQUIRE(rp.shape() == Shape{2, 3, 3, 4});
  sum(rp).backward();
  Array<double> want_grad = xt::zeros<double>(r.shape());
  for (std::size_t n = 0; n < 2; ++n)
    for (std::size_t c = 0; c < 3; ++c)
      for (std::size_t i = 0; i < 3; ++i)
        for (std::size_t j = 0; j < 4; ++j) {
          std::size_t bi = 2 * i, bj = 2 * j;
          for (std::size_t a = 2 * i; a < 2 * i + 2; ++a)
            for (std::size_t b = 2 * j; b < 2 * j + 2; ++b)
              if (r(n, c, a, b) > r(n, c, bi, bj)) bi = a, bj = b;
          CHECK(rp.value()(n, c, i, j) == r(n, c, bi, bj));
          want_grad(n, c, bi, bj) += 1;
        }
  CHECK(rv.grad() == want_grad);
  // NaN propagates, as in PyTorch
  Array<double> with_nan = x;
  with_nan(0, 0, 1, 1) = std::nan("");
  CHECK(std::isnan(max_pool2d(Variable<double>(with_nan), 2).value()(0, 0, 0, 0)));
}

TEST_CASE("max_pool2d 2x2 in float32 (AVX blocks of 8 cells, a row's last ones masked) as the definition") {
  // every row length from 1 to 19 cells; ties from rounding to 0.5, some NaNs (the first in the window wins);
  // 4 rows: the last window's bottom row ends the array (nothing may be read past it)
  for (std::size_t h : {4, 5}) {
    for (std::size_t w = 2; w <= 39; ++w) {
      CAPTURE(h);
      CAPTURE(w);
      Array<float> r = xt::cast<float>(xt::round(test::random_array({2, 3, h, w}, unsigned(w)) * 2.0) / 2.0);
      for (std::size_t k = 0; k < r.size(); k += 7 + w % 5) r.data()[k] = std::nanf("");
      Variable<float> rv(r, true);
      const Variable<float> rp = max_pool2d(rv, 2);
      const std::size_t wo = w / 2;
      REQUIRE(rp.shape() == Shape{2, 3, 2, wo});
      sum(rp).backward();
      Array<float> want_grad = xt::zeros<float>(r.shape());
      bool all = true;
      for (std::size_t n = 0; n < 2; ++n)
        for (std::size_t c = 0; c < 3; ++c)
          for (std::size_t i = 0; i < 2; ++i)
            for (std::size_t j = 0; j < wo; ++j) {
              std::size_t bi = 2 * i, bj = 2 * j;
              for (std::size_t a = 2 * i; a < 2 * i + 2; ++a)
                for (std::size_t b = 2 * j; b < 2 * j + 2; ++b) {
                  const float v = r(n, c, a, b), m = r(n, c, bi, bj);
                  if (v > m || (std::isnan(v) && !std::isnan(m))) bi = a, bj = b;
                }
              const float got = rp.value()(n, c, i, j), want = r(n, c, bi, bj);
              all = all && (got == want || (std::isnan(got) && std::isnan(want)));
              want_grad(n, c, bi, bj) += 1;
            }
      CHECK(all);
      CHECK(rv.grad() == want_grad);
    }
  }
}

TEST_CASE("avg_pool2d: window means with and without the padding counted; adaptive windows as PyTorch") {
  const Array<double> x = test::random_array({2, 3, 5, 6}, 31);
  for (bool include : {true, false}) {
    CAPTURE(include);
    const Variable<double> y = avg_pool2d(Variable<double>(x), {3, 2}, {2, 3}, {1, 1}, include);
    REQUIRE(y.shape() == Shape{2, 3, 3, 3});  // (5 + 2 - 3) / 2 + 1, (6 + 2 - 2) / 3 + 1
    for (std::size_t n = 0; n < 2; ++n)
      for (std::size_t c = 0; c < 3; ++c)
        for (long i = 0; i < 3; ++i)
          for (long j = 0; j < 3; ++j) {
            double s = 0;
            int count = 0;
            for (long r = 2 * i - 1; r < 2 * i + 2; ++r)
              for (long q = 3 * j - 1; q < 3 * j + 1; ++q)
                if (r >= 0 && r < 5 && q >= 0 && q < 6) s += x(n, c, r, q), ++count;
            CHECK(y.value()(n, c, i, j) == doctest::Approx(s / (include ? 6 : count)));
          }
  }
  // float32, kernel 2: plain means
  const Array<float> xf = xt::cast<float>(x);
  const Variable<float> yf = avg_pool2d(Variable<float>(xf), 2);
  CHECK(yf.value()(1, 2, 1, 2) == doctest::Approx((xf(1, 2, 2, 4) + xf(1, 2, 2, 5) + xf(1, 2, 3, 4) + xf(1, 2, 3, 5)) / 4));

  // adaptive: 5 rows to 3 -> [0, 2), [1, 4), [3, 5); 6 columns to 4 -> [0, 2), [1, 3), [3, 5), [4, 6)
  const Variable<double> a = adaptive_avg_pool2d(Variable<double>(x), {3, 4});
  const long r0[] = {0, 1, 3}, r1[] = {2, 4, 5}, c0[] = {0, 1, 3, 4}, c1[] = {2, 3, 5, 6};
  for (long i = 0; i < 3; ++i)
    for (long j = 0; j < 4; ++j) {
      double s = 0;
      for (long r = r0[i]; r < r1[i]; ++r)
        for (long q = c0[j]; q < c1[j]; ++q) s += x(1, 0, r, q);
      CHECK(a.value()(1, 0, i, j) == doctest::Approx(s / double((r1[i] - r0[i]) * (c1[j] - c0[j]))));
    }
  const Variable<double> global = adaptive_avg_pool2d(Variable<double>(x), 1);
  REQUIRE(global.shape() == Shape{2, 3, 1, 1});
  double s = 0;
  for (long r = 0; r < 5; ++r)
    for (long q = 0; q < 6; ++q) s += x(0, 2, r, q);
  CHECK(global.value()(0, 2, 0, 0) == doctest::Approx(s / 30));
}

TEST_CASE("convolution and pooling of an empty batch give empty outputs and gradients") {
  Variable<double> x(Array<double>::from_shape({0, 3, 6, 6}), true);
  Variable<double> w(test::random_array({2, 3, 3, 3}, 41), true), b(test::random_array({2}, 42), true);
  const Variable<double> y = conv2d(x, w, b, {.padding = 1});
  CHECK(y.shape() == Shape{0, 2, 6, 6});
  (sum(y) + sum(max_pool2d(x, 2)) + sum(avg_pool2d(x, 3)) + sum(adaptive_avg_pool2d(x, 2))).backward();
  CHECK(x.grad().shape() == Shape{0, 3, 6, 6});
  CHECK(xt::all(xt::equal(w.grad(), 0.0)));
  CHECK(xt::all(xt::equal(b.grad(), 0.0)));
}

TEST_CASE("conv2d with no input channels gives the bias") {
  Variable<double> x(Array<double>::from_shape({2, 0, 4, 4}), true), w(Array<double>::from_shape({3, 0, 2, 2}), true);
  Variable<double> b(Array<double>{0.5, -1, 2}, true);
  const Variable<double> y = conv2d(x, w, b);
  REQUIRE(y.shape() == Shape{2, 3, 3, 3});
  CHECK(y.value()(1, 0, 2, 1) == 0.5);
  CHECK(y.value()(0, 2, 0, 0) == 2);
  sum(y).backward();
  CHECK(b.grad() == Array<double>{18, 18, 18});
  CHECK(x.grad().shape() == Shape{2, 0, 4, 4});
}
