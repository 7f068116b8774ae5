// Hyperparameter search, as in the lecture: the 64-50-10 digits network of
// examples/digits.cpp trained for every pair (learning rate eta, L2 strength
// lambda) of a grid. Too small an eta does not learn in the epochs given, too
// large an eta diverges, and too large a lambda shrinks the weights until the
// network underfits; the accuracy tables and heatmaps show the whole picture.
// Then the chosen (eta, lambda) with ReLU and ELU hidden layers (He init) and
// with Adam instead of SGD, side by side.
//
// Honest model selection: the training images are split once more into a part
// we fit on and a VALIDATION part. We choose (eta, lambda) by validation
// accuracy and only then look at the test set, once, for the choice. Choosing
// by test accuracy would report the best of 56 draws as if it were a fresh
// estimate: too optimistic.
//
// Same set-up as examples/digits.cpp: 80/20 split with seed 1, standard
// scaling, sigmoid hidden layer, Xavier init, softmax cross-entropy SUMMED
// over each minibatch of 32 (Reduction::sum, as the lecture's NumPy code),
// minibatch SGD, C = cross-entropy + lambda * sum of squared weights.
//
//   digits_grid_search [output directory] [--quick]
//   mpirun -np 4 digits_grid_search --mpi [output directory] [--quick]
//
// Writes digits_grid_search.dat, .gp and (with gnuplot) .svg into the output
// directory (default: the current directory). --quick: a 3x3 grid, few epochs.
// --mpi (when wengert was built with MPI): the rows of the grid, and then the
// six comparison runs, are dealt to the ranks (row i to rank i mod n); rank 0
// gathers the scores and prints and draws exactly what the serial run does.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nn/nn.hpp>
#ifdef WENGERT_WITH_MPI
#include <distributed/distributed.hpp>
#endif

using T = float;

struct Splits {
  nn::Dataset<T> train, validation, test;
};

struct Score {
  double train = 0, validation = 0, test = 0, seconds = 0;
  bool diverged = false;  // the loss became NaN or infinite
};

// 64-50-10 with the given hidden activation. Xavier/Glorot init suits the
// sigmoid (keeps z1 out of saturation); He init (variance 2 / fan_in) suits
// ReLU and ELU, which zero (or flatten) half of their inputs.
nn::Sequential<T> make_network(const std::string& activation) {
  const nn::Initializer init = activation == "sigmoid" ? nn::xavier_uniform() : nn::he_uniform();
  nn::Sequential<T> model;
  model.add(nn::Linear<T>(64, 50, init, nn::constant(0.01)));
  if (activation == "sigmoid") model.add(nn::Sigmoid<T>());
  else if (activation == "relu") model.add(nn::ReLU<T>());
  else model.add(nn::ELU<T>());
  model.add(nn::Linear<T>(50, 10, init, nn::constant(0.01)));
  return model;
}

// Trains a fresh network (same seed every time, so runs differ only by the
// hyperparameters) and scores it on the three parts of the data.
Score train_and_score(const Splits& data, const std::string& activation, const std::string& optimizer_name,
                      double eta, double lambda, std::size_t epochs) {
  nn::manual_seed(2024);
  nn::Sequential<T> model = make_network(activation);
  std::unique_ptr<nn::Optimizer<T>> optimizer;
  if (optimizer_name == "adam") optimizer = std::make_unique<nn::Adam<T>>(model.parameters(), eta);
  else optimizer = std::make_unique<nn::SGD<T>>(model.parameters(), eta);

  nn::FitOptions options;
  options.epochs = epochs;
  options.batch_size = 32;
  options.l2 = lambda;  // C = sum over the batch of cross-entropy + lambda * sum of squared weights
  options.seed = 7;
  options.progress = nullptr;  // 56 runs: no per-epoch lines
  auto cost = [](const nn::Variable<T>& logits, const nn::Batch<T>& batch) {
    return nn::cross_entropy(logits, batch.labels, nn::Reduction::sum);
  };

  Score score;
  const auto start = std::chrono::steady_clock::now();
  const nn::History history = nn::fit(model, *optimizer, cost, data.train, options);
  score.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // A diverged run is not an error: its weights are NaN, every prediction is
  // class 0, and its accuracy (about 0.1) says what happened.
  for (const nn::EpochRecord& record : history.epochs)
    if (!std::isfinite(record.loss)) score.diverged = true;
  score.train = nn::accuracy(nn::predict(model, data.train.inputs), data.train.labels);
  score.validation = nn::accuracy(nn::predict(model, data.validation.inputs), data.validation.labels);
  score.test = nn::accuracy(nn::predict(model, data.test.inputs), data.test.labels);
  return score;
}

using Grid = std::vector<std::vector<Score>>;  // [eta index][lambda index]

// Where the runs go: every run here, or run k on rank k mod n with --mpi.
struct Ranks {
  std::size_t rank = 0, size = 1;
#ifdef WENGERT_WITH_MPI
  const distributed::Communicator* world = nullptr;
#endif
  bool leader() const { return rank == 0; }
};

// Rank 0's choice of (eta, lambda) to every rank (for the runs that use it).
void share_choice(std::size_t& eta_index, std::size_t& lambda_index, const Ranks& ranks) {
#ifdef WENGERT_WITH_MPI
  if (!ranks.world) return;
  double choice[2] = {double(eta_index), double(lambda_index)};
  ranks.world->broadcast(choice, 2);
  eta_index = std::size_t(choice[0]), lambda_index = std::size_t(choice[1]);
#else
  (void)eta_index, (void)lambda_index, (void)ranks;
#endif
}

// Jobs 0..count-1, each giving a row of `width` scores, job k on rank k mod n; rank 0
// gets every row (the others only their own), sent over MPI as 5 numbers a score.
Grid run_jobs(std::size_t count, std::size_t width, const Ranks& ranks,
              const std::function<std::vector<Score>(std::size_t)>& job) {
  Grid rows(count);
  for (std::size_t k = ranks.rank; k < count; k += ranks.size) rows[k] = job(k);
#ifdef WENGERT_WITH_MPI
  if (!ranks.world) return rows;
  std::vector<double> mine;
  for (std::size_t k = ranks.rank; k < count; k += ranks.size)
    for (const Score& s : rows[k])
      mine.insert(mine.end(), {s.train, s.validation, s.test, s.seconds, double(s.diverged)});
  const std::vector<std::vector<double>> by_rank = ranks.world->gather(mine);
  for (std::size_t r = 0; r < by_rank.size(); ++r) {
    const double* v = by_rank[r].data();
    for (std::size_t k = r; k < count; k += ranks.size) {
      rows[k].clear();
      for (std::size_t j = 0; j < width; ++j, v += 5) rows[k].push_back(Score{v[0], v[1], v[2], v[3], v[4] != 0});
    }
  }
#else
  (void)width;
#endif
  return rows;
}

std::string short_number(double x) {
  char text[16];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

void print_table(const char* title, double Score::*field, const Grid& grid, const std::vector<double>& etas,
                 const std::vector<double>& lambdas) {
  std::printf("\n%s (rows: learning rate eta, columns: L2 strength lambda; * = diverged, loss NaN)\n", title);
  std::printf("%8s |", "eta");
  for (double lambda : lambdas) std::printf(" %7s", short_number(lambda).c_str());
  std::printf("\n---------+");
  for (std::size_t j = 0; j < lambdas.size(); ++j) std::printf("--------");
  std::printf("\n");
  for (std::size_t i = 0; i < etas.size(); ++i) {
    std::printf("%8s |", short_number(etas[i]).c_str());
    for (const Score& score : grid[i]) std::printf("  %5.3f%c", score.*field, score.diverged ? '*' : ' ');
    std::printf("\n");
  }
}

// Heatmaps of train, validation and test accuracy with gnuplot: `with image`
// colours the cells, `with labels` writes the values, a circle marks the choice.
void plot(const Grid& grid, const std::vector<double>& etas, const std::vector<double>& lambdas, std::size_t best_eta,
          std::size_t best_lambda, const std::string& directory) {
  const std::string stem = directory + "/digits_grid_search";
  {
    std::ofstream dat(stem + ".dat");
    dat << "# lambda_index eta_index train validation test\n";
    for (std::size_t i = 0; i < etas.size(); ++i) {
      for (std::size_t j = 0; j < lambdas.size(); ++j)
        dat << j << " " << i << " " << grid[i][j].train << " " << grid[i][j].validation << " " << grid[i][j].test
            << "\n";
      dat << "\n";  // one scan line per eta
    }
  }
  std::string xtics = "set xtics (", ytics = "set ytics (";
  for (std::size_t j = 0; j < lambdas.size(); ++j)
    xtics += (j ? ", '" : "'") + short_number(lambdas[j]) + "' " + std::to_string(j);
  for (std::size_t i = 0; i < etas.size(); ++i)
    ytics += (i ? ", '" : "'") + short_number(etas[i]) + "' " + std::to_string(i);
  {
    std::ofstream gp(stem + ".gp");
    gp << "set terminal svg size 1500,520 dynamic font 'Helvetica,13'\n"
       << "set output '" << stem << ".svg'\n"
       << xtics << ")\n" << ytics << ")\n"
       << "set xlabel 'L2 strength lambda'\nset ylabel 'learning rate eta'\n"
       << "set xrange [-0.5:" << lambdas.size() - 0.5 << "]\nset yrange [-0.5:" << etas.size() - 0.5 << "]\n"
       << "set cbrange [0:1]\nset size ratio -1\nunset key\n"
       << "set palette defined (0 '#b2182b', 0.5 '#fddbc7', 0.8 '#d1e5f0', 1 '#2166ac')\n"
       << "set multiplot layout 1,3 title 'digits 64-50-10 sigmoid, minibatch SGD: accuracy over (eta, lambda)'\n";
    const char* titles[] = {"train", "validation (it chooses)", "test"};
    for (int k = 0; k < 3; ++k)
      gp << "set title '" << titles[k] << " accuracy'\n"
         << "plot '" << stem << ".dat' using 1:2:" << 3 + k << " with image, \\\n"
         << "     '' using 1:2:(sprintf('%.2f', $" << 3 + k << ")) with labels font ',10', \\\n"
         << "     '+' using (" << best_lambda << "):(" << best_eta
         << ") every ::0::0 with points pt 6 ps 5 lw 2 lc rgb 'black'\n";
    gp << "unset multiplot\n";
  }
  if (std::system("command -v gnuplot >/dev/null 2>&1") == 0 &&
      std::system(("gnuplot '" + stem + ".gp'").c_str()) == 0)
    std::cout << "\ndrew " << stem << ".svg\n";
  else
    std::cout << "\nwrote " << stem << ".dat and .gp (install gnuplot to draw the heatmaps)\n";
}

// The search; with --mpi on every rank, of which rank 0 alone prints, draws and
// returns the verdict.
int search(const std::string& directory, bool quick, const Ranks& ranks) {
  // The data as in examples/digits.cpp, then 20% of the training images held
  // out as validation data; the scaler sees only the part we fit on.
  nn::Dataset<T> digits = nn::load_digits<T>(WENGERT_DATA_DIR "/digits.csv.gz");
  auto [train_all, test] = nn::train_test_split(digits, 0.2, /*seed=*/1);
  auto [train, validation] = nn::train_test_split(train_all, 0.2, /*seed=*/3, /*stratify=*/true);
  nn::StandardScaler<T> scaler;
  Splits data{train, validation, test};
  data.train.inputs = scaler.fit_transform(train.inputs);
  data.validation.inputs = scaler.transform(validation.inputs);
  data.test.inputs = scaler.transform(test.inputs);
  if (ranks.leader())
    std::printf("digits: %zu images to fit on, %zu for validation, %zu for the test\n", data.train.size(),
                data.validation.size(), data.test.size());

  // Log-spaced grids: the interesting values span orders of magnitude. The
  // cost is a SUM over 32 samples, so eta = 0.01 here is a step of 0.32 times
  // the mean gradient; eta = 10 is far too large (the sigmoid saturates, or
  // the weights overflow to NaN). A large lambda pulls every weight towards 0
  // by 2 eta lambda w per step, more than the data can push back.
  const std::vector<double> etas = quick ? std::vector<double>{1e-5, 1e-2, 10}
                                         : std::vector<double>{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
  const std::vector<double> lambdas = quick ? std::vector<double>{1e-4, 1e-2, 1}
                                            : std::vector<double>{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1};
  const std::size_t epochs = quick ? 10 : 40;
  if (ranks.leader())
    std::printf("grid: %zu learning rates x %zu L2 strengths, %zu epochs each%s\n", etas.size(), lambdas.size(),
                epochs, ranks.size > 1 ? (", rows dealt to " + std::to_string(ranks.size) + " ranks").c_str() : "");

  const auto start = std::chrono::steady_clock::now();
  const Grid grid = run_jobs(etas.size(), lambdas.size(), ranks, [&](std::size_t i) {
    std::vector<Score> row;
    for (double lambda : lambdas) row.push_back(train_and_score(data, "sigmoid", "sgd", etas[i], lambda, epochs));
    return row;
  });
  const double grid_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::size_t best_eta = 0, best_lambda = 0;
  if (ranks.leader())
    for (std::size_t i = 0; i < etas.size(); ++i)
      for (std::size_t j = 0; j < lambdas.size(); ++j)  // ties keep the first pair (smaller eta, then lambda)
        if (grid[i][j].validation > grid[best_eta][best_lambda].validation) best_eta = i, best_lambda = j;
  share_choice(best_eta, best_lambda, ranks);
  const double eta = etas[best_eta], lambda = lambdas[best_lambda];

  // Same network, other hidden activations and optimizer. SGD keeps the chosen
  // (eta, lambda); Adam divides each step by a running RMS of the gradient
  // (so the SUM over the batch does not scale its step) and uses its usual
  // rate 1e-3, with the chosen lambda.
  const char* const optimizers[] = {"sgd", "adam"};
  const char* const activations[] = {"sigmoid", "relu", "elu"};
  const Grid others = run_jobs(6, 1, ranks, [&](std::size_t k) {
    const bool adam = k >= 3;
    const double rate = adam ? 1e-3 : eta;
    return std::vector<Score>{train_and_score(data, activations[k % 3], optimizers[k / 3], rate, lambda, epochs)};
  });
  if (!ranks.leader()) return 0;

  print_table("train accuracy", &Score::train, grid, etas, lambdas);
  print_table("validation accuracy", &Score::validation, grid, etas, lambdas);
  print_table("test accuracy", &Score::test, grid, etas, lambdas);
  std::printf("\n%zu runs in %.1f s\n", etas.size() * lambdas.size(), grid_seconds);

  const Score& best = grid[best_eta][best_lambda];
  std::printf("best by validation accuracy: eta = %g, lambda = %g: validation %.4f, test %.4f\n", eta, lambda,
              best.validation, best.test);
  double best_test_anywhere = 0;
  for (const auto& row : grid)
    for (const Score& score : row) best_test_anywhere = std::max(best_test_anywhere, score.test);
  std::printf("(the best test accuracy anywhere in the grid is %.4f; reporting it would be peeking at the test set)\n",
              best_test_anywhere);
  plot(grid, etas, lambdas, best_eta, best_lambda, directory);

  std::printf("\nthe chosen lambda = %g, %zu epochs; SGD with eta = %g, Adam with lr = 0.001\n", lambda, epochs, eta);
  std::printf("%-9s %-10s %-6s %10s %10s %9s\n", "hidden", "init", "optim", "val acc", "test acc", "time (s)");
  for (std::size_t k = 0; k < 6; ++k) {
    const Score& score = others[k][0];
    std::printf("%-9s %-10s %-6s %10.4f %10.4f %9.2f%s\n", activations[k % 3], k % 3 == 0 ? "Xavier" : "He",
                optimizers[k / 3], score.validation, score.test, score.seconds, score.diverged ? "  (diverged)" : "");
  }

  // The assertion of the test: the search found a good network, and the
  // picture makes sense (the smallest learning rate is clearly worse).
  double smallest_eta_best = 0;
  for (const Score& score : grid[0]) smallest_eta_best = std::max(smallest_eta_best, score.test);
  const bool ok = best.test >= 0.9 && smallest_eta_best <= best.test - 0.2;
  std::printf("\nsmallest eta = %g reaches at most %.4f test accuracy; chosen: %.4f -> %s\n", etas[0],
              smallest_eta_best, best.test, ok ? "as expected" : "UNEXPECTED");
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  std::string directory = ".";
  bool quick = false, mpi = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--mpi") == 0) mpi = true;
    else directory = argv[i];
  }
  if (!mpi) return search(directory, quick, Ranks{});
#ifdef WENGERT_WITH_MPI
  return distributed::run(argc, argv, [&](const distributed::Communicator& world) {
    Ranks ranks{world.rank(), world.size(), &world};
    return search(directory, quick, ranks);
  });
#else
  std::fprintf(stderr, "digits_grid_search: --mpi needs wengert built with MPI (Debian: libopenmpi-dev openmpi-bin, "
                       "then configure again)\n");
  return 2;
#endif
}
