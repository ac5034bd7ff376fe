#include "torch/csrc/jit/codegen/fuser/interface.h"

#include "torch/csrc/jit/codegen/fuser/background_compiler.h"
#include "torch/csrc/jit/codegen/fuser/capture_region.h"
#include "torch/csrc/jit/codegen/fuser/captured_graph.h"
#include "torch/csrc/jit/codegen/fuser/compat.h"
#include "torch/csrc/jit/codegen/fuser/executor.h"
#include "torch/csrc/jit/codegen/fuser/explain.h"
#include "torch/csrc/jit/codegen/fuser/graph_fuser.h"
#include "torch/csrc/jit/codegen/fuser/guards.h"
#include "torch/csrc/jit/codegen/fuser/kernel_cache.h"
#include "torch/csrc/jit/codegen/fuser/options.h"
#include "torch/csrc/jit/codegen/fuser/size_bookkeeping.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/pass_manager.h>
#include <torch/csrc/jit/passes/tensorexpr_fuser.h>
#include <torch/csrc/jit/runtime/custom_operator.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/interpreter.h>

#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>

namespace torch_fuser {
namespace {

// PyTorch's fuser settings from before enable(), restored by disable().
struct SavedTorchFusers {
  bool legacy_cpu;
  bool legacy_gpu;
  bool texpr;
};

std::mutex& switchMutex() {
  static std::mutex m;
  return m;
}

c10::optional<SavedTorchFusers>& savedTorchFusers() {
  static c10::optional<SavedTorchFusers> saved;
  return saved;
}

FusionTargets currentTargets() {
  const DeviceSwitches& s = deviceSwitches();
  FusionTargets targets;
  targets.cpu = s.cpu.load();
  targets.cuda = s.cuda.load();
  targets.min_group_size_cpu = s.min_group_size_cpu.load();
  targets.min_group_size_cuda = s.min_group_size_cuda.load();
  return targets;
}

torch::jit::Operation createFusionOperation(const torch::jit::Node* node) {
  const std::shared_ptr<KernelSpec> spec = retrieveFusion(registerFusion(node));
  return [spec](torch::jit::Stack& stack) { runKernelSpec(*spec, stack); };
}

void printStatsAtExit() {
  std::fprintf(stderr, "torch_fuser stats: %s\n", statsSummary().c_str());
}

// Registered once when the library loads, however it is loaded (linked, dlopen,
// torch.ops.load_library, LD_PRELOAD): the pass (a no-op while disabled) and the operators
// of our nodes; then what the environment asks for.
const bool registered = [] {
  torch::jit::registerPostPass([](std::shared_ptr<torch::jit::Graph>& graph) {
    if (!isEnabled()) return;
    FusionTargets targets = currentTargets();
    targets.guard = true;  // the executor runs the pass
    fuseElementwise(graph, targets);
  });
  static torch::jit::RegisterOperators ops(
      {torch::jit::Operator(fusionGroupKind(), createFusionOperation,
                            c10::AliasAnalysisKind::PURE_FUNCTION),
       torch::jit::Operator(typeGuardKind(), createTypeGuardOperation,
                            c10::AliasAnalysisKind::PURE_FUNCTION),
       torch::jit::Operator(sizesKind(), createSizesOperation,
                            c10::AliasAnalysisKind::PURE_FUNCTION),
       // Its results may be views of its inputs.
       torch::jit::Operator(capturedGraphKind(), createCapturedGraphOperation,
                            c10::AliasAnalysisKind::CONSERVATIVE),
       torch::jit::Operator(captureBarrierKind(), createCaptureBarrierOperation,
                            c10::AliasAnalysisKind::CONSERVATIVE)});
  // An exception here (a bad TORCH_FUSER_* value) would end the process while it loads us.
  try {
    if (enableRequestFromEnvironment() == EnableRequest::kOn) enable();
    if (statsAtExitRequested()) {
      // Built now, so they outlive the handler (statics die in reverse order of creation).
      statsSummary();
      std::atexit(printStatsAtExit);
    }
  } catch (const c10::Error& e) {
    TORCH_WARN("torch_fuser: ignoring the environment at load: ", e.what_without_backtrace());
  }
  return true;
}();

}  // namespace

void enable(bool cpu, bool cuda) {
  std::lock_guard<std::mutex> guard(switchMutex());
  DeviceSwitches& s = deviceSwitches();
  s.cpu = cpu;
  s.cuda = cuda;
  if (!savedTorchFusers()) {
    savedTorchFusers() = SavedTorchFusers{torch::jit::canFuseOnCPU(), torch::jit::canFuseOnGPU(),
                                          torch::jit::tensorExprFuserEnabled()};
  }
  torch::jit::overrideCanFuseOnCPU(false);
  torch::jit::overrideCanFuseOnGPU(false);
  torch::jit::setTensorExprFuserEnabled(false);
  s.enabled = true;
}

void disable() {
  std::lock_guard<std::mutex> guard(switchMutex());
  deviceSwitches().enabled = false;
  if (const auto& saved = savedTorchFusers()) {
    torch::jit::overrideCanFuseOnCPU(saved->legacy_cpu);
    torch::jit::overrideCanFuseOnGPU(saved->legacy_gpu);
    torch::jit::setTensorExprFuserEnabled(saved->texpr);
    savedTorchFusers().reset();
  }
}

void setMinGroupSize(int64_t size, c10::optional<c10::DeviceType> device) {
  TORCH_CHECK(size >= 1 && size <= (1 << 20),
              "set_min_group_size: the size must be at least 1 (and at most 2^20), found ", size);
  TORCH_CHECK(!device || *device == c10::DeviceType::CPU || *device == c10::DeviceType::CUDA,
              "set_min_group_size: device must be cpu or cuda, found ", *device);
  DeviceSwitches& s = deviceSwitches();
  if (!device || *device == c10::DeviceType::CPU) s.min_group_size_cpu = static_cast<int>(size);
  if (!device || *device == c10::DeviceType::CUDA) s.min_group_size_cuda = static_cast<int>(size);
}

int64_t minGroupSize(c10::DeviceType device) {
  const DeviceSwitches& s = deviceSwitches();
  return device == c10::DeviceType::CUDA ? s.min_group_size_cuda.load()
                                         : s.min_group_size_cpu.load();
}

bool isEnabled() {
  return deviceSwitches().enabled.load();
}

void fuseGraph(std::shared_ptr<torch::jit::Graph>& graph) {
  fuseElementwise(graph, currentTargets());
}

int64_t registerFusion(const torch::jit::Node* fusion_group) {
  TORCH_CHECK(fusion_group->kind() == fusionGroupKind(), "registerFusion expects a ",
              fusionGroupKind().toQualString(), " node, found ",
              fusion_group->kind().toQualString());
  stats().fusion_groups_registered++;
  return storeFusion(normalizeGraph(*fusion_group->g(c10::attr::Subgraph)));
}

void runFusion(int64_t key, torch::jit::Stack& stack) {
  runKernelSpec(*retrieveFusion(key), stack);
}

std::vector<std::string> debugGetFusedKernelCode(const std::shared_ptr<torch::jit::Graph>& graph,
                                                 const std::vector<c10::IValue>& inputs) {
  std::shared_ptr<torch::jit::Graph> copy = graph->copy();
  fuseGraph(copy);
  torch::jit::Code code(copy, "torch_fuser_debug");
  torch::jit::Stack stack(inputs.begin(), inputs.end());
  KernelSourceRecorder recorder;
  torch::jit::InterpreterState(code).run(stack);
  return recorder.sources();
}

Explanation explain(const std::shared_ptr<torch::jit::Graph>& graph,
                    const std::vector<c10::IValue>& inputs, int runs) {
  TORCH_CHECK(runs > 0, "explain: runs must be positive, found ", runs);
  std::shared_ptr<torch::jit::Graph> copy = graph->copy();
  if (copy->outputs().size() != 1) {  // a function returns one value: a tuple of them
    torch::jit::Node* tuple = copy->appendNode(copy->createTuple(copy->outputs()));
    while (!copy->outputs().empty()) copy->eraseOutput(copy->outputs().size() - 1);
    copy->registerOutput(tuple->output());
  }
  torch::jit::GraphFunction function("torch_fuser_explain", copy, nullptr);
  ExplainRecorder recorder;
  WaitForCompiles wait;  // report the kernels the calls would run once compiled
  for (int run = 0; run < runs; ++run) {
    torch::jit::Stack stack(inputs.begin(), inputs.end());
    function.run(stack);
  }
  return recorder.finish(torch::jit::lastExecutedOptimizedGraph());
}

Stats getStats() {
  const FuserStats& s = stats();
  const std::vector<std::shared_ptr<KernelSpec>> fusions = cachedFusions();
  int64_t kernels = 0;
  for (const auto& fusion : fusions) kernels += static_cast<int64_t>(fusion->numCachedKernels());
  return Stats{s.kernels_compiled.load(),
               totalMemoryCacheHits(),
               s.disk_cache_hits.load(),
               s.fallbacks.load(),
               totalKernelLaunches(),
               static_cast<double>(s.compile_nanoseconds.load()) * 1e-9,
               s.fusion_groups_registered.load(),
               static_cast<int64_t>(fusions.size()),
               kernels,
               cacheLimits().evicted_fusions.load(),
               cacheLimits().evicted_kernels.load(),
               backgroundCompilesPending(),
               s.graphs_captured.load(),
               s.graph_replays.load()};
}

void setBackgroundCompilation(bool on) {
  backgroundCompilation().store(on);
}

bool isBackgroundCompilation() {
  return backgroundCompilation().load();
}

void waitForCompilations() {
  waitForBackgroundCompiles();
}

void setCacheLimits(int64_t max_fusions, int64_t max_kernels_per_fusion) {
  if (max_fusions > 0) cacheLimits().max_fusions = max_fusions;
  if (max_kernels_per_fusion > 0) cacheLimits().max_kernels_per_fusion = max_kernels_per_fusion;
}

std::string statsSummary() {
  const Stats s = getStats();
  std::ostringstream out;
  out << "kernels_compiled=" << s.kernels_compiled << " kernel_launches=" << s.kernel_launches
      << " fallbacks=" << s.fallbacks << " memory_cache_hits=" << s.memory_cache_hits
      << " disk_cache_hits=" << s.disk_cache_hits << " compile_seconds=" << s.compile_seconds
      << " fusion_groups_registered=" << s.fusion_groups_registered
      << " graphs_captured=" << s.graphs_captured << " graph_replays=" << s.graph_replays;
  return out.str();
}

int64_t nCompiledKernels() {
  return stats().kernels_compiled.load();
}

void clearCache() {
  clearCompiledKernels();
}

}  // namespace torch_fuser
