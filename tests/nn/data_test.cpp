// Data sets: splits, one-hot encoding, standard scaling, minibatches and the
// digits file of the lecture.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nn/data.hpp>

#include "test_util.hpp"

using namespace nn;
using A = autodiff::Array<double>;

namespace {
using test::message_of;

// A data set whose sample i has inputs (i, 1000 + i), label label_of(i) and
// target -i: the index can be read back from any part.
Dataset<double> numbered(std::size_t n, const std::function<std::size_t(std::size_t)>& label_of) {
  Dataset<double> data;
  data.inputs = A::from_shape({n, 2});
  data.targets = A::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    data.inputs(i, 0) = double(i);
    data.inputs(i, 1) = 1000.0 + double(i);
    data.targets(i, 0) = -double(i);
    data.labels.push_back(label_of(i));
  }
  return data;
}

// The original indices of a part, checking that inputs, labels and targets stay together.
std::vector<std::size_t> indices_of(const Dataset<double>& part, const std::function<std::size_t(std::size_t)>& label_of) {
  std::vector<std::size_t> indices;
  REQUIRE(part.labels.size() == part.size());
  for (std::size_t j = 0; j < part.size(); ++j) {
    const auto i = static_cast<std::size_t>(part.inputs(j, 0));
    CHECK(part.inputs(j, 1) == 1000.0 + double(i));
    CHECK(part.labels[j] == label_of(i));
    if (part.targets.size() > 0) CHECK(part.targets(j, 0) == -double(i));
    indices.push_back(i);
  }
  return indices;
}

std::size_t by_three(std::size_t i) { return i % 3; }

std::size_t count(const Labels& labels, std::size_t label) {
  return static_cast<std::size_t>(std::count(labels.begin(), labels.end(), label));
}
}  // namespace

TEST_CASE("train_test_split makes disjoint 80/20 parts covering every sample, paired with their labels") {
  const Dataset<double> data = numbered(100, by_three);
  const auto [train, test] = train_test_split(data, 0.2, 7);
  CHECK(train.size() == 80);
  CHECK(test.size() == 20);
  const auto train_indices = indices_of(train, by_three);
  const auto test_indices = indices_of(test, by_three);
  std::set<std::size_t> all(train_indices.begin(), train_indices.end());
  all.insert(test_indices.begin(), test_indices.end());
  CHECK(all.size() == 100);  // no sample in both parts, none lost
  CHECK(*all.begin() == 0);
  CHECK(*all.rbegin() == 99);

  // Shuffled: the test part is not simply the last (or first) 20 samples.
  std::vector<std::size_t> sorted = test_indices;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted.back() - sorted.front() > 19);

  // 0.25 of 10 samples rounds to 3 (2.5 -> 3) or 2; either way both parts are non-empty and add up.
  const auto [small_train, small_test] = train_test_split(numbered(10, by_three), 0.25, 1);
  CHECK(small_train.size() + small_test.size() == 10);
  CHECK(small_test.size() >= 2);
  CHECK(small_test.size() <= 3);
}

TEST_CASE("train_test_split is reproducible with a seed and differs with another seed") {
  const Dataset<double> data = numbered(100, by_three);
  const auto first = train_test_split(data, 0.2, 42);
  const auto again = train_test_split(data, 0.2, 42);
  const auto other = train_test_split(data, 0.2, 43);
  CHECK(indices_of(first.second, by_three) == indices_of(again.second, by_three));
  CHECK(indices_of(first.first, by_three) == indices_of(again.first, by_three));
  auto a = indices_of(first.second, by_three), b = indices_of(other.second, by_three);
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  CHECK(a != b);  // a different set of test samples, not only another order
}

TEST_CASE("a stratified split keeps every class's share in both parts, within one sample") {
  // Imbalanced classes: 59, 31 and 10 samples, interleaved.
  auto label_of = [](std::size_t i) -> std::size_t { return i % 10 < 6 ? (i < 95 ? 0 : 1) : (i % 10 < 9 ? 1 : 2); };
  const Dataset<double> data = numbered(100, label_of);
  std::map<std::size_t, std::size_t> totals;
  for (auto label : data.labels) ++totals[label];
  REQUIRE(totals.size() == 3);
  for (std::uint64_t seed : {0u, 1u, 2u}) {
    CAPTURE(seed);
    const auto [train, test] = train_test_split(data, 0.2, seed, true);
    indices_of(train, label_of);
    indices_of(test, label_of);
    CHECK(train.size() + test.size() == 100);
    for (const auto& [label, total] : totals) {
      CAPTURE(label);
      CHECK(std::abs(double(count(test.labels, label)) - 0.2 * double(total)) <= 1.0);
      CHECK(std::abs(double(count(train.labels, label)) - 0.8 * double(total)) <= 1.0);
    }
  }
  // Stratifying needs labels.
  Dataset<double> unlabelled = numbered(10, by_three);
  unlabelled.labels.clear();
  CHECK_THROWS_AS(train_test_split(unlabelled, 0.2, 0, true), std::invalid_argument);
}

TEST_CASE("train_test_split rejects a test fraction outside (0, 1)") {
  const Dataset<double> data = numbered(10, by_three);
  for (double fraction : {0.0, 1.0, -0.1, 1.5}) {
    CAPTURE(fraction);
    const std::string message = message_of([&] { train_test_split(data, fraction, 0); });
    CHECK(message.find("test fraction") != std::string::npos);
  }
}

TEST_CASE("one_hot puts a single 1 in each label's column") {
  const A encoded = one_hot<double>({2, 0, 3, 2}, 4);
  const A expected = {{0, 0, 1, 0}, {1, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}};
  CHECK(encoded == expected);
  const autodiff::Array<float> single = one_hot<float>({0}, 1);
  CHECK(single.shape() == autodiff::Array<float>::shape_type{1, 1});
  CHECK(single(0, 0) == 1.f);

  const std::string message = message_of([] { one_hot<double>({1, 5, 0}, 3); });
  CHECK(message.find("label 5") != std::string::npos);
  CHECK(message.find("3 classes") != std::string::npos);
  CHECK_THROWS_AS(one_hot<double>({3}, 3), std::out_of_range);
}

TEST_CASE("StandardScaler gives the training columns mean 0 and standard deviation 1") {
  // Columns with different means and spreads.
  A train = A::from_shape({40, 3});
  for (std::size_t i = 0; i < 40; ++i) {
    train(i, 0) = std::sin(double(i)) * 3 + 10;
    train(i, 1) = double(i * i % 17) - 100;
    train(i, 2) = 0.001 * std::cos(double(3 * i));
  }
  StandardScaler<double> scaler;
  const A scaled = scaler.fit_transform(train);
  REQUIRE(scaled.shape() == train.shape());
  for (std::size_t j = 0; j < 3; ++j) {
    CAPTURE(j);
    double mean = 0, squares = 0;
    for (std::size_t i = 0; i < 40; ++i) mean += scaled(i, j) / 40;
    for (std::size_t i = 0; i < 40; ++i) squares += (scaled(i, j) - mean) * (scaled(i, j) - mean);
    CHECK(std::abs(mean) < 1e-12);
    CHECK(std::sqrt(squares / 40) == doctest::Approx(1.0).epsilon(1e-12));  // population std (ddof 0)
  }
}

TEST_CASE("StandardScaler transforms test data with the training statistics") {
  const A train = {{1.0, 10.0}, {2.0, 20.0}, {3.0, 60.0}, {6.0, 30.0}};
  const A test = {{0.0, 0.0}, {3.0, 30.0}, {100.0, -5.0}};
  // Independently: column 0 has mean 3 and variance (4 + 1 + 0 + 9) / 4 = 3.5;
  // column 1 has mean 30 and variance (400 + 100 + 900 + 0) / 4 = 350.
  const double mean[2] = {3.0, 30.0}, std[2] = {std::sqrt(3.5), std::sqrt(350.0)};
  StandardScaler<double> scaler;
  scaler.fit(train);
  CHECK(scaler.mean()(0) == doctest::Approx(3.0));
  CHECK(scaler.mean()(1) == doctest::Approx(30.0));
  CHECK(scaler.scale()(0) == doctest::Approx(std[0]));
  CHECK(scaler.scale()(1) == doctest::Approx(std[1]));
  const A out = scaler.transform(test);
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t j = 0; j < 2; ++j) {
      CAPTURE(i);
      CAPTURE(j);
      CHECK(out(i, j) == doctest::Approx((test(i, j) - mean[j]) / std[j]).epsilon(1e-12));
    }
  // Refitting on the test data gives other statistics: the first transform did not use them.
  StandardScaler<double> on_test;
  on_test.fit(test);
  CHECK(on_test.transform(test)(2, 0) != doctest::Approx(out(2, 0)));

  CHECK_THROWS_AS(scaler.transform(A{{1.0, 2.0, 3.0}}), autodiff::ShapeError);
  CHECK_THROWS_AS(scaler.fit(A::from_shape({0, 2})), autodiff::ShapeError);
}

TEST_CASE("StandardScaler only centres a column with zero variance") {
  // Two constant columns: 5 (whose mean is exact in floating point) and 0.1
  // (whose computed mean may differ from 0.1 in the last bit), beside a varying one.
  A train = A::from_shape({10, 3});
  for (std::size_t i = 0; i < 10; ++i) {
    train(i, 0) = 5.0;
    train(i, 1) = 0.1;
    train(i, 2) = double(i);
  }
  StandardScaler<double> scaler;
  const A scaled = scaler.fit_transform(train);
  double largest[2] = {0, 0};  // the largest |scaled value| in each constant column
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t j = 0; j < 2; ++j) largest[j] = std::max(largest[j], std::abs(scaled(i, j)));
  CHECK(largest[0] < 1e-9);
  CHECK(largest[1] < 1e-9);
  const A out = scaler.transform(A{{7.0, 2.1, 4.5}});
  CHECK(out(0, 0) == doctest::Approx(2.0).epsilon(1e-12));  // centred, not divided
  CHECK(out(0, 1) == doctest::Approx(2.0).epsilon(1e-12));
  CHECK(out(0, 2) == doctest::Approx(0.0));
}

TEST_CASE("StandardScaler::transform before fit is an error") {
  StandardScaler<double> scaler;
  const std::string message = message_of([&] { scaler.transform(A{{1.0, 2.0}}); });
  CHECK(message.find("fit") != std::string::npos);
  CHECK_THROWS_AS(scaler.transform(A{{1.0, 2.0}}), std::logic_error);
}

TEST_CASE("DataLoader yields ceil(N / M) batches holding every sample once per epoch, reshuffled") {
  const Dataset<double> data = numbered(23, by_three);
  DataLoader<double> loader(data, 5, true, 11);
  CHECK(loader.batches_per_epoch() == 5);
  CHECK(loader.batch_size() == 5);
  std::vector<std::vector<std::size_t>> orders;
  for (int epoch = 0; epoch < 3; ++epoch) {
    const auto batches = loader.epoch();
    REQUIRE(batches.size() == 5);
    std::vector<std::size_t> order;
    for (std::size_t b = 0; b < batches.size(); ++b) {
      const auto& batch = batches[b];
      CHECK(batch.inputs.shape()[0] == (b < 4 ? 5u : 3u));  // the last batch is the remainder
      CHECK(batch.inputs.shape()[1] == 2);
      REQUIRE(batch.labels.size() == batch.inputs.shape()[0]);
      REQUIRE(batch.targets.shape()[0] == batch.inputs.shape()[0]);
      for (std::size_t j = 0; j < batch.labels.size(); ++j) {
        const auto i = static_cast<std::size_t>(batch.inputs.value()(j, 0));
        CHECK(batch.inputs.value()(j, 1) == 1000.0 + double(i));
        CHECK(batch.labels[j] == by_three(i));
        CHECK(batch.targets.value()(j, 0) == -double(i));
        order.push_back(i);
      }
    }
    std::vector<std::size_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::size_t> expected(23);
    for (std::size_t i = 0; i < 23; ++i) expected[i] = i;
    CHECK(sorted == expected);  // each sample exactly once
    orders.push_back(order);
  }
  CHECK(orders[0] != orders[1]);
  CHECK(orders[1] != orders[2]);

  // Exact multiples give full batches only.
  const Dataset<double> twenty = numbered(20, by_three);
  DataLoader<double> even(twenty, 4);
  CHECK(even.batches_per_epoch() == 5);
  for (const auto& batch : even.epoch()) CHECK(batch.inputs.shape()[0] == 4);
  DataLoader<double> whole(twenty, 50);
  CHECK(whole.batches_per_epoch() == 1);
  CHECK(whole.epoch()[0].labels.size() == 20);
}

TEST_CASE("DataLoader without shuffling keeps the data order; a seed makes shuffling repeatable") {
  const Dataset<double> data = numbered(10, by_three);
  DataLoader<double> ordered(data, 4, false);
  for (int epoch = 0; epoch < 2; ++epoch) {
    std::size_t next = 0;
    for (const auto& batch : ordered.epoch())
      for (std::size_t j = 0; j < batch.labels.size(); ++j) CHECK(batch.inputs.value()(j, 0) == double(next++));
    CHECK(next == 10);
  }
  DataLoader<double> a(data, 3, true, 5), b(data, 3, true, 5);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto x = a.epoch(), y = b.epoch();
    REQUIRE(x.size() == y.size());
    for (std::size_t k = 0; k < x.size(); ++k) CHECK(x[k].inputs.value() == y[k].inputs.value());
  }
  CHECK_THROWS_AS(DataLoader<double>(data, 0), std::invalid_argument);
}

TEST_CASE("DataLoader::shard: rank r of n takes every n-th sample of the shared shuffle, padded at the end") {
  const Dataset<double> data = numbered(24, by_three);
  DataLoader<double> whole(data, 6, true, 9), first(data, 3, true, 9), second(data, 3, true, 9);
  first.shard(0, 2);
  second.shard(1, 2);
  CHECK(first.samples_per_epoch() == 12);
  CHECK(first.batches_per_epoch() == 4);
  for (int epoch = 0; epoch < 2; ++epoch) {
    const auto all = whole.epoch(), mine = first.epoch(), theirs = second.epoch();
    REQUIRE(mine.size() == all.size());
    REQUIRE(theirs.size() == all.size());
    for (std::size_t k = 0; k < all.size(); ++k)  // together the ranks' batch k is the whole loader's
      for (std::size_t j = 0; j < 3; ++j) {
        CHECK(mine[k].inputs.value()(j, 0) == all[k].inputs.value()(2 * j, 0));
        CHECK(theirs[k].inputs.value()(j, 0) == all[k].inputs.value()(2 * j + 1, 0));
        CHECK(theirs[k].labels[j] == all[k].labels[2 * j + 1]);
      }
  }
  // 23 samples over 3 ranks: 8 each, the 24th slot is the epoch's first sample again.
  const Dataset<double> odd = numbered(23, by_three);
  std::vector<std::size_t> seen;
  for (std::size_t rank = 0; rank < 3; ++rank) {
    DataLoader<double> loader(odd, 5, true, 4);
    loader.shard(rank, 3);
    CHECK(loader.samples_per_epoch() == 8);
    CHECK(loader.batches_per_epoch() == 2);
    for (const auto& batch : loader.epoch())
      for (std::size_t j = 0; j < batch.labels.size(); ++j) seen.push_back(std::size_t(batch.inputs.value()(j, 0)));
  }
  REQUIRE(seen.size() == 24);
  std::sort(seen.begin(), seen.end());
  CHECK(std::adjacent_find(seen.begin(), seen.end()) != seen.end());  // one sample twice (the padding)
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  CHECK(seen.size() == 23);  // and every sample at least once
}

TEST_CASE("load_digits reads the lecture's 1797 digits: 64 pixels in 0..16 and a label 0..9") {
  const Dataset<double> digits = load_digits<double>(WENGERT_DATA_DIR "/digits.csv.gz");
  REQUIRE(digits.size() == 1797);
  CHECK(digits.inputs.shape() == A::shape_type{1797, 64});
  REQUIRE(digits.labels.size() == 1797);
  bool pixels_ok = true;
  double brightest = 0;
  for (double v : digits.inputs) {
    pixels_ok = pixels_ok && v >= 0 && v <= 16 && v == std::floor(v);
    brightest = std::max(brightest, v);
  }
  CHECK(pixels_ok);
  CHECK(brightest == 16);
  std::map<std::size_t, std::size_t> per_class;
  for (auto label : digits.labels) ++per_class[label];
  CHECK(per_class.size() == 10);
  for (const auto& [label, n] : per_class) {
    CAPTURE(label);
    CHECK(label <= 9);
    CHECK(n >= 170);
    CHECK(n <= 190);
  }
  CHECK(digits.targets.size() == 0);  // classification: no regression targets

  // float32 reads the same values.
  const Dataset<float> as_float = load_digits<float>(WENGERT_DATA_DIR "/digits.csv.gz");
  CHECK(as_float.labels == digits.labels);
  CHECK(xt::cast<double>(as_float.inputs) == digits.inputs);
  CHECK_THROWS_AS(load_digits<double>(WENGERT_DATA_DIR "/no-such-digits.csv"), std::runtime_error);
}
