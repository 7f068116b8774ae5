// The per-thread memory pool: blocks are recycled, aligned, bounded, and may
// be freed by another thread than the one that allocated them.
#include <doctest/doctest.h>

#include <cstdint>
#include <thread>

#include <autodiff/autodiff.hpp>

using namespace autodiff;

TEST_CASE("pool blocks are aligned for SIMD loads, whatever their size") {
  for (std::size_t n : {1, 3, 17, 1000, 300000}) {
    Array<float> a = Array<float>::from_shape({n});
    CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % detail::kBufferAlignment == 0);
  }
}

TEST_CASE("an array converts to and from a plain xt::xarray") {
  xt::xarray<double> plain = {{1.0, 2.0}, {3.0, 4.0}};
  Array<double> pooled = plain;
  Variable<double> v(plain, true);
  xt::xarray<double> back = sum(v * v).value();
  CHECK(pooled == plain);
  CHECK(back() == doctest::Approx(30.0));
}

#ifndef WENGERT_NO_POOL  // sanitizer builds send every block to the system
TEST_CASE("a freed block is handed out again by the next allocation of its size class") {
  release_pool();
  const PoolStatistics before = pool_statistics();
  const float* first;
  {
    Array<float> a = Array<float>::from_shape({100});
    first = a.data();
  }
  CHECK(pool_statistics().cached_bytes >= 400);
  Array<float> b = Array<float>::from_shape({120});  // the same class (512 bytes)
  CHECK(b.data() == first);
  CHECK(pool_statistics().reused == before.reused + 1);
}

TEST_CASE("training steps reuse memory: after the first step nothing new is allocated") {
  Variable<float> w(Array<float>::from_shape({64, 50}), true);
  Variable<float> b(Array<float>::from_shape({50}), true);
  Array<float> batch = Array<float>::from_shape({32, 64});
  w.data().fill(0.01f);
  b.data().fill(0.f);
  batch.fill(0.5f);
  auto step = [&] {
    Variable<float> cost = mean(sigmoid(affine(Variable<float>(batch), w, b)));
    cost.backward();
    w.zero_grad();
    b.zero_grad();
  };
  step();
  const std::size_t fresh_after_one_step = pool_statistics().fresh;
  for (int i = 0; i < 100; ++i) step();
  CHECK(pool_statistics().fresh == fresh_after_one_step);
}

TEST_CASE("release_pool returns the cached blocks to the system") {
  { Array<double> a = Array<double>::from_shape({1000}); }
  CHECK(pool_statistics().cached_bytes > 0);
  release_pool();
  CHECK(pool_statistics().cached_bytes == 0);
}
#endif

TEST_CASE("a variable made in one thread can be freed in another") {
  auto* made_here = new Variable<double>(Array<double>::from_shape({256}), true);
  std::thread other([made_here] {
    Variable<double> y = sum(*made_here * 2.0);  // recorded on the other thread's tape
    y.backward();
    delete made_here;  // its blocks go to this thread's pool, or to the system at its end
  });
  other.join();
  Array<double> after = Array<double>::from_shape({256});  // this thread's pool still works
  after.fill(1.0);
  CHECK(xt::sum(after)() == doctest::Approx(256.0));
}
