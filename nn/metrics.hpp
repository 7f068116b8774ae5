// Metrics for classification and regression.
#pragma once

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

#include <autodiff/variable.hpp>

#include "loss.hpp"

namespace nn {

// The column of each row's largest score: predicted classes from logits or probabilities
// (the first on ties; a NaN counts as the largest, as in NumPy).
template <class T> Labels argmax_rows(const Array<T>& scores);
// Fraction of predictions equal to the truth.
double accuracy(const Labels& predicted, const Labels& truth);
template <class T> double accuracy(const Array<T>& scores, const Labels& truth);
// counts(i, j): samples of true class i predicted as class j.
xt::xarray<std::size_t> confusion_matrix(const Labels& predicted, const Labels& truth, std::size_t classes);
// The confusion matrix as a table: a row per true class (its name when given),
// a column per predicted class, and each row's accuracy (recall) at its end.
void print_confusion_matrix(std::ostream& out, const xt::xarray<std::size_t>& counts,
                            const std::vector<std::string>& class_names = {});
template <class T> double mean_squared_error(const Array<T>& prediction, const Array<T>& truth);
// Coefficient of determination: 1 - SS_res / SS_tot (at least 2 samples).
template <class T> double r2_score(const Array<T>& prediction, const Array<T>& truth);

}  // namespace nn
