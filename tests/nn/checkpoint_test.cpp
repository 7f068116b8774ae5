// State dictionaries (modules, optimizers, schedulers, data loaders, generators)
// and one-file .npz checkpoints: a resumed run is bitwise the uninterrupted one,
// and every bad load is an error that changes nothing.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <nn/checkpoint.hpp>
#include <nn/loss.hpp>
#include <nn/normalization.hpp>

#include "test_util.hpp"

using namespace nn;
namespace fs = std::filesystem;
using Af = autodiff::Array<float>;

namespace {
using test::message_of;

using test::contains;
using test::TempDir;


// Bitwise equality of two arrays (shape and every byte).
template <class V>
bool same_bits(const autodiff::Array<V>& a, const autodiff::Array<V>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(V)) == 0;
}

bool same_parameters(const Module<float>& a, const Module<float>& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  if (pa.size() != pb.size()) return false;
  for (std::size_t i = 0; i < pa.size(); ++i)
    if (pa[i].first != pb[i].first || !same_bits(pa[i].second.value(), pb[i].second.value())) return false;
  return true;
}

// Every array of a StateDict, bitwise.
bool same_state(const StateDict& a, const StateDict& b) {
  if (a.keys() != b.keys()) return false;
  for (const auto& [key, value] : a) {
    const StateValue& other = b.at(key);
    if (value.index() != other.index()) return false;
    const bool same = std::visit(
        [&](const auto& x) { return same_bits(x, std::get<std::decay_t<decltype(x)>>(other)); }, value);
    if (!same) return false;
  }
  return true;
}

Sequential<float> small_model() {
  Sequential<float> model;
  model.add(Linear<float>(4, 16)).add(ReLU<float>()).add(Dropout<float>(0.3)).add(Linear<float>(16, 3));
  return model;
}

Dataset<float> blobs() {
  Dataset<float> data;
  data.inputs = xt::cast<float>(test::random_array({64, 4}, 3));
  for (std::size_t i = 0; i < 64; ++i) data.labels.push_back(i % 3);
  for (std::size_t i = 0; i < 64; ++i) data.inputs(i, data.labels[i]) += 2.0f;
  return data;
}

// One training run's objects, built as a script would build them.
struct Run {
  Sequential<float> model = small_model();
  Adam<float> optimizer{model.parameters(), {.lr = 0.02, .amsgrad = true}};
  StepLR<float> schedule{optimizer, 2, 0.5};
  DataLoader<float> loader;
  explicit Run(std::uint64_t loader_seed) : loader(blobs(), 8, true, loader_seed) {}
  void train(std::size_t epochs) {
    for (std::size_t e = 0; e < epochs; ++e) {
      for (auto& batch : loader.epoch()) {
        optimizer.zero_grad();
        Variable<float> loss = cross_entropy(model(batch.inputs), batch.labels);
        loss.backward();
        optimizer.step();
      }
      schedule.step();
    }
  }
};
}  // namespace

TEST_CASE("resuming from a checkpoint gives bitwise the parameters of an uninterrupted run") {
  TempDir dir;
  const std::size_t n = 6, k = 3;
  manual_seed(11);
  Run uninterrupted(5);
  uninterrupted.train(n);

  manual_seed(11);
  {
    Run first(5);
    first.train(k);
    save_checkpoint((dir / "run.npz"), first.model, first.optimizer,
                    {.scheduler = &first.schedule, .loader = &first.loader, .scalars = {{"epoch", double(k)}}});
  }
  // Fresh objects: another initialisation, another loader seed, a reseeded generator.
  manual_seed(999);
  Run resumed(77);
  REQUIRE_FALSE(same_parameters(resumed.model, uninterrupted.model));
  const auto scalars = load_checkpoint((dir / "run.npz"), resumed.model, resumed.optimizer,
                                       {.scheduler = &resumed.schedule, .loader = &resumed.loader});
  CHECK(scalars.at("epoch") == double(k));
  CHECK(resumed.schedule.step_count() == k);
  CHECK(resumed.loader.epochs() == k);
  resumed.train(n - k);
  CHECK(same_parameters(resumed.model, uninterrupted.model));
  CHECK(same_state(resumed.optimizer.state_dict(), uninterrupted.optimizer.state_dict()));
  CHECK(resumed.optimizer.learning_rate() == uninterrupted.optimizer.learning_rate());

  SUBCASE("without the generators' state the resumed run differs (the test can fail)") {
    manual_seed(11);
    Run first(5);
    first.train(k);
    save_checkpoint((dir / "run2.npz"), first.model, first.optimizer,
                    {.scheduler = &first.schedule, .loader = &first.loader});
    manual_seed(999);
    Run other(77);
    load_checkpoint((dir / "run2.npz"), other.model, other.optimizer,
                    {.scheduler = &other.schedule, .loader = &other.loader});
    manual_seed(12345);  // Dropout's masks now come from another stream
    other.train(n - k);
    CHECK_FALSE(same_parameters(other.model, uninterrupted.model));
  }
}

TEST_CASE("Module::state_dict holds parameters and buffers by dotted name and loads into a fresh model") {
  manual_seed(1);
  Sequential<float> model;
  model.add(Linear<float>(3, 4)).add(BatchNorm1d<float>(4));
  model.train();
  model(Variable<float>(xt::cast<float>(test::random_array({5, 3}, 2))));  // running statistics move
  const StateDict state = model.state_dict();
  CHECK(state.keys() == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                                                 "1.running_var", "1.num_batches_tracked"});
  manual_seed(2);
  Sequential<float> fresh;
  fresh.add(Linear<float>(3, 4)).add(BatchNorm1d<float>(4));
  REQUIRE_FALSE(same_state(fresh.state_dict(), state));
  const LoadResult result = fresh.load_state_dict(state);
  CHECK(result.missing.empty());
  CHECK(result.unexpected.empty());
  CHECK(same_state(fresh.state_dict(), state));
}

TEST_CASE("Module::load_state_dict: a strict load names missing and unexpected keys and changes nothing") {
  manual_seed(3);
  Sequential<float> model = small_model();
  const StateDict before = model.state_dict();
  StateDict state = small_model().state_dict();
  StateDict renamed;
  for (const auto& [key, value] : state) renamed.set(key == "3.bias" ? "3.offset" : key, value);
  const std::string message = message_of([&] { model.load_state_dict(renamed); });
  CHECK(contains(message, "load_state_dict"));
  CHECK(contains(message, "missing key '3.bias'"));
  CHECK(contains(message, "unexpected key '3.offset'"));
  CHECK_THROWS_AS(model.load_state_dict(renamed), StateError);
  CHECK(same_state(model.state_dict(), before));

  SUBCASE("not strict: the matching keys load and the others are listed") {
    const LoadResult result = model.load_state_dict(renamed, false);
    CHECK(result.missing == std::vector<std::string>{"3.bias"});
    CHECK(result.unexpected == std::vector<std::string>{"3.offset"});
    CHECK(same_bits(model.named_parameters()[0].second.value(), state.get<float>("0.weight")));
    CHECK(same_bits(model.named_parameters()[3].second.value(), before.get<float>("3.bias")));
  }
  SUBCASE("a wrong shape names the key and both shapes, even when not strict") {
    StateDict wrong = state;
    wrong.set("3.weight", Af(xt::zeros<float>({16, 4})));
    const std::string shape_message = message_of([&] { model.load_state_dict(wrong, false); });
    CHECK(contains(shape_message, "'3.weight'"));
    CHECK(contains(shape_message, "(16, 4)"));
    CHECK(contains(shape_message, "(16, 3)"));
    CHECK(same_state(model.state_dict(), before));
  }
  SUBCASE("a wrong dtype names the key") {
    StateDict wrong = state;
    wrong.set("0.bias", autodiff::Array<double>(xt::zeros<double>({16})));
    CHECK(contains(message_of([&] { model.load_state_dict(wrong); }), "'0.bias' has dtype '<f8'"));
    CHECK(same_state(model.state_dict(), before));
  }
}

TEST_CASE("optimizer state dicts restore every optimizer exactly, and refuse another kind or shape") {
  auto steps = [](Optimizer<float>& optimizer, Sequential<float>& model, int count) {
    for (int s = 0; s < count; ++s) {
      optimizer.zero_grad();
      cross_entropy(model(Variable<float>(xt::cast<float>(test::random_array({6, 4}, 40 + s)))),
                    Labels{0, 1, 2, 0, 1, 2})
          .backward();
      optimizer.step();
    }
  };
  auto check_kind = [&](auto make) {
    manual_seed(4);
    Sequential<float> a = small_model();
    a.eval();  // no Dropout: the two runs see the same function
    auto opt_a = make(a);
    steps(opt_a, a, 3);
    Sequential<float> b = small_model();
    b.eval();
    auto opt_b = make(b);
    b.load_state_dict(a.state_dict());
    opt_b.load_state_dict(opt_a.state_dict());
    CHECK(opt_b.steps() == 3);
    steps(opt_a, a, 2);
    steps(opt_b, b, 2);
    CHECK(same_parameters(a, b));
    CHECK(same_state(opt_a.state_dict(), opt_b.state_dict()));
  };
  SUBCASE("SGD") { check_kind([](auto& m) { return SGD<float>(m.parameters(), {.lr = 0.1, .momentum = 0.9, .dampening = 0.1}); }); }
  SUBCASE("Adagrad") { check_kind([](auto& m) { return Adagrad<float>(m.parameters(), {.lr = 0.1, .lr_decay = 0.01}); }); }
  SUBCASE("RMSprop") {
    check_kind([](auto& m) { return RMSprop<float>(m.parameters(), {.lr = 0.01, .momentum = 0.5, .centered = true}); });
  }
  SUBCASE("Adam") { check_kind([](auto& m) { return Adam<float>(m.parameters(), {.lr = 0.01, .amsgrad = true}); }); }
  SUBCASE("AdamW") { check_kind([](auto& m) { return AdamW<float>(m.parameters(), {.lr = 0.01}); }); }

  SUBCASE("the hyper-parameters and group rates come with the state, as in PyTorch") {
    Sequential<float> model = small_model();
    SGD<float> saved(model.parameters(), {.lr = 0.3, .momentum = 0.7});
    SGD<float> loaded(model.parameters(), {.lr = 0.1});
    loaded.load_state_dict(saved.state_dict());
    CHECK(loaded.options().momentum == 0.7);
    CHECK(loaded.learning_rate() == 0.3);
    CHECK(loaded.velocity().size() == model.parameters().size());
  }
  SUBCASE("errors change nothing") {
    manual_seed(5);
    Sequential<float> model = small_model();
    Adam<float> adam(model.parameters(), {.lr = 0.01});
    steps(adam, model, 2);
    const StateDict before = adam.state_dict();
    SGD<float> sgd(model.parameters(), {.lr = 0.1, .momentum = 0.9});
    const std::string kind = message_of([&] { adam.load_state_dict(sgd.state_dict()); });
    CHECK(contains(kind, "Adam::load_state_dict"));
    CHECK(contains(kind, "SGD"));
    CHECK(contains(kind, "'kind'"));
    CHECK(same_state(adam.state_dict(), before));

    Sequential<float> wider;
    wider.add(Linear<float>(4, 17)).add(ReLU<float>()).add(Dropout<float>(0.3)).add(Linear<float>(17, 3));
    Adam<float> other(wider.parameters(), {.lr = 0.01});
    const std::string shape = message_of([&] { adam.load_state_dict(other.state_dict()); });
    CHECK(contains(shape, "'state.0.exp_avg'"));
    CHECK(contains(shape, "(4, 17)"));
    CHECK(same_state(adam.state_dict(), before));

    StateDict bad_option = before;
    Array<double> betas = Array<double>::from_shape({2});
    betas(0) = 0.9;
    betas(1) = 1.5;
    bad_option.set("options.betas", betas);
    const std::string option = message_of([&] { adam.load_state_dict(bad_option); });
    CHECK(contains(option, "beta2"));
    CHECK_THROWS_AS(adam.load_state_dict(bad_option), StateError);
    CHECK(same_state(adam.state_dict(), before));

    StateDict no_key = before;
    StateDict without;
    for (const auto& [key, value] : no_key)
      if (key != "state.3.exp_avg_sq") without.set(key, value);
    CHECK(contains(message_of([&] { adam.load_state_dict(without); }), "no key 'state.3.exp_avg_sq'"));
    CHECK(same_state(adam.state_dict(), before));
  }
}

TEST_CASE("generator and data-loader states: the draws after a restore are those after the save") {
  manual_seed(6);
  autodiff::rand<double>({3});
  random_engine()();
  const RngState saved = get_rng_state();
  const auto draws = autodiff::rand<double>({5}).value();
  const auto word = random_engine()();
  manual_seed(7);
  set_rng_state(saved);
  CHECK(same_bits(autodiff::rand<double>({5}).value(), draws));
  CHECK(random_engine()() == word);

  RngState broken = saved;
  broken.engine.pop_back();
  CHECK_THROWS_AS(set_rng_state(broken), StateError);
  set_rng_state(saved);
  CHECK(same_bits(autodiff::rand<double>({5}).value(), draws));  // the failed set changed nothing

  DataLoader<float> loader(blobs(), 10, true, 3);
  loader.epoch();
  const StateDict state = loader.state_dict();
  const auto next = loader.epoch();
  DataLoader<float> fresh(blobs(), 10, true, 8);
  fresh.load_state_dict(state);
  const auto again = fresh.epoch();
  REQUIRE(again.size() == next.size());
  for (std::size_t b = 0; b < next.size(); ++b) CHECK(again[b].labels == next[b].labels);
  CHECK(fresh.epochs() == 2);

  DataLoader<float> smaller(blobs().subset({0, 1, 2}), 2, true, 3);
  const StateDict smaller_before = smaller.state_dict();
  CHECK(contains(message_of([&] { smaller.load_state_dict(state); }), "key 'order'"));
  CHECK(same_state(smaller.state_dict(), smaller_before));
}

TEST_CASE("load_checkpoint: a missing, truncated, corrupt or foreign file is a FileError and changes nothing") {
  TempDir dir;
  manual_seed(8);
  Run saved(5);
  saved.train(1);
  const std::string path = (dir / "saved.npz");
  save_checkpoint(path, saved.model, saved.optimizer, {.scheduler = &saved.schedule, .loader = &saved.loader});

  manual_seed(9);
  Run run(6);
  run.train(2);
  const StateDict model_before = run.model.state_dict(), optimizer_before = run.optimizer.state_dict(),
                  scheduler_before = run.schedule.state_dict(), loader_before = run.loader.state_dict();
  const StateDict rng_before = rng_state_dict();
  const double rate_before = run.optimizer.learning_rate();
  auto unchanged = [&] {
    CHECK(same_state(run.model.state_dict(), model_before));
    CHECK(same_state(run.optimizer.state_dict(), optimizer_before));
    CHECK(same_state(run.schedule.state_dict(), scheduler_before));
    CHECK(same_state(run.loader.state_dict(), loader_before));
    CHECK(same_state(rng_state_dict(), rng_before));
    CHECK(run.optimizer.learning_rate() == rate_before);
  };
  auto load = [&](const std::string& file) {
    return message_of([&] {
      load_checkpoint(file, run.model, run.optimizer, {.scheduler = &run.schedule, .loader = &run.loader});
    });
  };
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto write = [&](const std::string& name, const std::string& contents) {
    std::ofstream((dir / name), std::ios::binary) << contents;
    return (dir / name);
  };

  SUBCASE("missing") {
    const std::string message = load((dir / "nothing.npz"));
    CHECK(contains(message, "nothing.npz: no such file"));
    unchanged();
  }
  SUBCASE("truncated") {
    const std::string file = write("truncated.npz", bytes.substr(0, bytes.size() / 2));
    CHECK(contains(load(file), "truncated.npz"));
    CHECK_THROWS_AS(load_checkpoint(file, run.model, run.optimizer), FileError);
    unchanged();
  }
  SUBCASE("corrupt: a flipped byte in a member's data fails its CRC") {
    std::string corrupt = bytes;
    const std::size_t at = corrupt.find("<f4");  // inside the first member, model/0.weight
    REQUIRE(at != std::string::npos);
    corrupt[at + 200] = char(corrupt[at + 200] ^ 0x55);
    const std::string message = load(write("corrupt.npz", corrupt));
    CHECK(contains(message, "corrupt.npz, member 'model/0.weight.npy'"));
    unchanged();
  }
  SUBCASE("not a zip at all") {
    CHECK(contains(load(write("text.npz", "epoch,loss\n1,0.5\n")), "text.npz: not a readable .npz checkpoint"));
    unchanged();
  }
  SUBCASE("another model's checkpoint names the file and the key; the optimizer already loaded goes back") {
    const RngState keep = get_rng_state();  // building a model draws; the check is about the load
    Sequential<float> wider;
    wider.add(Linear<float>(4, 17)).add(ReLU<float>()).add(Dropout<float>(0.3)).add(Linear<float>(17, 3));
    Adam<float> adam(wider.parameters());
    save_checkpoint((dir / "wider.npz"), wider, adam);
    set_rng_state(keep);
    const std::string message = load((dir / "wider.npz"));
    CHECK(contains(message, "wider.npz"));
    CHECK(contains(message, "'0.weight'"));
    CHECK(contains(message, "(4, 17)"));
    unchanged();
  }
  SUBCASE("a checkpoint whose scheduler is of another kind fails after model and optimizer loaded: all go back") {
    const RngState keep = get_rng_state();
    Run other(5);
    ExponentialLR<float> exponential(other.optimizer, 0.9);
    exponential.step();
    save_checkpoint((dir / "exponential.npz"), other.model, other.optimizer, {.scheduler = &exponential});
    set_rng_state(keep);
    const std::string message = load((dir / "exponential.npz"));
    CHECK(contains(message, "exponential.npz, members 'scheduler/'"));
    CHECK(contains(message, "ExponentialLR"));
    unchanged();
  }
  SUBCASE("a checkpoint of a model with another layer names the unexpected keys") {
    const RngState keep = get_rng_state();
    Sequential<float> deeper = small_model();
    deeper.add(Linear<float>(3, 3));
    Adam<float> adam(deeper.parameters());
    save_checkpoint((dir / "deeper.npz"), deeper, adam);
    set_rng_state(keep);
    const std::string message = load((dir / "deeper.npz"));
    CHECK(contains(message, "deeper.npz, members 'model/'"));
    CHECK(contains(message, "unexpected keys '4.weight' and '4.bias'"));
    unchanged();
  }
  SUBCASE("an SGD checkpoint loaded with an Adam optimizer: the model, loaded first, goes back") {
    SGD<float> sgd(saved.model.parameters(), {.lr = 0.1, .momentum = 0.9});
    save_checkpoint((dir / "sgd.npz"), saved.model, sgd, {.scheduler = &saved.schedule, .loader = &saved.loader});
    const std::string message = load((dir / "sgd.npz"));
    CHECK(contains(message, "sgd.npz, members 'optimizer/'"));
    CHECK(contains(message, "the state is SGD's (key 'kind'), this optimizer is Adam"));
    unchanged();
  }
  SUBCASE("a checkpoint saved without a loader") {
    save_checkpoint((dir / "noloader.npz"), saved.model, saved.optimizer, {.scheduler = &saved.schedule});
    CHECK(contains(load((dir / "noloader.npz")), "no 'loader/' members"));
    unchanged();
  }
}

TEST_CASE("a checkpoint is an .npz file: a zip of .npy members that read_checkpoint (and numpy.load) reads") {
  TempDir dir;
  manual_seed(10);
  Run run(5);
  run.train(1);
  const std::string path = (dir / "run.npz");
  save_checkpoint(path, run.model, run.optimizer, {.scheduler = &run.schedule, .scalars = {{"epoch", 1.0}}});
  const StateDict all = read_checkpoint(path);
  CHECK(same_bits(all.get<float>("model/0.weight"), run.model.named_parameters()[0].second.value()));
  CHECK(all.text("optimizer/kind") == "Adam");
  CHECK(all.count("scheduler/step_count") == 1);
  CHECK(all.scalar("scalars/epoch") == 1.0);
  CHECK(all.contains("rng/engine"));
  CHECK(!fs::exists(path + ".tmp"));

  // numpy itself, where a Python with NumPy is installed (the check is skipped otherwise).
  bool numpy_checked = false;
  for (const std::string python : {"python3", "/usr/bin/python3"}) {
    if (std::system((python + " -c 'import numpy' 2>/dev/null").c_str()) != 0) continue;
    const float w = run.model.named_parameters()[0].second.value()(1, 2);
    char expected[64];
    std::snprintf(expected, sizeof expected, "%.9g", double(w));
    const std::string script = "import numpy, sys; d = numpy.load(sys.argv[1]); w = d['model/0.weight']; "
                               "ok = w.dtype == numpy.float32 and w.shape == (4, 16) and w[1, 2] == numpy.float32(" +
                               std::string(expected) + ") and bytes(d['optimizer/kind']) == b'Adam' and "
                               "int(d['scheduler/step_count']) == 1 and d['rng/engine'].dtype == numpy.uint64; "
                               "sys.exit(0 if ok else 1)";
    CHECK(std::system((python + " -c \"" + script + "\" " + path).c_str()) == 0);
    MESSAGE("numpy.load read the checkpoint (" << python << ")");
    numpy_checked = true;
    break;
  }
  if (!numpy_checked) MESSAGE("no Python with NumPy here: numpy.load not tried");
}
