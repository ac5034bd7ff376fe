// Matmul batching (matmul_batching.h): PyTorch's BatchMM sees through the profiles the
// profiling executor leaves, as it does on NNC's path.
#include "test/cpp/jit/test_utils.h"

#include <sstream>

namespace torch_fuser {
namespace testing {
namespace {

const char* const kProfiled3x5 =
    "prim::profile[profiled_type=Float(3, 5, strides=[5, 1], requires_grad=0, device=cpu)]";
const char* const kProfiled5x6 =
    "prim::profile[profiled_type=Float(5, 6, strides=[6, 1], requires_grad=0, device=cpu)]";
const char* const kProfiled3x6 =
    "prim::profile[profiled_type=Float(3, 6, strides=[6, 1], requires_grad=0, device=cpu)]";

// %m<i> = x<i> @ w<i> (or @ w for all when `shared_weight`), each operand and result
// behind its own profile, the result behind a chain of two as the executor leaves them.
std::string profiledMatmuls(std::ostringstream& ir, int n, bool shared_weight) {
  std::string params;
  for (int i = 0; i < n; ++i) params += "%x" + std::to_string(i) + " : Tensor, ";
  if (shared_weight) {
    params += "%w : Tensor, ";
  } else {
    for (int i = 0; i < n; ++i) params += "%w" + std::to_string(i) + " : Tensor, ";
  }
  ir << "graph(" << params << "%y : Tensor):\n"
     << "  %one : int = prim::Constant[value=1]()\n";
  for (int i = 0; i < n; ++i) {
    const std::string k = std::to_string(i);
    const std::string w = shared_weight ? "%w" : "%w" + k;
    ir << "  %xp" << k << " : Tensor = " << kProfiled3x5 << "(%x" << k << ")\n"
       << "  %wp" << k << " : Tensor = " << kProfiled5x6 << "(" << w << ")\n"
       << "  %mm" << k << " : Tensor = aten::mm(%xp" << k << ", %wp" << k << ")\n"
       << "  %mp" << k << " : Tensor = " << kProfiled3x6 << "(%mm" << k << ")\n"
       << "  %m" << k << " : Tensor = " << kProfiled3x6 << "(%mp" << k << ")\n";
  }
  return params;
}

// sigmoid(x0 @ w0 + x1 @ w1 + x2 @ w2 + x3 @ w3) * y: the weight gradients of an unrolled
// RNN loop have this shape (a sum of matmuls), then elementwise work.
std::string profiledMatmulTreeIR(const char* last_alpha = "%one") {
  std::ostringstream ir;
  profiledMatmuls(ir, 4, /*shared_weight=*/false);
  ir << "  %two : int = prim::Constant[value=2]()\n"
     << "  %s1 : Tensor = aten::add(%m0, %m1, %one)\n"
     << "  %s1p : Tensor = " << kProfiled3x6 << "(%s1)\n"
     << "  %s2 : Tensor = aten::add(%s1p, %m2, %one)\n"
     << "  %s2p : Tensor = " << kProfiled3x6 << "(%s2)\n"
     << "  %s3 : Tensor = aten::add(%s2p, %m3, " << last_alpha << ")\n"
     << "  %s3p : Tensor = " << kProfiled3x6 << "(%s3)\n"
     << "  %yp : Tensor = " << kProfiled3x6 << "(%y)\n"
     << "  %g : Tensor = aten::sigmoid(%s3p)\n"
     << "  %r : Tensor = aten::mul(%g, %yp)\n"
     << "  return (%r)\n";
  return ir.str();
}

void fuseAsTheExecutor(std::shared_ptr<Graph>& graph) {
  fuseElementwise(graph, FusionTargets{/*cpu=*/true, /*cuda=*/true, /*guard=*/true});
}

std::vector<at::Tensor> randomOperands(int n, int weights) {
  std::vector<at::Tensor> operands;
  for (int i = 0; i < n; ++i) operands.push_back(at::randn({3, 5}));
  for (int i = 0; i < weights; ++i) operands.push_back(at::randn({5, 6}));
  operands.push_back(at::randn({3, 6}));
  return operands;
}

std::vector<IValue> asInputs(const std::vector<at::Tensor>& tensors) {
  return std::vector<IValue>(tensors.begin(), tensors.end());
}

at::Tensor treeReference(const std::vector<at::Tensor>& t, double last_alpha = 1) {
  const at::Tensor sum = t[0].mm(t[4]) + t[1].mm(t[5]) + t[2].mm(t[6]) + last_alpha * t[3].mm(t[7]);
  return sum.sigmoid() * t[8];
}

TEST(CPUFusion, BatchesASumOfProfiledMatmulsIntoOneMatmul) {
  FusionGuard fusion;
  auto graph = parseIR(profiledMatmulTreeIR());
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countKind(*graph, "prim::MMTreeReduce"), 1u) << *graph;
  EXPECT_EQ(countKind(*graph, "aten::mm"), 0u) << *graph;
  EXPECT_EQ(countKind(*graph, "prim::profile"), 0u) << *graph;
  EXPECT_EQ(countGroups(*graph), 1u) << *graph;
  const std::vector<at::Tensor> operands = randomOperands(4, 4);
  const int64_t fallbacks = getStats().fallbacks;
  expectSameTensor(runGraph(graph, asInputs(operands))[0].toTensor(), treeReference(operands));
  EXPECT_EQ(getStats().fallbacks, fallbacks);
}

TEST(CPUFusion, LeavesMatmulsUnbatchedWhenTorchFuserBatchMmIsZero) {
  FusionGuard fusion;
  EnvGuard off("TORCH_FUSER_BATCH_MM", "0");
  auto graph = parseIR(profiledMatmulTreeIR());
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countKind(*graph, "prim::MMTreeReduce"), 0u) << *graph;
  EXPECT_EQ(countKind(*graph, "aten::mm"), 4u) << *graph;
  const std::vector<at::Tensor> operands = randomOperands(4, 4);
  expectSameTensor(runGraph(graph, asInputs(operands))[0].toTensor(), treeReference(operands));
}

// PyTorch's BatchMM ignores an add's alpha: such an add stays out of the tree (fewer than
// 4 matmuls are left, nothing is batched) and the sum keeps eager's value.
TEST(CPUFusion, KeepsAnAddWithAlphaOutOfMatmulBatching) {
  FusionGuard fusion;
  auto graph = parseIR(profiledMatmulTreeIR("%two"));
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countKind(*graph, "prim::MMTreeReduce"), 0u) << *graph;
  const std::vector<at::Tensor> operands = randomOperands(4, 4);
  expectSameTensor(runGraph(graph, asInputs(operands))[0].toTensor(),
                   treeReference(operands, /*last_alpha=*/2));
}

// tanh(x<i> @ w) for 8 inputs and one weight: the input projections of an unrolled loop.
TEST(CPUFusion, BatchesEightProfiledMatmulsSharingAnOperand) {
  FusionGuard fusion;
  std::ostringstream ir;
  profiledMatmuls(ir, 8, /*shared_weight=*/true);
  std::string outputs;
  for (int i = 0; i < 8; ++i) {
    const std::string k = std::to_string(i);
    ir << "  %t" << k << " : Tensor = aten::tanh(%m" << k << ")\n"
       << "  %u" << k << " : Tensor = aten::mul(%t" << k << ", %m" << k << ")\n";
    outputs += (i ? ", %u" : "%u") + k;
  }
  ir << "  return (" << outputs << ")\n";
  auto graph = parseIR(ir.str());
  fuseAsTheExecutor(graph);
  EXPECT_EQ(countKind(*graph, "prim::MMBatchSide"), 1u) << *graph;
  EXPECT_EQ(countKind(*graph, "aten::mm"), 0u) << *graph;
  const std::vector<at::Tensor> operands = randomOperands(8, 1);
  const std::vector<IValue> results = runGraph(graph, asInputs(operands));
  ASSERT_EQ(results.size(), 8u);
  for (int i = 0; i < 8; ++i) {
    const at::Tensor m = operands[i].mm(operands[8]);
    expectSameTensor(results[i].toTensor(), m.tanh() * m);
  }
}

}  // namespace
}  // namespace testing
}  // namespace torch_fuser
