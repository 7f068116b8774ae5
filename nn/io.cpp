#include "io.hpp"

#include <zlib.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "check.hpp"

namespace nn {

namespace {

// The whole file, decompressed if it is gzip (zlib reads plain files as they are).
std::string read_file(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileError(path + ": no such file");
  gzFile file = gzopen(path.c_str(), "rb");
  if (!file) throw FileError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string contents;
  std::vector<char> buffer(1 << 16);
  int count;
  while ((count = gzread(file, buffer.data(), static_cast<unsigned>(buffer.size()))) > 0) contents.append(buffer.data(), count);
  int status = Z_OK;
  const std::string message = gzerror(file, &status);
  gzclose(file);
  if (count < 0 || (status != Z_OK && status != Z_STREAM_END))
    throw FileError(path + ": corrupt or truncated compressed data (" + message + ")");
  return contents;
}

std::uint32_t big_endian_u32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

}  // namespace

xt::xarray<double> read_csv(const std::string& path, bool has_header) {
  std::istringstream text(read_file(path));
  std::vector<double> values;
  std::size_t columns = 0, rows = 0, line_number = 0;
  std::string line;
  if (has_header) {
    std::getline(text, line);
    ++line_number;
  }
  while (std::getline(text, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::size_t count = 0, start = 0;
    while (true) {
      const std::size_t comma = line.find(',', start);
      const std::string field = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      char* end = nullptr;
      const double value = std::strtod(field.c_str(), &end);
      if (field.empty() || end == field.c_str() || *end != '\0')
        throw FileError(path + ": line " + std::to_string(line_number) + ", column " + std::to_string(count + 1) +
                        ": '" + field + "' is not a number");
      values.push_back(value);
      ++count;
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    if (rows == 0) columns = count;
    else if (count != columns)
      throw FileError(path + ": line " + std::to_string(line_number) + " has " + std::to_string(count) +
                      " columns, the first row has " + std::to_string(columns));
    ++rows;
  }
  if (rows == 0) throw FileError(path + ": no data rows");
  xt::xarray<double> table = xt::xarray<double>::from_shape({rows, columns});
  std::copy(values.begin(), values.end(), table.begin());
  return table;
}

xt::xarray<std::uint8_t> read_idx(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.size() < 4) throw FileError(path + ": too short for an IDX header (" + std::to_string(bytes.size()) + " bytes)");
  if (bytes[0] != 0 || bytes[1] != 0)
    throw FileError(path + ": not an IDX file (the magic number must start with two zero bytes)");
  if (static_cast<unsigned char>(bytes[2]) != 0x08)
    throw FileError(path + ": IDX element type " + std::to_string(static_cast<unsigned char>(bytes[2])) +
                    " is not supported (only unsigned bytes, 0x08)");
  const std::size_t rank = static_cast<unsigned char>(bytes[3]);
  if (rank == 0 || bytes.size() < 4 + 4 * rank)
    throw FileError(path + ": IDX header truncated or without dimensions");
  xt::xarray<std::uint8_t>::shape_type shape(rank);
  for (std::size_t d = 0; d < rank; ++d) shape[d] = big_endian_u32(bytes, 4 + 4 * d);
  std::size_t count = 0, expected = 0;
  const autodiff::Shape dims(shape.begin(), shape.end());
  if (!detail::checked_product(dims, count) || __builtin_add_overflow(4 + 4 * rank, count, &expected))
    throw FileError(path + ": IDX header gives dimensions " + autodiff::to_string(dims) +
                    ", more than 2^64 elements (a corrupt header)");
  if (bytes.size() != expected)
    throw FileError(path + ": IDX file is " + std::to_string(bytes.size()) + " bytes, its header promises " +
                    std::to_string(expected) + (bytes.size() < expected ? " (truncated)" : " (trailing data)"));
  xt::xarray<std::uint8_t> values = xt::xarray<std::uint8_t>::from_shape(shape);
  std::memcpy(values.data(), bytes.data() + 4 + 4 * rank, count);
  return values;
}

template <class T>
std::string detail::npy_bytes(const Array<T>& values) {
  std::string shape = "(";  // Python's tuple syntax: "()", "(3,)", "(3, 4)"
  for (std::size_t d = 0; d < values.dimension(); ++d) shape += (d ? ", " : "") + std::to_string(values.shape()[d]);
  shape += values.dimension() == 1 ? ",)" : ")";
  std::string header = std::string("{'descr': '") + detail::npy_descr<T>() + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header += '\n';
  std::string bytes("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<std::uint16_t>(header.size());
  bytes += static_cast<char>(length & 0xff);
  bytes += static_cast<char>(length >> 8);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
  return bytes;
}

template <class T>
void save_npy(const std::string& path, const Array<T>& values) {
  const std::string bytes = detail::npy_bytes(values);
  // Write beside the target and rename: a failed save never leaves half a file.
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary);
    if (!out) throw FileError(path + ": cannot write (" + std::strerror(errno) + ")");
    struct RemoveUnlessRenamed {  // a failed write leaves no temporary file behind
      const std::string& file;
      bool done = false;
      ~RemoveUnlessRenamed() { if (!done) std::filesystem::remove(file); }
    } cleanup{temporary};
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) throw FileError(path + ": write failed");
    std::filesystem::rename(temporary, path);
    cleanup.done = true;
  }
}

namespace {
// A .npy file read and its header checked (magic, version, dtype text, C order,
// shape); the data's size is checked by whoever knows the element size.
struct NpyFile {
  std::string bytes;
  std::string dtype;  // '<f8', '<i8', ... without the quotes
  autodiff::Shape shape;
  std::size_t count = 0;       // elements
  std::size_t data_start = 0;  // offset of the first element
};

// `path` names the bytes in messages (a file, or a member of a .npz file).
NpyFile parse_npy(const std::string& path, std::string contents) {
  NpyFile file;
  file.bytes = std::move(contents);
  const std::string& bytes = file.bytes;
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw FileError(path + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_length, header_start;
  if (major == 1) {
    header_length = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw FileError(path + ": truncated .npy header");
    header_length = 0;
    for (int i = 3; i >= 0; --i) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[8 + i]);
    header_start = 12;
  } else {
    throw FileError(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (bytes.size() < header_start + header_length) throw FileError(path + ": truncated .npy header");
  const std::string header = bytes.substr(header_start, header_length);
  // The text after "'key':" with leading spaces skipped.
  auto field = [&](const std::string& key) {
    const std::size_t at = header.find("'" + key + "':");
    if (at == std::string::npos) throw FileError(path + ": .npy header lacks '" + key + "'");
    const std::size_t value = header.find_first_not_of(' ', at + key.size() + 3);
    return value == std::string::npos ? std::string() : header.substr(value);
  };
  const std::string descr = field("descr");
  file.dtype = descr.substr(0, descr.find_first_of(",}"));
  if (file.dtype.size() >= 2 && file.dtype.front() == '\'' && file.dtype.back() == '\'')
    file.dtype = file.dtype.substr(1, file.dtype.size() - 2);
  if (field("fortran_order").rfind("False", 0) != 0) throw FileError(path + ": Fortran-ordered arrays are not supported");
  const std::string shape_text = field("shape");
  const std::size_t open = shape_text.find('('), close = shape_text.find(')');
  if (open == std::string::npos || close == std::string::npos) throw FileError(path + ": malformed shape in .npy header");
  const std::string inside = shape_text.substr(open + 1, close - open - 1);
  std::istringstream dims(inside);
  std::string dim;
  // "(3, 4)", "(3,)", "()": each dimension a plain decimal number
  while (std::getline(dims, dim, ',')) {
    const std::size_t first = dim.find_first_not_of(' '), last = dim.find_last_not_of(' ');
    if (first == std::string::npos) continue;
    const std::string digits = dim.substr(first, last - first + 1);
    std::size_t value = 0;
    bool ok = digits.find_first_not_of("0123456789") == std::string::npos;
    for (char c : digits)
      if (ok && (__builtin_mul_overflow(value, std::size_t(10), &value) ||
                 __builtin_add_overflow(value, std::size_t(c - '0'), &value)))
        ok = false;
    if (!ok)
      throw FileError(path + ": malformed shape (" + inside + ") in .npy header: '" + digits +
                      "' is not a dimension (a number from 0 to 2^64 - 1)");
    file.shape.push_back(value);
  }
  if (!detail::checked_product(file.shape, file.count))
    throw FileError(path + ": .npy header gives shape " + autodiff::to_string(file.shape) +
                    ", more than 2^64 elements (a corrupt header)");
  file.data_start = header_start + header_length;
  return file;
}

NpyFile read_npy(const std::string& path) {
  if (!std::filesystem::exists(path)) throw FileError(path + ": no such file");
  std::ifstream in(path, std::ios::binary);
  return parse_npy(path, std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()));
}

// The elements of a file read by read_npy, as T (whose dtype the file must have).
template <class T>
Array<T> npy_values(const std::string& path, const NpyFile& file) {
  if (file.dtype != detail::npy_descr<T>())
    throw FileError(path + ": dtype '" + file.dtype + "' where '" + detail::npy_descr<T>() + "' is expected");
  std::size_t bytes_of_data = 0, expected = 0;
  if (__builtin_mul_overflow(file.count, sizeof(T), &bytes_of_data) ||
      __builtin_add_overflow(file.data_start, bytes_of_data, &expected))
    throw FileError(path + ": .npy header gives shape " + autodiff::to_string(file.shape) +
                    ", more bytes than 2^64 (a corrupt header)");
  if (file.bytes.size() != expected)
    throw FileError(path + ": " + std::to_string(file.bytes.size()) + " bytes where shape " +
                    autodiff::to_string(file.shape) + " needs " + std::to_string(expected) +
                    (file.bytes.size() < expected ? " (truncated)" : " (trailing data)"));
  const char* data = file.bytes.data() + file.data_start;
  if constexpr (std::is_same_v<T, bool>)  // any other byte would be an invalid bool
    for (std::size_t i = 0; i < file.count; ++i)
      if (data[i] != 0 && data[i] != 1)
        throw FileError(path + ": element " + std::to_string(i) + " of a bool array is the byte " +
                        std::to_string(static_cast<unsigned char>(data[i])) + ", not 0 or 1");
  Array<T> values = Array<T>::from_shape(file.shape);
  std::memcpy(values.data(), data, file.count * sizeof(T));
  return values;
}

template <class I>
std::vector<std::size_t> labels_of(const std::string& path, const NpyFile& file) {
  const Array<I> values = npy_values<I>(path, file);
  std::vector<std::size_t> labels(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values.data()[i] < 0)
      throw FileError(path + ": label " + std::to_string(i) + " is " + std::to_string(values.data()[i]) +
                      "; a class label cannot be negative");
    labels[i] = static_cast<std::size_t>(values.data()[i]);
  }
  return labels;
}
}  // namespace

template <class T>
Array<T> load_npy(const std::string& path) {
  return npy_values<T>(path, read_npy(path));
}

StateValue detail::npy_value(const std::string& name, std::string bytes) {
  const NpyFile file = parse_npy(name, std::move(bytes));
  if (file.dtype == "<f4") return npy_values<float>(name, file);
  if (file.dtype == "<f8") return npy_values<double>(name, file);
  if (file.dtype == "<i8") return npy_values<std::int64_t>(name, file);
  if (file.dtype == "<u8") return npy_values<std::uint64_t>(name, file);
  if (file.dtype == "|u1") return npy_values<std::uint8_t>(name, file);
  throw FileError(name + ": dtype '" + file.dtype + "' is not one a state holds ('<f4', '<f8', '<i8', '<u8', '|u1')");
}

std::vector<std::size_t> load_labels(const std::string& path) {
  const NpyFile file = read_npy(path);
  if (file.dtype == "<i8") return labels_of<std::int64_t>(path, file);
  if (file.dtype == "<i4") return labels_of<std::int32_t>(path, file);
  if (file.dtype == "|u1") return labels_of<std::uint8_t>(path, file);
  throw FileError(path + ": dtype '" + file.dtype + "' where integer labels ('<i8', '<i4' or '|u1') are expected");
}

template <class T>
void save_parameters(const Module<T>& model, const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error || !std::filesystem::is_directory(directory))
    throw FileError(directory + ": cannot create the directory for save_parameters (" +
                    (error ? error.message() : std::string("a file of that name exists")) + ")");
  for (const auto& [name, parameter] : model.named_parameters())
    save_npy(directory + "/" + name + ".npy", parameter.value());
}

template <class T>
LoadResult load_parameters(Module<T>& model, const std::string& directory, bool strict) {
  if (!std::filesystem::is_directory(directory)) throw FileError(directory + ": no such directory");
  auto parameters = model.named_parameters();
  LoadResult result;
  // Files the model has no parameter for (PyTorch's unexpected keys).
  std::vector<std::string> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(directory, error)) {
    const std::string file = entry.path().filename().string();
    if (file.size() > 4 && file.compare(file.size() - 4, 4, ".npy") == 0 && entry.is_regular_file())
      files.push_back(file.substr(0, file.size() - 4));
  }
  if (error) throw FileError(directory + ": cannot list the directory (" + error.message() + ")");
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const bool known = std::any_of(parameters.begin(), parameters.end(), [&](const auto& p) { return p.first == file; });
    if (!known) result.unexpected.push_back(file);
  }
  std::vector<Array<T>> loaded(parameters.size());  // everything is read and checked before anything changes
  std::vector<bool> present(parameters.size(), false);
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& [name, parameter] = parameters[i];
    const std::string path = directory + "/" + name + ".npy";
    if (!strict && !std::filesystem::exists(path)) {
      result.missing.push_back(name);
      continue;
    }
    Array<T> values = load_npy<T>(path);
    if (values.shape() != parameter.shape())
      throw FileError(path + ": shape " + autodiff::to_string(values.shape()) + " where parameter '" + name +
                      "' has shape " + autodiff::to_string(parameter.shape()));
    loaded[i] = std::move(values);
    present[i] = true;
  }
  if (strict && !result.unexpected.empty()) {
    std::string names;
    for (const auto& file : result.unexpected) names += (names.empty() ? "" : ", ") + directory + "/" + file + ".npy";
    throw FileError("load_parameters: " + names + (result.unexpected.size() == 1 ? " matches" : " match") +
                    " no parameter of the model (" + std::to_string(parameters.size()) +
                    " parameters); pass strict = false to ignore " +
                    (result.unexpected.size() == 1 ? "it" : "them"));
  }
  for (std::size_t i = 0; i < parameters.size(); ++i)
    if (present[i]) parameters[i].second.data() = std::move(loaded[i]);
  return result;
}

#define WENGERT_INSTANTIATE_NPY(T)                             \
  template void save_npy(const std::string&, const Array<T>&); \
  template std::string detail::npy_bytes(const Array<T>&);     \
  template Array<T> load_npy<T>(const std::string&);
WENGERT_INSTANTIATE_NPY(std::int64_t)
WENGERT_INSTANTIATE_NPY(std::uint64_t)
WENGERT_INSTANTIATE_NPY(std::int32_t)
WENGERT_INSTANTIATE_NPY(std::uint8_t)
WENGERT_INSTANTIATE_NPY(bool)

#define WENGERT_INSTANTIATE(T)                                          \
  WENGERT_INSTANTIATE_NPY(T)                                            \
  template void save_parameters(const Module<T>&, const std::string&);  \
  template LoadResult load_parameters(Module<T>&, const std::string&, bool);
WENGERT_INSTANTIATE(float)
WENGERT_INSTANTIATE(double)
#undef WENGERT_INSTANTIATE
#undef WENGERT_INSTANTIATE_NPY

}  // namespace nn
