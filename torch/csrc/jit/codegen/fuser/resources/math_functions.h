// The <cmath> functions generated code calls through a math policy (TfMath), listed once.
// Embedded at build time and printed first; each flavour preamble defines TfMath from
// these lists with its own spelling of the functions (and fabs, which the CUDA flavour
// spells differently).
// clang-format off
#define TF_FORALL_UNARY_MATH(_)                                                       \
  _(exp) _(exp2) _(expm1) _(log) _(log1p) _(log2) _(log10) _(tanh) _(sqrt)            \
  _(sin) _(cos) _(tan) _(asin) _(acos) _(atan) _(sinh) _(cosh) _(erf) _(erfc)         \
  _(lgamma) _(ceil) _(floor) _(nearbyint) _(trunc)
#define TF_FORALL_BINARY_MATH(_) _(pow) _(atan2) _(fmod) _(copysign)
// clang-format on
