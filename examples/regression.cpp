// Neural networks for regression (the lecture on feed-forward networks):
//   (a) the lecture's toy table: predict the body-mass index BMI = weight / height^2
//       from (height, weight) with a small 2-8-1 tanh network;
//   (b) the universal approximation theorem: ONE hidden layer of growing width
//       fits the smooth function f(x) = sin(2x) + 0.3 x^2 on [-3, 3] better and
//       better (test MSE per width, and a plot of the fits);
//   (c) the Franke function on [0, 1]^2 with noise, fitted by a network with two
//       hidden layers and scored by R^2 on held-out points.
// Every network outputs one number z^L = a^{L-1} W^L + b^L (no output
// activation, since a target can be any real number) and is trained by
// minimising the mean squared error C = 1/n sum_i (y_i - t_i)^2; the gradients
// come from the tape.
//
//   regression [output directory] [--quick]     (default directory: the current one)
// writes regression_fit.dat, regression_fit.gp and, with gnuplot, regression_fit.png.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nn/nn.hpp>

using T = double;
using nn::Array;

// Trains `model` by minimising the mean squared error with Adam in minibatches.
void train_mse(nn::Module<T>& model, const nn::Dataset<T>& data, std::size_t epochs, std::size_t batch_size,
               double learning_rate, std::uint64_t seed) {
  nn::Adam<T> optimizer(model.parameters(), learning_rate);
  nn::FitOptions options;
  options.epochs = epochs;
  options.batch_size = batch_size;
  options.seed = seed;
  options.progress = nullptr;  // quiet: we print our own tables
  auto cost = [](const nn::Variable<T>& prediction, const nn::Batch<T>& batch) {
    return nn::mse(prediction, batch.targets);
  };
  nn::fit(model, optimizer, cost, data, options);
}

// A column vector (n, 1) from a std::vector.
Array<T> column(const std::vector<T>& values) {
  Array<T> result = Array<T>::from_shape({values.size(), 1});
  for (std::size_t i = 0; i < values.size(); ++i) result(i, 0) = values[i];
  return result;
}

// ---------------------------------------------------------------------------
// (a) BMI from height and weight
// ---------------------------------------------------------------------------
// Returns the largest absolute error (in BMI units) on the held-out people.
double bmi_table(bool quick) {
  std::cout << "=== (a) BMI = weight / height^2 from (height, weight) with a 2-8-1 tanh network ===\n\n";
  // The lecture's toy table: height in m, weight in kg.
  const std::vector<std::pair<T, T>> people = {
      {1.52, 48}, {1.55, 62}, {1.58, 55}, {1.60, 70}, {1.62, 52}, {1.63, 80}, {1.65, 58}, {1.67, 66},
      {1.68, 90}, {1.70, 61}, {1.72, 75}, {1.73, 68}, {1.75, 85}, {1.76, 72}, {1.78, 64}, {1.80, 95},
      {1.81, 78}, {1.83, 70}, {1.85, 88}, {1.86, 102}, {1.88, 80}, {1.90, 92}, {1.92, 110}, {1.95, 86}};
  nn::Dataset<T> table;
  table.inputs = Array<T>::from_shape({people.size(), 2});
  std::vector<T> bmi;
  for (std::size_t i = 0; i < people.size(); ++i) {
    const auto [height, weight] = people[i];
    table.inputs(i, 0) = height;
    table.inputs(i, 1) = weight;
    bmi.push_back(weight / (height * height));
  }
  table.targets = column(bmi);
  auto [train, test] = nn::train_test_split(table, 0.25, /*seed=*/3);

  // Why scale: heights (~1.7) and weights (~70) differ by a factor 40, and a
  // tanh unit saturates for |z| >> 1. Standardise inputs AND targets with the
  // training rows' statistics; predictions are scaled back to BMI units.
  nn::StandardScaler<T> input_scaler, target_scaler;
  nn::Dataset<T> scaled_train = train;
  scaled_train.inputs = input_scaler.fit_transform(train.inputs);
  scaled_train.targets = target_scaler.fit_transform(train.targets);

  nn::manual_seed(11);
  nn::Sequential<T> model = nn::mlp<T>({2, 8, 1}, nn::Tanh<T>(), nn::xavier_normal());
  train_mse(model, scaled_train, quick ? 600 : 2000, train.size(), 0.01, 1);  // full batch

  const Array<T> predicted =
      nn::predict(model, input_scaler.transform(test.inputs)) * target_scaler.scale() + target_scaler.mean();
  double worst = 0;
  std::printf("trained on %zu people; the %zu held-out people:\n", train.size(), test.size());
  std::printf("  height [m]  weight [kg]  true BMI  predicted BMI  error\n");
  for (std::size_t i = 0; i < test.size(); ++i) {
    const double error = predicted(i, 0) - test.targets(i, 0);
    worst = std::max(worst, std::abs(error));
    std::printf("  %10.2f  %11.0f  %8.2f  %13.2f  %+5.2f\n", test.inputs(i, 0), test.inputs(i, 1),
                test.targets(i, 0), predicted(i, 0), error);
  }
  std::printf("largest error on held-out people: %.2f BMI units\n\n", worst);
  return worst;
}

// ---------------------------------------------------------------------------
// (b) The universal approximation theorem
// ---------------------------------------------------------------------------
T smooth_function(T x) { return std::sin(2 * x) + 0.3 * x * x; }

// Returns the test MSE per width; writes the fits for the plot.
std::vector<double> universal_approximation(bool quick, const std::string& directory) {
  std::cout << "=== (b) Universal approximation: f(x) = sin(2x) + 0.3 x^2 with ONE hidden layer ===\n\n";
  // Cybenko (1989), Hornik (1991): one hidden layer of enough sigmoidal units
  // approximates any continuous function on a compact set arbitrarily well.
  // tanh(z) = 2 sigmoid(2z) - 1, so the theorem holds for tanh too. The theorem
  // says nothing about how to FIND the weights: here gradient descent does.
  const std::size_t train_points = 200, test_points = 121;
  std::mt19937_64 engine(5);
  std::uniform_real_distribution<T> uniform(-3, 3);
  std::vector<T> x_train, y_train, x_test, y_test;
  for (std::size_t i = 0; i < train_points; ++i) {
    x_train.push_back(uniform(engine));
    y_train.push_back(smooth_function(x_train.back()));
  }
  for (std::size_t i = 0; i < test_points; ++i) {  // an even grid, also used for the plot
    x_test.push_back(-3 + 6 * T(i) / T(test_points - 1));
    y_test.push_back(smooth_function(x_test.back()));
  }
  // x in [-3, 3] is already of order 1 (standard deviation 1.7), so it needs no scaling.
  nn::Dataset<T> train;
  train.inputs = column(x_train);
  train.targets = column(y_train);
  const Array<T> test_inputs = column(x_test), test_targets = column(y_test);

  const std::vector<std::size_t> widths = {1, 2, 4, 8, 16, 32};
  std::vector<double> test_mse;
  std::vector<Array<T>> fits;
  std::printf("  hidden units  parameters  test MSE   seconds\n");
  for (std::size_t width : widths) {
    nn::manual_seed(100 + width);
    nn::Sequential<T> model = nn::mlp<T>({1, width, 1}, nn::Tanh<T>(), nn::xavier_normal());
    const auto start = std::chrono::steady_clock::now();
    train_mse(model, train, quick ? 300 : 1000, 20, quick ? 0.02 : 0.01, 2);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fits.push_back(nn::predict(model, test_inputs));
    test_mse.push_back(nn::mean_squared_error(fits.back(), test_targets));
    std::printf("  %12zu  %10zu  %9.2e  %7.2f\n", width, model.parameter_count(), test_mse.back(), seconds);
  }

  // The theorem promises that SOME weights reach any accuracy; gradient descent
  // finds good ones only when the width leaves room (2 and 4 units stop near
  // the same poor fit), and beyond about 8 units the error is set by the
  // training (a fixed number of Adam steps), not by the width.
  std::printf("(with enough units the error is limited by the training, not by the width)\n");

  // The plot: the truth, the training points and the fits of some widths.
  const std::string stem = directory + "/regression_fit";
  {
    std::ofstream data(stem + ".dat");
    data << "# x  f(x)";
    for (std::size_t width : widths) data << "  width" << width;
    data << "\n";
    for (std::size_t i = 0; i < test_points; ++i) {
      data << x_test[i] << " " << y_test[i];
      for (const Array<T>& fit : fits) data << " " << fit(i, 0);
      data << "\n";
    }
    data << "\n\n# training points\n";
    for (std::size_t i = 0; i < train_points; ++i) data << x_train[i] << " " << y_train[i] << "\n";
  }
  {
    std::ofstream script(stem + ".gp");
    script << "set terminal pngcairo size 900,600\n"
           << "set output '" << stem << ".png'\n"
           << "set title 'One hidden layer of tanh units: f(x) = sin(2x) + 0.3x^2'\n"
           << "set xlabel 'x'\nset ylabel 'y'\nset key bottom right\n"
           << "plot '" << stem << ".dat' index 1 using 1:2 with points pt 7 ps 0.5 lc rgb '#999999' title 'training points', \\\n"
           << "     '' index 0 using 1:2 with lines lw 4 lc rgb 'black' title 'f(x)'";
    // columns 3.. are widths 1, 2, 4, 8, 16, 32; draw 1, 2, 4 and 8 (wider fits lie on the truth)
    const std::vector<std::pair<int, std::string>> shown = {{3, "1"}, {4, "2"}, {5, "4"}, {6, "8"}};
    for (const auto& [col, width] : shown)
      script << ", \\\n     '' index 0 using 1:" << col << " with lines lw 2 title '" << width << " hidden unit"
             << (width == "1" ? "" : "s") << "'";
    script << "\n";
  }
  const std::string command = "gnuplot '" + stem + ".gp' 2>/dev/null";
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0 && std::system(command.c_str()) == 0)
    std::cout << "plotted " << stem << ".png\n\n";
  else
    std::cout << "wrote " << stem << ".dat and .gp (install gnuplot to draw the plot)\n\n";
  return test_mse;
}

// ---------------------------------------------------------------------------
// (c) The Franke function
// ---------------------------------------------------------------------------
T franke(T x, T y) {
  return 0.75 * std::exp(-std::pow(9 * x - 2, 2) / 4 - std::pow(9 * y - 2, 2) / 4) +
         0.75 * std::exp(-std::pow(9 * x + 1, 2) / 49 - (9 * y + 1) / 10) +
         0.5 * std::exp(-std::pow(9 * x - 7, 2) / 4 - std::pow(9 * y - 3, 2) / 4) -
         0.2 * std::exp(-std::pow(9 * x - 4, 2) - std::pow(9 * y - 7, 2));
}

// Returns R^2 on the held-out points.
double franke_fit(bool quick) {
  std::cout << "=== (c) The Franke function on [0, 1]^2 with noise, a 2-50-50-1 tanh network ===\n\n";
  const std::size_t n = quick ? 600 : 2000;
  const T noise = 0.05;
  std::mt19937_64 engine(7);
  std::uniform_real_distribution<T> uniform(0, 1);
  std::normal_distribution<T> gaussian(0, noise);
  nn::Dataset<T> data;
  data.inputs = Array<T>::from_shape({n, 2});
  data.targets = Array<T>::from_shape({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    data.inputs(i, 0) = uniform(engine);
    data.inputs(i, 1) = uniform(engine);
    data.targets(i, 0) = franke(data.inputs(i, 0), data.inputs(i, 1)) + gaussian(engine);
  }
  auto [train, test] = nn::train_test_split(data, 0.2, /*seed=*/4);
  nn::StandardScaler<T> scaler;
  train.inputs = scaler.fit_transform(train.inputs);
  test.inputs = scaler.transform(test.inputs);

  nn::manual_seed(21);
  nn::Sequential<T> model = nn::mlp<T>({2, 50, 50, 1}, nn::Tanh<T>(), nn::xavier_normal());
  const std::size_t epochs = quick ? 60 : 250;
  const auto start = std::chrono::steady_clock::now();
  train_mse(model, train, epochs, 32, 0.003, 3);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const Array<T> predicted_train = nn::predict(model, train.inputs), predicted_test = nn::predict(model, test.inputs);
  const double r2 = nn::r2_score(predicted_test, test.targets);
  std::printf("%zu training and %zu test points, noise N(0, %.2f^2), %zu epochs in %.2f s\n", train.size(),
              test.size(), noise, epochs, seconds);
  std::printf("  train: MSE %.5f  R2 %.4f\n", nn::mean_squared_error(predicted_train, train.targets),
              nn::r2_score(predicted_train, train.targets));
  std::printf("  test:  MSE %.5f  R2 %.4f\n", nn::mean_squared_error(predicted_test, test.targets), r2);
  // The noise alone costs MSE noise^2 = 0.0025: no model can do better on new points.
  std::printf("  (the noise variance %.4f is the smallest MSE any model can reach on new points)\n\n", noise * noise);
  return r2;
}

int main(int argc, char** argv) {
  std::string directory = ".";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else directory = argv[i];
  }
  std::filesystem::create_directories(directory);
  const auto start = std::chrono::steady_clock::now();
  const double bmi_error = bmi_table(quick);
  const std::vector<double> mse = universal_approximation(quick, directory);
  const double r2 = franke_fit(quick);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The checks: small BMI errors, MSE falling by at least 10x from 1 to 32
  // hidden units, and a good R^2 on the Franke function.
  const double bmi_tolerance = quick ? 1.0 : 0.5, r2_threshold = quick ? 0.8 : 0.9;
  const bool bmi_ok = bmi_error <= bmi_tolerance, width_ok = mse.back() < 0.1 * mse.front(), r2_ok = r2 >= r2_threshold;
  std::printf("summary (%.1f s):\n", seconds);
  std::printf("  BMI: largest held-out error %.2f (<= %.1f: %s)\n", bmi_error, bmi_tolerance, bmi_ok ? "ok" : "FAILED");
  std::printf("  universal approximation: test MSE %.2e with 1 hidden unit, %.2e with 32 (10x smaller: %s)\n",
              mse.front(), mse.back(), width_ok ? "ok" : "FAILED");
  std::printf("  Franke: test R2 %.4f (>= %.2f: %s)\n", r2, r2_threshold, r2_ok ? "ok" : "FAILED");
  return bmi_ok && width_ok && r2_ok ? 0 : 1;
}
