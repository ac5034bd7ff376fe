// CUDACodegen: the CUDA flavour's source for every op of the table and every float
// dtype, in each loop shape (vectorized contiguous, strided, 32/64-bit index), compiled by
// NVRTC — no GPU needed, so it runs in CI. Skips only when libnvrtc cannot be loaded.
#include "test/cpp/jit/test_utils.h"

#include "torch/csrc/jit/codegen/fuser/cuda/codegen_cuda.h"
#include "torch/csrc/jit/codegen/fuser/cuda/cuda_api.h"
#include "torch/csrc/jit/codegen/fuser/cuda/nvrtc_compiler.h"
#include "torch/csrc/jit/codegen/fuser/lowering.h"

#include <fstream>

namespace torch_fuser {
namespace testing {
namespace {

using torch::jit::testing::FileCheck;

struct Variant {
  at::ScalarType x, y;
  TensorLayout x_layout, y_layout;
  bool index32;
  InnerStride x_inner = InnerStride::kAny;
  InnerStride y_inner = InnerStride::kAny;
};

std::string describe(const Variant& v) {
  std::ostringstream os;
  os << v.x << "/" << v.y << " layouts " << static_cast<int>(v.x_layout) << "/"
     << static_cast<int>(v.y_layout) << (v.index32 ? " index32" : " index64");
  return os.str();
}

// kAllOpsIR plus rand_like (fused on CUDA only).
std::string allOpsWithRandIR() {
  std::string ir = kAllOpsIR;
  const size_t ret = ir.find("  return (");
  ir.insert(ret, "  %rnd : Tensor = aten::rand_like(%x, %none, %none, %none, %none, %none)\n");
  ir.insert(ir.rfind(')'), ", %rnd");
  return ir;
}

std::string cudaSourceFor(const Variant& v) {
  auto graph = parseIR(allOpsWithRandIR());
  ArgSpec spec(c10::Device(c10::kCUDA, 0), 2, at::kFloat, v.index32);
  spec.addTensor({v.x, 2, v.x_layout, v.x_inner});
  spec.addTensor({v.y, 2, v.y_layout, v.y_inner});
  spec.addTensor({at::kBool, 2, TensorLayout::kFlat});
  spec.addScalar(ScalarKind::kDouble);
  spec.addScalar(ScalarKind::kInt);
  LoweringResult lowered = lowerFusion(*graph, spec);
  EXPECT_TRUE(lowered.kernel) << lowered.failure;
  return lowered.kernel ? cuda::generateSource(*lowered.kernel) : std::string();
}

class CUDACodegen : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!cuda::nvrtc(&why)) GTEST_SKIP() << "NVRTC is not installed here: " << why;
  }
};

TEST_F(CUDACodegen, EveryOpAndFloatDtypeCompilesWithNvrtc) {
  const std::vector<Variant> variants = {
      {at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kFlat, true},
      {at::kDouble, at::kDouble, TensorLayout::kFlat, TensorLayout::kStrided, true},
      {at::kHalf, at::kHalf, TensorLayout::kFlat, TensorLayout::kFlat, true},
      {at::kBFloat16, at::kBFloat16, TensorLayout::kStrided, TensorLayout::kScalar, false},
      {at::kHalf, at::kFloat, TensorLayout::kFlat, TensorLayout::kScalar, false},
      {at::kFloat, at::kLong, TensorLayout::kStrided, TensorLayout::kFlat, true},
      {at::kBFloat16, at::kInt, TensorLayout::kFlat, TensorLayout::kFlat, true},
      {at::kHalf, at::kHalf, TensorLayout::kStrided, TensorLayout::kStrided, true,
       InnerStride::kUnit, InnerStride::kZero},
      {at::kFloat, at::kDouble, TensorLayout::kFlat, TensorLayout::kStrided, false,
       InnerStride::kAny, InnerStride::kUnit},
  };
  for (const Variant& v : variants) {
    const std::string source = cudaSourceFor(v);
    ASSERT_FALSE(source.empty());
    for (auto arch : {std::make_pair(9, 0), std::make_pair(8, 0)}) {
      try {
        const cuda::CudaBinary binary =
            cuda::compileWithNvrtc(source, arch.first, arch.second, CompileEnvironment::current());
        EXPECT_GT(binary.image.size(), 0u) << describe(v);
      } catch (const std::exception& e) {
        ADD_FAILURE() << describe(v) << " for sm_" << arch.first << arch.second << ":\n"
                      << e.what() << "\n"
                      << source;
      }
    }
  }
}

TEST_F(CUDACodegen, ContiguousKernelsUse128BitAccesses) {
  const std::string flat =
      cudaSourceFor({at::kHalf, at::kHalf, TensorLayout::kFlat, TensorLayout::kFlat, true});
  FileCheck()
      .check("typedef int32_t tf_index")
      ->check("constexpr int kVec = 8")
      ->check("addresses % 16 == 0")
      ->check("TfVec<tf_half, kVec>")
      ->run(flat);
  const std::string strided =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kStrided, false});
  FileCheck()
      .check("typedef int64_t tf_index")
      ->check_not("kVec")
      ->check("p.strides[0][d]")
      ->run(strided);
}

TEST_F(CUDACodegen, RowBroadcastKernelsGetAVectorPath) {
  const std::string source =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kStrided, TensorLayout::kStrided, true,
                     InnerStride::kUnit, InnerStride::kZero});
  FileCheck()
      .check("int64_t vec_ok;")
      ->check("constexpr int kVec = 4")
      ->check("if (p.vec_ok)")
      ->check("in0 = *reinterpret_cast<const TfVec<float, kVec>*>(t0 + o0)")
      ->check("row1 = t1[o1]")
      ->check("return;")
      ->check("for (tf_index i = first; i < numel; i += step)")
      ->run(source);
  // An inner stride that is neither 0 nor 1 leaves only the element-wise loop.
  const std::string scalar =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kStrided, TensorLayout::kStrided, true,
                     InnerStride::kAny, InnerStride::kZero});
  FileCheck().check_not("vec_ok")->run(scalar);
}

TEST_F(CUDACodegen, OnlyReducedPrecisionMathIsApproximate) {
  const std::string half =
      cudaSourceFor({at::kHalf, at::kHalf, TensorLayout::kFlat, TensorLayout::kFlat, true});
  FileCheck().check("tf_sigmoid<TfFastMath>(v")->check("TfFastMath::tanh(v")->run(half);
  const std::string single =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kFlat, true});
  FileCheck()
      .check_not("<TfFastMath>(v")
      ->check_not("TfFastMath::")
      ->run(single.substr(single.find("struct TfParams")));
}

TEST_F(CUDACodegen, ValuesReachingARoundingAreComputedExactly) {
  // floor(x / x) must see exactly 1 (approximate division gives 0.99999994); tanh(x) * 2
  // only reaches the output's 16-bit rounding and may be approximate.
  auto graph = parseIR(R"IR(
graph(%x : Tensor):
  %two : float = prim::Constant[value=2.]()
  %q : Tensor = aten::div(%x, %x)
  %f : Tensor = aten::floor(%q)
  %t : Tensor = aten::tanh(%x)
  %u : Tensor = aten::mul(%t, %two)
  %e : Tensor = aten::exp(%x)
  %c : Tensor = aten::gt(%e, %two)
  return (%f, %u, %c)
)IR");
  ArgSpec spec(c10::Device(c10::kCUDA, 0), 1, at::kFloat, true);
  spec.addTensor({at::kHalf, 1, TensorLayout::kFlat});
  LoweringResult lowered = lowerFusion(*graph, spec);
  ASSERT_TRUE(lowered.kernel) << lowered.failure;
  const std::string source = cuda::generateSource(*lowered.kernel);
  const std::string body = source.substr(source.find("struct TfParams"));
  FileCheck()
      .check("TfMath::div(")
      ->check("::floor(v")
      ->check("TfFastMath::tanh(")
      ->check("TfMath::exp(")
      ->run(body);
  FileCheck().check_not("TfFastMath::div(")->check_not("TfFastMath::exp(")->run(body);
}

TEST_F(CUDACodegen, RandLikeDrawsPhiloxNumbersWithTheDtypesMantissa) {
  const std::string single =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kFlat, true});
  FileCheck()
      .check("uint64_t rng[4];")
      ->check("const uint64_t tf_seed")
      ->check("const uint64_t tf_linear = base + k;")
      ->check("tf_uniform<float, 24>(tf_seed, tf_offset, tf_linear)")
      ->run(single);
  const std::string bf16 =
      cudaSourceFor({at::kBFloat16, at::kBFloat16, TensorLayout::kFlat, TensorLayout::kFlat, true});
  FileCheck().check("tf_uniform<float, 8>(")->run(bf16);
}

TEST_F(CUDACodegen, EqualGraphsGiveIdenticalSource) {
  const Variant v{at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kFlat, true};
  EXPECT_EQ(cudaSourceFor(v), cudaSourceFor(v));
}

TEST_F(CUDACodegen, CompileErrorsReportNvrtcLog) {
  try {
    cuda::compileWithNvrtc("extern \"C\" __global__ void tf_kernel() { undefined_name; }", 9, 0,
                           CompileEnvironment::current());
    FAIL() << "expected a compile error";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("undefined_name"), std::string::npos) << e.what();
  }
}

// NVRTC's images persist like CPU kernels: an entry per source and target, loaded instead
// of compiled, and a damaged entry is compiled again and rewritten.
TEST_F(CUDACodegen, NvrtcImagesPersistInTheDiskCache) {
  TempCacheDir cache;
  const std::string source =
      cudaSourceFor({at::kFloat, at::kFloat, TensorLayout::kFlat, TensorLayout::kFlat, true});
  const Stats before = getStats();
  const cuda::CudaBinary first =
      cuda::compileWithNvrtc(source, 9, 0, CompileEnvironment::current());
  ASSERT_EQ(cache.entries().size(), 1u);
  const std::string entry = cache.entries()[0];
  EXPECT_EQ(entry.substr(entry.size() - (first.is_cubin ? 6 : 4)),
            first.is_cubin ? ".cubin" : ".ptx");
  const cuda::CudaBinary second =
      cuda::compileWithNvrtc(source, 9, 0, CompileEnvironment::current());
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 1);
  EXPECT_EQ(getStats().disk_cache_hits, before.disk_cache_hits + 1);
  EXPECT_EQ(second.image, first.image);
  EXPECT_EQ(second.target, first.target);

  {
    std::fstream file(entry, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(first.image.size() / 2));
    file.put(static_cast<char>(first.image[first.image.size() / 2] ^ 0x5a));
  }
  const cuda::CudaBinary rebuilt =
      cuda::compileWithNvrtc(source, 9, 0, CompileEnvironment::current());
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 2);
  EXPECT_EQ(rebuilt.image, first.image);
  EXPECT_EQ(cuda::compileWithNvrtc(source, 9, 0, CompileEnvironment::current()).image,
            first.image);  // rewritten whole
  EXPECT_EQ(getStats().disk_cache_hits, before.disk_cache_hits + 2);

  cuda::compileWithNvrtc(source, 8, 0,
                         CompileEnvironment::current());  // another target, another entry
  EXPECT_EQ(cache.entries().size(), 2u);
  EnvGuard off("TORCH_FUSER_DISABLE_DISK_CACHE", "1");
  cuda::compileWithNvrtc(source, 8, 6, CompileEnvironment::current());
  EXPECT_EQ(cache.entries().size(), 2u);
  EXPECT_EQ(getStats().kernels_compiled, before.kernels_compiled + 4);
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
