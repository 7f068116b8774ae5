// A larger data set: Fashion-MNIST (Xiao, Rasul & Vollgraf 2017), 70,000
// grey 28x28 images of clothing in 10 classes, a drop-in replacement for the
// MNIST digits that is harder to get right. A 784-512-256-10 multilayer
// perceptron with ReLU hidden layers (He init), trained by Adam on minibatches
// of 128 with the mean cross-entropy and a decaying learning rate, reaches
// about 89.5% test accuracy in 10 epochs.
//
// The data come from Debian's package dataset-fashion-mnist
// (apt install dataset-fashion-mnist), in the original IDX format, gzipped;
// nn::read_idx reads them.
//
//   fashion_mnist [data directory] [--quick]
//
// Default data directory: /usr/share/datasets/fashion-mnist. --quick trains
// on 6,000 images for 2 epochs and tests on 2,000 (a few seconds). The number
// of BLAS threads comes from OPENBLAS_NUM_THREADS (autodiff::set_num_threads
// sets it in code). Exit code 77 (a skipped test) when the files are missing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <iostream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <autodiff/linalg.hpp>
#include <nn/nn.hpp>

using T = float;

const char* const class_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

// Images (N, 28, 28) of bytes 0..255 -> inputs (N, 784) in [0, 1]; labels 0..9.
nn::Dataset<T> load_fashion_mnist(const std::string& images_file, const std::string& labels_file) {
  nn::Dataset<T> data = nn::load_idx_images<T>(images_file, labels_file);  // (N, 28, 28) in [0, 1]
  data.inputs.reshape({data.size(), 28 * 28});
  return data;
}

nn::Dataset<T> first(const nn::Dataset<T>& data, std::size_t count) {
  std::vector<std::size_t> indices(std::min(count, data.size()));
  std::iota(indices.begin(), indices.end(), 0);  // the files are already in random order
  return data.subset(indices);
}

int main(int argc, char** argv) {
  std::string directory = "/usr/share/datasets/fashion-mnist";
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else directory = argv[i];
  }
  const std::string files[4] = {directory + "/train-images-idx3-ubyte.gz", directory + "/train-labels-idx1-ubyte.gz",
                                directory + "/t10k-images-idx3-ubyte.gz", directory + "/t10k-labels-idx1-ubyte.gz"};
  for (const std::string& file : files)
    if (!std::filesystem::exists(file)) {
      std::cout << "Fashion-MNIST not found: " << file << " is missing.\n"
                << "Install Debian's package:  apt install dataset-fashion-mnist\n"
                << "or pass the directory holding the four *-ubyte.gz files as the first argument.\n";
      return 77;  // CTest's SKIP_RETURN_CODE: skipped, not failed
    }

  const auto load_start = std::chrono::steady_clock::now();
  nn::Dataset<T> train = load_fashion_mnist(files[0], files[1]);
  nn::Dataset<T> test = load_fashion_mnist(files[2], files[3]);
  if (quick) {
    train = first(train, 6000);
    test = first(test, 2000);
  }
  std::printf("Fashion-MNIST: %zu training and %zu test images of %zu pixels (loaded in %.2f s)\n", train.size(),
              test.size(), train.inputs.shape()[1],
              std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count());
  std::printf("classes:");
  for (int c = 0; c < 10; ++c) std::printf(" %d %s%s", c, class_names[c], c < 9 ? "," : "\n");
  std::printf("BLAS threads: %d\n", autodiff::num_threads());

  // 784-512-256-10: ReLU hidden layers with He init (variance 2 / fan_in keeps
  // the activations' scale through layers that zero half their inputs).
  nn::manual_seed(42);
  nn::Sequential<T> model = nn::mlp<T>({784, 512, 256, 10}, nn::ReLU<T>(), nn::he_uniform());
  std::cout << model.summary();

  nn::Adam<T> optimizer(model.parameters(), 1e-3);
  nn::FitOptions options;
  options.epochs = quick ? 2 : 10;
  options.batch_size = 128;
  options.seed = 1;
  // lr = 0.001 * 0.8^epoch: big steps early, small ones later to settle. With
  // a constant rate the test accuracy wobbles around 88% from epoch 5 on; with
  // the decay it climbs steadily to about 89.5%.
  options.schedule = std::make_shared<nn::ExponentialDecay>(0.8);
  auto cost = [](const nn::Variable<T>& logits, const nn::Batch<T>& batch) {
    return nn::cross_entropy(logits, batch.labels);  // the mean over the batch
  };

  const auto start = std::chrono::steady_clock::now();
  const nn::History history = nn::fit(model, optimizer, cost, train, options);
  const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double training = 0;
  for (const nn::EpochRecord& record : history.epochs) training += record.seconds;

  const nn::Labels predicted = nn::argmax_rows(nn::predict(model, test.inputs));
  const double test_accuracy = nn::accuracy(predicted, test.labels);
  const auto counts = nn::confusion_matrix(predicted, test.labels, 10);

  std::printf("\nconfusion matrix (rows: true class, columns: predicted class)\n");
  std::fflush(stdout);
  nn::print_confusion_matrix(std::cout, counts, {std::begin(class_names), std::end(class_names)});
  std::printf("\n%zu epochs: %.2f s training (%.2f s per epoch), %.2f s with the per-epoch evaluation\n",
              history.epochs.size(), training, training / double(history.epochs.size()), total);
  std::printf("test accuracy: %.4f\n", test_accuracy);
  return test_accuracy >= (quick ? 0.75 : 0.88) ? 0 : 1;
}
