// Reading data files and saving parameters. Every failure names the file and
// what is wrong with it.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <autodiff/variable.hpp>

#include "module.hpp"

namespace nn {

// A missing, truncated or malformed file.
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A CSV file of numbers (plain or gzip-compressed), as (rows, columns).
xt::xarray<double> read_csv(const std::string& path, bool has_header = false);

// An IDX file (MNIST, Fashion-MNIST; plain or .gz) of unsigned bytes, with its shape.
xt::xarray<std::uint8_t> read_idx(const std::string& path);

// NumPy .npy files in C order, of T = float ('<f4'), double ('<f8'),
// std::int64_t ('<i8'), std::uint64_t ('<u8'), std::int32_t ('<i4'), std::uint8_t ('|u1') or bool
// ('|b1'). load_npy<T> wants the file's dtype to be T's (as numpy.load returns
// the file's dtype; there is no silent conversion). A header whose shape is
// malformed or whose size passes 2^64 bytes, or a bool byte other than 0 and 1,
// is a FileError.
template <class T>
void save_npy(const std::string& path, const Array<T>& values);
template <class T>
Array<T> load_npy(const std::string& path);
// Class labels from a .npy file of any integer dtype above ('<i8', '<i4', '|u1'),
// of any shape (read in C order), as pick and cross_entropy take them; a
// negative label is a FileError naming its index.
std::vector<std::size_t> load_labels(const std::string& path);

namespace detail {
// NumPy's name of each dtype in a .npy header (little-endian; one byte has no order).
template <class T>
constexpr const char* npy_descr() {
  if constexpr (std::is_same_v<T, float>) return "<f4";
  else if constexpr (std::is_same_v<T, double>) return "<f8";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "<i8";
  else if constexpr (std::is_same_v<T, std::uint64_t>) return "<u8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "<i4";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "|u1";
  else return "|b1";
}

// What save_npy writes, as bytes (the members of a checkpoint's .npz), and a .npy
// file's bytes read back as whichever state dtype they hold; `name` names them
// in a FileError.
template <class T>
std::string npy_bytes(const Array<T>& values);
StateValue npy_value(const std::string& name, std::string bytes);
}  // namespace detail

// A module's parameters, one .npy file per parameter in `directory`, named by
// the parameter ("0.weight.npy", ...): numpy.load reads them.
template <class T>
void save_parameters(const Module<T>& model, const std::string& directory);
// What load_parameters did not match: LoadResult (state.hpp) lists the parameters
// without a file (non-strict only) and the .npy files without a parameter.
// Loads every parameter; checks that each file exists and that its shape and
// dtype match. Strict (the default, as PyTorch's load_state_dict): a .npy file in
// the directory that matches no parameter is a FileError too. With strict = false,
// missing files and unknown files are skipped and listed in the result. On any
// failure the model is left unchanged.
template <class T>
LoadResult load_parameters(Module<T>& model, const std::string& directory, bool strict = true);

}  // namespace nn
