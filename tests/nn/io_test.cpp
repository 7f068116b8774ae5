// Files: CSV (plain and gzip), IDX, .npy and saved parameters, and the errors
// for missing, malformed and truncated files.
#include <doctest/doctest.h>

#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <nn/data.hpp>
#include <nn/io.hpp>
#include <nn/module.hpp>

#include "test_util.hpp"

using namespace nn;
namespace fs = std::filesystem;
using A = autodiff::Array<double>;
using Af = autodiff::Array<float>;

namespace {
using test::message_of;

using test::contains;
using test::TempDir;


void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_gzip(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
  REQUIRE(gzclose(file) == Z_OK);
}

// Keeps the first `keep` bytes of a file.
void truncate_to(const std::string& path, std::size_t keep) {
  const std::string bytes = read_bytes(path);
  REQUIRE(keep < bytes.size());
  write_bytes(path, bytes.substr(0, keep));
}

std::string big_endian(std::uint32_t v) {
  return {char(v >> 24), char((v >> 16) & 0xff), char((v >> 8) & 0xff), char(v & 0xff)};
}

// An IDX file of unsigned bytes: magic 0x00000803 (type 0x08, 3 dimensions), the
// dimensions as big-endian 32-bit numbers, then the values.
std::string idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& values,
                      std::uint32_t magic = 0) {
  std::string bytes = big_endian(magic ? magic : 0x00000800u | std::uint32_t(dims.size()));
  for (auto d : dims) bytes += big_endian(d);
  bytes.append(values.begin(), values.end());
  return bytes;
}

std::vector<std::uint8_t> pattern(std::size_t n) {
  std::vector<std::uint8_t> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<std::uint8_t>((i * 7 + 3) % 256);
  return values;
}
}  // namespace

// ---- CSV -------------------------------------------------------------------------

TEST_CASE("read_csv reads rows of numbers as (rows, columns), optionally after a header") {
  TempDir dir;
  write_bytes(dir / "plain.csv", "1,2.5,-3\n4e2,0,6.25\n");
  const A table = read_csv(dir / "plain.csv");
  CHECK(table == A{{1.0, 2.5, -3.0}, {400.0, 0.0, 6.25}});

  write_bytes(dir / "header.csv", "a,b\r\n7,8\r\n\r\n9,10\r\n");  // CRLF and a blank line
  const A with_header = read_csv(dir / "header.csv", true);
  CHECK(with_header == A{{7.0, 8.0}, {9.0, 10.0}});
  // Without has_header the header is data, and not a number.
  CHECK_THROWS_AS(read_csv(dir / "header.csv"), FileError);

  write_bytes(dir / "column.csv", "5\n6\n7");  // no final newline
  A column = {5.0, 6.0, 7.0};
  column.reshape({3, 1});
  CHECK(read_csv(dir / "column.csv") == column);
}

TEST_CASE("read_csv errors name the file and what is wrong") {
  TempDir dir;
  const std::string missing = dir / "missing.csv";
  std::string message = message_of([&] { read_csv(missing); });
  CHECK(contains(message, missing));
  CHECK(contains(message, "no such file"));
  CHECK_THROWS_AS(read_csv(missing), FileError);

  const std::string bad = dir / "bad.csv";
  write_bytes(bad, "1,2,3\n4,x5,6\n");
  message = message_of([&] { read_csv(bad); });
  CHECK(contains(message, bad));
  CHECK(contains(message, "line 2"));
  CHECK(contains(message, "column 2"));
  CHECK(contains(message, "'x5'"));
  CHECK_THROWS_AS(read_csv(bad), FileError);

  // Line numbers count the header, and an empty field is not a number.
  const std::string empty_field = dir / "empty_field.csv";
  write_bytes(empty_field, "h1,h2\n1,2\n3,\n");
  message = message_of([&] { read_csv(empty_field, true); });
  CHECK(contains(message, "line 3"));
  CHECK(contains(message, "column 2"));

  const std::string ragged = dir / "ragged.csv";
  write_bytes(ragged, "1,2,3\n4,5,6\n7,8\n");
  message = message_of([&] { read_csv(ragged); });
  CHECK(contains(message, ragged));
  CHECK(contains(message, "line 3"));
  CHECK(contains(message, "2 columns"));
  CHECK_THROWS_AS(read_csv(ragged), FileError);

  const std::string empty = dir / "empty.csv";
  write_bytes(empty, "");
  message = message_of([&] { read_csv(empty); });
  CHECK(contains(message, empty));
  CHECK(contains(message, "no data"));
}

TEST_CASE("read_csv reads gzip-compressed files, and a truncated .gz is a FileError") {
  TempDir dir;
  std::string text;
  A expected = A::from_shape({500, 4});
  for (std::size_t i = 0; i < 500; ++i) {
    for (std::size_t j = 0; j < 4; ++j) {
      expected(i, j) = double(i * 4 + j) / 8.0;
      if (j) text += ',';
      text += std::to_string(expected(i, j));  // multiples of 1/8: exact in 6 decimals
    }
    text += "\n";
  }
  const std::string gz = dir / "table.csv.gz";
  write_gzip(gz, text);
  CHECK(read_bytes(gz).size() < text.size());  // really compressed
  CHECK(read_csv(gz) == expected);

  const std::size_t size = read_bytes(gz).size();
  for (std::size_t keep : {size / 2, size - 3}) {  // cut in the data, cut in the trailer
    CAPTURE(keep);
    const std::string cut = dir / ("cut" + std::to_string(keep) + ".csv.gz");
    write_bytes(cut, read_bytes(gz).substr(0, keep));
    const std::string message = message_of([&] { read_csv(cut); });
    CHECK(contains(message, cut));
    CHECK_THROWS_AS(read_csv(cut), FileError);
  }
}

// ---- IDX -------------------------------------------------------------------------

TEST_CASE("read_idx reads the dimensions (big-endian) and the bytes of an IDX file, plain or gzip") {
  TempDir dir;
  const auto values = pattern(2 * 3 * 300);
  const std::string bytes = idx_bytes({2, 3, 300}, values);  // 300 > 255 needs two bytes of the dimension
  write_bytes(dir / "images.idx", bytes);
  const xt::xarray<std::uint8_t> read = read_idx(dir / "images.idx");
  CHECK(read.shape() == xt::xarray<std::uint8_t>::shape_type{2, 3, 300});
  REQUIRE(read.size() == values.size());
  CHECK(std::equal(values.begin(), values.end(), read.data()));
  CHECK(read(1, 2, 299) == values[1 * 900 + 2 * 300 + 299]);
  CHECK(read(0, 1, 5) == values[305]);

  const std::string gz = dir / "labels.idx.gz";
  write_gzip(gz, idx_bytes({5}, {9, 8, 7, 6, 5}));
  CHECK(read_idx(gz) == xt::xarray<std::uint8_t>{9, 8, 7, 6, 5});
}

TEST_CASE("load_idx_images (nn/data.hpp): images scaled to [0, 1] with their labels; counts must agree") {
  TempDir dir;
  write_bytes(dir / "images.idx", idx_bytes({2, 2, 3}, {0, 51, 255, 102, 0, 0, 255, 255, 153, 0, 0, 1}));
  write_gzip(dir / "labels.idx.gz", idx_bytes({2}, {7, 3}));
  const Dataset<double> data = load_idx_images<double>(dir / "images.idx", dir / "labels.idx.gz");
  CHECK(data.inputs.shape() == autodiff::Shape{2, 2, 3});
  CHECK(data.inputs(0, 0, 1) == 0.2);
  CHECK(data.inputs(0, 0, 2) == 1.0);
  CHECK(data.inputs(1, 1, 0) == 0.0);
  CHECK(data.inputs(1, 0, 2) == doctest::Approx(0.6));
  CHECK(data.labels == Labels{7, 3});
  write_bytes(dir / "three.idx", idx_bytes({3}, {1, 2, 3}));
  CHECK(message_of([&] { load_idx_images<float>(dir / "images.idx", dir / "three.idx"); })
            .find("expected 2 labels (one per image in") != std::string::npos);
  CHECK(message_of([&] { load_idx_images<float>(dir / "three.idx", dir / "three.idx"); })
            .find("expected images (N, rows, columns), got shape (3,)") != std::string::npos);
}

TEST_CASE("read_idx errors: missing file, bad magic, truncated data, trailing data") {
  TempDir dir;
  const std::string missing = dir / "missing.idx";
  CHECK(contains(message_of([&] { read_idx(missing); }), missing));
  CHECK_THROWS_AS(read_idx(missing), FileError);

  const auto values = pattern(2 * 3 * 4);
  const std::string not_idx = dir / "not_idx.idx";
  write_bytes(not_idx, idx_bytes({2, 3, 4}, values, 0x01000803u));
  std::string message = message_of([&] { read_idx(not_idx); });
  CHECK(contains(message, not_idx));
  CHECK(contains(message, "magic"));
  CHECK_THROWS_AS(read_idx(not_idx), FileError);

  const std::string floats = dir / "floats.idx";  // element type 0x0D (float) is not bytes
  write_bytes(floats, idx_bytes({2, 3, 4}, values, 0x00000D03u));
  CHECK_THROWS_AS(read_idx(floats), FileError);

  const std::string truncated = dir / "truncated.idx";
  std::string bytes = idx_bytes({2, 3, 4}, values);
  write_bytes(truncated, bytes.substr(0, bytes.size() - 1));
  message = message_of([&] { read_idx(truncated); });
  CHECK(contains(message, truncated));
  CHECK(contains(message, "truncated"));
  CHECK_THROWS_AS(read_idx(truncated), FileError);

  const std::string short_header = dir / "short_header.idx";  // says 3 dimensions, has 2
  write_bytes(short_header, bytes.substr(0, 12));
  CHECK_THROWS_AS(read_idx(short_header), FileError);

  const std::string trailing = dir / "trailing.idx";
  write_bytes(trailing, bytes + "xy");
  message = message_of([&] { read_idx(trailing); });
  CHECK(contains(message, trailing));
  CHECK(contains(message, "trailing"));
  CHECK_THROWS_AS(read_idx(trailing), FileError);
}

// ---- .npy ------------------------------------------------------------------------

namespace {
// Checks the .npy v1 layout: magic, version 1.0, little-endian header length, a
// header padded with spaces and ending in '\n' so that the data starts at a multiple
// of 64, then the raw little-endian values.
template <class T>
void check_npy_file(const std::string& path, const autodiff::Array<T>& values, const std::string& descr,
                    const std::string& shape) {
  const std::string bytes = read_bytes(path);
  REQUIRE(bytes.size() >= 10);
  CHECK(bytes.compare(0, 6, "\x93NUMPY") == 0);
  CHECK(bytes[6] == 1);
  CHECK(bytes[7] == 0);
  const std::size_t header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  CHECK((10 + header_length) % 64 == 0);
  REQUIRE(bytes.size() == 10 + header_length + values.size() * sizeof(T));
  const std::string header = bytes.substr(10, header_length);
  CAPTURE(header);
  CHECK(header.back() == '\n');
  CHECK(header.front() == '{');
  CHECK(contains(header, "'descr': '" + descr + "'"));
  CHECK(contains(header, "'fortran_order': False"));
  CHECK(contains(header, "'shape': " + shape));
  for (std::size_t i = header.find('}') + 1; i + 1 < header.size(); ++i) CHECK(header[i] == ' ');
  auto stored = autodiff::Array<T>::from_shape({values.size()});  // (not std::vector: vector<bool> has no data())
  std::memcpy(stored.data(), bytes.data() + 10 + header_length, values.size() * sizeof(T));
  for (std::size_t i = 0; i < values.size(); ++i) CHECK(stored[i] == values.data()[i]);
}
}  // namespace

TEST_CASE("save_npy and load_npy round-trip float and double arrays of 0, 1 and 2 dimensions") {
  TempDir dir;
  const A scalar = 2.75;  // 0-D
  const A vector = {1.0, -2.5, 3.125, 1e-300};
  const A matrix = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0 + 1e-12}};
  save_npy(dir / "scalar.npy", scalar);
  save_npy(dir / "vector.npy", vector);
  save_npy(dir / "matrix.npy", matrix);
  const A scalar_back = load_npy<double>(dir / "scalar.npy");
  CHECK(scalar_back.dimension() == 0);
  CHECK(scalar_back() == 2.75);
  CHECK(load_npy<double>(dir / "vector.npy") == vector);
  const A matrix_back = load_npy<double>(dir / "matrix.npy");
  CHECK(matrix_back.shape() == A::shape_type{2, 3});
  CHECK(matrix_back == matrix);
  check_npy_file(dir / "scalar.npy", scalar, "<f8", "()");
  check_npy_file(dir / "vector.npy", vector, "<f8", "(4,)");
  check_npy_file(dir / "matrix.npy", matrix, "<f8", "(2, 3)");

  const Af scalar_f = 0.5f;
  const Af vector_f = {0.1f, -7.f, 3e-38f};
  const Af matrix_f = {{1.5f, 2.5f}, {3.5f, 4.5f}, {5.5f, 6.5f}};
  save_npy(dir / "scalar_f.npy", scalar_f);
  save_npy(dir / "vector_f.npy", vector_f);
  save_npy(dir / "matrix_f.npy", matrix_f);
  CHECK(load_npy<float>(dir / "scalar_f.npy")() == 0.5f);
  CHECK(load_npy<float>(dir / "vector_f.npy") == vector_f);
  CHECK(load_npy<float>(dir / "matrix_f.npy") == matrix_f);
  check_npy_file(dir / "scalar_f.npy", scalar_f, "<f4", "()");
  check_npy_file(dir / "vector_f.npy", vector_f, "<f4", "(3,)");
  check_npy_file(dir / "matrix_f.npy", matrix_f, "<f4", "(3, 2)");

  // Saving again replaces the file.
  save_npy(dir / "vector.npy", A{9.0});
  CHECK(load_npy<double>(dir / "vector.npy") == A{9.0});
}

TEST_CASE("load_npy reads a file written by numpy.save (a hand-made v1 header)") {
  TempDir dir;
  // What numpy.save(np.arange(3, dtype='<f4').reshape(3, 1)) writes: header padded to 118 bytes.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 1), }";
  header.append(117 - header.size(), ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);  // appended piece by piece: g++ 12 at -O1 warns (wrongly) on a + b + c
  bytes += char(header.size());
  bytes += char(0);
  bytes += header;
  const float values[3] = {0.f, 1.f, 2.f};
  bytes.append(reinterpret_cast<const char*>(values), sizeof values);
  write_bytes(dir / "numpy.npy", bytes);
  Af expected = {0.f, 1.f, 2.f};
  expected.reshape({3, 1});
  CHECK(load_npy<float>(dir / "numpy.npy") == expected);
}

TEST_CASE("save_npy and load_npy round-trip int64, int32, uint8 and bool arrays with NumPy's dtypes") {
  TempDir dir;
  using autodiff::Array;
  const Array<std::int64_t> i8 = {{-3, 0}, {7, std::int64_t(1) << 40}};
  const Array<std::int32_t> i4 = {-2147483647 - 1, 0, 2147483647};
  const Array<std::uint8_t> u1 = {0, 9, 255};
  const Array<bool> b1 = {{true, false, true}};
  save_npy(dir / "i8.npy", i8);
  save_npy(dir / "i4.npy", i4);
  save_npy(dir / "u1.npy", u1);
  save_npy(dir / "b1.npy", b1);
  CHECK(load_npy<std::int64_t>(dir / "i8.npy") == i8);
  CHECK(load_npy<std::int32_t>(dir / "i4.npy") == i4);
  CHECK(load_npy<std::uint8_t>(dir / "u1.npy") == u1);
  CHECK(load_npy<bool>(dir / "b1.npy") == b1);
  check_npy_file(dir / "i8.npy", i8, "<i8", "(2, 2)");
  check_npy_file(dir / "i4.npy", i4, "<i4", "(3,)");
  check_npy_file(dir / "u1.npy", u1, "|u1", "(3,)");
  check_npy_file(dir / "b1.npy", b1, "|b1", "(1, 3)");
  // no silent conversion between dtypes
  const std::string message = message_of([&] { load_npy<std::int64_t>(dir / "i4.npy"); });
  CHECK(contains(message, "dtype '<i4'"));
  CHECK(contains(message, "'<i8' is expected"));
  CHECK_THROWS_AS(load_npy<double>(dir / "i8.npy"), FileError);
}

namespace {
// A v1 .npy file as numpy.save writes it: the header padded with spaces to a multiple of 64 bytes.
std::string npy_bytes(const std::string& dict, const std::string& data) {
  std::string header = dict;
  header.append(63 - (10 + header.size()) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY\x01\x00", 8) + char(header.size()) + char(0) + header + data;
}
}  // namespace

TEST_CASE("load_labels reads class labels of any integer dtype NumPy writes for them") {
  TempDir dir;
  const std::int64_t i8[4] = {3, 0, 9, 1};
  write_bytes(dir / "i8.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (4,), }",
                                        std::string(reinterpret_cast<const char*>(i8), sizeof i8)));
  CHECK(load_labels(dir / "i8.npy") == std::vector<std::size_t>{3, 0, 9, 1});
  const std::int32_t i4[2] = {5, 2};
  write_bytes(dir / "i4.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }",
                                        std::string(reinterpret_cast<const char*>(i4), sizeof i4)));
  CHECK(load_labels(dir / "i4.npy") == std::vector<std::size_t>{5, 2});
  write_bytes(dir / "u1.npy", npy_bytes("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", std::string("\x07\x00\xff", 3)));
  CHECK(load_labels(dir / "u1.npy") == std::vector<std::size_t>{7, 0, 255});
  // errors: a negative label, a float file, a bool byte that is neither 0 nor 1
  const std::int64_t negative[2] = {1, -4};
  write_bytes(dir / "negative.npy", npy_bytes("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
                                              std::string(reinterpret_cast<const char*>(negative), sizeof negative)));
  std::string message = message_of([&] { load_labels(dir / "negative.npy"); });
  CHECK(contains(message, "negative.npy"));
  CHECK(contains(message, "label 1 is -4"));
  save_npy(dir / "floats.npy", A{1.0, 2.0});
  message = message_of([&] { load_labels(dir / "floats.npy"); });
  CHECK(contains(message, "dtype '<f8'"));
  CHECK(contains(message, "integer labels"));
  write_bytes(dir / "bad_bool.npy", npy_bytes("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", std::string("\x01\x02\x00", 3)));
  message = message_of([&] { load_npy<bool>(dir / "bad_bool.npy"); });
  CHECK(contains(message, "element 1"));
  CHECK(contains(message, "byte 2"));
  CHECK_THROWS_AS(load_labels(dir / "floats.npy"), FileError);
}

TEST_CASE("load_npy errors: dtype mismatch, truncated file, missing file") {
  TempDir dir;
  save_npy(dir / "floats.npy", Af{1.f, 2.f, 3.f});
  std::string message = message_of([&] { load_npy<double>(dir / "floats.npy"); });
  CHECK(contains(message, dir / "floats.npy"));
  CHECK(contains(message, "<f4"));
  CHECK(contains(message, "<f8"));
  CHECK_THROWS_AS(load_npy<double>(dir / "floats.npy"), FileError);
  save_npy(dir / "doubles.npy", A{1.0});
  CHECK_THROWS_AS(load_npy<float>(dir / "doubles.npy"), FileError);

  save_npy(dir / "cut.npy", A{{1.0, 2.0}, {3.0, 4.0}});
  const std::size_t size = read_bytes(dir / "cut.npy").size();
  truncate_to(dir / "cut.npy", size - 8);  // one value short
  message = message_of([&] { load_npy<double>(dir / "cut.npy"); });
  CHECK(contains(message, dir / "cut.npy"));
  CHECK(contains(message, "truncated"));
  CHECK_THROWS_AS(load_npy<double>(dir / "cut.npy"), FileError);
  truncate_to(dir / "cut.npy", 30);  // inside the header
  CHECK_THROWS_AS(load_npy<double>(dir / "cut.npy"), FileError);

  const std::string missing = dir / "missing.npy";
  message = message_of([&] { load_npy<double>(missing); });
  CHECK(contains(message, missing));
  CHECK_THROWS_AS(load_npy<double>(missing), FileError);

  write_bytes(dir / "text.npy", "just some text, not numpy at all");
  CHECK_THROWS_AS(load_npy<double>(dir / "text.npy"), FileError);
}

// ---- parameters --------------------------------------------------------------------

namespace {
std::vector<A> parameter_values(const Module<double>& model) {
  std::vector<A> values;
  for (const auto& parameter : model.parameters()) values.push_back(parameter.value());
  return values;
}

A input_batch() {
  A x = A::from_shape({5, 4});
  for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = std::sin(double(i) + 0.5);
  return x;
}

Sequential<double> fresh_model(std::uint64_t seed) {
  manual_seed(seed);
  return mlp<double>({4, 6, 3}, Tanh<double>(), xavier_uniform(), normal(0.0, 0.1));
}
}  // namespace

TEST_CASE("save_parameters then load_parameters into a differently initialised model gives identical outputs") {
  TempDir dir;
  Sequential<double> saved = fresh_model(1);
  save_parameters(saved, dir / "model");
  for (const char* name : {"0.weight", "0.bias", "2.weight", "2.bias"})
    CHECK(fs::exists(dir / ("model/" + std::string(name) + ".npy")));

  Sequential<double> loaded = fresh_model(2);
  const autodiff::Variable<double> x(input_batch());
  const A before = loaded(x).value();
  const A expected = saved(x).value();
  CHECK(before != expected);  // otherwise the comparison below would prove nothing
  load_parameters(loaded, dir / "model");
  CHECK(loaded(x).value() == expected);
  CHECK(parameter_values(loaded) == parameter_values(saved));
  // The model's parameters are still the ones the optimizer and the tape see.
  for (const auto& p : loaded.parameters()) CHECK(p.requires_grad());
  CHECK(dynamic_cast<Linear<double>&>(loaded[0]).weight().value() == parameter_values(saved)[0]);
}

TEST_CASE("load_parameters leaves the model unchanged when a file is missing, misshapen or truncated") {
  TempDir dir;
  Sequential<double> source = fresh_model(3);
  save_parameters(source, dir / "good");

  struct Damage {
    const char* what;
    std::function<void(const std::string& directory)> apply;
    const char* in_message;
  };
  // The damaged file is the last one loaded (2.bias) or a late one, so that an
  // implementation that assigned while reading would already have changed the others.
  const std::vector<Damage> damages = {
      {"missing file", [](const std::string& d) { fs::remove(d + "/2.bias.npy"); }, "2.bias.npy"},
      {"wrong shape", [](const std::string& d) { save_npy(d + "/2.bias.npy", A{1.0, 2.0, 3.0, 4.0}); }, "shape"},
      {"truncated file", [](const std::string& d) { truncate_to(d + "/2.bias.npy", read_bytes(d + "/2.bias.npy").size() - 4); }, "truncated"},
      {"truncated weight", [](const std::string& d) { truncate_to(d + "/2.weight.npy", read_bytes(d + "/2.weight.npy").size() - 8); }, "2.weight.npy"},
      {"wrong dtype", [](const std::string& d) { save_npy(d + "/2.bias.npy", Af{1.f, 2.f, 3.f}); }, "<f4"},
  };
  for (const auto& damage : damages) {
    CAPTURE(damage.what);
    const std::string directory = dir / (std::string("damaged_") + std::to_string(&damage - damages.data()));
    fs::copy(dir / "good", directory);
    damage.apply(directory);

    Sequential<double> model = fresh_model(4);
    const std::vector<A> before = parameter_values(model);
    REQUIRE(before != parameter_values(source));
    const std::string message = message_of([&] { load_parameters(model, directory); });
    CHECK(contains(message, directory));
    CHECK(contains(message, damage.in_message));
    CHECK_THROWS_AS(load_parameters(model, directory), FileError);
    CHECK(parameter_values(model) == before);
  }

  Sequential<double> model = fresh_model(5);
  const std::vector<A> before = parameter_values(model);
  CHECK_THROWS_AS(load_parameters(model, dir / "no_such_directory"), FileError);
  CHECK(parameter_values(model) == before);
}
